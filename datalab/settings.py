"""Settings for the Datalab service, read from the environment (django-environ).

Every setting has an embedded default so that a fresh checkout runs with SQLite, local file
storage, the embedded local archive and an in-process queue. Production deployments set
``DJANGO_SETTINGS_MODULE=datalab.settings_production``, which refuses unsafe defaults.
"""
from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEFAULT_SECRET_KEY = "datalab-insecure-development-key-change-me"
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

# Where mutable runtime data lives by default (database, outputs, frame cache, local archive).
VAR_DIR = Path(env.str("DATALAB_VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "django_prometheus",
    "datalab.datalab_session",
    "datalab.local_archive",
    "datalab.analysis",
    "datalab.portal",
    "datalab.thumbnails",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "datalab.observability.request_id.RequestIdMiddleware",
    "datalab.error_pages.JsonApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "datalab.cross_origin.CrossOriginResourcePolicyMiddleware",
    "datalab.datalab_session.middleware.RequestBodyLimitMiddleware",
    "datalab.datalab_session.middleware.QueryStringGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "datalab.urls"
WSGI_APPLICATION = "datalab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" not in env:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded worker thread and the web server share one SQLite file.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Request bodies: large enough for a session with many inputs, small enough to refuse abuse.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- CORS: the front end lives on another origin and sends a token header, never cookies.
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ALLOWED_ORIGINS", default=["http://localhost:8081", "http://127.0.0.1:8081"]
)
CORS_ALLOW_HEADERS = ["authorization", "content-type", "accept"]
CORS_ALLOW_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]
CORS_ALLOW_CREDENTIALS = False
# Signed output URLs are fetched by <img> tags and fetch() from the front end's origin.
CORS_URLS_REGEX = r"^/(api|outputs|archive|portal|thumbnails)/.*$"

# --- REST framework
# Password logins per client address: the portal-compatible login, the API token endpoint, the
# admin and the browsable API login (one ``login`` throttle, counted in the default cache).
LOGIN_THROTTLE_RATE = env.str("LOGIN_THROTTLE_RATE", default="10/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "datalab.portal.authentication.PortalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "datalab.datalab_session.pagination.ResultsPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "datalab.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "datalab.datalab_session.renderers.FiniteJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "datalab.datalab_session.exceptions.error_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {"login": LOGIN_THROTTLE_RATE},
}

# Shared cache (login throttle counts, archive rights): Redis when REDIS_URL is set, so every
# gunicorn worker and pod counts the same; memory of one process otherwise.
CACHE_URL = env.str("CACHE_URL", default=env.str("REDIS_URL", default=""))
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "datalab"}
        if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "datalab"}
    ),
}

# --- Login beside (or instead of) the observatory's portal
# Empty: only this service's own tokens are accepted. Set to the portal's API root (the front
# end's observationPortalUrl, e.g. https://observe.lco.global/api/) to accept portal tokens too.
PORTAL_API_URL = env.str("PORTAL_API_URL", default="")
PORTAL_TIMEOUT_SECONDS = env.float("PORTAL_TIMEOUT_SECONDS", default=5.0)
PORTAL_TOKEN_RECHECK_SECONDS = env.int("PORTAL_TOKEN_RECHECK_SECONDS", default=300)
PORTAL_REFUSAL_CACHE_SECONDS = env.int("PORTAL_REFUSAL_CACHE_SECONDS", default=60)
PORTAL_OUTAGE_BACKOFF_SECONDS = env.int("PORTAL_OUTAGE_BACKOFF_SECONDS", default=15)
# Proposal titles for the profile endpoint, as JSON {"<proposal id>": "<title>"}.
PROPOSAL_TITLES = env.json("PROPOSAL_TITLES", default={})

SPECTACULAR_SETTINGS = {
    "TITLE": "Datalab API",
    "DESCRIPTION": "Data sessions, data operations and analysis of astronomical FITS frames.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Queue: Redis when REDIS_URL is set, otherwise an in-process broker with a worker thread.
REDIS_URL = env.str("REDIS_URL", default="")
# No Retries and no TimeLimit middleware: the database's attempt counter and OPERATION_TIME_LIMIT_SECONDS
# (checked at every progress report) are the one retry policy and the one time limit.
DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.Callbacks",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "datalab.observability.worker_middleware.RequestIdPropagation",
    # Worker processes only (boot hooks): process tuning, one message per thread, the periodic sweeps.
    "datalab.datalab_session.worker_middleware.WorkerSetup",
    "datalab.datalab_session.worker_middleware.PeriodicTasks",
]
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": REDIS_URL, "namespace": env.str("DRAMATIQ_NAMESPACE", default="datalab")},
        "MIDDLEWARE": DRAMATIQ_MIDDLEWARE,
    }
else:
    # The embedded worker (datalab_session.embedded_worker) boots with the same middleware.
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}, "MIDDLEWARE": DRAMATIQ_MIDDLEWARE}
DRAMATIQ_TASKS_DATABASE = "default"
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# The longest an idle worker waits before asking the broker again for a message (ms). Dramatiq's Redis
# consumer polls, backing off up to this; its default of 1000 ms added 0.4 s on median (up to 0.8 s)
# to every operation submitted to an idle worker. At 100 ms an idle worker process makes ~20 small
# Redis calls a second (one per queue and poll).
WORKER_POLL_MILLISECONDS = env.int("WORKER_POLL_MILLISECONDS", default=100)
# Start a worker thread inside the web process (embedded mode, no Redis available).
DATALAB_EMBEDDED_WORKER = env.bool("DATALAB_EMBEDDED_WORKER", default=not REDIS_URL)

# --- Operations
OPERATION_MAX_ATTEMPTS = env.int("OPERATION_MAX_ATTEMPTS", default=3)
OPERATION_TIME_LIMIT_SECONDS = env.int("OPERATION_TIME_LIMIT_SECONDS", default=3600)
OPERATION_HEARTBEAT_SECONDS = env.int("OPERATION_HEARTBEAT_SECONDS", default=5)
# An attempt whose heartbeat is this old is presumed dead (four missed beats) and may be re-claimed;
# with a sweep every OPERATION_SWEEP_SECONDS, a killed worker's operation restarts within 25 s.
OPERATION_STALE_SECONDS = env.int("OPERATION_STALE_SECONDS", default=20)
OPERATION_SWEEP_SECONDS = env.float("OPERATION_SWEEP_SECONDS", default=5.0)
# What every worker process runs periodically: (function, setting holding its interval in seconds).
WORKER_PERIODIC_TASKS = [
    ("datalab.datalab_session.sweeper.sweep", "OPERATION_SWEEP_SECONDS"),
    ("datalab.retention.apply_retention", "RETENTION_SWEEP_SECONDS"),
]
# Caches and analysis TIFFs are rebuilt on demand: kept within an age (and the caches within a size).
RETENTION_SWEEP_SECONDS = env.float("RETENTION_SWEEP_SECONDS", default=3600.0)
# Operations one user may have waiting or running at once; more are refused with 429.
OPERATION_MAX_UNFINISHED_PER_USER = env.int("OPERATION_MAX_UNFINISHED_PER_USER", default=20)
OPERATION_MAX_INPUT_FILES = env.int("OPERATION_MAX_INPUT_FILES", default=500)
# Memory a worker may spend on pixel bands of one operation (bytes).
OPERATION_MEMORY_BUDGET_BYTES = env.int("OPERATION_MEMORY_BUDGET_BYTES", default=256 * 1024 * 1024)
# The most one operation may use in all: above it, an operation is refused before it decodes a pixel.
# Two worker threads under the 2 GiB pod limit of k8s/base/worker.yaml get 1 GiB each.
OPERATION_MEMORY_LIMIT_BYTES = env.int("OPERATION_MEMORY_LIMIT_BYTES", default=1024 * 1024 * 1024)
OPERATION_TEMP_DIR = Path(env.str("OPERATION_TEMP_DIR", default=str(VAR_DIR / "tmp")))

# --- Archive
ARCHIVE_API = env.str("ARCHIVE_API", default="http://127.0.0.1:8000/archive/")
ARCHIVE_API_TOKEN = env.str("ARCHIVE_API_TOKEN", default="")
ARCHIVE_TIMEOUT_SECONDS = env.float("ARCHIVE_TIMEOUT_SECONDS", default=30.0)
ARCHIVE_MAX_RETRIES = env.int("ARCHIVE_MAX_RETRIES", default=4)
ARCHIVE_BACKOFF_SECONDS = env.float("ARCHIVE_BACKOFF_SECONDS", default=1.0)
# The embedded archive is consulted in-process by analysis calls (a web thread asking its own server
# over HTTP can wait on itself); unset: true when ARCHIVE_API is a loopback URL ending in /archive/.
ARCHIVE_IN_PROCESS = env.bool("ARCHIVE_IN_PROCESS", default=None)
# How long a user's right to read an archive frame is remembered before the archive is asked again.
ARCHIVE_RIGHTS_CACHE_SECONDS = env.int("ARCHIVE_RIGHTS_CACHE_SECONDS", default=60)
FRAME_CACHE_DIR = Path(env.str("FRAME_CACHE_DIR", default=str(VAR_DIR / "frame_cache")))
FRAME_CACHE_MAX_BYTES = env.int("FRAME_CACHE_MAX_BYTES", default=20 * 1024**3)
FRAME_CACHE_MAX_AGE_SECONDS = env.int("FRAME_CACHE_MAX_AGE_SECONDS", default=14 * 24 * 3600)
# Per-frame products of the analysis actions (pixels, previews, headers), rebuilt when evicted.
ANALYSIS_CACHE_DIR = Path(env.str("ANALYSIS_CACHE_DIR", default=str(VAR_DIR / "analysis_cache")))
ANALYSIS_CACHE_MAX_BYTES = env.int("ANALYSIS_CACHE_MAX_BYTES", default=10 * 1024**3)
ANALYSIS_CACHE_MAX_AGE_SECONDS = env.int("ANALYSIS_CACHE_MAX_AGE_SECONDS", default=14 * 24 * 3600)

# Gaia DR3 for the HR Diagram: "tap" (the archive's TAP service at GAIA_TAP_URL, each cone cached
# for GAIA_CACHE_MAX_AGE_SECONDS in output storage) or "fixture:<path of an ECSV file>" (offline work
# and tests). A query that has not finished within GAIA_TIMEOUT_SECONDS (at most 120) fails with
# "Gaia archive unavailable"; failures are never cached. The quick start (scripts/run.sh) sets
# fixture:<LOCAL_ARCHIVE_DIR>/synthetic-gaia-demo-sky.ecsv, the synthetic Gaia catalogue of the demo sky.
DATALAB_GAIA_PROVIDER = env.str("DATALAB_GAIA_PROVIDER", default="tap")
GAIA_TAP_URL = env.str("GAIA_TAP_URL", default="https://gea.esac.esa.int/tap-server/tap")
GAIA_TIMEOUT_SECONDS = min(env.float("GAIA_TIMEOUT_SECONDS", default=120.0), 120.0)
GAIA_CACHE_MAX_AGE_SECONDS = env.int("GAIA_CACHE_MAX_AGE_SECONDS", default=30 * 24 * 3600)
# --- Moving targets: JPL Horizons positions for Moving Target Aperture Photometry's target_designation.
# "live": the JPL service (astroquery); "stored:<designation>=<ECSV file>[;...]": recorded answers (tests,
# offline sites); "synthetic-demo": the demo sky's own asteroid track (see local_archive.synthetic);
# "none": designations are refused with a sentence asking for target_positions.
HORIZONS_PROVIDER = env.str("HORIZONS_PROVIDER", default="live")
HORIZONS_URL = env.str("HORIZONS_URL", default="https://ssd.jpl.nasa.gov/api/horizons.api")
# The whole look-up (all requests of one operation) must end within this, or the operation fails saying so.
HORIZONS_TIMEOUT_SECONDS = env.float("HORIZONS_TIMEOUT_SECONDS", default=30.0)

# Embedded local archive: a directory of FITS frames served with the archive's frames API.
LOCAL_ARCHIVE_DIR = Path(env.str("LOCAL_ARCHIVE_DIR", default=str(VAR_DIR / "archive")))

# --- Outputs: Django storage (local files by default, S3 when OUTPUT_STORAGE=s3)
OUTPUT_STORAGE = env.str("OUTPUT_STORAGE", default="local")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "outputs")))
# Signed output URLs live at least OUTPUT_URL_TTL_SECONDS; their expiry falls on a grid of
# OUTPUT_URL_WINDOW_SECONDS, so an output keeps the same URLs between GETs for a whole window.
OUTPUT_URL_TTL_SECONDS = env.int("OUTPUT_URL_TTL_SECONDS", default=7 * 24 * 3600)
OUTPUT_URL_WINDOW_SECONDS = env.int("OUTPUT_URL_WINDOW_SECONDS", default=24 * 3600)
# Analysis TIFFs in the output storage: by default they outlive the longest signed link to them.
ANALYSIS_PRODUCT_MAX_AGE_SECONDS = env.int("ANALYSIS_PRODUCT_MAX_AGE_SECONDS",
                                           default=OUTPUT_URL_TTL_SECONDS + OUTPUT_URL_WINDOW_SECONDS)
# On S3 the signed URL redirects to a presigned one that lives this long.
OUTPUT_REDIRECT_TTL_SECONDS = env.int("OUTPUT_REDIRECT_TTL_SECONDS", default=600)
# Absolute base of signed URLs: the address clients reach this service at. Output and analysis
# links never take it from a request's Host header (any client can set that): unset, they use
# DEFAULT_PUBLIC_BASE_URL, the address of the README's quick start.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
if OUTPUT_STORAGE == "s3":
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default="datalab"),
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
                "querystring_auth": True,
                "querystring_expire": OUTPUT_REDIRECT_TTL_SECONDS,
                "file_overwrite": True,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
else:
    STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(MEDIA_ROOT)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# Request metrics (django-prometheus) are served by datalab.observability.metrics at /metrics, to
# holders of METRICS_TOKEN (as a Bearer token) or, without one, to direct requests from these networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
])
PROMETHEUS_EXPORT_MIGRATIONS = False

# LOG_FORMAT=json writes one JSON object per line (production default); every line names the
# request id of the API call it belongs to, in the web and in the worker.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "datalab.observability.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
