"""The evaluation history answers for every day exactly as recorded: 60
nights over one portfolio (``equivalence_scenario``), every (subject,
policy, purpose, day) row and every decided deadline compared with the
expectations recorded with the one-row-per-day storage
(``data/day_rows_60_nights.json``). Whatever stores the history, a page,
an export or the API reading ``Evaluation`` for a day must see these rows."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from compliance.models import Evaluation, EvaluationPeriod, PartnerCurrent
from tests.compliance import equivalence_scenario as scenario

#: Differences shown when the comparison fails (per kind).
SHOWN = 15


def _describe(key: tuple, names: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(names, key, strict=True))


def differences(kind: str, expected: list[dict], actual: list[dict], key, names) -> list[str]:
    """Readable differences, first by key order: rows missing, rows not
    expected, and field by field for the rows both have."""
    want = {key(row): row for row in expected}
    got = {key(row): row for row in actual}
    lines: list[str] = []
    missing = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    changed = []
    for k in sorted(want.keys() & got.keys()):
        for field in sorted(want[k].keys() | got[k].keys()):
            if want[k].get(field) != got[k].get(field):
                changed.append((k, field))
    if missing:
        lines.append(f"{kind}: {len(missing)} expected row(s) missing, first:")
        lines += [f"  - {_describe(k, names)}" for k in missing[:SHOWN]]
    if extra:
        lines.append(f"{kind}: {len(extra)} row(s) not expected, first:")
        lines += [f"  + {_describe(k, names)}: {got[k]}" for k in extra[:SHOWN]]
    if changed:
        lines.append(f"{kind}: {len(changed)} field(s) differ, first:")
        for k, field in changed[:SHOWN]:
            lines.append(
                f"  * {_describe(k, names)} / {field}:\n"
                f"      expected {want[k].get(field)!r}\n"
                f"      actual   {got[k].get(field)!r}"
            )
    if len(want) != len(expected) or len(got) != len(actual):
        lines.append(f"{kind}: duplicate keys (expected {len(expected)}, actual {len(actual)})")
    return lines


@pytest.mark.django_db(transaction=False)
def test_sixty_nights_give_the_recorded_rows(reference_data):
    scenario.build_portfolio()
    scenario.run_nights(scenario.START)
    actual = scenario.scenario_result()
    expected = scenario.load_expectations()
    problems = differences(
        "evaluations", expected["rows"], actual["rows"], scenario.row_key, scenario.KEY_FIELDS
    ) + differences(
        "outcomes",
        expected["outcomes"],
        actual["outcomes"],
        scenario.outcome_key,
        scenario.OUTCOME_KEY,
    )
    if problems:
        pytest.fail("the history differs from the recorded one:\n" + "\n".join(problems))
    # ... from far fewer rows than days: a period per change
    periods = EvaluationPeriod.objects.count()
    print(f"{len(actual['rows'])} day rows from {periods} periods")
    assert periods * 4 < len(actual["rows"])
    # in nightly order (no write re-evaluated a partner ahead of a full
    # run), a partner's latest evaluated day is covered by open periods
    for current in PartnerCurrent.objects.all():
        latest = Evaluation.objects.filter(partner=current.partner_id, as_of=current.evaluated_on)
        assert latest.exists()
        assert not latest.filter(valid_to__isnull=False).exists(), current.partner_id


# --- The recorded scenario is not trivial --------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> dict:
    return scenario.load_expectations()


def _series(rows: list[dict]) -> dict[tuple, list[dict]]:
    series: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        series[(row["subject_type"], row["subject_id"], row["policy"], row["purpose"])].append(row)
    for days in series.values():
        days.sort(key=lambda row: row["as_of"])
    return series


def _changes(rows: list[dict], field: str) -> list[tuple]:
    """(subject, day, before, after) wherever ``field`` changes from one
    evaluated day to the next (both with a value)."""
    found = []
    for subject, days in _series(rows).items():
        for before, after in itertools.pairwise(days):
            if before[field] and after[field] and before[field] != after[field]:
                found.append((subject, after["as_of"], before[field], after[field]))
    return found


def test_the_recorded_scenario_covers_what_it_claims(recorded):
    rows, outcomes = recorded["rows"], recorded["outcomes"]
    nights = {scenario.night(n).isoformat() for n in range(1, scenario.NIGHTS + 1)}
    assert {row["as_of"] for row in rows} == nights  # 60 days, none outside the window
    assert len(rows) > 20 * scenario.NIGHTS
    assert {row["purpose"] for row in rows} == {"compliance", "direct_bill_ready"}
    assert {row["subject_type"] for row in rows} == {"partner", "location"}
    assert len({row["partner"] for row in rows}) >= 12
    assert {row["policy"] for row in rows} == {
        "csp-direct-2021",
        "csp-direct-fy26",
        "csp-indirect-reseller-2024",
    }
    assert {row["status"] for row in rows} == {
        "compliant",
        "at_risk",
        "non_compliant",
        "not_applicable",
        "error",
    }

    compliance = [row for row in rows if row["purpose"] == "compliance"]
    flips = _changes(compliance, "status")
    assert ("compliant", "at_risk") in {(b, a) for *_, b, a in flips}
    assert ("at_risk", "compliant") in {(b, a) for *_, b, a in flips}
    assert ("error", "compliant") in {(b, a) for *_, b, a in flips}
    outlook_changes = {(b, a) for *_, b, a in _changes(compliance, "outlook")}
    assert ("short", "met") in outlook_changes
    assert any(r["status"] == "compliant" and r["outlook"] == "short" for r in compliance)
    assert any("no exchange rate for GBP 2025-07" in row["error"] for row in rows)
    assert any(
        row["outlook"] == ""
        and "outlook unknown: no exchange rate for CHF 2025-10" in row["explanation"]
        for row in compliance
        if row["status"] == "compliant"
    )
    assert any("ä" in row["explanation_de"] or "ü" in row["explanation_de"] for row in rows)

    # Deadlines passed inside the window, met and missed, and a miss keeps
    # the subject non-compliant on the days after it.
    first, last = min(nights), max(nights)
    inside = [o for o in outcomes if first <= o["deadline"] <= last]
    assert {o["result"] for o in inside} == {"met", "missed"}
    assert any(o["decided_on"] > o["deadline"] for o in inside)  # caught up later
    missed = {(o["subject_type"], o["subject_id"], o["policy"]): o for o in inside}
    assert any(
        row["status"] == "non_compliant"
        and (o := missed.get((row["subject_type"], row["subject_id"], row["policy"])))
        and o["result"] == "missed"
        and row["as_of"] > o["deadline"]
        for row in compliance
    )
    # Night 25's date was evaluated again after night 40: it has rows of
    # the partner enrolled on night 31.
    enrolled = scenario.NEW_PARTNER[0]
    night_25 = scenario.night(25).isoformat()
    assert any(row["partner"] == enrolled and row["as_of"] == night_25 for row in rows)
