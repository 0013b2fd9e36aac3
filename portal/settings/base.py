"""Settings shared by every environment.

Every value that differs between machines comes from the environment; the
README has the table of variables. ``dev``, ``test`` and ``production`` only
change defaults and switch features on or off.
"""

import datetime
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local ``.env`` is convenient for developers; production uses real variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "django_celery_beat",
    "django_filters",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # second factor, staff single sign-on, session list (docs/decisions/0010)
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.usersessions",
    # ours, from the bottom layer up (docs/architecture.md)
    "core",
    "partners",
    "compliance",
    "ingestion",
    "notifications",
    "jobs",
    "portal",
    "api",
    "demo",
]

MIDDLEWARE = [
    "portal.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends sessions idle for SESSION_IDLE_TIMEOUT; refreshes the session list
    # (address, last seen) at most once a minute.
    "portal.sessions.SessionActivityMiddleware",
    # Staff without a second factor reach nothing but the enrolment.
    "portal.mfa.StaffSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A NUL character that reached a PostgreSQL query: 400, not 500.
    "api.middleware.NulCharacterMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a lockout into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/portal; default a SQLite file.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks
    # instead of failing, and let readers run while one process writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database host that drops packets must not hang every page (and
    # /healthz) until gunicorn's timeout: give up connecting after 5 s.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DB_CONNECT_TIMEOUT", default=5
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Refuses logins while a username/IP pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: after 5 failures for a username from one address, that
# pair is locked for 15 minutes; a successful login resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.accounts.lockout"
AXES_VERBOSE = False
# Behind N reverse proxies that each append to X-Forwarded-For, the client is
# the N-th address from the right; without proxies (0, the default) the header
# is ignored, since anyone can send it. django-ipware is not installed, so
# axes' AXES_IPWARE_* settings would have no effect: portal.accounts decides.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "portal.accounts.client_ip"
PASSWORD_RESET_TIMEOUT = 60 * 60  # reset links are valid for one hour
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Codes of the second factor are never stored with a failed attempt.
AXES_SENSITIVE_PARAMETERS = ["code"]

# --- Sessions ---------------------------------------------------------------
# A session lasts SESSION_COOKIE_AGE seconds at most (default 12 hours) and
# ends after SESSION_IDLE_TIMEOUT seconds without a request (default one hour,
# 0: no idle limit); portal.sessions checks the idle time.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=60 * 60)

# --- Second factor, staff single sign-on (django-allauth, ADR 0010) -----------
# Staff must enrol a second factor before they reach any staff page, the
# admin or the API with a session (portal.mfa). Default false here and in dev
# and test; production settings default it to true.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=False)
ACCOUNT_ADAPTER = "portal.account_adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "portal.sso.StaffOnlySocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = 10 * 60
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_RECOVERY_CODES_SHOW_ONCE = True
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="CSP Compliance")
MFA_FORMS = {"authenticate": "portal.mfa.LockoutAwareAuthenticateForm"}
MFA_ADAPTER = "portal.mfa.MFAAdapter"
USERSESSIONS_TRACK_ACTIVITY = False  # portal.sessions does it, once a minute
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # portal.sso maps by e-mail itself
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX = ""
# Staff single sign-on over OpenID Connect (Microsoft Entra ID: the server URL
# is https://login.microsoftonline.com/<tenant id>/v2.0). Off unless the
# server URL, client id and secret are all set.
OIDC_SERVER_URL = env("OIDC_SERVER_URL", default="")
OIDC_CLIENT_ID = env("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env("OIDC_CLIENT_SECRET", default="")
OIDC_BUTTON_LABEL = env("OIDC_BUTTON_LABEL", default="Company account")
# E-mail domains whose addresses the provider vouches for (Entra ID sends no
# email_verified claim); a token's own email_verified=true is accepted too.
OIDC_EMAIL_DOMAINS = env.list("OIDC_EMAIL_DOMAINS", default=[])
OIDC_PROVIDER_ID = "sso"
SOCIALACCOUNT_PROVIDERS: dict = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": []}}
if OIDC_SERVER_URL and OIDC_CLIENT_ID and OIDC_CLIENT_SECRET:
    SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"] = [
        {
            "provider_id": OIDC_PROVIDER_ID,
            "name": OIDC_BUTTON_LABEL,
            "client_id": OIDC_CLIENT_ID,
            "secret": OIDC_CLIENT_SECRET,
            "settings": {"server_url": OIDC_SERVER_URL},
        }
    ]

# --- Content-Security-Policy (django-csp) -------------------------------------
# Our pages load scripts, styles and fonts from /static/ only and have no
# inline script or style (chart data goes through json_script). Bootstrap's
# CSS draws a few icons as data: SVG images. Pages that need more (the API
# docs) widen the policy for their own view only, see portal/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------
# Third-party front-end packages come from npm (package.json) and are served
# from node_modules under /static/vendor/; nothing third-party is committed.
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Staff CSV uploads (/imports/): size limit, and lines above which the
# preview and the import run in the Celery worker with a progress bar.
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=200)
IMPORT_ASYNC_ROWS = env.int("IMPORT_ASYNC_ROWS", default=50_000)
# Policy simulations of more subjects run in the worker with a progress bar.
SIMULATOR_SYNC_MAX_SUBJECTS = env.int("SIMULATOR_SYNC_MAX_SUBJECTS", default=2_000)
# PostgreSQL's work_mem for the engine's TTM scan (one aggregate over every
# location): below what its hash table needs it spills to disk. "" keeps the
# server's setting.
EVALUATION_WORK_MEM = env("EVALUATION_WORK_MEM", default="64MB")
if EVALUATION_WORK_MEM and not re.fullmatch(r"[1-9][0-9]*(kB|MB|GB)", EVALUATION_WORK_MEM):
    raise ImproperlyConfigured(
        f"EVALUATION_WORK_MEM={EVALUATION_WORK_MEM!r}: a size such as 64MB (kB, MB or GB), or empty"
    )

# --- Email --------------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587, smtp+tls://..., consolemail://) wins
# over the individual EMAIL_* variables.
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
    EMAIL_HOST = env("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CSP Compliance <compliance@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
COMPLIANCE_REPLY_TO = env.list("COMPLIANCE_REPLY_TO", default=[])

# --- Celery -------------------------------------------------------------------
# Default broker: kombu's filesystem transport, which needs no server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
REDIS_URL = env("REDIS_URL", default="")
# Page caches (dashboard aggregates). Keys carry a data version read from the
# database, so a stale entry is never served; Redis shares them between web
# processes, the local-memory default keeps one per process.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering must not hang pages (they fall
            # back to computing, see compliance.selectors.cached_by_evaluations).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "celery")))
    _queue_dir = _broker_dir / "queue"
    _processed_dir = _broker_dir / "processed"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _processed_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Must exceed the longest task (see CELERY_TASK_TIME_LIMIT), or Redis
    # hands an unacknowledged task to a second worker.
    # Connect and socket timeouts: a Redis that vanishes without closing the
    # connection must not make a publish wait forever (the sweeper re-sends).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 2 * 60 * 60,
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # opted in per task, only for idempotent ones
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Crispy forms ---------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- REST API (api/README.md) ---------------------------------------------------
# Token authentication first: its WWW-Authenticate header makes an anonymous
# request a 401 (not a 403). Sessions serve the browsable API and the docs.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    # Stricter JSON (duplicate keys, NaN, deep nesting are a 400) and JSON
    # answers for bodies above DATA_UPLOAD_MAX_MEMORY_SIZE (413); see api/README.md.
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_USER", default="10000/hour")},
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSP Partner Compliance Portal API",
    "DESCRIPTION": (
        "Partners, locations, contacts, support contracts, revenue, evaluations and "
        "follow-up cases. Authenticate with `Authorization: Token <key>`; a partner "
        "user's token sees that partner only."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Integrators send JSON: the schema lists application/json bodies only. The
    # form and multipart parsers above stay for the browsable API's HTML forms.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # The schema and the documentation pages need a login (session or token).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and Redoc from the drf-spectacular-sidecar package (/static/), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging --------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# LOG_FORMAT=json: one JSON object per line (production); plain otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "portal.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Product settings -----------------------------------------------------------
# Demo logins may only be created where this is true (dev/test).
PORTAL_ALLOW_DEMO_USERS = False

# --- Periodic schedules (all of them, in UTC) -----------------------------------
# django-celery-beat copies these into its tables at start; staff can then
# adjust them in the admin. 03:30 UTC is 04:30/05:30 in Berlin, clear of the
# 01:00-03:00 local daylight-saving switch hours.
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    "nightly-evaluation": {
        "task": "compliance.evaluate_all",
        "schedule": crontab(hour=3, minute=30),
    },
    # Re-enqueues notifications whose delivery task was lost (broker down).
    "notification-sweeper": {
        "task": "notifications.sweep",
        "schedule": crontab(minute="*/5"),
    },
}

# --- Retention (docs/decisions/0012-growth-control.md) --------------------------
# Days each kind of row is kept (0 or None: for ever); jobs.purge_expired
# deletes older ones daily. Evaluations and the simple-history tables are kept.
RETENTION_DAYS = {
    table: env.int(f"RETENTION_{table.upper()}_DAYS", default=days) or None
    for table, days in {
        "job_runs": 730,
        "import_runs": 400,
        "import_previews": 30,
        "notifications": 730,
    }.items()
}
CELERY_BEAT_SCHEDULE["retention-purge"] = {
    "task": "jobs.purge_expired",
    "schedule": crontab(hour=4, minute=45),  # after the nightly run and its reminders
}
