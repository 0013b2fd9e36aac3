"""Run one callable in several threads released at the same moment, each
with its own database connection - for tests of races on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def race(count: int, target: Callable[[], T], *, timeout: float = 60) -> list[T]:
    """The results of ``count`` concurrent calls of ``target`` (in the order
    they finished); any exception fails the test."""
    barrier = threading.Barrier(count)
    results: list = []
    errors: list = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not errors, errors
    assert len(results) == count, "a thread did not finish in time"
    return results
