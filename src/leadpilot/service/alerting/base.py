"""What an alert rule is: an object with a ``kind`` that finds conditions (``Finding``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from leadpilot.policy import Policy
from leadpilot.policy.alert_settings import AlertRuleSettings
from leadpilot.schema import Rep
from leadpilot.service.kpis import KPIReport, compute_kpis

__all__ = ["AlertRule", "Finding", "RuleContext"]


@dataclass(frozen=True)
class Finding:
    """A condition that holds now. ``key`` names it (one open alert per key; it starts with
    the rule's kind), ``message`` says it in words with its figures, ``details`` holds them."""

    key: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    lead_id: str | None = None


@dataclass(frozen=True)
class RuleContext:
    """What a rule reads: a read connection, the time, the active policy, the reps routing
    can use (``reps``) and every stored rep (``roster``, unreadable ones included)."""

    conn: sa.Connection
    now: datetime
    policy: Policy
    reps: list[Rep]
    roster: list[Rep]
    _kpis: dict[int, KPIReport] = field(default_factory=dict, repr=False, compare=False)

    def kpis(self, days: int) -> KPIReport:
        """``GET /v1/kpis`` over the last ``days`` days (computed once per pass)."""
        if days not in self._kpis:
            self._kpis[days] = compute_kpis(
                self.conn, since=self.now - timedelta(days=days), until=self.now
            )
        return self._kpis[days]

    def pool_members(self) -> dict[str, list[Rep]]:
        """Each pool's active reps (the policy's pool filters)."""
        return {
            pool.name: [r for r in self.reps if r.active and pool.includes(r)]
            for pool in self.policy.pools
        }


class AlertRule(Protocol):
    """One alert rule. ``kind`` is also the name of its settings under ``alerts:``."""

    kind: str
    description: str

    def evaluate(self, ctx: RuleContext, settings: Any) -> list[Finding]:
        """Every condition of this kind that holds now (empty: all clear)."""
        ...


def settings_of(policy: Policy, kind: str) -> AlertRuleSettings:
    """The policy's settings of the rule ``kind``."""
    found: AlertRuleSettings = getattr(policy.alert_settings, kind)
    return found
