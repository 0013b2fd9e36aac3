"""The deadline outlook panel of the partner detail page and the partner's
own dashboard (PRODUCT 4.9): per subject the outlook in plain words, its
figures, and the chart of the TTM as it will stand on each day until the
deadline, with a weekly table as the chart's text alternative.

Display only: the facts come from ``compliance.outlook_selectors`` (the
stored outlook and the rules' ``ttm_series``), the words from the rules'
``Outlook.explanation``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from compliance import outlook_selectors, rules
from compliance.rules import outlook as outlook_rules
from core.formatting import cents_text
from partners.models import Partner


@dataclass
class OutlookPanel:
    subject: outlook_selectors.SubjectOutlook
    #: id of the panel on the page (the status card links to it)
    anchor: str = ""
    #: the outlook in plain words ("USD 550.00 already counts for ..."),
    #: or why it is unknown
    sentence: str = ""
    error_text: str = ""
    #: the evaluation's explanation without the outlook's words, for the
    #: status card (the panel says them); "" when they could not be told apart
    status_text: str = ""
    #: element id of the chart's ``json_script`` data, and the data
    chart_id: str = ""
    chart: dict | None = None
    #: the chart in one sentence (the canvas's accessible name)
    summary: str = ""
    #: the series at weekly points and on the deadline, for the table
    table: list[outlook_rules.SeriesPoint] = field(default_factory=list)

    @property
    def evaluation(self):
        return self.subject.evaluation

    @property
    def outlook(self):
        return self.subject.outlook


def outlook_panels(
    *,
    partners: QuerySet[Partner],
    evaluations: list,
    today: datetime.date,
    staff: bool,
) -> list[OutlookPanel]:
    """One panel per current evaluation of ``partners`` (reached through the
    one door) that has an outlook to show; a constant number of queries."""
    language = get_language() or "en"
    panels = []
    subjects = outlook_selectors.deadline_outlooks(
        partners=partners, evaluations=evaluations, today=today
    )
    for number, subject in enumerate(subjects, start=1):
        panel = OutlookPanel(subject, anchor=f"outlook-{number}")
        outlook = subject.outlook
        if subject.error:
            panel.error_text = outlook_rules.unknown_explanation(subject.error, language)
        elif outlook is not None:
            panel.sentence = outlook.explanation(language, staff=staff)
        panel.status_text = _without_outlook(subject, language)
        if outlook is not None and subject.points and not subject.error:
            panel.chart_id = f"outlook-chart-{number}"
            panel.chart = _chart(subject.points, outlook, language)
            panel.summary = _summary(subject.points, outlook, language)
            panel.table = outlook_rules.series_sample(subject.points)
        panels.append(panel)
    return panels


def _without_outlook(subject: outlook_selectors.SubjectOutlook, language: str) -> str:
    """The stored explanation without its last sentence, the outlook's (as
    the engine words it: for the partner); "" when it does not end so."""
    e = subject.evaluation
    words_alone = e.status_explanation_in(language)
    if words_alone is not None:
        return words_alone if subject.outlook is not None or subject.error else ""
    german = language.lower().startswith("de")
    stored = (e.legacy_explanation_de or e.legacy_explanation) if german else e.legacy_explanation
    if subject.outlook is not None and not subject.error:
        words = subject.outlook.explanation(language)
    elif subject.error:
        words = outlook_rules.unknown_explanation(subject.error, language)
    else:
        return ""
    head, _space, tail = stored.rpartition(" " + words)
    return head if head and not tail else ""


def _chart(points, outlook, language: str) -> dict:
    """Chart.js data for ``json_script``: dates in the page's language,
    amounts as strings of two decimals."""
    return {
        "labels": [rules.format_date(p.day, language) for p in points],
        "booked": [cents_text(p.booked_usd) for p in points],
        "projected": [cents_text(p.projected_usd) for p in points],
        "threshold": cents_text(outlook.threshold_usd),
        "names": {
            "booked": pgettext("deadline outlook", "TTM from booked revenue"),
            "projected": pgettext("deadline outlook", "TTM at the current pace"),
            "threshold": pgettext("deadline outlook", "Threshold"),
        },
        "currency": "USD",
    }


def _summary(points, outlook, language: str) -> str:
    """The chart in words, for screen readers."""
    return _(
        "TTM revenue from %(today)s to the deadline %(deadline)s: from booked revenue alone "
        "it goes from %(start)s to %(secured)s; at the current pace it reaches "
        "%(projected)s; the threshold is %(threshold)s."
    ) % {
        "today": rules.format_date(points[0].day, language),
        "deadline": rules.format_date(outlook.deadline, language),
        "start": rules.format_usd(points[0].booked_usd, language),
        "secured": rules.format_usd(points[-1].booked_usd, language),
        "projected": rules.format_usd(points[-1].projected_usd, language),
        "threshold": rules.format_usd(outlook.threshold_usd, language),
    }
