"""Production: every secret from the environment, fail fast when missing."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_SERVER_URL, env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be set (at least 32 characters) in production.")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must not be on in production.")
_oidc = {"OIDC_SERVER_URL": OIDC_SERVER_URL, "OIDC_CLIENT_ID": OIDC_CLIENT_ID}
_oidc["OIDC_CLIENT_SECRET"] = OIDC_CLIENT_SECRET
if any(_oidc.values()) and not all(_oidc.values()):
    missing = ", ".join(name for name, value in _oidc.items() if not value)
    raise ImproperlyConfigured(f"Staff single sign-on is half configured: {missing} missing.")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
PORTAL_ALLOW_DEMO_USERS = False
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT if LOG_FORMAT == "json" else "plain"
