"""The policy simulator (PRODUCT 8, 6 ``simulate_policy``): a draft copy of a
stored policy evaluated beside it, with the nightly run's rules, writing
nothing."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import BaseCommand

from compliance import simulation
from compliance.management.commands.simulate_policy import Command as SimulateCommand
from compliance.models import DeadlineOutcome, FollowUpCase, Policy
from compliance.services import evaluation_run
from partners import services as ps
from partners.models import BillingModel, Designation, PlanType
from tests.compliance.test_outlook_engine import AS_OF, book, example, reseller

D = datetime.date
pytestmark = pytest.mark.django_db
RESELLER = "csp-indirect-reseller-2024"
DIRECT = "csp-direct-fy26"


def simulate_json(*args: str, as_of: datetime.date = AS_OF) -> list[dict]:
    out = StringIO()
    call_command("simulate_policy", "--as-of", as_of.isoformat(), "--json", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def evaluate_json(as_of: datetime.date = AS_OF) -> list[dict]:
    out = StringIO()
    call_command(
        "evaluate_eligibility", "--as-of", as_of.isoformat(), "--json", "--no-save", stdout=out
    )
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def example_reseller():
    partner, location = reseller()
    example(location)
    return partner, location


def direct_partner(partner_id="3000001", *, revenue="1200000.00", designation=True, agreement=True):
    """A direct-bill partner meeting csp-direct-fy26 on AS_OF (onboarded
    2019-03-05: deadline 2026-03-01)."""
    partner = ps.partner_create(
        partner_id=partner_id,
        name=f"Direct {partner_id}",
        country="AT",
        onboarded_on=D(2019, 3, 5),
        billing_model=BillingModel.DIRECT_BILL,
        agreement_signed_on=D(2020, 1, 1) if agreement else None,
        designations=Designation.objects.order_by("code")[:1] if designation else (),
    )
    location = ps.location_create(
        partner=partner, location_id=f"4{partner_id[1:]}", country="AT", onboarded_on=D(2019, 3, 5)
    )
    book(location, D(2025, 6, 1), revenue)
    ps.support_contract_create(
        partner=partner,
        plan_type=PlanType.ASFP,
        contract_number=f"C-{partner_id}",
        start_date=D(2025, 1, 1),
        end_date=D(2025, 12, 31),
        is_paid=True,
    )
    return partner


# --- the draft unchanged is the nightly run --------------------------------------------


def test_an_unchanged_draft_gives_the_nightly_lines_and_the_same_baseline(example_reseller):
    direct_partner()
    nightly = evaluate_json()
    simulated = simulate_json("--policy", RESELLER) + simulate_json("--policy", DIRECT)
    assert len(simulated) == len(nightly) == 2
    by_subject = {(r["subject_id"], r["policy"]): r for r in nightly}
    for line in simulated:
        assert line["baseline_status"] == line["status"]
        assert line["baseline_outlook"] == line["outlook"]
        expected = by_subject[(line["subject_id"], line["policy"])]
        assert {k: v for k, v in line.items() if not k.startswith("baseline_")} == expected


def test_the_json_line_has_the_evaluate_fields_plus_the_baseline(example_reseller):
    (line,) = simulate_json("--policy", RESELLER, "--threshold", "500")
    assert list(line) == [*evaluate_json()[0], "baseline_status", "baseline_outlook"]


# --- every draft field -----------------------------------------------------------------


def test_a_higher_threshold_fails_a_compliant_subject_and_the_line_has_the_drafts_figures(
    example_reseller,
):
    (line,) = simulate_json("--policy", RESELLER, "--threshold", "2000")
    assert line["policy"] == RESELLER
    assert line["threshold_usd"] == "2000.00"
    assert line["status"] == "at_risk"
    assert line["unmet"] == ["revenue"]
    assert line["needed_usd"] == "1450.00"  # 2,000 - secured 550
    assert line["outlook"] == "short"
    assert (line["baseline_status"], line["baseline_outlook"]) == ("compliant", "short")


def test_a_lower_threshold_turns_short_into_met(example_reseller):
    (line,) = simulate_json("--policy", RESELLER, "--threshold", "500")
    assert (line["status"], line["outlook"], line["needed_usd"]) == ("compliant", "met", "0.00")
    assert line["baseline_outlook"] == "short"


def test_a_later_effective_date_moves_the_first_deadline_and_the_status_is_as_though_in_force(
    example_reseller,
):
    # Deadline 2026-02-01 under the stored policy; the draft starts 2026-03-01,
    # so its first deadline is the following anniversary month.
    (line,) = simulate_json(
        "--policy", RESELLER, "--threshold", "2000", "--effective-from", "2026-03-01"
    )
    assert line["deadline"] == "2027-02-01"
    assert line["days_to_deadline"] == (D(2027, 2, 1) - AS_OF).days
    assert line["status"] == "at_risk"  # in force "today", deadline ahead
    assert line["baseline_status"] == "compliant"


def test_an_effective_to_before_the_as_of_date_makes_the_draft_not_applicable(example_reseller):
    (line,) = simulate_json(
        "--policy", RESELLER, "--effective-from", "2024-04-01", "--effective-to", "2025-06-30"
    )
    assert line["status"] == "not_applicable"
    assert line["outlook"] is None
    assert line["baseline_status"] == "compliant"


def test_a_future_stored_policy_is_judged_as_though_in_force_in_the_baseline_too(
    example_reseller,
):
    # On 2024-03-01 the stored reseller policy (from 2024-04-01) is not in force
    # yet: the nightly says not_applicable; the simulator judges the stored
    # policy and the draft alike, as of their start.
    assert evaluate_json(as_of=D(2024, 3, 1)) == []  # no policy in force
    (line,) = simulate_json("--policy", RESELLER, as_of=D(2024, 3, 1))
    assert line["baseline_status"] == line["status"] == "at_risk"  # USD 0 of 1,000
    assert line["deadline"] == "2025-02-01"  # the first anniversary month after 2024-04-01


def test_the_deadline_anchor_of_the_draft_is_used():
    direct_partner(revenue="100.00")
    (line,) = simulate_json("--policy", DIRECT)
    assert line["deadline"] == "2026-03-01"  # onboarding anniversary month
    (line,) = simulate_json("--policy", DIRECT, "--deadline-anchor", "support_plan_renewal")
    assert line["deadline"] == "2026-01-01"  # the plan's end + 1 day
    assert line["baseline_status"] == "at_risk"


def test_qualifying_plan_types_switch_the_support_requirement():
    direct_partner()
    (line,) = simulate_json("--policy", DIRECT, "--plan-types", "psfp")
    assert (line["status"], line["unmet"]) == ("at_risk", ["support_plan"])
    assert line["baseline_status"] == "compliant"
    direct = Policy.objects.get(code=DIRECT)
    result = simulation.simulation_run(
        policy=direct, changes={"qualifying_plan_types": None}, as_of=AS_OF
    )
    assert "support_plan" not in result.draft.requirement_codes
    assert result.subjects[0].draft.result.requirements == {
        "revenue": True,
        "designation": True,
        "agreement": True,
    }


def test_designation_and_agreement_can_be_required_or_dropped():
    direct_partner(designation=False, agreement=False)
    (line,) = simulate_json("--policy", DIRECT)
    assert line["unmet"] == ["designation", "agreement"]
    (line,) = simulate_json("--policy", DIRECT, "--designation", "off", "--agreement", "off")
    assert (line["status"], line["unmet"]) == ("compliant", [])
    assert line["baseline_status"] == "at_risk"
    (line,) = simulate_json("--policy", DIRECT, "--designation", "off")
    assert line["unmet"] == ["agreement"]


def test_a_recorded_missed_deadline_keeps_non_compliant_and_no_deadline_is_decided():
    _partner, location = reseller()
    book(location, D(2024, 6, 1), "10.00")
    # The nightly of 2025-02-01 decides that deadline: missed, case opened.
    evaluation_run(as_of=D(2025, 2, 1))
    assert DeadlineOutcome.objects.get().result == "missed"
    outcomes, cases = DeadlineOutcome.objects.count(), FollowUpCase.objects.count()
    (line,) = simulate_json("--policy", RESELLER, "--threshold", "0")
    assert line["unmet"] == []
    assert line["status"] == line["baseline_status"] == "non_compliant"
    # An earlier as-of date does not see the outcome of a later deadline.
    (line,) = simulate_json("--policy", RESELLER, "--threshold", "0", as_of=D(2025, 1, 20))
    assert line["status"] == "compliant"
    assert (DeadlineOutcome.objects.count(), FollowUpCase.objects.count()) == (outcomes, cases)


def test_one_partner_only(example_reseller):
    reseller("1000002", "2000002")
    assert len(simulate_json("--policy", RESELLER)) == 2
    lines = simulate_json("--policy", RESELLER, "--partner", "1000002")
    assert [line["partner_id"] for line in lines] == ["1000002"]


# --- summary ---------------------------------------------------------------------------


def test_the_summary_counts_the_newly_failing_and_lists_the_most_affected(example_reseller):
    _, other = reseller("1000002", "2000002")
    book(other, D(2025, 6, 1), "5000.00")
    out = StringIO()
    call_command(
        "simulate_policy",
        "--policy",
        RESELLER,
        "--threshold",
        "2000",
        "--as-of",
        AS_OF.isoformat(),
        stdout=out,
    )
    text = out.getvalue()
    assert "(2 subjects)" in text
    assert "newly at risk: 1" in text
    assert "newly short: 0" in text  # 2000001 was short already
    assert "revenue still needed in total: USD 1,450.00 (baseline USD 450.00)" in text
    assert "The 1 most affected:" in text
    assert "2000001" in text.split("most affected:")[1]
    assert "2000002" not in text.split("most affected:")[1]


def test_most_affected_orders_by_impact(example_reseller):
    _, other = reseller("1000002", "2000002")
    book(other, D(2025, 6, 1), "1500.00")
    result = simulation.simulation_run(
        policy=Policy.objects.get(code=RESELLER), changes={"threshold_usd": "3000"}, as_of=AS_OF
    )
    summary = result.summary()
    assert summary.newly_at_risk == 2
    assert summary.by_status["draft"]["at_risk"] == 2
    assert summary.by_status["baseline"]["compliant"] == 2
    top = simulation.most_affected(result.rows())
    # 2000002 goes from met to short (1,500 more needed), 2000001 stays short
    # (2,000 more): the worse outlook change comes first.
    assert [row["subject_id"] for row in top] == ["2000002", "2000001"]
    assert [row["extra_needed_usd"] for row in top] == ["1500.00", "2000.00"]
    assert (top[0]["baseline_outlook"], top[0]["outlook"]) == ("met", "short")
    assert result.subjects[0].extra_needed_usd == Decimal(2000)


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "no-such-policy"], "unknown policy 'no-such-policy'"),
        (["--policy", RESELLER, "--threshold", "-1"], "--threshold: -1 is negative"),
        (["--policy", RESELLER, "--threshold", "lots"], "--threshold: 'lots' is not a number"),
        (["--policy", RESELLER, "--threshold", "NaN"], "is not a number"),
        (
            [
                "--policy",
                RESELLER,
                "--effective-from",
                "2026-01-01",
                "--effective-to",
                "2025-12-31",
            ],
            "--effective-to: effective-to 2025-12-31 is before effective-from 2026-01-01",
        ),
        (["--policy", RESELLER, "--effective-to", "2020-01-01"], "before effective-from"),
        (["--policy", RESELLER, "--effective-to", "31.12.2025"], "is not a date"),
        (["--policy", RESELLER, "--plan-types", "gold"], "--plan-types: unknown plan type gold"),
        (["--policy", RESELLER, "--designation", "maybe"], "use on or off"),
        (["--policy", RESELLER, "--partner", "999"], "unknown partner id: 999"),
    ],
)
def test_clear_errors(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("simulate_policy", *args, stdout=StringIO())


def test_an_error_exits_non_zero_and_names_the_policy(capsys):
    with pytest.raises(SystemExit) as exit_info:
        SimulateCommand().run_from_argv(["manage.py", "simulate_policy", "--policy", "csp-x"])
    assert exit_info.value.code != 0
    assert "unknown policy 'csp-x'" in capsys.readouterr().err


def test_a_bad_date_exits_non_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        SimulateCommand().run_from_argv(
            ["manage.py", "simulate_policy", "--policy", RESELLER, "--effective-from", "tomorrow"]
        )
    assert exit_info.value.code != 0
    assert "'tomorrow' is not a date" in capsys.readouterr().err


def test_help_names_every_option():
    text = SimulateCommand().create_parser("manage.py", "simulate_policy").format_help()
    for option in (
        "--policy",
        "--threshold",
        "--effective-from",
        "--effective-to",
        "--as-of",
        "--partner",
        "--json",
        "--deadline-anchor",
        "--plan-types",
        "--designation",
        "--agreement",
    ):
        assert option in text
    assert isinstance(SimulateCommand(), BaseCommand)


# --- the pure parts --------------------------------------------------------------------


def _spec(**changes):
    from compliance import rules

    base = {
        "code": "p",
        "applies_to": "indirect_reseller",
        "subject_level": "location",
        "effective_from": D(2024, 4, 1),
        "effective_to": None,
        "deadline_anchor": "onboarding_anniversary_month",
        "reminder_offsets": (90,),
        "threshold_usd": Decimal(1000),
        "qualifying_plan_types": None,
    }
    return rules.PolicySpec(**{**base, **changes})


def _facts(ttm="500"):
    from compliance import rules

    return rules.SubjectFacts(
        subject_type="location",
        billing_model="indirect_reseller",
        is_active=True,
        onboarded_on=D(2024, 2, 10),
        ttm_revenue_usd=Decimal(ttm),
    )


def test_evaluate_draft_of_a_policy_in_force_is_the_nightly_evaluation():
    from compliance import rules

    assert rules.evaluate_draft(_facts(), _spec(), AS_OF) == rules.evaluate(
        _facts(), _spec(), AS_OF
    )


def test_evaluate_draft_judges_a_future_policy_as_though_in_force_from_its_start():
    from compliance import rules

    future = _spec(effective_from=D(2026, 6, 1))
    assert rules.evaluate(_facts(), future, AS_OF).status == "not_applicable"
    result = rules.evaluate_draft(_facts(), future, AS_OF)
    assert (result.status, result.deadline) == ("at_risk", D(2027, 2, 1))
    assert result.days_to_deadline == (D(2027, 2, 1) - AS_OF).days
    ended = _spec(effective_to=D(2025, 6, 30))
    assert rules.evaluate_draft(_facts(), ended, AS_OF).status == "not_applicable"


def test_draft_spec_checks_and_converts_its_fields():
    spec = _spec()
    assert simulation.draft_spec(spec, {}) == spec
    draft = simulation.draft_spec(
        spec,
        {
            "threshold_usd": " 1500.50 ",
            "effective_from": "2026-01-01",
            "effective_to": None,
            "qualifying_plan_types": "asfp, psfp",
            "requires_designation": 1,
        },
    )
    assert draft.threshold_usd == Decimal("1500.50")
    assert draft.effective_from == D(2026, 1, 1)
    assert draft.qualifying_plan_types == ("asfp", "psfp")
    assert draft.requires_designation is True
    assert simulation.draft_spec(spec, {"qualifying_plan_types": []}).qualifying_plan_types is None
    assert simulation.draft_spec(spec, {"threshold_usd": None}).requirement_codes == ()
    for changes, field in [
        ({"applies_to": "direct_bill"}, "applies_to"),
        ({"effective_from": None}, "effective_from"),
        ({"deadline_anchor": "full_moon"}, "deadline_anchor"),
        ({"threshold_usd": "Infinity"}, "threshold_usd"),
    ]:
        with pytest.raises(simulation.DraftError) as error:
            simulation.draft_spec(spec, changes)
        assert error.value.field == field
    assert simulation.changes_as_json(
        {"threshold_usd": Decimal("2"), "effective_from": D(2026, 1, 1), "x": ("a",)}
    ) == {"threshold_usd": "2", "effective_from": "2026-01-01", "x": ["a"]}
