import pytest
from django.db import connection

from tests.reference import restore_reference_data


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
    """The data migrations' rows again (see tests.reference)."""
    restore_reference_data()


@pytest.fixture(autouse=True)
def _reference_data_after_a_flush(request):
    """A transactional test empties every table when it ends, the data of the
    migrations too: each one starts with them back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        request.getfixturevalue("reference_data")
