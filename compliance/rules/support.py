"""Support plans (PRODUCT 4.3, 4.4): which contract meets the support-plan
requirement, the renewal deadlines, and what an explanation says about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .dates import ONE_DAY

# Plan types (partners.models.PlanType) and their short names in explanations.
DEFAULT_QUALIFYING_PLAN_TYPES = ("asfp", "psfp")
PLAN_SHORT_NAMES = {"asfp": "ASfP", "psfp": "PSfP", "unified": "Unified", "other": "Other"}


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """A support contract as the rules see it."""

    plan_type: str
    start: date
    end: date
    is_paid: bool
    paid_on: date | None = None

    def paid_as_of(self, day: date) -> bool:
        """Paid, and (when the payment date is known) paid on or before ``day``."""
        return self.is_paid and (self.paid_on is None or self.paid_on <= day)

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def renewal_date(self) -> date:
        """The day after the term ends: the plan's anniversary."""
        return self.end + ONE_DAY


def contract_counts_on(contract: ContractFacts, day: date, qualifying_types: Iterable[str]) -> bool:
    """PRODUCT 4.3: a qualifying type, paid (as of ``day``) and ``start <= day <= end``."""
    return (
        contract.plan_type in tuple(qualifying_types)
        and contract.paid_as_of(day)
        and contract.covers(day)
    )


def _contract_order(c: ContractFacts) -> tuple:
    return (c.end, c.start, c.plan_type, c.is_paid, c.paid_on or date.min)


def support_plan_covering(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> ContractFacts | None:
    """PRODUCT 4.3: the contract that meets the support-plan requirement on
    ``as_of`` (of a qualifying type, paid as of ``as_of``, covering it) - the
    one running longest when several do - or None when the requirement is
    not met. The evaluation and the pages' support panel both ask this."""
    types = tuple(qualifying_types)
    counting = [c for c in contracts if contract_counts_on(c, as_of, types)]
    return max(counting, key=_contract_order, default=None)


def support_plan_met(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> bool:
    return support_plan_covering(contracts, as_of, qualifying_types) is not None


def _renewal_dates(
    contracts: Iterable[ContractFacts], paid_as_of: date, qualifying_types: Iterable[str]
) -> list[date]:
    types = tuple(qualifying_types)
    return [c.renewal_date for c in contracts if c.plan_type in types and c.paid_as_of(paid_as_of)]


def support_renewal_deadline(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> date | None:
    """PRODUCT 4.4: among the qualifying contracts paid as of ``as_of``, the
    earliest ``end + 1 day`` that is ``>= as_of``; None when there is none."""
    dates = [d for d in _renewal_dates(contracts, as_of, qualifying_types) if d >= as_of]
    return min(dates, default=None)


def support_renewal_last_deadline(
    contracts: Iterable[ContractFacts], as_of: date, qualifying_types: Iterable[str]
) -> date | None:
    """The most recent ``end + 1 day`` on or before ``as_of`` among the
    qualifying contracts paid as of ``as_of`` (the deadline an outcome
    decides); None when there is none."""
    dates = [d for d in _renewal_dates(contracts, as_of, qualifying_types) if d <= as_of]
    return max(dates, default=None)


@dataclass(frozen=True, slots=True)
class SupportNote:
    """What an explanation says about the support plan.

    ``kind``: ``paid_until`` (met; ``plan_type`` covers ``as_of`` until
    ``end``), ``unpaid`` (a qualifying plan covers ``as_of`` but is not paid),
    ``starts`` (a paid qualifying plan starts on ``start``), ``not_qualifying``
    (only a paid plan of another type covers ``as_of``), ``ended`` (the last
    paid qualifying plan ended on ``end``) or ``none``.
    """

    kind: str
    qualifying_plan_types: tuple[str, ...]
    plan_type: str | None = None
    start: date | None = None
    end: date | None = None


def support_note(
    contracts: tuple[ContractFacts, ...], as_of: date, qualifying: tuple[str, ...]
) -> SupportNote:
    """What the explanation says about the support plan on ``as_of``."""

    def note(kind: str, contract: ContractFacts | None = None) -> SupportNote:
        if contract is None:
            return SupportNote(kind, qualifying)
        return SupportNote(kind, qualifying, contract.plan_type, contract.start, contract.end)

    key = _contract_order
    counting = support_plan_covering(contracts, as_of, qualifying)
    if counting is not None:
        return note("paid_until", counting)
    qualified = [c for c in contracts if c.plan_type in qualifying]
    unpaid = [c for c in qualified if c.covers(as_of)]
    if unpaid:
        return note("unpaid", max(unpaid, key=key))
    upcoming = [c for c in qualified if c.paid_as_of(as_of) and c.start > as_of]
    if upcoming:
        return note("starts", min(upcoming, key=lambda c: (c.start, *key(c))))
    other = [c for c in contracts if c.paid_as_of(as_of) and c.covers(as_of)]
    if other:
        return note("not_qualifying", max(other, key=key))
    ended = [c for c in qualified if c.paid_as_of(as_of) and c.end < as_of]
    if ended:
        return note("ended", max(ended, key=key))
    return note("none")
