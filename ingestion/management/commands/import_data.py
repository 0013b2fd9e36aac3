"""``import_data KIND FILE [--dry-run] [--format simple|partner-center] [--user NAME]``.

Thin: checks the arguments, calls :func:`ingestion.imports.import_file_recorded`
(the import, recorded as an import run like a staff upload) and prints its
report. Exit status 1 when the file is rejected.
"""

import argparse
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from ingestion.imports import FORMATS, KINDS, ImportReport, describe_kinds, import_file_recorded

EPILOG = f"""\
{describe_kinds()}

files: UTF-8 (with or without BOM), a header row, columns in any order;
  columns the kind does not know are ignored. Either comma-separated with a
  decimal point (1234.56), or semicolon-separated with a decimal comma
  (1.234,56) as German Excel writes it; the header line decides. Dates
  YYYY-MM-DD, in semicolon files also DD.MM.YYYY. Yes/no cells take
  yes/no, true/false, 1/0, ja/nein (empty = no).

partner-center files: the invoice reconciliation file (new commerce or the
  legacy license-based one). A daily-rated usage file (UsageDate,
  BillingPreTaxTotal, ...) is refused in either format: its Azure usage is
  billed in the invoice reconciliation file, so importing both would count it
  twice.

all or nothing: one bad row rejects the file; every bad row is listed
  (row = line in the file, header = 1) and nothing is written. Importing the
  same file again changes nothing; changed values update the stored records.

every import (not a dry run) is recorded as an import run, listed with the
  staff uploads on the imports page: file name, hash, counts, errors, status.
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of the epilog (the column lists)."""


class Command(BaseCommand):
    help = "Import a CSV file of partners, locations, contacts, revenue, support contracts or exchange rates; all or nothing."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):  # type: ignore[override]
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "kind", metavar="KIND", choices=list(KINDS), help=f"one of: {', '.join(KINDS)}"
        )
        parser.add_argument("file", metavar="FILE", help="the CSV file")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and report what would change, without writing anything",
        )
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=list(FORMATS),
            default="simple",
            help="simple (the columns below, the default) or partner-center "
            "(reconciliation files; revenue only)",
        )
        parser.add_argument(
            "--user",
            metavar="NAME",
            help="the staff user (user name or email) the import is recorded for, in the "
            "import run and the history of changed records (default: none)",
        )
        parser.add_argument(
            "--skip-unknown",
            action="store_true",
            help="partner-center: leave out (and list) the lines of resellers that are no "
            "location, instead of rejecting the file",
        )

    def handle(
        self,
        *args,
        kind: str,
        file: str,
        dry_run: bool,
        file_format: str,
        skip_unknown: bool = False,
        user: str | None = None,
        **options,
    ) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        author = _staff_user(user) if user else None
        try:
            report, run = import_file_recorded(
                kind=kind,
                path=path,
                dry_run=dry_run,
                user=author,
                file_format=file_format,
                skip_unknown=skip_unknown,
            )
        except (NotImplementedError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc

        if not report.ok:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"Rejected {report.source_name}: {len(report.errors)} "
                f"{_plural(len(report.errors), 'error')} in {report.bad_rows} "
                f"{_plural(report.bad_rows, 'row')}; nothing was written."
                + (f" Recorded as import run {run.pk}." if run else "")
            )
        self.stdout.write(self._summary(report))
        if run is not None:
            self.stdout.write(f"  Recorded as import run {run.pk}.")
        if (again := report.reevaluation) is not None and (again.partners or again.error):
            style = self.style.SUCCESS if again.ok else self.style.WARNING
            self.stdout.write(style(f"  {again}."))

    def _summary(self, report: ImportReport) -> str:
        if report.dry_run:
            title = f"Dry run of {report.kind} from {report.source_name}: nothing was written."
            verbs = ("would create", "would update", "would leave unchanged")
        else:
            title = f"Imported {report.kind} from {report.source_name}."
            verbs = ("created", "updated", "unchanged")
        counts: list[tuple[str, object]] = [
            ("rows", f"{report.rows} ({report.dialect})"),
            (verbs[0], report.created),
            (verbs[1], report.updated),
            (verbs[2], report.unchanged),
        ]
        if report.layout:
            counts.insert(0, ("layout", f"Partner Center {report.layout}"))
        if report.unknown_resellers:
            counts.append(("skipped rows", f"{report.skipped} (unknown resellers below)"))
        if report.totals:
            counts.append(
                ("totals", ", ".join(f"{total} {code}" for code, total in report.totals.items()))
            )
        if report.ignored_columns:
            counts.append(("ignored columns", ", ".join(report.ignored_columns)))
        width = max(len(label) for label, _ in counts) + 2
        lines = [self.style.SUCCESS(title)]
        lines += [f"  {label + ':':<{width}}{value}" for label, value in counts]
        for unknown in report.unknown_resellers:
            totals = ", ".join(f"{amount} {code}" for code, amount in unknown["totals"].items())
            lines.append(
                f"  skipped reseller {unknown['mpn_id'] or '(none)'}: {unknown['rows']} rows, "
                f"customers {', '.join(unknown['customers']) or '-'}, totals {totals or '-'}"
            )
        return "\n".join(lines)


def _staff_user(name: str):
    """The active staff user whose user name (or else email) is ``name``."""
    model = get_user_model()
    users = model._default_manager.filter(is_active=True, is_staff=True)
    user = users.filter(**{model.USERNAME_FIELD: name}).first()
    if user is None:
        matches = list(users.filter(**{f"{model.get_email_field_name()}__iexact": name})[:2])
        if len(matches) != 1:
            raise CommandError(
                f"No active staff user {name!r}"
                if not matches
                else f"Several staff users have the email {name!r}; give the user name"
            )
        user = matches[0]
    return user


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
