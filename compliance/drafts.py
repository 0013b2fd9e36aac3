"""The simulator's writes (PRODUCT 8): named drafts, simulations the worker
runs, and publishing a draft as a new policy version. A simulation itself
writes nothing (``compliance.simulation``); these write only the drafts,
the worker's run records and, on publishing, the policies, all audited."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import rules, selectors, simulation
from .models import (
    Policy,
    PolicyDraft,
    PolicyRequirement,
    RequirementCode,
    SimulationRun,
    SimulationState,
)

ONE_DAY = datetime.timedelta(days=1)


def _audit(obj: object, user: User, reason: str = "") -> None:
    """Who (and why) for the history row simple-history writes on save."""
    obj._history_user = user  # type: ignore[attr-defined]  # read by simple-history
    if reason:
        obj._change_reason = reason[:100]  # type: ignore[attr-defined]  # read by simple-history


def _checked(policy: Policy, changes: Mapping[str, object]) -> rules.PolicySpec:
    try:
        return simulation.draft_spec(selectors.policy_spec(policy), changes)
    except simulation.DraftError as error:
        raise ValidationError({error.field: error.message}) from error


@transaction.atomic
def policy_draft_save(
    *,
    policy: Policy,
    name: str,
    changes: Mapping[str, object],
    as_of: datetime.date | None,
    user: User,
    draft: PolicyDraft | None = None,
) -> PolicyDraft:
    """Create (or, given ``draft``, update) a named draft of ``policy``."""
    _checked(policy, changes)
    if draft is None:
        draft = PolicyDraft(policy=policy, created_by=user)
    draft.policy, draft.name, draft.as_of = policy, name.strip(), as_of
    draft.changes = simulation.changes_as_json(changes)
    duplicate = PolicyDraft.objects.filter(policy=policy, name=draft.name).exclude(pk=draft.pk)
    if duplicate.exists():
        raise ValidationError({"name": _("This policy has a draft of that name already.")})
    draft.full_clean()
    _audit(draft, user)
    draft.save()
    return draft


def simulation_run_create(
    *,
    policy: Policy,
    changes: Mapping[str, object],
    as_of: datetime.date,
    user: User,
) -> SimulationRun:
    """The record of a simulation for the worker (``compliance.simulate``)."""
    _checked(policy, changes)
    return SimulationRun.objects.create(
        policy=policy,
        changes=simulation.changes_as_json(changes),
        as_of=as_of,
        created_by=user,
    )


def simulation_run_execute(*, run_id: int) -> SimulationRun | None:
    """Run a waiting simulation and keep its rows; safe to run twice (only
    a waiting run starts). Progress is written as it goes, in statements of
    its own, so that the page's progress bar sees it."""
    started = SimulationRun.objects.filter(pk=run_id, status=SimulationState.PENDING).update(
        status=SimulationState.RUNNING, progress=0.05
    )
    if not started:
        return None
    run = SimulationRun.objects.select_related("policy").get(pk=run_id)

    def progress(share: float) -> None:
        SimulationRun.objects.filter(pk=run_id).update(progress=share)

    try:
        result = simulation.simulation_run(
            policy=run.policy, changes=run.changes, as_of=run.as_of, progress=progress
        )
        run.rows = simulation.simulation_rows(result)
        run.status = SimulationState.SUCCEEDED
    except Exception as exc:  # recorded, never lost: the page shows it
        run.status, run.error = SimulationState.FAILED, f"{type(exc).__name__}: {exc}"
    run.progress, run.finished_at = 1.0, timezone.now()
    run.save(update_fields=["rows", "status", "error", "progress", "finished_at"])
    return run


@transaction.atomic
def policy_publish(
    *,
    policy: Policy,
    changes: Mapping[str, object],
    code: str,
    name: str,
    effective_from: datetime.date,
    effective_to: datetime.date | None,
    user: User,
    draft: PolicyDraft | None = None,
) -> Policy:
    """Publish a draft of ``policy`` as a new policy version ``code`` in
    force from ``effective_from``: the stored version ends the day before
    (so that they do not overlap), the new one carries the draft's
    requirements. Audited (history rows with the user and the reason).
    Raises ValidationError for a code in use, a start not after the stored
    version's, or an invalid draft."""
    old = Policy.objects.select_for_update().get(pk=policy.pk)
    spec = _checked(
        old, {**changes, "effective_from": effective_from, "effective_to": effective_to}
    )
    errors: dict[str, list[str]] = {}
    if Policy.objects.filter(code=code).exists():
        errors.setdefault("code", []).append(_("A policy with this code exists already."))
    if effective_from <= old.effective_from:
        errors.setdefault("effective_from", []).append(
            _("The new version must start after %(code)s starts (%(day)s).")
            % {"code": old.code, "day": old.effective_from.isoformat()}
        )
    if errors:
        raise ValidationError(errors)
    reason = (
        _("published from draft %(name)s") % {"name": draft.name}
        if draft
        else _("published from the simulator")
    )[:100]
    new = Policy(
        code=code,
        name=name,
        name_de=old.name_de if name == old.name else "",
        description=old.description,
        source_url=old.source_url,
        applies_to=old.applies_to,
        subject_level=old.subject_level,
        effective_from=spec.effective_from,
        effective_to=spec.effective_to,
        deadline_anchor=spec.deadline_anchor,
        reminder_offsets=list(old.reminder_offsets),
    )
    new.full_clean()
    _audit(new, user, reason)
    new.save()
    requirements = []
    if spec.threshold_usd is not None:
        requirements.append(
            PolicyRequirement(
                policy=new, code=RequirementCode.REVENUE, threshold_usd=spec.threshold_usd
            )
        )
    if spec.qualifying_plan_types:
        requirements.append(
            PolicyRequirement(
                policy=new,
                code=RequirementCode.SUPPORT_PLAN,
                qualifying_plan_types=list(spec.qualifying_plan_types),
            )
        )
    if spec.requires_designation:
        requirements.append(PolicyRequirement(policy=new, code=RequirementCode.DESIGNATION))
    if spec.requires_agreement:
        requirements.append(PolicyRequirement(policy=new, code=RequirementCode.AGREEMENT))
    for requirement in requirements:
        requirement.full_clean()
        _audit(requirement, user, reason)
        requirement.save()
    last_day = effective_from - ONE_DAY
    if old.effective_to is None or old.effective_to > last_day:
        old.effective_to = last_day
        _audit(old, user, _("ends before %(code)s") % {"code": code})
        old.save(update_fields=["effective_to", "updated_at"])
    if draft is not None:
        draft.published_as = new
        _audit(draft, user)
        draft.save(update_fields=["published_as", "updated_at"])

    def reevaluate() -> None:
        from .tasks import evaluate_partners

        evaluate_partners.delay(None)  # a policy concerns every partner: in the worker

    transaction.on_commit(reevaluate, robust=True)
    return new
