"""Ownership holds: a lead of a known account stays with the account's owner while there is
an open opportunity or a recent touch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from leadpilot.policy.policy_file import Holds
from leadpilot.schema import Account, Lead

__all__ = ["AccountLookup", "AccountMatchLike", "Hold", "hold_for"]


class AccountMatchLike(Protocol):
    """What an account matcher returns (``leadpilot.ingest.matching.AccountMatch``)."""

    @property
    def account(self) -> Account: ...

    @property
    def method(self) -> str: ...


class AccountLookup(Protocol):
    """Finds the known account of a lead (``leadpilot.ingest.matching.AccountMatcher``)."""

    def match(self, lead: Lead) -> AccountMatchLike | None:
        """The lead's account match, or ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class Hold:
    """An ownership hold that applies to a lead."""

    owner_rep_id: str
    account_id: str
    why: str  # "OPEN_OPPORTUNITY" or "RECENT_TOUCH"
    method: str  # how the account was matched (domain, fuzzy name...)


def hold_for(match: AccountMatchLike | None, holds: Holds, now: datetime) -> Hold | None:
    """The hold on a matched account at ``now``, or ``None`` (no owner, nothing recent)."""
    if match is None or not holds.enabled:
        return None
    account = match.account
    if not account.owner_rep_id:
        return None
    if holds.open_opportunity and account.has_open_opportunity:
        why = "OPEN_OPPORTUNITY"
    elif account.last_touch_at is not None and _within(
        account.last_touch_at, now, timedelta(days=holds.touch_within_days)
    ):
        why = "RECENT_TOUCH"
    else:
        return None
    return Hold(account.owner_rep_id, account.account_id, why, str(match.method))


def _within(moment: datetime, now: datetime, span: timedelta) -> bool:
    if moment.tzinfo is None and now.tzinfo is not None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return now - span <= moment <= now
