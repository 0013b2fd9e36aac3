"""Retention of the notifications (docs/decisions/0012-growth-control.md).

A notification row is also the key that makes a reminder go out once
(``notification_once``): deleting one whose subject could be planned again
would send the email again. So only *settled* rows go (sent, skipped,
failed), and only when both their deadline and their creation are older
than the retention; a planned or pending one (still to be attempted) is
never purged, whatever its age. Planning a date again that lies before
what a purge deleted, plus ``PLANNING_MARGIN``, is refused
(:func:`planning_refused`): its reminders could be sent a second time.
"""

from __future__ import annotations

import datetime

from django.db.models import Q

from compliance.retention import purged_before

from .models import OPEN_STATUSES, Notification

#: Covers the planner's look-back for missed deadlines (a week) and more.
PLANNING_MARGIN = datetime.timedelta(days=31)


def notifications_purge(*, before: datetime.date) -> int:
    """Delete the settled notifications whose deadline and creation day are
    before ``before``; return how many went."""
    start = datetime.datetime.combine(before, datetime.time.min, tzinfo=datetime.UTC)
    deleted, _ = (
        Notification.objects.filter(Q(deadline__lt=before) & Q(created_at__lt=start))
        .exclude(status__in=OPEN_STATUSES)
        .delete()
    )
    return deleted


def planning_refused(as_of: datetime.date) -> str:
    """Why the reminders of ``as_of`` may not be planned (again), or ""."""
    horizon = purged_before("notifications")
    if horizon is not None and as_of < horizon + PLANNING_MARGIN:
        return (
            f"notifications before {horizon.isoformat()} have been purged; planning "
            f"{as_of.isoformat()} again could send its reminders a second time "
            f"(plan {(horizon + PLANNING_MARGIN).isoformat()} or later)"
        )
    return ""
