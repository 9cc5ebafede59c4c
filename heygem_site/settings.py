"""HeyGem Studio settings: one module, driven by environment variables.

Embedded defaults run the whole product on one machine (SQLite in WAL mode, the
django-q2 ORM broker, the CPU engine). A deployment sets DATABASE_URL, REDIS_URL,
DEBUG=0 and the other variables documented in the README; nothing lives only in a
"production" file. A bad value stops the process at start with a sentence.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from heygem_site.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_size,
    env_str,
    parse_database_url,
)
from jobs.storage.stores import STORES, django_storage
from rendering.engines import ENGINES

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything the running service writes (database, media, logs, caches) lives under VAR_DIR.
VAR_DIR = Path(env_str("HEYGEM_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    configured = env_str("SECRET_KEY", "")
    if configured:
        if len(configured) < 50:
            raise ImproperlyConfigured(
                "SECRET_KEY is shorter than 50 characters. Generate a long random value, "
                "for example with: python -c 'import secrets; print(secrets.token_urlsafe(64))'."
            )
        return configured
    # No key configured: keep a generated one in a file outside git, so sessions
    # survive restarts on one machine without anyone having to invent a key.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()

# The site's public address. Its scheme decides the HTTPS-only settings below (secure
# cookies, SSL redirect, HSTS), not DEBUG: the one-command start runs with DEBUG off on
# plain http://127.0.0.1, and a deployment behind TLS sets SITE_URL=https://... (or HTTPS=1).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
HTTPS = env_bool("HTTPS", SITE_URL.startswith("https://"))
_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", list(dict.fromkeys(["127.0.0.1", "localhost", "[::1]", _site_host]))
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "accounts",
    "jobs",
]

MIDDLEWARE = [
    # Outermost: early 413, draining refused bodies, Content-Security-Policy.
    "heygem_site.http_edges.HttpEdgesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "heygem_site.middleware.UserLanguageMiddleware",
    # Before any view reads a parameter into a query: PostgreSQL refuses NUL characters.
    "heygem_site.text.NulCharacterMiddleware",
    "heygem_site.timezones.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "heygem_site.urls"
WSGI_APPLICATION = "heygem_site.wsgi.application"
ASGI_APPLICATION = "heygem_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "heygem_site.context_processors.site",
                "django.template.context_processors.i18n",
            ],
            # Sizes, durations and status labels in one unit system on every page.
            "builtins": ["heygem_site.templatetags.formats"],
        },
    },
]


# --- Database -------------------------------------------------------------------------------


def _databases() -> dict[str, dict[str, Any]]:
    url = env_str("DATABASE_URL", "")
    if not url:
        url = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    db = parse_database_url("DATABASE_URL", url)
    if db.engine == "sqlite":
        path = Path(db.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(path),
                "OPTIONS": {
                    # WAL lets the web server read while the worker writes; the busy
                    # timeout and IMMEDIATE transactions turn "database is locked" into
                    # a short wait (PITFALLS: SQLite + ORM broker).
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                    "timeout": 30,
                    "transaction_mode": "IMMEDIATE",
                },
                # A file, not :memory:, so a real worker process can share the test database
                # (it is handed the path); one per test run, so two runs in one checkout
                # never write to the same file.
                "TEST": {"NAME": str(path.with_name(f"test_{path.stem}_{os.getpid()}.sqlite3"))},
            }
        }
    options: dict[str, Any] = dict(db.options)
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db.name,
            "USER": db.user,
            "PASSWORD": db.password,
            "HOST": db.host,
            "PORT": db.port,
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    }


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Cache, queue ---------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL={REDIS_URL!r} is not a Redis URL. Write redis://host:6379/0."
    )


def _next_redis_database(url: str) -> str:
    """The same Redis server, the next database: clearing the cache (``flushdb``) must never
    take the task queue with it."""
    parts = urlsplit(url)
    current = parts.path.strip("/")
    number = int(current) if current.isdigit() else 0
    return parts._replace(path=f"/{(number + 1) % 16}").geturl()


# The cache gets its own Redis database (REDIS_CACHE_URL, default: REDIS_URL's next one).
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL", _next_redis_database(REDIS_URL) if REDIS_URL else "")
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
        }
    }
else:
    # A file cache is shared by every process on the machine (web workers and the
    # queue cluster), which the login throttle needs; LocMem would not be.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# One render can take a while on CPU; the queue must never hand the same task out
# again while it still runs, so `retry` stays well above `timeout` (PITFALLS: django-q2).
RENDER_TASK_TIMEOUT = env_int("RENDER_TASK_TIMEOUT", 3600, minimum=60)
Q_CLUSTER: dict[str, Any] = {
    "name": env_str("Q_CLUSTER_NAME", "heygem"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "recycle": 50,
    "timeout": RENDER_TASK_TIMEOUT,
    "retry": RENDER_TASK_TIMEOUT + env_int("Q_RETRY_MARGIN", 600, minimum=60),
    # Attempts are counted in our own RenderJob rows (a SIGKILLed worker saves no
    # result, so django-q2 could never count it); the broker never re-runs by itself.
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    # How many tasks a cluster takes ahead of its free workers. Kept to one per worker: a
    # cluster that hoards tasks leaves other hosts idle (a long video's segments would not
    # spread), and what a dead cluster held must be resent by the watchdog.
    "queue_limit": env_int("Q_QUEUE_LIMIT", env_int("Q_WORKERS", 2, minimum=1), minimum=1),
    "label": _("Task queue"),
    "catch_up": False,
    "poll": 0.5,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Worker pools (docs/deployment.md). ENGINE_POOLS routes an engine's renders to a named
# pool, e.g. "neural=gpu"; everything else (analysis, classic renders, webhooks, schedules)
# stays on the main pool. A qcluster started with Q_POOL=<pool> serves only that pool's
# queue ("<Q_CLUSTER_NAME>-<pool>") and runs no schedules. Every host keeps the same
# Q_CLUSTER_NAME and SECRET_KEY: they sign the task payloads.
_POOL_NAME = r"^[a-z0-9][a-z0-9_-]{0,30}$"


def _engine_pools(text: str) -> dict[str, str]:
    pools: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        engine, _sep, pool = part.partition("=")
        if not _sep or not re.match(_POOL_NAME, pool.strip()) or not engine.strip():
            raise ImproperlyConfigured(
                f"ENGINE_POOLS={text!r}: write engine=pool pairs, e.g. neural=gpu."
            )
        if engine.strip() not in ENGINES:
            raise ImproperlyConfigured(
                f"ENGINE_POOLS={text!r}: there is no engine {engine.strip()!r}; "
                f"write one of {', '.join(ENGINES)}."
            )
        pools[engine.strip()] = pool.strip()
    return pools


ENGINE_POOLS = _engine_pools(env_str("ENGINE_POOLS", ""))
Q_POOL = env_str("Q_POOL", "")
if Q_POOL:
    if not re.match(_POOL_NAME, Q_POOL):
        raise ImproperlyConfigured(f"Q_POOL={Q_POOL!r}: a pool is named like gpu or cpu-2.")
    Q_CLUSTER["cluster_name"] = f"{Q_CLUSTER['name']}-{Q_POOL}"
    Q_CLUSTER["scheduler"] = False
Q_CLUSTER["sync"] = env_bool("Q_SYNC", False)


# --- Auth -----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling: this many failed passwords for one email (or from one address)
# within the window locks further attempts until the window has passed.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60, minimum=10)
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", True)


# --- Per-user limits (defaults for new users; staff edit each user's own in the admin) ------

DEFAULT_STORAGE_QUOTA = env_size("DEFAULT_STORAGE_QUOTA", 10 * 1000**3)
DEFAULT_MAX_CONCURRENT_JOBS = env_int("DEFAULT_MAX_CONCURRENT_JOBS", 20, minimum=1)
DEFAULT_RETENTION_DAYS = env_int("DEFAULT_RETENTION_DAYS", 7, minimum=1)
# Quota cleanup never removes a result younger than this, and the hourly run first tells the
# user what it will remove (a notice) and removes only that, once this long has passed.
QUOTA_NOTICE_HOURS = env_float("QUOTA_NOTICE_HOURS", 24.0, minimum=0.0)
MAX_TEMPLATES_PER_BATCH = env_int("MAX_TEMPLATES_PER_BATCH", 50, minimum=1)
MAX_UPLOAD_SIZE = env_size("MAX_UPLOAD_SIZE", 500 * 1000**2)
MAX_AUDIO_SECONDS = env_float("MAX_AUDIO_SECONDS", 600.0, minimum=1.0)
# Shorter audio cannot carry a word: it is refused at upload with a sentence.
MIN_AUDIO_SECONDS = env_float("MIN_AUDIO_SECONDS", 0.5, minimum=0.0)
MAX_TEMPLATE_SECONDS = env_float("MAX_TEMPLATE_SECONDS", 300.0, minimum=1.0)
MAX_VIDEO_PIXELS = env_int("MAX_VIDEO_PIXELS", 3840 * 2160, minimum=64 * 64)
MAX_VIDEO_FPS = env_float("MAX_VIDEO_FPS", 120.0, minimum=1.0)
RENDER_MAX_ATTEMPTS = env_int("RENDER_MAX_ATTEMPTS", 3, minimum=1)
# A running job writes a heartbeat this often; one silent for JOB_STALE_AFTER seconds is
# taken as a dead worker and requeued (or failed after RENDER_MAX_ATTEMPTS).
JOB_HEARTBEAT_INTERVAL = env_float("JOB_HEARTBEAT_INTERVAL", 10.0, minimum=0.1)
JOB_STALE_AFTER = env_float("JOB_STALE_AFTER", 120.0, minimum=1.0)
JOB_PROGRESS_INTERVAL = env_float("JOB_PROGRESS_INTERVAL", 1.0, minimum=0.0)
# A render whose output is longer than this many seconds is cut into segments of about
# this length, rendered by separate tasks (several workers at once) and joined; 0: never.
RENDER_SEGMENT_SECONDS = env_float("RENDER_SEGMENT_SECONDS", 120.0, minimum=0.0)
if JOB_STALE_AFTER <= 2 * JOB_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured(
        "JOB_STALE_AFTER must be more than twice JOB_HEARTBEAT_INTERVAL, or live jobs would be requeued."
    )
# Storage maintenance (retention, quota cleanup, sweeper; jobs.storage.cleanup): a file under
# MEDIA_ROOT/users/ with no row is removed only once it is this many seconds old, because
# an upload or a render writes its file a moment before it saves the row.
ORPHAN_FILE_GRACE = env_int("ORPHAN_FILE_GRACE", 3600, minimum=60)
FILE_UPLOAD_HANDLERS = ["jobs.library.uploads.SizeLimitedUploadHandler"]
# Uploads spool here (not the system's /tmp), so what a killed web worker leaves can be found
# and removed (jobs.storage.leftovers).
FILE_UPLOAD_TEMP_DIR = str(Path(env_str("UPLOAD_TEMP_DIR", str(VAR_DIR / "upload-tmp"))).resolve())
# Made here: Django's checks (and its upload handler) need it to exist before any upload.
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# Request bodies other than file uploads stay small; uploads are bounded by MAX_UPLOAD_SIZE.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640


# --- Rendering ------------------------------------------------------------------------------

# Engines are the records of rendering.engines.ENGINES; their settings follow.
RENDER_ENGINE_DEFAULT = env_str("RENDER_ENGINE_DEFAULT", "classic")
if RENDER_ENGINE_DEFAULT not in ENGINES:
    raise ImproperlyConfigured(
        f"RENDER_ENGINE_DEFAULT={RENDER_ENGINE_DEFAULT!r}: write one of {', '.join(ENGINES)}."
    )
RENDER_CACHE_DIR = Path(env_str("RENDER_CACHE_DIR", str(VAR_DIR / "render-cache"))).resolve()
# A local directory of neural-engine weights (see README); empty means "not configured".
NEURAL_MODEL_DIR = env_str("NEURAL_MODEL_DIR", "")
# The neural engine (docs/rendering-neural.md): where it runs ("auto": CUDA when present),
# frames per generator call (0: 16 on CUDA, 4 on the CPU), torch.compile on CUDA.
NEURAL_DEVICE = env_str("NEURAL_DEVICE", "auto")
NEURAL_BATCH_SIZE = env_int("NEURAL_BATCH_SIZE", 0, minimum=0)
NEURAL_COMPILE = env_bool("NEURAL_COMPILE", False)
# MuseTalk's bbox_shift for the neural engine's crop, in pixels of a 256-pixel face box:
# positive moves the crop's top down (the mouth opens more), negative up; 0 is MuseTalk's.
# Bounded by the engine's record (rendering.engines.ENGINES: -64 to 64), checked below.
NEURAL_BBOX_SHIFT = env_int("NEURAL_BBOX_SHIFT", 0)
for _engine in ENGINES.values():  # every engine's bounded settings, from its record
    for _name, (_lowest, _highest) in _engine.limits.items():
        if not _lowest <= globals()[_name] <= _highest:
            raise ImproperlyConfigured(
                f"{_name}={globals()[_name]} is too "
                f"{'small' if globals()[_name] < _lowest else 'large'}; "
                f"it must lie between {_lowest} and {_highest}."
            )
WHISPER_MODEL_PATH = env_str("WHISPER_MODEL_PATH", "")
# Transcripts, subtitles and captions: a faster-whisper model directory. The default is
# where scripts/bootstrap.sh assembles Whisper base inside the environment (the same path as
# rendering.transcription.DEFAULT_MODEL_DIR, not imported: it would load PyAV here). An empty
# value turns transcripts off.
WHISPER_MODEL_DIR = env_str(
    "WHISPER_MODEL_DIR", str(Path(sys.prefix) / "share" / "heygem" / "whisper-base")
)
WHISPER_CPU_THREADS = env_int("WHISPER_CPU_THREADS", 2, minimum=0)


# --- Webhooks -------------------------------------------------------------------------------
# Each delivery is one POST with this timeout (seconds). A failed one is tried again after
# each of WEBHOOK_RETRY_DELAYS (seconds, comma-separated) in turn, then marked failed, so a
# delivery gets 1 + len(delays) attempts. Private, loopback, link-local, multicast and
# reserved targets are refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS is on (tests, or a
# closed network where every user is trusted).


def _webhook_retry_delays() -> list[int]:
    raw = env_list("WEBHOOK_RETRY_DELAYS", ["10", "60", "300", "1800", "7200"])
    if not all(item.isdigit() and int(item) > 0 for item in raw):
        raise ImproperlyConfigured(
            f"WEBHOOK_RETRY_DELAYS={','.join(raw)!r} must be whole seconds above zero, like 10,60,300."
        )
    return [int(item) for item in raw]


WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
WEBHOOK_RETRY_DELAYS = _webhook_retry_delays()
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_MAX_PER_USER = env_int("WEBHOOK_MAX_PER_USER", 10, minimum=1)
# Webhook housekeeping in the hourly maintenance (jobs.housekeeping): a pending delivery
# whose next attempt is WEBHOOK_STUCK_AFTER seconds overdue (its worker died mid-POST, or its
# task was lost with a broker) is queued again; delivery rows older than
# WEBHOOK_DELIVERY_KEEP_DAYS are deleted (the account page and the API show recent ones).
WEBHOOK_STUCK_AFTER = env_int("WEBHOOK_STUCK_AFTER", 300, minimum=60)
WEBHOOK_DELIVERY_KEEP_DAYS = env_int("WEBHOOK_DELIVERY_KEEP_DAYS", 30, minimum=1)


# --- Files ----------------------------------------------------------------------------------

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()
# User files are never served as static files: views check ownership first. The URL
# below is only what FileField.url would say; nothing is mounted there.
MEDIA_URL = "/_private-media/"
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static"))).resolve()
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where users' files live: one of jobs.storage.stores.STORES, "local" (MEDIA_ROOT, the
# embedded default) or "s3" (any S3-compatible object store, through django-storages).
# Workers and the web process must agree; with s3 every host sees the same files and caches
# (docs/deployment.md). The chosen store also gives Django's default storage (below).
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local").lower()
if STORAGE_BACKEND not in STORES:
    raise ImproperlyConfigured(
        f"STORAGE_BACKEND={STORAGE_BACKEND!r}: write one of {', '.join(sorted(STORES))}."
    )
S3_BUCKET = env_str("S3_BUCKET", "")
# The address workers and the web process use (e.g. http://objectstore.internal:8333), and
# the one browsers reach for presigned downloads (signatures cover the host).
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL", "")
S3_PUBLIC_ENDPOINT_URL = env_str("S3_PUBLIC_ENDPOINT_URL", "")
S3_REGION = env_str("S3_REGION", "us-east-1")
# "path" (bucket in the path: most self-hosted servers) or "virtual" (bucket in the host).
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")
# How long a presigned download address works, in seconds.
S3_PRESIGNED_EXPIRES = env_int("S3_PRESIGNED_EXPIRES", 300, minimum=10)
# Credentials from S3_ACCESS_KEY_ID(_FILE) / S3_SECRET_ACCESS_KEY(_FILE), else boto3's own
# chain (instance roles, AWS_* variables).
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY", "")
try:
    _default_storage = django_storage(STORAGE_BACKEND, globals())
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# Working copies of inputs and results on this host (object storage only; removed after use).
SCRATCH_DIR = Path(env_str("SCRATCH_DIR", str(VAR_DIR / "scratch"))).resolve()
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG


# --- ZIP export and large-file serving (issue 5) --------------------------------------------

# How long a "Download all" link works, in seconds; the token inside it is the credential.
EXPORT_LINK_MAX_AGE = env_int("EXPORT_LINK_MAX_AGE", 600, minimum=10)
# Archives larger than this get a warning before the download starts.
EXPORT_WARN_SIZE = env_size("EXPORT_WARN_SIZE", 2 * 1000**3)
# Serve single result files through nginx (X-Accel-Redirect to an `internal` location that
# maps FILE_X_ACCEL_PREFIX onto MEDIA_ROOT) instead of reading them through Python.
FILE_X_ACCEL_REDIRECT = env_bool("FILE_X_ACCEL_REDIRECT", False)
FILE_X_ACCEL_PREFIX = "/" + env_str("FILE_X_ACCEL_PREFIX", "/_protected-media/").strip("/") + "/"


# --- Internationalisation -------------------------------------------------------------------

# Simplified Chinese and English. The language follows the browser (Accept-Language, through
# LocaleMiddleware), can be switched in the header, and is remembered per signed-in user
# (User.language, applied by heygem_site.middleware.UserLanguageMiddleware). LANGUAGE_CODE is
# only the fallback for a browser that asks for neither.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(
        f"LANGUAGE_CODE={LANGUAGE_CODE!r} is not one of this site's languages: use zh-hans or en."
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# The compiled catalogs (.mo) are built from the committed .po files by a pure-Python step
# (`manage.py catalogs compile`, run by scripts/run.sh and the test suite), so no GNU gettext
# is needed to run the product.
LANGUAGE_COOKIE_NAME = "heygem_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_TZ = True


# --- Security (HTTPS-only values whenever the site is served over HTTPS) --------------------

_secure = HTTPS
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _secure)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _secure)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _secure)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _secure else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _secure)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"


# --- Logging --------------------------------------------------------------------------------

LOG_DIR = Path(env_str("LOG_DIR", str(VAR_DIR / "log"))).resolve()
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={LOG_LEVEL!r} is not a log level. Use DEBUG, INFO, WARNING or ERROR."
    )
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "heygem_site.logging.JsonFormatter"},
        "console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
        "runlog": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(LOG_DIR / "heygem.jsonl"),
            "maxBytes": env_size("LOG_MAX_BYTES", 10 * 1024**2),
            "backupCount": env_int("LOG_BACKUP_COUNT", 5, minimum=0),
            "formatter": "json",
            "delay": True,
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "heygem": {"handlers": ["console", "runlog"], "level": LOG_LEVEL, "propagate": False},
        "django-q": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


# Export links carry their token in the query string; Django's request lines must not print
# it (gunicorn gets the same treatment from --logger-class, see scripts/run.sh).
LOGGING["filters"] = {"redact_tokens": {"()": "heygem_site.log_redaction.RedactTokens"}}
LOGGING["loggers"]["django.request"] = {"filters": ["redact_tokens"]}
LOGGING["loggers"]["django.server"] = {
    "handlers": ["console"],
    "level": "INFO",
    "filters": ["redact_tokens"],
    "propagate": False,
}


# --- REST framework -------------------------------------------------------------------------

REST_FRAMEWORK: dict[str, Any] = {
    # Bearer keys first: their authenticate_header makes a missing key answer 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.authentication.KeyScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["heygem_site.api.KeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "heygem_site.api.CreatedCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "heygem_site.api.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "heygem_site.api.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Per-key limits on the endpoints that create work or store files (DRF rate syntax:
# "<n>/<second|minute|hour|day>"); reads are not throttled. 429 answers carry Retry-After.
API_RATES: dict[str, str] = {
    "upload": env_str("API_RATE_UPLOAD", "120/hour"),
    "create": env_str("API_RATE_CREATE", "60/hour"),
}
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24)

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "HeyGem Studio API",
    "DESCRIPTION": (
        "Upload one audio and many template videos, render a batch, follow its progress and "
        "download the results. Authenticate with `Authorization: Bearer <key>` (keys are made "
        'on the account page). Errors answer `{"error": {"code", "message"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # One name per choice set that several fields and components share (batch list, batch
    # detail with its transcript, batch create, jobs).
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": ["queued", "running", "done", "done with failures", "canceled"],
        "JobStatusEnum": "jobs.models.JobStatus",
        "CaptionPositionEnum": ["bottom", "middle", "top"],
        "CaptionSizeEnum": ["small", "medium", "large"],
    },
}
