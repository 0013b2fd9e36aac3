"""Settings for the test suite (pytest-django)."""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = False
SECRET_KEY = "test-only-insecure-key"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run inline unless a test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
PORTAL_ALLOW_DEMO_USERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a real Celery worker started by a test sees
    # the same database.
    DATABASES["default"]["TEST"] = {
        "NAME": env(
            "TEST_SQLITE_NAME",
            # One file per test session, so that parallel runs never collide.
            default=str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3"),
        )
    }

# Django's test client logs in without a request, which django-axes refuses;
# the throttling tests switch it on explicitly.
AXES_ENABLED = False
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
SILENCED_SYSTEM_CHECKS = ["axes.W003"]  # the test backend list leaves axes out on purpose

# One cache per process, emptied before every test (tests/conftest.py): cached
# pages from one test's data never reach another.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Staff need no second factor in tests unless a test switches it on.
STAFF_MFA_REQUIRED = False
# Single sign-on stays off unless a test configures the loopback provider.
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": []}}
