"""Running one large computation in a process that also serves others
(a Celery worker, a management command)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the block, then restore it.

    A nightly evaluation builds several objects per subject and keeps them
    all until it has written them; the collector's passes over that growing
    heap found nothing to free and took about a third of the engine's time
    (measured at 10,000 partners, bench/results/2026-12-04.md). Reference
    counting still frees everything that is not a cycle; the few cycles a
    run makes (Django's querysets, tracebacks) are collected by the next
    pass after the block. Nested blocks keep the outer one's state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
