"""Celery is just another interface: the tasks load an ImportRun by id and
call the service in ``ingestion.imports``."""

from __future__ import annotations

from celery import shared_task

from . import imports


@shared_task(
    acks_late=True,  # idempotent: the run's status decides (see import_run_execute)
    reject_on_worker_lost=True,
    name="partners.import_run",
)
def import_run(run_id: int, dry_run: bool) -> dict:
    """Preview (``dry_run``) or import an uploaded file."""
    run = imports.import_run_execute(run_id=run_id, dry_run=dry_run)
    return {"run": run_id, "status": run.status if run else None}
