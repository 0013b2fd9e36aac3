"""Local development: ``make run``. Safe defaults, nothing to install."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
if not env("EMAIL_URL", default="") and not env("EMAIL_HOST", default=""):
    # Without a configured server, print emails to the worker's console.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
PORTAL_ALLOW_DEMO_USERS = True
