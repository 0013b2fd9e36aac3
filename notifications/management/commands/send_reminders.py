"""send_reminders [--as-of YYYY-MM-DD] [--dry-run]"""

from __future__ import annotations

import argparse
import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance.models import Evaluation, Purpose
from notifications import services


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        # argparse turns this into a clean usage error (exit status 2), or a
        # CommandError under call_command.
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (use YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = (
        "Plan the compliance emails of an evaluation date (deadline reminders, missed "
        "deadlines, back on track) from that day's evaluations, and queue them for delivery. "
        "Safe to run again: a message that was planned before is never planned twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help="Evaluation date whose results are read (default: today).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be sent; record nothing."
        )

    def handle(self, *args, **options) -> None:
        as_of = options["as_of"] or timezone.localdate()
        if not Evaluation.objects.filter(as_of=as_of, purpose=Purpose.COMPLIANCE).exists():
            self.stderr.write(
                f"No evaluations for {as_of}: run `evaluate_eligibility --as-of {as_of}` first. "
                "Only missed-deadline notices can be planned."
            )
        try:
            summary = services.reminders_plan(as_of=as_of, dry_run=options["dry_run"])
        except ValueError as exc:  # a date before what the retention purged
            raise CommandError(str(exc)) from exc
        for n in summary.notices:
            offset = f" {n.offset}d" if n.offset else ""
            recipients = ", ".join(n.to) or "-"
            cc = f" cc {', '.join(n.cc)}" if n.cc else ""
            note = f" ({n.note})" if n.note else ""
            self.stdout.write(
                f"{n.status:8} {n.kind}{offset} {n.subject_type} {n.subject_id} "
                f"{n.policy_code} deadline {n.deadline} [{n.language}] to {recipients}{cc}{note}"
            )
        counts = summary.counts()
        verb = "would send" if summary.dry_run else "queued"
        self.stdout.write(
            f"{as_of}: {verb} {counts['to_send']} email(s), {counts['skipped']} skipped"
            + ("" if summary.dry_run else f", {len(summary.enqueued)} newly recorded")
        )
