"""Production settings: the defaults of ``datalab.settings`` with every unsafe one refused.

Selected with ``DJANGO_SETTINGS_MODULE=datalab.settings_production`` (the container image does).
It refuses to start with DEBUG on, with the development or a weak SECRET_KEY, with
ALLOWED_HOSTS=*, without DATABASE_URL or without explicit CORS origins, logs JSON, and runs
prometheus_client in multiprocess mode so every process of a pod reports into one scrape.
"""
from __future__ import annotations

import logging
import os

from django.core.exceptions import ImproperlyConfigured

from datalab.settings import *  # noqa: F403
from datalab.settings import DEFAULT_SECRET_KEY, DRAMATIQ_BROKER, LOGGING, REDIS_URL, VAR_DIR, env

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured("DEBUG must be off in production: unset DEBUG or set DEBUG=false.")
MIN_SECRET_KEY_LENGTH = 50
# Keys seen in examples and quick starts: anyone can sign sessions and output links with them.
KNOWN_INSECURE_KEY_PREFIXES = ("django-insecure", "datalab-insecure", "changeme", "change-me", "secret", "insecure")

if not SECRET_KEY or SECRET_KEY == DEFAULT_SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("Set SECRET_KEY to a long random value: the development key is refused in production.")
if len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(SECRET_KEY)) < 5 or \
        SECRET_KEY.lower().startswith(KNOWN_INSECURE_KEY_PREFIXES):  # noqa: F405
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for production: use at least {MIN_SECRET_KEY_LENGTH} random characters, e.g. "
        "the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
if "*" in ALLOWED_HOSTS:  # noqa: F405
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS=* is refused in production: list the host names the service answers to (comma separated)."
    )
if "DATABASE_URL" not in env:
    raise ImproperlyConfigured(
        "Set DATABASE_URL (e.g. postgres://user:password@host:5432/datalab): without it every web and worker "
        "pod would get its own SQLite file."
    )
if "CORS_ALLOWED_ORIGINS" not in env:
    raise ImproperlyConfigured(
        "Set CORS_ALLOWED_ORIGINS to the web front end's origins (comma separated), e.g. https://datalab.example.org."
    )
if not REDIS_URL:
    raise ImproperlyConfigured("Set REDIS_URL: production runs separate workers on a Redis queue.")

# Kubernetes probes and Prometheus address a pod by its IP; the pod's own IP is therefore a host it serves.
if env.str("POD_IP", default=""):
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, env.str("POD_IP")]  # noqa: F405

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
# Python warnings become log records too, so nothing but JSON reaches stderr.
logging.captureWarnings(True)

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# TLS ends at the ingress; it tells Django the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATALAB_EMBEDDED_WORKER = False

# Every process of a pod (gunicorn workers, Dramatiq worker processes) writes its metrics into
# one directory, read at scrape time. Dramatiq's Prometheus middleware serves a worker pod's.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "prometheus"))
os.makedirs(PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", PROMETHEUS_MULTIPROC_DIR)
os.environ.setdefault("dramatiq_prom_db", PROMETHEUS_MULTIPROC_DIR)

WORKER_HEARTBEAT_DIR = env.str("WORKER_HEARTBEAT_DIR", default=str(VAR_DIR / "heartbeat"))
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
DRAMATIQ_BROKER["MIDDLEWARE"] = [
    *DRAMATIQ_BROKER["MIDDLEWARE"],
    "dramatiq.middleware.prometheus.Prometheus",
    "datalab.observability.worker_middleware.WorkerHeartbeat",
]

# The admin's CSS and JS, collected into the image at build time and served by WhiteNoise.
MIDDLEWARE = [*MIDDLEWARE]  # noqa: F405
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = env.str("STATIC_ROOT", default=str(STATIC_ROOT))  # noqa: F405
