"""PRODUCT 4.5: an evaluation as of ``D`` only sees the outcomes of deadlines
on or before ``D``. Re-running the past after a later deadline was missed
(and its case opened) must give the standing of that past day."""

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from compliance.cases import outcome_override
from compliance.models import DeadlineOutcome, Evaluation, FollowUpCase, OutcomeResult
from compliance.services import evaluation_run
from partners import services as ps
from tests.factories import StaffUserFactory

D = datetime.date
pytestmark = pytest.mark.django_db

# csp-indirect-reseller-2024 (USD 1,000 TTM per location, from 2024-04-01);
# a location onboarded 2022-11-15 has its deadlines on 2024-11-01 and
# 2025-11-01 (2023-11-01 is before the policy's effective date).
EARLIER_DEADLINE = D(2024, 11, 1)
LATER_DEADLINE = D(2025, 11, 1)
BETWEEN = D(2025, 3, 1)  # TTM window 2024-03-01 .. 2025-02-28


def _reseller(*amounts: tuple[datetime.date, str]):
    manager = StaffUserFactory()
    partner = ps.partner_create(
        partner_id="2100001", name="Kleinkram IT", country="DE", onboarded_on=D(2022, 11, 15),
        account_manager=manager,
    )  # fmt: skip
    location = ps.location_create(
        partner=partner, location_id="7100001", country="DE", onboarded_on=D(2022, 11, 15)
    )
    for day, amount in amounts:
        ps.revenue_record_create(
            location=location, revenue_date=day, amount=Decimal(amount), currency="USD",
            reference=f"INV-{day:%Y%m%d}",
        )  # fmt: skip
    return manager, location


def _via_command(as_of: datetime.date) -> dict:
    out = StringIO()
    call_command("evaluate_eligibility", "--as-of", as_of.isoformat(), "--json", stdout=out)
    (line,) = out.getvalue().splitlines()
    return json.loads(line)


def _via_service(as_of: datetime.date) -> dict:
    (output,) = (o for o in evaluation_run(as_of=as_of).outputs if o.purpose == "compliance")
    result = output.result
    return {
        "status": result.status,
        "deadline": result.deadline.isoformat() if result.deadline else None,
        "unmet": list(result.unmet),
    }


@pytest.fixture(params=["command", "service"])
def evaluate(request):
    return _via_command if request.param == "command" else _via_service


def _missed(deadline: datetime.date) -> DeadlineOutcome:
    return DeadlineOutcome.objects.get(deadline=deadline, result=OutcomeResult.MISSED)


def test_a_later_missed_deadline_does_not_reach_back(evaluate):
    """USD 1,000 on 2024-05-01 meets the 2024-11-01 deadline and falls out of
    the window of 2025-11-01, which is missed. The earlier days stay
    compliant, however late they are (re-)evaluated."""
    _reseller((D(2024, 5, 1), "1000"))
    assert evaluate(LATER_DEADLINE)["status"] == "non_compliant"
    assert FollowUpCase.objects.get().outcome == _missed(LATER_DEADLINE)

    on_deadline = evaluate(EARLIER_DEADLINE)
    assert on_deadline["status"] == "compliant"
    assert (on_deadline["deadline"], on_deadline["unmet"]) == ("2024-11-01", [])
    between = evaluate(BETWEEN)
    assert between["status"] == "compliant"
    assert between["deadline"] == "2025-11-01"
    # The later outcome is untouched; the earlier deadline is decided from
    # its own figures.
    assert DeadlineOutcome.objects.get(deadline=EARLIER_DEADLINE).result == OutcomeResult.MET
    assert _missed(LATER_DEADLINE).case.state == "open"


def test_an_earlier_missed_deadline_still_counts(evaluate):
    """USD 600 on each side of 2024-11-01: both deadlines are missed, yet on
    2025-03-01 the TTM (USD 1,200) is met. The earlier missed deadline keeps
    the subject non-compliant, and it is that one the evaluation names."""
    _reseller((D(2024, 10, 15), "600"), (D(2024, 11, 15), "600"))
    assert evaluate(LATER_DEADLINE)["status"] == "non_compliant"
    assert evaluate(EARLIER_DEADLINE)["status"] == "non_compliant"
    assert FollowUpCase.objects.count() == 2

    between = evaluate(BETWEEN)
    assert between["status"] == "non_compliant"
    assert between["unmet"] == []
    stored = Evaluation.objects.get(as_of=BETWEEN, purpose="compliance")
    assert stored.explanation.startswith("missed deadline 2024-11-01 (passed 120 days ago)")
    assert "missed deadline 2025-11-01" not in stored.explanation


def test_an_override_only_resolves_its_own_deadline():
    """Overriding the earlier missed deadline makes the day in between
    compliant again; the later, still unresolved one does not reach back."""
    manager, _location = _reseller((D(2024, 10, 15), "600"), (D(2024, 11, 15), "600"))
    evaluation_run(as_of=LATER_DEADLINE)
    evaluation_run(as_of=EARLIER_DEADLINE)
    outcome_override(outcome=_missed(EARLIER_DEADLINE), user=manager, reason="Microsoft extension")
    assert _via_service(BETWEEN)["status"] == "compliant"
    assert _via_service(LATER_DEADLINE)["status"] == "non_compliant"


def test_deciding_a_deadline_ignores_later_outcomes():
    """The outcome decided on 2024-11-01 (met) says nothing of the missed
    deadline a year later that a run had already recorded."""
    _reseller((D(2024, 5, 1), "1000"))
    evaluation_run(as_of=LATER_DEADLINE)
    evaluation_run(as_of=EARLIER_DEADLINE)
    decided = DeadlineOutcome.objects.get(deadline=EARLIER_DEADLINE)
    assert decided.result == OutcomeResult.MET
    assert "2025-11-01" not in decided.explanation
    assert "missed deadline" not in decided.explanation


@pytest.mark.parametrize("run_on", [LATER_DEADLINE, D(2025, 11, 3)], ids=["on-the-day", "late"])
def test_an_outcome_is_worded_from_its_own_deadline(run_on):
    """Decided on the day or caught up later, the outcome of 2025-11-01 reads
    the same: the earlier missed deadline is not why this one was missed."""
    _reseller((D(2024, 10, 15), "600"), (D(2024, 11, 15), "600"))
    evaluation_run(as_of=EARLIER_DEADLINE)
    evaluation_run(as_of=run_on)
    decided = _missed(LATER_DEADLINE)
    assert decided.explanation == (
        "TTM revenue USD 600.00 of USD 1,000.00 required (USD 400.00 short); "
        "deadline 2025-11-01 (today)"
    )
