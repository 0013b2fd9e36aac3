"""evaluate_eligibility [--as-of YYYY-MM-DD] [--partner ID] [--json]"""

from __future__ import annotations

import datetime
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance import services
from compliance.models import Purpose
from core.batch import collector_paused
from core.formatting import cents_text, format_usd


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of: {value!r} is not a date (use YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = (
        "Evaluate every applicable (subject, policy) for a date and record the results "
        "(deadline outcomes and follow-up cases included). Prints a table, or one JSON "
        "object per line with --json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", type=_date, default=None, help="Evaluation date (default: today)."
        )
        parser.add_argument(
            "--partner",
            action="append",
            default=None,
            metavar="ID",
            help="Only this Microsoft partner id (repeatable).",
        )
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")
        parser.add_argument(
            "--no-save",
            action="store_true",
            help="Compute and print only; record nothing (no outcomes, no cases).",
        )

    def handle(self, *args, **options) -> None:
        # One run and its report: every output is kept until printed.
        with collector_paused():
            self._handle(options)

    def _handle(self, options) -> None:
        as_of = options["as_of"] or timezone.localdate()
        partner_pks = None
        if options["partner"]:
            found = services.partner_pks_for_ids(options["partner"])
            missing = sorted(set(options["partner"]) - set(found))
            if missing:
                raise CommandError(f"unknown partner id: {', '.join(missing)}")
            partner_pks = set(found.values())
        summary = services.evaluation_run(
            as_of=as_of, partner_pks=partner_pks, save=not options["no_save"]
        )
        outputs = [o for o in summary.outputs if o.purpose == Purpose.COMPLIANCE]
        outputs.sort(
            key=lambda o: (
                o.subject.partner_id,
                o.subject.subject_type != "partner",
                o.subject.subject_id,
                o.subject.policy.code,
            )
        )
        if options["json"]:
            for output in outputs:
                self.stdout.write(json.dumps(self._record(output, as_of)))
        else:
            self._table(outputs, as_of)
            counts = summary.counts()
            self.stdout.write(
                f"\n{counts['evaluated']} evaluated on {as_of}: "
                + ", ".join(f"{k[7:]} {v}" for k, v in counts.items() if k.startswith("status_"))
                + f"; {summary.outcomes_decided} deadline(s) decided, "
                f"{summary.outcomes_missed} missed, {summary.cases_opened} case(s) opened"
            )
        for error in summary.errors:
            self.stderr.write(f"error: {error}")

    @staticmethod
    def _record(output: services.EvaluationOutput, as_of: datetime.date) -> dict:
        s, r = output.subject, output.result
        return {
            "subject_type": s.subject_type,
            "subject_id": s.subject_id,
            "partner_id": s.partner_id,
            "policy": s.policy.code,
            "as_of": as_of.isoformat(),
            "status": r.status,
            "ttm_revenue_usd": cents_text(r.ttm_revenue_usd),
            "threshold_usd": cents_text(r.threshold_usd),
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "days_to_deadline": r.days_to_deadline,
            "unmet": list(r.unmet),
            # The deadline outlook (PRODUCT 4.9); null where there is none.
            "secured_usd": cents_text(o.secured_usd) if (o := output.outlook) else None,
            "rolling_off_usd": cents_text(o.rolling_off_usd) if o else None,
            "needed_usd": cents_text(o.needed_usd) if o else None,
            "projected_usd": cents_text(o.projected_usd) if o else None,
            "outlook": o.outlook if o else None,
        }

    def _table(self, outputs: list[services.EvaluationOutput], as_of: datetime.date) -> None:
        header = (
            "partner",
            "subject",
            "policy",
            "status",
            "TTM revenue",
            "threshold",
            "deadline",
            "days",
            "unmet",
        )
        rows = [header]
        for o in outputs:
            r = o.result
            rows.append(
                (
                    o.subject.partner_id,
                    f"{o.subject.subject_type} {o.subject.subject_id}",
                    o.subject.policy.code,
                    r.status,
                    format_usd(r.ttm_revenue_usd) if r.ttm_revenue_usd is not None else "-",
                    format_usd(r.threshold_usd) if r.threshold_usd is not None else "-",
                    r.deadline.isoformat() if r.deadline else "-",
                    str(r.days_to_deadline) if r.days_to_deadline is not None else "-",
                    ",".join(r.unmet) or "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for i, row in enumerate(rows):
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
            if i == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
