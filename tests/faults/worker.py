"""``python -m tests.faults.worker worker|beat ...``: the project's Celery
application started like ``celery -A portal``, with faults injected for the
fault tests from the environment (never imported by the portal itself).

``FAULTS_HANG_AT``
    Where the nightly run stops and waits to be killed; the process writes
    ``FAULTS_MARKER`` first, so the test knows when to send SIGKILL.
    ``in_transaction``: inside the run's transaction, right after the
    follow-up cases were inserted (deadline outcomes and cases written, not
    committed; evaluations not written yet). ``after_commit``: after the
    run committed, before its JobRun row is marked finished (and before
    reminders are planned). The hooks sit on the SQL the run sends, not on
    Python names, so they keep working when the engine's code is reorganised.
``FAULTS_STALE_AFTER_SECONDS``
    How long a ``running`` JobRun counts as alive before another trigger
    takes it over (production: the hard task time limit plus five minutes).
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import time
from pathlib import Path

#: (statement, hang before or after it runs)
HANG_SQL = {
    "in_transaction": (
        re.compile(r'^\s*insert\s+into\s+"?compliance_followupcase"?\W', re.I),
        "after",
    ),
    "after_commit": (
        re.compile(r'^\s*update\s+"?compliance_jobrun"?\s+set\s.*"?counts"?\s*=', re.I | re.S),
        "before",
    ),
}


def _install_hang(hang_at: str, marker: Path) -> None:
    from django.db import connection

    pattern, when = HANG_SQL[hang_at]

    def hang() -> None:
        marker.write_text(f"pid={os.getpid()} in_atomic_block={connection.in_atomic_block}")
        time.sleep(600)  # until the test kills us

    def hang_here(execute, sql, params, many, context):
        matches = bool(pattern.search(sql))
        if matches and when == "before":
            hang()
        result = execute(sql, params, many, context)
        if matches and when == "after":
            hang()
        return result

    # The solo pool runs tasks in this thread, on this connection object.
    connection.execute_wrappers.append(hang_here)


def _install_stale_after(seconds: float) -> None:
    from jobs import tasks

    if not callable(getattr(tasks, "_stale_after", None)):  # fail loudly, not silently
        raise RuntimeError("jobs.tasks._stale_after is gone: update tests/faults/worker.py")
    tasks._stale_after = lambda: datetime.timedelta(seconds=seconds)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.faults.worker_settings")
    import django

    django.setup()
    from portal.celery import app

    app.loader.import_default_modules()  # the tasks, before any fault is installed
    if os.environ.get("FAULTS_HANG_AT"):
        _install_hang(os.environ["FAULTS_HANG_AT"], Path(os.environ["FAULTS_MARKER"]))
    if os.environ.get("FAULTS_STALE_AFTER_SECONDS"):
        _install_stale_after(float(os.environ["FAULTS_STALE_AFTER_SECONDS"]))
    sys.exit(app.start(argv=sys.argv[1:]))


if __name__ == "__main__":
    main()
