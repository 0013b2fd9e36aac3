"""Review of the history as periods (ADR 0014): adversarial sequences of
runs compared with what the one-row-per-day storage would have stored.
Each named test below is a divergence this review found and that is
fixed: a full run after a partial run of the day, current evaluations after
a catch-up below a partial day, back-on-track notices after a past day is
re-run, a location moved to another partner, deleting one day's rows.

``DayRows`` is the old model in memory: a run of day ``g`` upserts one row
per finding for ``g`` (key: subject, policy, purpose, day) and never deletes
a row; a run with ``partner_pks`` only touches the rows it finds; deleting
a day's rows (of one partner) removes those rows only. After every step the
per-day view (``Evaluation``) must answer exactly the same."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest

from compliance import selectors
from compliance.models import (
    EvaluatedDay,
    Evaluation,
    PartnerCurrent,
    Purpose,
)
from compliance.rules import outlook as outlook_rules
from compliance.services import evaluation_run
from notifications.selectors import back_on_track_evaluations
from partners import services as ps
from partners.models import BillingModel, Partner
from tests.compliance.test_engine import _direct_partner
from tests.compliance.test_engine import example1 as _example1

example1 = pytest.fixture(_example1.__wrapped__, name="example1")

pytestmark = pytest.mark.django_db

D = datetime.date
ONE = datetime.timedelta(days=1)
DAYS = [D(2022, 8, 1) + ONE * i for i in range(8)]


def _q(amount, places):
    if amount is None:
        return None
    return amount.quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")


def _old_explanation(output, language):
    """services._explanation before the change."""
    text = output.result.explanation(language)
    if output.outlook is not None:
        return f"{text} {output.outlook.explanation(language)}"
    if output.outlook_error:
        return f"{text} {outlook_rules.unknown_explanation(output.outlook_error, language)}"
    return text


def _old_row(output):
    s, r, o = output.subject, output.result, output.outlook
    return {
        "partner_id": s.partner_pk,
        "location_id": s.location_pk,
        "status": r.status,
        "ttm_revenue_usd": _q(r.ttm_revenue_usd, 8),
        "deadline": r.deadline,
        "days_to_deadline": r.days_to_deadline,
        "outlook": o.outlook if o else "",
        "secured_usd": _q(o.secured_usd, 8) if o else None,
        "pace_usd": _q(o.pace_usd, 12) if o else None,
        "projected_usd": _q(o.projected_usd, 12) if o else None,
        "explanation": _old_explanation(output, "en"),
        "explanation_de": _old_explanation(output, "de"),
    }


def _view_row(e):
    return {
        "partner_id": e.partner_id,
        "location_id": e.location_id,
        "status": e.status,
        "ttm_revenue_usd": e.ttm_revenue_usd,
        "deadline": e.deadline,
        "days_to_deadline": e.days_to_deadline,
        "outlook": e.outlook,
        "secured_usd": e.secured_usd,
        "pace_usd": e.pace_usd,
        "projected_usd": e.projected_usd,
        "explanation": e.explanation,
        "explanation_de": e.explanation_de,
    }


class DayRows:
    """The day-row model, in memory, next to the real runs."""

    def __init__(self):
        self.rows: dict[tuple, dict] = {}
        self.log: list[str] = []

    def run(self, day, partner_pks=None):
        kwargs = {} if partner_pks is None else {"partner_pks": partner_pks, "decide": False}
        self.log.append(f"run {day} {sorted(partner_pks) if partner_pks else 'all'}")
        try:
            summary = evaluation_run(as_of=day, **kwargs)
        except Exception as error:
            error.add_note("after: " + " / ".join(self.log))
            raise
        for o in summary.outputs:
            s = o.subject
            key = (s.subject_type, s.subject_id, s.policy.pk, o.purpose, day)
            self.rows[key] = _old_row(o)
        return summary

    def note(self, what):
        self.log.append(what)

    def delete(self, day, partner_pk=None):
        """Delete one day's rows (of one partner): the view's delete."""
        self.log.append(f"delete {day} {partner_pk or 'all'}")
        rows = Evaluation.objects.filter(as_of=day)
        if partner_pk is not None:
            rows = rows.filter(partner_id=partner_pk)
        rows.delete()
        for k in [k for k, row in self.rows.items() if k[4] == day]:
            if partner_pk is None or self.rows[k]["partner_id"] == partner_pk:
                del self.rows[k]

    def differences(self):
        actual: dict[tuple, dict] = {}
        ids = []
        for e in Evaluation.objects.all():
            ids.append(e.pk)
            key = (e.subject_type, e.subject_id, e.policy_id, e.purpose, e.as_of)
            assert key not in actual, f"duplicate view row {key}"
            actual[key] = _view_row(e)
        assert len(ids) == len(set(ids)), "view ids not unique"
        lines = []
        for k in sorted(self.rows.keys() - actual.keys(), key=str):
            lines.append(f"missing {k}: {self.rows[k]['status']}")
        for k in sorted(actual.keys() - self.rows.keys(), key=str):
            lines.append(f"extra {k}: {actual[k]['status']}")
        for k in sorted(self.rows.keys() & actual.keys(), key=str):
            for f, want in self.rows[k].items():
                if actual[k][f] != want:
                    lines.append(f"differs {k} {f}: expected {want!r} actual {actual[k][f]!r}")
        return lines

    def current_differences(self):
        """current_evaluations (the dashboard) against the day rows of each
        partner's current day."""
        lines = []
        for current in PartnerCurrent.objects.all():
            day = current.evaluated_on
            want = {
                k[:4]
                for k, row in self.rows.items()
                if k[4] == day and row["partner_id"] == current.partner_id
            }
            got = {
                (e.subject_type, e.subject_id, e.policy_id, e.purpose)
                for e in selectors.current_evaluations(
                    Partner.objects.filter(pk=current.partner_id), purpose=None
                )
            }
            if want != got:
                lines.append(f"current of {current.partner_id} on {day}: want {want} got {got}")
        return lines

    def back_on_track_differences(self):
        lines = []
        days = sorted({k[4] for k in self.rows})
        for day in days:
            want = set()
            for k, row in self.rows.items():
                if k[4] != day or k[3] != Purpose.COMPLIANCE or row["status"] != "compliant":
                    continue
                if row["deadline"] is None:
                    continue
                before = [d for (*kk, d) in self.rows if tuple(kk) == k[:4] and d < day]
                if before and self.rows[(*k[:4], max(before))]["status"] in (
                    "at_risk",
                    "non_compliant",
                ):
                    want.add(k[:4])
            got = {
                (e.subject_type, e.subject_id, e.policy_id, e.purpose)
                for e in back_on_track_evaluations(as_of=day)
            }
            if want != got:
                lines.append(f"back on track {day}: want {want} got {got}")
        return lines

    def check(self, current=False, back_on_track=False):
        lines = self.differences()
        if current:
            lines += self.current_differences()
        if back_on_track:
            lines += self.back_on_track_differences()
        assert not lines, "\n".join(["after: " + " / ".join(self.log), *lines[:20]])


def _more_revenue(location, amount="12000", ref=None):
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 7, 31), amount=Decimal(amount), currency="USD",
        reference=ref or f"MORE-{random.random()}",
    )  # fmt: skip


def _second_partner():
    """A second direct-bill partner like example1's, with a contract and revenue."""
    partner, location = _direct_partner(partner_id="1000002")
    ps.support_contract_create(
        partner=partner, plan_type="asfp", contract_number="ASFP-Q",
        start_date=D(2021, 9, 1), end_date=D(2022, 8, 31), paid_on=D(2021, 8, 25),
    )  # fmt: skip
    day = D(2021, 8, 20)
    while day <= D(2022, 7, 20):
        ps.revenue_record_create(
            location=location, revenue_date=day, amount=Decimal("24000"), currency="USD",
            reference=f"Q-{day:%Y%m}",
        )  # fmt: skip
        day = D(day.year + (day.month == 12), day.month % 12 + 1, 20)
    return partner, location


def _set_billing(partner, model):
    Partner.objects.filter(pk=partner.pk).update(billing_model=model)


# --- 1. a full run after a partial run of the same day -----------------------


def test_full_run_keeps_what_the_partial_run_of_the_day_found(example1):
    """Day rows: the partial run of day g wrote P's rows for g; the full run
    of g upserts what it finds and deletes nothing. Periods: the full run
    treats the day as new for everyone and stops P's period at g when the
    subject is not found again - the row the partial run wrote is gone."""
    partner, _location, _ = example1
    model = DayRows()
    model.run(DAYS[0])
    model.run(DAYS[1], partner_pks={partner.pk})  # a write before the nightly
    _set_billing(partner, BillingModel.INDIRECT_RESELLER)  # subject no longer applies
    model.note("P moved to indirect")
    model.run(DAYS[1])  # the nightly of that day
    model.check()


# --- 2. current evaluations after a full run below a partial day -------------


def test_current_evaluations_after_a_catch_up_below_a_partial_day(example1):
    """A night is missed (DAYS[1]); the next day a write re-evaluates P for
    DAYS[2]; then the catch-up of DAYS[1] runs. Q's changed finding of
    DAYS[1] gets a closed period [DAYS[1], DAYS[2]) because 'later' counts
    P's per-partner day for everyone; Q's current day is DAYS[1] but the
    dashboard reads open periods only."""
    p, _pl, _ = example1
    q, ql = _second_partner()
    model = DayRows()
    model.run(DAYS[0])
    model.run(DAYS[2], partner_pks={p.pk})
    _more_revenue(ql)
    model.note("more revenue for Q")
    model.run(DAYS[1])  # catch-up of the missed night
    model.check()  # the view itself is right
    q_rows = Evaluation.objects.filter(partner=q, as_of=DAYS[1], purpose=Purpose.COMPLIANCE)
    assert q_rows.count() == 1
    current = selectors.current_evaluations(Partner.objects.filter(pk=q.pk), purpose=None)
    assert {(e.as_of, e.status) for e in current} == {
        (e.as_of, e.status) for e in Evaluation.objects.filter(partner=q, as_of=DAYS[1])
    }


def test_current_evaluations_new_subject_in_a_catch_up_below_a_partial_day(example1):
    """The same with a subject the catch-up finds for the first time."""
    p, _pl, _ = example1
    model = DayRows()
    model.run(DAYS[0])
    model.run(DAYS[2], partner_pks={p.pk})
    q, _ql = _second_partner()  # onboarded since: new to the catch-up
    model.run(DAYS[1])
    model.check()
    assert Evaluation.objects.filter(partner=q, as_of=DAYS[1]).exists()
    current = selectors.current_evaluations(Partner.objects.filter(pk=q.pk))
    assert current.count() == Evaluation.objects.filter(partner=q, as_of=DAYS[1]).count()


# --- 3. back-on-track notices read a period no day shows ---------------------


def test_back_on_track_reads_the_previous_evaluated_day(example1):
    """Nights DAYS[0] and DAYS[4] ran (compliant); DAYS[1] is caught up
    after a credit (at risk). Day rows: the evaluation before DAYS[4] is
    DAYS[1], at risk - DAYS[4] is back on track. Periods: the latest period
    begun before DAYS[4] is the carried copy [DAYS[2], None), compliant,
    which covers no evaluated day before DAYS[4]."""
    _p, location, _ = example1
    _more_revenue(location, "12000", "TOPUP")
    model = DayRows()
    model.run(DAYS[0])
    model.run(DAYS[4])
    _more_revenue(location, "-6000", "CREDIT")
    model.note("credit")
    model.run(DAYS[1])  # catch-up of one missed night (the others still to come)
    model.check()
    rows = {
        (e.as_of, e.status)
        for e in Evaluation.objects.filter(purpose=Purpose.COMPLIANCE).order_by("as_of")
    }
    assert rows == {(DAYS[0], "compliant"), (DAYS[1], "at_risk"), (DAYS[4], "compliant")}
    # the day-row answer: previous evaluation (DAYS[1]) at risk -> back on track
    assert back_on_track_evaluations(as_of=DAYS[4]).count() == 1


# --- 4. a location that moves to another partner -----------------------------


def test_a_location_that_moves_partner_is_that_partners_evaluation():
    """Day rows upserted the partner with the findings (the old COMPARED
    held every row field but the key); periods compare the findings only,
    so a location evaluated for its new partner stays its old partner's."""
    a = ps.partner_create(
        partner_id="2000002", name="Thames Cloud Ltd", country="GB", onboarded_on=D(2022, 11, 15)
    )
    b = ps.partner_create(
        partner_id="2000004", name="Other Ltd", country="GB", onboarded_on=D(2022, 11, 15)
    )
    location = ps.location_create(
        partner=a, location_id="7000002", country="GB", onboarded_on=D(2022, 11, 15)
    )
    model = DayRows()
    day = D(2024, 10, 20)
    model.run(day)
    type(location).objects.filter(pk=location.pk).update(partner=b)
    model.note("location moved to b")
    model.run(day + ONE)
    model.check()
    current = selectors.current_evaluations(Partner.objects.filter(pk=b.pk))
    assert {e.subject_id for e in current} == {"7000002"}


# --- 5. Evaluation.objects...delete() ----------------------------------------


def test_deleting_one_days_rows_deletes_that_day_only(example1):
    """Day rows: deleting the rows of one day leaves the other days."""
    for day in DAYS[:3]:
        evaluation_run(as_of=day)
    Evaluation.objects.filter(as_of=DAYS[1]).delete()
    assert sorted(Evaluation.objects.values_list("as_of", flat=True)) == [DAYS[0], DAYS[2]]


def test_re_running_a_day_below_a_deleted_latest_day(example1):
    """Deleting the latest day's rows ends the periods on that day - no
    open one is left, yet no later day is evaluated: a re-run of the day
    before must still find the period covering it (found by the random
    sequences: the re-run started a second period on the same day)."""
    _p, location, _ = example1
    model = DayRows()
    model.run(DAYS[0])
    _more_revenue(location, "-6000", "CREDIT")
    model.run(DAYS[1])
    model.run(DAYS[2])
    model.delete(DAYS[2])
    model.check()
    _more_revenue(location, "12000", "TOPUP")
    model.run(DAYS[1])
    model.check()
    model.run(DAYS[3])
    model.check(current=True, back_on_track=True)


# --- randomised sequences ------------------------------------------------------


SEEDS = int(__import__("os").environ.get("SEEDS", "40"))
#: days across the policy changeover (csp-direct-2021 ends 2025-09-30): a
#: subject of the old policy disappears, one of the new appears
CHANGEOVER = [D(2025, 9, 28) + ONE * i for i in range(6)]


def _random_sequence(rng, days, partners, locations, model, steps=14, **checks):
    for _step in range(steps):
        op = rng.random()
        day = rng.choice(days)
        if op < 0.35:
            model.run(day)
        elif op < 0.65:
            who = rng.choice([{"P"}, {"Q"}, {"P", "Q"}])
            model.run(day, partner_pks={partners[w].pk for w in who})
        elif op < 0.72:
            who = rng.choice([None, "P", "Q"])
            model.delete(day, partners[who].pk if who else None)
        elif op < 0.84:
            w = rng.choice("PQ")
            amount = rng.choice(["12000", "-6000", "3000"])
            _more_revenue(locations[w], amount)
            model.note(f"revenue {w} {amount}")
        else:
            w = rng.choice("PQ")
            current = Partner.objects.get(pk=partners[w].pk).billing_model
            new = (
                BillingModel.INDIRECT_RESELLER
                if current == BillingModel.DIRECT_BILL
                else BillingModel.DIRECT_BILL
            )
            _set_billing(partners[w], new)
            model.note(f"billing {w} {new}")
        model.check(**checks)
    for day in EvaluatedDay.objects.values_list("as_of", flat=True).distinct():
        assert EvaluatedDay.objects.filter(as_of=day, partner__isnull=True).count() <= 1
        if EvaluatedDay.objects.filter(as_of=day, partner__isnull=True).exists():
            assert not EvaluatedDay.objects.filter(as_of=day, partner__isnull=False).exists()


def _portfolio(example1):
    p, pl, _ = example1
    q, ql = _second_partner()
    return {"P": p, "Q": q}, {"P": pl, "Q": ql}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_sequences_answer_like_day_rows(example1, seed):
    partners, locations = _portfolio(example1)
    _random_sequence(random.Random(seed), DAYS[:6], partners, locations, DayRows())


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_sequences_across_a_policy_changeover(example1, seed):
    partners, locations = _portfolio(example1)
    _random_sequence(random.Random(seed), CHANGEOVER, partners, locations, DayRows())


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_sequences_current_evaluations(example1, seed):
    partners, locations = _portfolio(example1)
    _random_sequence(random.Random(seed), DAYS[:6], partners, locations, DayRows(), current=True)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_sequences_back_on_track(example1, seed):
    partners, locations = _portfolio(example1)
    _random_sequence(
        random.Random(seed), DAYS[:6], partners, locations, DayRows(), back_on_track=True
    )
