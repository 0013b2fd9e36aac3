import pytest
from django.db import connection


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL); .ci/run does")


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def reference_data():
    """Currencies, designations and the programme policies, as the data
    migrations load them - again, for transactional tests that run after
    another one emptied every table."""
    import importlib

    from django.apps import apps

    importlib.import_module("partners.migrations.0002_reference_data").load(apps, None)
    importlib.import_module("compliance.migrations.0002_programme_policies").create_policies(
        apps, None
    )
