"""CSV and XLSX exports under /exports/ (partners, evaluations, revenue).

Rows are read with ``QuerySet.iterator(chunk_size=...)`` so that memory and
the number of queries do not grow with the number of rows. CSV is streamed;
XLSX is written by openpyxl in write-only mode into a temporary file that is
then streamed. Spreadsheet formulas are neutralised: in CSV a text cell that
starts with = + - @, a tab or a carriage return gets a leading single quote;
in XLSX every text cell is written as an explicit string, never a formula.
Numbers and dates are written as numbers and dates.

Partners and evaluations are for staff; revenue also for a partner user, who
gets their own partner's lines (a foreign ``partner`` filter is a 404).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.views import View
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

from compliance import selectors as compliance_selectors
from compliance.models import Purpose
from partners import selectors as partner_selectors
from portal.exports import PARTNER_EXPORT_HEADER, cents, csv_stream, partner_export_rows
from portal.filters import PartnerFilter
from portal.views.access import StaffRequiredMixin

from . import selectors
from .filters import EvaluationFilter, RevenueFilter

CHUNK_SIZE = 2000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MPN_ID = re.compile(r"[0-9]{1,20}")

Row = Sequence[object]


def xlsx_cell(sheet, value: object):
    """A text value as an explicit string cell (never a formula, whatever it
    starts with); other values as they are."""
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=None)
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
        return cell
    return value


def xlsx_file(title: str, header: Row, rows: Iterable[Row]):
    """A temporary file holding the workbook; deleted when closed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    sheet.append([xlsx_cell(sheet, name) for name in header])
    for row in rows:
        sheet.append([xlsx_cell(sheet, value) for value in row])
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    workbook.save(handle)
    handle.seek(0)
    return handle


class ExportView(StaffRequiredMixin, View):
    """One export in two formats; subclasses give the header and the rows.
    Staff only unless ``staff_only = False``."""

    name = ""

    def get(self, request, fmt: str):
        try:
            rows = self.rows()
        except InvalidFilter as error:
            return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
        filename = f"{self.name}-{timezone.localdate():%Y-%m-%d}.{fmt}"
        if fmt == "xlsx":
            handle = xlsx_file(self.name, self.header, rows)
            return FileResponse(
                handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
            )
        response = StreamingHttpResponse(
            csv_stream(self.header, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    header: Sequence[str] = ()

    def rows(self) -> Iterator[Row]:
        raise NotImplementedError

    def filtered(self, filterset_class, queryset: QuerySet) -> QuerySet:
        filterset = filterset_class(self.request.GET, queryset=queryset)
        if not filterset.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in filterset.errors.items()
            )
            raise InvalidFilter(f"Invalid filter: {problems}")
        return filterset.qs


class InvalidFilter(Exception):
    pass


class PartnerExport(ExportView):
    """The partner list with the filters of the web list (portal.filters)."""

    name = "partners"
    header = PARTNER_EXPORT_HEADER

    def rows(self) -> Iterator[Row]:
        filterset = PartnerFilter(
            self.request.GET or None,
            queryset=partner_selectors.partner_list_for_user(self.request.user),
            user=self.request.user,
        )
        # Invalid values are ignored, as on the web list.
        return partner_export_rows(filterset.qs)


class EvaluationExport(ExportView):
    """Evaluations; without a date filter (as_of, as_of_from, as_of_to) the
    current ones: each partner's latest run."""

    name = "evaluations"
    header = (
        "as_of",
        "subject_type",
        "subject_id",
        "partner_id",
        "partner_name",
        "location_id",
        "policy",
        "purpose",
        "status",
        "ttm_revenue_usd",
        "threshold_usd",
        "shortfall_usd",
        "unmet",
        "deadline",
        "days_to_deadline",
        "secured_usd",
        "rolling_off_usd",
        "needed_usd",
        "pace_usd",
        "projected_usd",
        "outlook",
        "explanation",
        "error",
    )

    def rows(self) -> Iterator[Row]:
        queryset = selectors.evaluations_for_user(self.request.user)
        params = self.request.GET
        if not any(params.get(name) for name in ("as_of", "as_of_from", "as_of_to")):
            purpose = params.get("purpose") or Purpose.COMPLIANCE
            current = compliance_selectors.latest_evaluations(
                partner_selectors.partners_for_user(self.request.user),
                purpose=purpose if purpose in Purpose.values else Purpose.COMPLIANCE,
            )
            queryset = queryset.filter(pk__in=current.values("pk"))
        queryset = self.filtered(EvaluationFilter, queryset)
        return (
            (
                e.as_of,
                e.subject_type,
                e.subject_id,
                e.partner.partner_id,
                e.partner.name,
                e.location.location_id if e.location else "",
                e.policy.code,
                e.purpose,
                e.status,
                cents(e.ttm_revenue_usd),
                e.threshold_usd,
                cents(e.shortfall_usd),
                "; ".join(e.unmet),
                e.deadline,
                e.days_to_deadline,
                cents(e.secured_usd),
                cents(e.rolling_off_usd),
                cents(e.needed_usd),
                cents(e.pace_usd),
                cents(e.projected_usd),
                e.outlook,
                e.explanation,
                e.error,
            )
            for e in queryset.iterator(chunk_size=CHUNK_SIZE)
        )


class RevenueExport(ExportView):
    """Revenue lines; filters partner, location, date_from, date_to, source,
    currency. Partner users get their own partner's lines."""

    name = "revenue"
    staff_only = False
    header = (
        "partner_id",
        "location_id",
        "revenue_date",
        "amount",
        "currency",
        "source",
        "reference",
        "customer",
    )

    def rows(self) -> Iterator[Row]:
        if partner_id := self.request.GET.get("partner"):
            # A foreign or unknown partner is a 404, as everywhere; what is no
            # partner id at all (a NUL, which PostgreSQL cannot compare) too.
            if not MPN_ID.fullmatch(partner_id):
                raise Http404("No such partner.")
            partner_selectors.partner_get_for_user(user=self.request.user, partner_id=partner_id)
        queryset = self.filtered(RevenueFilter, selectors.revenue_for_user(self.request.user))
        return (
            (
                r.location.partner.partner_id,
                r.location.location_id,
                r.revenue_date,
                r.amount,
                r.currency_id,
                r.source,
                r.reference,
                r.customer,
            )
            for r in queryset.iterator(chunk_size=CHUNK_SIZE)
        )
