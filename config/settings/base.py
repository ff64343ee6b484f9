"""Settings shared by every runtime mode (DESIGN.md §7).

Two environment variables pick the mode:

* ``DATABASE_URL`` absent: a SQLite file next to ``manage.py``.
* ``REDIS_URL`` absent (embedded): in-memory channel layer, local-memory cache, Celery tasks
  run in-process right after the transaction commits. Present (services): channels_redis,
  Celery on Redis, Redis-backed cache.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.kernel.env import env_bool, env_int, env_list, env_str
from config.logs.setup import logging_config, structlog_configure

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves HTTP and WebSockets together
    "config.apps.CredoAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.mfa",  # two factors for everyone who can enter the admin (accounts.auth.second_factor)
    "axes",
    "django_structlog",
    "config.logs.apps.LogsConfig",
    "accounts",
    "social",
    "scoring",
    "leaderboards",
]

MIDDLEWARE = [
    # First: a request id for everything below (and the tasks it enqueues), the request's line.
    "config.logs.middleware.RequestLogMiddleware",
    # Next: health probes and metric scrapes skip host checks, TLS redirects, sessions and the
    # rest (config.operations.middleware; OPERATIONS_PATHS).
    "config.operations.middleware.OperationsMiddleware",
    # HTTP figures for /metrics (django-prometheus): from here on, so probes and scrapes don't count.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY)
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # An API body over DATA_UPLOAD_MAX_MEMORY_SIZE: a JSON 413 before anything reads it.
    "config.kernel.json_limits.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.auth.middleware.FrozenMemberMiddleware",  # a frozen member's web posts: 403 (DESIGN §10)
    "config.kernel.unavailable.DatabaseUnavailableMiddleware",  # a database briefly away: 503 + Retry-After
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# Messages live in the session, not a cookie: the admin shows a new webhook secret once through one.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

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
                "config.context_processors.nav",
                "config.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
    # Under ASGI every request would otherwise open its own PostgreSQL connection (≈ 9 ms of a
    # 21 ms ingestion request here): Django's psycopg pool keeps them (CONN_MAX_AGE must be 0).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Fail fast when PostgreSQL is away: wait at most DB_POOL_TIMEOUT s for a connection (psycopg's
    # default 30 s stalled requests and scoring), then answer 503 + Retry-After
    # (config.kernel.unavailable); a new connection gives up after the same time.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN", 2),
        "max_size": env_int("DB_POOL_MAX", 10),
        "timeout": env_int("DB_POOL_TIMEOUT", 3),
    }
    DATABASES["default"]["OPTIONS"]["connect_timeout"] = env_int("DB_POOL_TIMEOUT", 3)
    # Django's backend whose pool drops every dead connection at once after connection loss,
    # instead of trying them one by one 1, 2, 4 … s apart (config/kernel/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.kernel.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several request threads plus in-process tasks write to one file: wait for the lock
    # instead of failing at once, and let readers run beside the writer (WAL).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Passwords per NIST SP 800-63B: length over composition, a common-password blocklist, no
# forced character classes, no periodic expiry. Long passphrases are welcome (no low maximum).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "accounts.members.validators.MaximumLengthValidator"},
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out (username, IP) pair is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Members' data exports: outside MEDIA_ROOT (never served as static files); downloaded only
    # through a signed, expiring, owner-checked link (scoring.privacy).
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("CREDO_EXPORTS_ROOT", str(BASE_DIR / "private" / "exports"))},
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# --- browser security headers ------------------------------------------------------------------
# A strict policy: scripts and styles only from our own static files (no inline code, no inline
# style attributes), no plugins, no framing; the WebSocket and the service worker are same-origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Powerful browser features the app never uses are switched off for it and for any frame;
# passkeys (WebAuthn) stay allowed for our own pages.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    **{feature: [] for feature in ("accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
                                   "fullscreen", "geolocation", "gyroscope", "magnetometer", "microphone", "midi",
                                   "payment", "picture-in-picture", "screen-wake-lock", "usb",
                                   "xr-spatial-tracking")},
    "publickey-credentials-get": ["self"],
    "publickey-credentials-create": ["self"],
}

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "landing"

# --- email -------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Credo <no-reply@credo.local>")

# --- django-allauth (web sign-up, log in, password reset, email verification) -----------------
# Log in by username: usernames are unique and public (boards), emails stay private.
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*"]
# Mandatory: the only way allauth can answer sign-up identically whether or not the email
# is known (see ACCOUNT_PREVENT_ENUMERATION). A verified email also counts toward completeness.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
# Same response whether or not an email is known, on sign-up and on password reset.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# allauth's rate limits, per client address (accounts.auth.adapter) and per account ("key"):
# beside django-axes' (username, address) lockout, they stop one password sprayed over many
# usernames from one address, and slow the guessing of one account from many.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # Per address over all usernames (spraying), per account over all addresses (distributed
    # guessing); looser per account than axes' lockout of a (username, address) pair after 5.
    "login_failed": "10/m/ip,20/15m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
ACCOUNT_ADAPTER = "accounts.auth.adapter.AccountAdapter"

# --- two factors (django-allauth MFA) -----------------------------------------------------------
# TOTP with recovery codes. Required of every account that can enter the admin: the admin sends
# one without an authenticator to enrol, and one whose session did not pass the second factor to
# confirm a code (accounts.auth.second_factor). Off only in the test settings' default.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Credo"
ADMIN_MFA_REQUIRED = env_bool("ADMIN_MFA_REQUIRED", True)
# Sessions of accounts that can enter the admin end sooner than members' (two weeks).
MODERATOR_SESSION_SECONDS = env_int("MODERATOR_SESSION_SECONDS", 4 * 3600)

# --- client addresses ----------------------------------------------------------------------------
# How many reverse proxies of ours stand in front of the app, each appending to X-Forwarded-For.
# 0 (default): trust none, the client is the socket's peer. Throttles, django-axes and allauth
# all read the client from config.kernel.client_ip.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXIES

# --- django-axes: lock a (username, IP) pair after repeated failures, admin login included ------
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.auth.security.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.auth.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.kernel.client_ip.client_ip"

# JSON from clients (API, signed ingestion, WebSocket): at most this deep (config.kernel.json_limits);
# at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (Django's default, 2.5 MB).
JSON_MAX_DEPTH = 32

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.auth.permissions.NotFrozen",  # a frozen member reads but never writes (DESIGN §10)
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a size and a nesting limit (413 too_large, 400 too_deep; config.kernel.json_limits).
    "DEFAULT_PARSER_CLASSES": ["config.kernel.json_limits.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "config.kernel.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Keyed on the real client (config.kernel.client_ip); "auth" applies to the views whose
    # throttle_scope says so (log in, register, tokens), "partner_refused" counts signed requests
    # refused per address (scoring.ingestion.api).
    "DEFAULT_THROTTLE_CLASSES": [
        "config.kernel.throttles.AnonThrottle",
        "config.kernel.throttles.UserThrottle",
        "config.kernel.throttles.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "60/minute"),
        "user": env_str("THROTTLE_USER", "1200/minute"),
        "auth": env_str("THROTTLE_AUTH", "20/minute"),
        "partner_refused": env_str("THROTTLE_PARTNER_REFUSED", "30/minute"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,  # the same count for anything of DRF's that reads it
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("API_TOKEN_TTL_DAYS", 30)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": True,
    "TOKEN_LIMIT_PER_USER": 20,
    "USER_SERIALIZER": "accounts.members.serializers.UserSerializer",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Credo API",
    "DESCRIPTION": (
        "Members, friends, scores, leaderboards and partner event ingestion.\n\n"
        "Every error is JSON `{code, detail}` with a stable `code` (validation errors add `fields`: the "
        "messages of each offending field); each operation lists the statuses it answers and their codes. "
        "Bodies are JSON of at most 2.5 MB (413 `too_large`) nested at most 32 deep (400 `too_deep`).\n\n"
        "Partners sign each request (see `POST /api/v1/events/`): `X-Credo-Key`, `X-Credo-Timestamp` (unix "
        "seconds, within 5 minutes of ours), `X-Credo-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.\" + "
        "raw body>` and an `Idempotency-Key`. A batch is all or nothing: one invalid event refuses the whole "
        "batch, naming the event's index (`events[3].amount`), and nothing of it is stored.\n\n"
        "The partner's other calls (`/api/v1/partner/…`: its events' status, its answers to disputes, its "
        "webhooks) are signed the same way, without an `Idempotency-Key`; a request without a body (a GET) signs "
        "`\"<timestamp>.\" + the path with its query string` exactly as sent "
        "(`/api/v1/partner/events/?status=disputed`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every error an operation can answer, with its codes (config.kernel.openapi).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.kernel.openapi.add_error_responses",
        "scoring.webhooks.schema.webhooks_as_extension",
    ],
    # One name for the webhook types wherever they appear (the partner's webhook API, the payloads).
    "ENUM_NAME_OVERRIDES": {"WebhookTypeEnum": "scoring.webhooks.models.WebhookType",
                            # /health/ready's (config.operations.health)
                            "HealthStatusEnum": ["ok", "unavailable"], "RuntimeModeEnum": ["embedded", "services"]},
    # What a partner's webhook endpoint receives (scoring.webhooks.schema), filed as x-webhooks.
    "WEBHOOKS": [f"scoring.webhooks.schema.{name}" for name in (
        "EVENT_SCORED", "EVENT_FAILED", "EVENT_DISPUTED", "DISPUTE_RESOLVED", "EVENT_REVERSED", "EVENT_CORRECTED",
        "CONSENT_REVOKED")],
}

# --- runtime mode: embedded or services ----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
SERVICES_MODE = bool(REDIS_URL)

#: Which channels_redis layer carries live updates: "core" (RedisChannelLayer: per-channel
#: queues, capacity) or "pubsub" (RedisPubSubChannelLayer: Redis pub/sub, lighter per message;
#: DESIGN.md §11). Both are at-most-once; bench/bench_live.py measures both.
CHANNEL_LAYER = env_str("CHANNEL_LAYER", "core")
#: redis-py's read timeout in the channel layer, seconds: above channels_redis' BRPOP timeout (5 s).
CHANNEL_LAYER_SOCKET_TIMEOUT = 15

if SERVICES_MODE:
    if CHANNEL_LAYER == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                # redis-py's async pool raises (not waits) past max_connections (DESIGN.md §11).
                "CONFIG": {"hosts": [{"address": REDIS_URL, "max_connections": 1000}]},
            }
        }
    elif CHANNEL_LAYER == "core":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py's async pool raises (not waits) past max_connections; size it for
                    # many consumers. The standard layer drops past `capacity` messages per
                    # channel: raise it above the default 100 (DESIGN.md §11).
                    # redis-py's socket timeout (5 s by default) must outlast the layer's
                    # blocking BRPOP (5 s): equal, an idle receive times out on the client
                    # while Redis answers, and the socket logs "unreachable" every 5 s.
                    "hosts": [{"address": REDIS_URL, "max_connections": 1000,
                               "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                               "socket_connect_timeout": 5}],
                    "capacity": 1500,
                    "expiry": 30,
                },
            }
        }
    else:
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be core or pubsub, not {CHANNEL_LAYER!r}")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "credo",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    # Embedded mode: tasks run in-process. They are only ever sent after commit (see
    # config/tasks.py), so "eager" here means "right after the transaction commits".
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a task taken by a worker that died stays invisible before Redis hands it out again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}

# A friendship counts for friend contagion only this long after it was accepted (DESIGN.md §3):
# it blunts farming with fresh fake friends.
CONTAGION_VESTING = timedelta(days=env_int("CONTAGION_VESTING_DAYS", 7))

# WebSocket origin check: browsers must come from one of these hosts (native clients send none).
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS", [])

# --- logs (config.logs) ---------------------------------------------------------------------------
# One line per request, task and socket event, with a request id that follows a request into its
# tasks; JSON lines (LOG_FORMAT=json) or readable ones (console; make run's default).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
structlog_configure()
# Polled by load balancers and scrapers: a request id, no line.
LOG_QUIET_PATHS = ["/health/", "/metrics"]
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True  # checked first: config.logs.middleware
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # a member's address is not an id
# One line per request (request_finished) and per task (task_succeeded / task_failed); the lines
# of a request's or a task's start, and of a task's enqueueing, at DEBUG.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_CELERY_TASK_START_LOG_LEVEL = logging.DEBUG
# Celery would replace these handlers by its own in a worker.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- operations: health probes and metrics (config.operations, docs/operations.md) ----------------
#: Answered before the rest of the middleware (after the request id), never throttled; LOG_QUIET_PATHS
#: keeps them out of the request log.
OPERATIONS_PATHS = ["/health/live", "/health/ready", "/metrics"]
#: Each readiness check gives up after this many seconds (its client's timeouts are set to it).
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("HEALTH_CHECK_TIMEOUT_SECONDS", 2)
#: Who may read /metrics: clients in these networks (addresses or CIDRs; loopback by default), or
#: with ``Authorization: Bearer <METRICS_TOKEN>`` (empty: no token accepted). Multiprocess
#: counting is PROMETHEUS_MULTIPROC_DIR's, an environment variable of every process
#: (config.kernel.metrics).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.0/8", "::1"])
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- partners ------------------------------------------------------------------------------------
# Encrypts partners' signing secrets at rest (Fernet). Defaults to a key derived from SECRET_KEY;
# set it explicitly to rotate SECRET_KEY without re-issuing partner secrets.
CREDO_SECRETS_KEY = env_str("CREDO_SECRETS_KEY", "")
# Signed partner requests older or newer than this are refused (replay protection).
PARTNER_SIGNATURE_TOLERANCE_SECONDS = env_int("PARTNER_SIGNATURE_TOLERANCE_SECONDS", 300)

CELERY_BEAT_SCHEDULE["scoring-sweep-pending"] = {
    "task": "scoring.ledger.tasks.sweep_pending_events",
    "schedule": 10.0,
}
# Time as a cause: scores move to today's date once a day (hourly, so a missed run heals soon).
CELERY_BEAT_SCHEDULE["scoring-age-scores"] = {"task": "scoring.ledger.tasks.age_scores", "schedule": 3600.0}
# Score changes whose follow-up (contagion, boards, live, gamification) a crash or an outage lost
# (scoring.ledger.follow_up.SWEEP_EVERY): derived state heals within about half a minute.
CELERY_BEAT_SCHEDULE["scoring-follow-ups-sweep"] = {"task": "scoring.ledger.tasks.sweep_follow_ups", "schedule": 10.0}
CELERY_BEAT_SCHEDULE["scoring-contagion-tick"] = {"task": "scoring.contagion.tasks.contagion_tick", "schedule": 10.0}
CELERY_BEAT_SCHEDULE["scoring-contagion-reconcile"] = {
    "task": "scoring.contagion.tasks.contagion_reconcile",
    "schedule": 24 * 3600.0,
}

# --- outgoing webhooks (DESIGN.md §8; scoring.webhooks) ------------------------------------------
# http and loopback/private addresses as webhook URLs: development only (config.settings.local
# turns it on with DEBUG); everywhere else URLs must be https to public addresses.
WEBHOOKS_ALLOW_LOCAL = env_bool("WEBHOOKS_ALLOW_LOCAL", False)
# Seconds to wait before each attempt of a message: the Standard Webhooks schedule (immediately,
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 h), then a day later and a day after that, so a receiver
# that is down over a weekend still gets its messages (about 3 days in all). After the last one
# fails the message is given up and the endpoint disabled, with a notice to operators.
WEBHOOKS_RETRY_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000, 86400, 86400]
# One attempt: connect, then read the response's headers (seconds); at most this much of its body
# is read and kept (bytes).
WEBHOOKS_CONNECT_TIMEOUT = 3.0
WEBHOOKS_READ_TIMEOUT = 10.0
# One attempt in all (connect, headers, the capped body), whatever the receiver drips (seconds).
WEBHOOKS_ATTEMPT_SECONDS = 15.0
WEBHOOKS_RESPONSE_MAX_BYTES = 2048
# After a rotation the previous secret keeps signing (beside the new one) this long.
WEBHOOKS_SECRET_OVERLAP = timedelta(hours=env_int("WEBHOOKS_SECRET_OVERLAP_HOURS", 24))
# Messages whose delivery a crash or the broker lost are sent by this sweeper.
CELERY_BEAT_SCHEDULE["scoring-webhooks-sweep"] = {"task": "scoring.webhooks.tasks.webhooks_sweep", "schedule": 10.0}
# Who is told when an endpoint is disabled (mail_admins), beside an ERROR line in the log.
ADMINS = [(address, address) for address in env_list("ADMINS", [])]

# The real data sets (../shared/data/ beside the repository; see its README).
CREDO_DATA_DIR = Path(env_str("CREDO_DATA_DIR", str(BASE_DIR.parent / "shared" / "data")))

# --- leaderboards (DESIGN.md §4, §5) -------------------------------------------------------------
# The Redis index is used in services mode only; its keys start with this prefix.
LEADERBOARDS_REDIS_URL = env_str("LEADERBOARDS_REDIS_URL", REDIS_URL)
LEADERBOARDS_REDIS_PREFIX = env_str("LEADERBOARDS_REDIS_PREFIX", "credo:lb")
# Live consumers: coalesce bursts per tick; refresh from the index (lost messages), re-add their
# channel-layer groups (a restarted Redis forgot them), re-check credentials (logout elsewhere).
LEADERBOARDS_LIVE_TICK_SECONDS = 0.25
LEADERBOARDS_LIVE_REFRESH_SECONDS = 15.0
LEADERBOARDS_GROUP_REFRESH_SECONDS = 30.0
LEADERBOARDS_AUTH_RECHECK_SECONDS = 30.0
LEADERBOARDS_WS_TICKET_SECONDS = 60
CELERY_BEAT_SCHEDULE["leaderboards-index-reconcile"] = {  # nightly: every entry against the database
    "task": "leaderboards.boards.tasks.index_reconcile",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["leaderboards-season-rollover"] = {
    "task": "leaderboards.boards.tasks.season_rollover",
    "schedule": 300.0,
}
# Challenges between friends: finish those whose end passed (pages also finish them when read).
CELERY_BEAT_SCHEDULE["leaderboards-challenges-finish"] = {
    "task": "leaderboards.gamification.tasks.challenges_finish_due",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["leaderboards-badges-anniversaries"] = {  # "one year a member", daily
    "task": "leaderboards.gamification.tasks.award_anniversary_badges",
    "schedule": 24 * 3600.0,
}

# --- moderation and data rights (DESIGN.md §10) ---------------------------------------------------
CELERY_BEAT_SCHEDULE["scoring-unfreeze-expired"] = {
    "task": "scoring.moderation.tasks.members_unfreeze_expired",
    "schedule": 300.0,
}
# A member's dispute goes to the partner that furnished the event first; unanswered after this many
# days it resolves in the member's favour (the event is reversed), as a credit bureau must (US FCRA
# §611: 30 days). The sweep runs hourly; reading the member's disputes or the moderators' queue
# also resolves the due ones (the embedded mode has no beat).
DISPUTE_FURNISHER_DAYS = env_int("DISPUTE_FURNISHER_DAYS", 30)
CELERY_BEAT_SCHEDULE["scoring-disputes-unanswered"] = {
    "task": "scoring.moderation.tasks.disputes_resolve_unanswered",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["scoring-exports-expire"] = {
    "task": "accounts.privacy.tasks.data_exports_expire",
    "schedule": 3600.0,
}
# Services mode: events accepted by the API are scored in batches every second (scoring.ingestion.dirty).
CELERY_BEAT_SCHEDULE["scoring-score-dirty"] = {"task": "scoring.ledger.tasks.score_dirty_members", "schedule": 1.0}
