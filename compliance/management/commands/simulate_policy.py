"""simulate_policy --policy CODE [--threshold USD] [--effective-from D]
[--effective-to D] [--as-of D] [--partner ID] [--json]  (PRODUCT 6, 8)"""

from __future__ import annotations

import argparse
import datetime
import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance import services, simulation
from compliance.models import DeadlineAnchor, Policy
from core.formatting import format_usd

from .evaluate_eligibility import Command as EvaluateCommand

SWITCH = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        # argparse reports it (exit status 2 on the command line)
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (use YYYY-MM-DD)") from exc


def _switch(value: str) -> bool:
    try:
        return SWITCH[value.lower()]
    except KeyError:
        raise CommandError(f"{value!r}: use on or off") from None


def record(row: simulation.SimulatedSubject, as_of: datetime.date) -> dict:
    """The line of ``evaluate_eligibility --json`` under the draft, plus
    the status and outlook under the stored policy."""
    return {
        **EvaluateCommand._record(row.draft, as_of),
        "baseline_status": row.baseline_status,
        "baseline_outlook": row.baseline_outlook,
    }


class Command(BaseCommand):
    help = (
        "What-if (PRODUCT 8): evaluate a draft copy of a policy with the given changes "
        "next to the stored policy, for every subject the policy covers, and write "
        "nothing. Both are judged as though in force on the as-of date, with the first "
        "deadline on or after the later of the as-of date and the effective date; "
        "deadlines already decided keep their recorded outcomes. Prints a summary and "
        "the 20 most affected subjects, or one JSON object per subject with --json "
        "(the fields of evaluate_eligibility --json under the draft, plus "
        "baseline_status and baseline_outlook)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--policy", required=True, metavar="CODE", help="The stored policy.")
        parser.add_argument(
            "--threshold", metavar="USD", help="Draft TTM revenue threshold in USD (>= 0)."
        )
        parser.add_argument(
            "--effective-from", type=_date, metavar="D", help="Draft effective date (YYYY-MM-DD)."
        )
        parser.add_argument(
            "--effective-to",
            metavar="D",
            help="Draft last day in force (YYYY-MM-DD, inclusive), or 'open'.",
        )
        parser.add_argument(
            "--deadline-anchor",
            choices=DeadlineAnchor.values,
            help="Draft deadline anchor.",
        )
        parser.add_argument(
            "--plan-types",
            metavar="TYPES",
            help="Draft qualifying support plan types, comma-separated (e.g. asfp,psfp), "
            "or 'none' for no support-plan requirement.",
        )
        parser.add_argument(
            "--designation",
            metavar="on|off",
            help="Draft: require a Solutions Partner designation.",
        )
        parser.add_argument(
            "--agreement", metavar="on|off", help="Draft: require the Microsoft Partner Agreement."
        )
        parser.add_argument(
            "--as-of", type=_date, default=None, help="Simulation date (default: today)."
        )
        parser.add_argument(
            "--partner",
            action="append",
            default=None,
            metavar="ID",
            help="Only this Microsoft partner id (repeatable).",
        )
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def changes(self, options) -> dict[str, object]:
        changes: dict[str, object] = {}
        if options["threshold"] is not None:
            changes["threshold_usd"] = options["threshold"]
        if options["effective_from"] is not None:
            changes["effective_from"] = options["effective_from"]
        if options["effective_to"] is not None:
            value = options["effective_to"]
            try:
                changes["effective_to"] = None if value.lower() == "open" else _date(value)
            except argparse.ArgumentTypeError as error:
                raise CommandError(f"--effective-to: {error}") from error
        if options["deadline_anchor"] is not None:
            changes["deadline_anchor"] = options["deadline_anchor"]
        if options["plan_types"] is not None:
            value = options["plan_types"]
            changes["qualifying_plan_types"] = None if value.lower() == "none" else value
        if options["designation"] is not None:
            changes["requires_designation"] = _switch(options["designation"])
        if options["agreement"] is not None:
            changes["requires_agreement"] = _switch(options["agreement"])
        return changes

    def handle(self, *args, **options) -> None:
        code = options["policy"]
        policy = Policy.objects.filter(code=code).first()
        if policy is None:
            known = ", ".join(Policy.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"unknown policy {code!r} (known: {known or 'none'})")
        as_of = options["as_of"] or timezone.localdate()
        partner_pks = None
        if options["partner"]:
            found = services.partner_pks_for_ids(options["partner"])
            missing = sorted(set(options["partner"]) - set(found))
            if missing:
                raise CommandError(f"unknown partner id: {', '.join(missing)}")
            partner_pks = set(found.values())
        try:
            result = simulation.simulation_run(
                policy=policy,
                changes=self.changes(options),
                as_of=as_of,
                partner_pks=partner_pks,
            )
        except simulation.DraftError as error:
            name = error.field.replace("_usd", "").replace("_", "-")
            if name == "qualifying-plan-types":
                name = "plan-types"
            raise CommandError(f"--{name}: {error.message}") from error
        if options["json"]:
            for row in result.subjects:
                self.stdout.write(json.dumps(record(row, as_of)))
            return
        self._summary(result)

    def _summary(self, result: simulation.Simulation) -> None:
        rows = result.rows()
        s = simulation.summarise(rows)
        draft, stored = result.draft, result.stored
        write = self.stdout.write
        write(f"Simulation of {result.policy.code} as of {result.as_of} ({s.subjects} subjects)")
        for label, spec in (("stored", stored), ("draft", draft)):
            write(f"  {label:<7} {_describe(spec)}")
        write("")
        statuses = ("compliant", "at_risk", "non_compliant", "not_applicable", "error")
        outlooks = ("met", "on_track", "short", simulation.NO_OUTLOOK)
        write(f"{'':<16}{'baseline':>10}{'draft':>10}")
        for name in statuses:
            write(f"{name:<16}{s.by_status['baseline'][name]:>10}{s.by_status['draft'][name]:>10}")
        write("outlook:")
        for name in outlooks:
            write(
                f"  {name:<14}{s.by_outlook['baseline'][name]:>10}{s.by_outlook['draft'][name]:>10}"
            )
        write("")
        write(f"affected: {s.affected}")
        write(f"newly failing: {s.newly_failing}")
        write(f"newly at risk: {s.newly_at_risk}")
        write(f"newly short: {s.newly_short}")
        write(
            f"revenue still needed in total: {format_usd(s.needed_usd)} "
            f"(baseline {format_usd(s.baseline_needed_usd)})"
        )
        top = simulation.most_affected(rows, 20)
        if not top:
            write("\nNo subject is affected by the draft.")
            return
        write(f"\nThe {len(top)} most affected:")
        table = [("partner", "subject", "baseline", "draft", "outlook", "needed", "more needed")]
        for row in top:
            table.append(
                (
                    row["partner_id"],
                    f"{row['subject_type']} {row['subject_id']}",
                    row["baseline_status"],
                    row["status"],
                    f"{row['baseline_outlook'] or '-'} -> {row['outlook'] or '-'}",
                    format_usd(Decimal(row["needed_usd"])) if row["needed_usd"] else "-",
                    format_usd(Decimal(row["extra_needed_usd"])),
                )
            )
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        for i, r in enumerate(table):
            write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if i == 0:
                write("  ".join("-" * w for w in widths))


def _describe(spec) -> str:
    parts = [f"from {spec.effective_from}", f"to {spec.effective_to or 'open'}"]
    parts.append(
        f"threshold {format_usd(spec.threshold_usd)}"
        if spec.threshold_usd is not None
        else "no revenue requirement"
    )
    parts.append(
        f"plans {','.join(spec.qualifying_plan_types)}"
        if spec.qualifying_plan_types
        else "no support plan"
    )
    if spec.requires_designation:
        parts.append("designation")
    if spec.requires_agreement:
        parts.append("agreement")
    parts.append(f"deadline {spec.deadline_anchor}")
    return "; ".join(parts)
