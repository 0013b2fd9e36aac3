"""Settings for the Celery workers and beats that the fault tests start.

The test settings, with tasks going through the broker, and what a test
needs to see or to speed up taken from ``FAULTS_*`` environment variables:
a real SMTP server on loopback, short retry and sweep intervals, a beat
schedule of seconds instead of nights. Nothing here is used in production.
"""

from portal.settings.test import *  # noqa: F403
from portal.settings.test import env

CELERY_TASK_ALWAYS_EAGER = False

if env("FAULTS_SMTP_PORT", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "127.0.0.1"
    EMAIL_PORT = env.int("FAULTS_SMTP_PORT")
    EMAIL_HOST_USER = ""
    EMAIL_HOST_PASSWORD = ""
    EMAIL_USE_TLS = False
    EMAIL_USE_SSL = False
    EMAIL_TIMEOUT = 5
    DEFAULT_FROM_EMAIL = "CSP Compliance <compliance@distributor.example>"

if env("FAULTS_VISIBILITY_TIMEOUT", default=""):
    # Redis hands an unacknowledged task (its worker died) to another worker
    # after this many seconds (production: two hours), checked every second.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("FAULTS_VISIBILITY_TIMEOUT"),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("FAULTS_RETRY_BASE_SECONDS", default=60)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("FAULTS_RETRY_MAX_SECONDS", default=3600)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("FAULTS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_SWEEP_GRACE_SECONDS = env.int("FAULTS_SWEEP_GRACE_SECONDS", default=600)

# A beat that fires every few seconds instead of at night.
_beat: dict = {}
if env("FAULTS_NIGHTLY_EVERY_SECONDS", default=""):
    _beat["nightly-evaluation"] = {
        "task": "compliance.evaluate_all",
        "schedule": env.int("FAULTS_NIGHTLY_EVERY_SECONDS"),
        "kwargs": {"as_of": env("FAULTS_NIGHTLY_AS_OF")},
    }
if env("FAULTS_SWEEP_EVERY_SECONDS", default=""):
    _beat["notification-sweeper"] = {
        "task": "notifications.sweep",
        "schedule": env.int("FAULTS_SWEEP_EVERY_SECONDS"),
    }
if _beat:
    CELERY_BEAT_SCHEDULE = _beat
