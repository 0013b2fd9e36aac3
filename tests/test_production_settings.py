"""Production settings pass Django's deployment checks and fail fast."""

import os
import secrets
import subprocess
import sys

from django.conf import settings


def _check(extra_env: dict) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests while Playwright runs.
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update({"DJANGO_SETTINGS_MODULE": "portal.settings.production", **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_at_warning_level():
    result = _check(
        {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "compliance.example.com"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secrets():
    result = _check({"ALLOWED_HOSTS": "compliance.example.com"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    result = _check({"SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode != 0 and "ALLOWED_HOSTS must be set" in result.stderr
    result = _check(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "compliance.example.com",
            "DEBUG": "true",
        }
    )
    assert result.returncode != 0 and "DEBUG must not be on" in result.stderr


def test_half_configured_single_sign_on_is_refused():
    base = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "compliance.example.com"}
    result = _check({**base, "OIDC_SERVER_URL": "https://login.example.com/tenant/v2.0"})
    assert result.returncode != 0
    assert "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET missing" in result.stderr
    result = _check(
        {
            **base,
            "OIDC_SERVER_URL": "https://login.example.com/tenant/v2.0",
            "OIDC_CLIENT_ID": "portal",
            "OIDC_CLIENT_SECRET": secrets.token_urlsafe(30),
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
