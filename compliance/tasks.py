"""Celery is just another interface: tasks parse ids and call services.

The nightly run, which strings the engine and the reminders together, is an
orchestration task (``jobs.tasks``); the engine does not know its consumers.
"""

from __future__ import annotations

import datetime

from celery import shared_task

from . import services


@shared_task(name="compliance.evaluate_partners")
def evaluate_partners(partner_pks: list[int] | None, as_of: str | None = None) -> dict:
    """Re-evaluate some partners (``None``: all) in the worker, for a write
    too large to wait for (a policy changed); decides no deadline (see
    ``services.partners_reevaluate``)."""
    run_date = datetime.date.fromisoformat(as_of) if as_of else None
    result = (
        services.partners_reevaluate_all(when=run_date)
        if partner_pks is None
        else services.partners_reevaluate(partner_pks=partner_pks, when=run_date)
    )
    return {"partners": result.partners, "evaluated": result.evaluated, "error": result.error}


@shared_task(
    acks_late=True,  # idempotent: only a waiting run starts (simulation_run_execute)
    reject_on_worker_lost=True,
    name="compliance.simulate",
)
def simulate(run_id: int) -> dict:
    """A large policy simulation (PRODUCT 8); writes only its run record."""
    from . import drafts

    run = drafts.simulation_run_execute(run_id=run_id)
    return {"run": run_id, "status": run.status if run else None}
