# One image, two roles: `web` (gunicorn) and `worker` (Dramatiq); `migrate` runs the schema migrations.
# Dependencies come from requirements.lock (exact versions with hashes), the project itself without deps.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A C compiler for the project's own kernels (data_operations/*/*.c); the runtime image has none.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml setup.py README.md manage.py ./
COPY datalab ./datalab
COPY data_operations ./data_operations
# The image has a compiler: a kernel that fails to build fails the image rather than falling back.
RUN DATALAB_REQUIRE_COMPILED_KERNELS=1 pip install --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=datalab.settings_production \
    DATALAB_VAR_DIR=/var/lib/datalab \
    STATIC_ROOT=/opt/datalab/static \
    PROMETHEUS_MULTIPROC_DIR=/tmp/datalab/prometheus \
    WORKER_HEARTBEAT_DIR=/tmp/datalab/heartbeat \
    PORT=8000
RUN groupadd --system --gid 10001 datalab \
    && useradd --system --uid 10001 --gid datalab --home-dir /opt/datalab --no-create-home \
       --shell /usr/sbin/nologin datalab
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/datalab
COPY manage.py ./
COPY deploy/entrypoint.sh /usr/local/bin/datalab-entrypoint
# collectstatic only reads settings: placeholder values satisfy the production checks for this step.
RUN SECRET_KEY=collectstatic-only-placeholder-never-used-to-sign-anything-0123456789 \
    CORS_ALLOWED_ORIGINS=http://localhost DATABASE_URL=postgres://build@localhost/unused \
    REDIS_URL=redis://localhost:6379/0 DATALAB_VAR_DIR=/tmp/build-var PROMETHEUS_MULTIPROC_DIR=/tmp/build-prom \
    python manage.py collectstatic --no-input --verbosity 0 \
    && rm -rf /tmp/build-var /tmp/build-prom \
    && mkdir -p /var/lib/datalab /tmp/datalab \
    && chown datalab:datalab /var/lib/datalab /tmp/datalab
USER 10001:10001
EXPOSE 8000 9191
ENTRYPOINT ["datalab-entrypoint"]
CMD ["web"]
