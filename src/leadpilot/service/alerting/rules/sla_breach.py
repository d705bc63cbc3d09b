"""Routed leads past their SLA deadline with no first touch, one alert per lane.

The SLA worker reassigns a breached lead when it can; what stays past its deadline is a lead
nobody else could take, one at ``max_reassignments``, or one whose timer has not fired yet.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from leadpilot.policy.alert_settings import SlaBreachSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.store.alert_reads import untouched_past_sla

__all__ = ["RULE"]


class SlaBreachRule:
    """``sla_breach:<lane>``: at least ``min_leads`` untouched leads past their SLA."""

    kind = "sla_breach"
    description = "routed leads past their SLA deadline with no first touch"

    def evaluate(self, ctx: RuleContext, settings: SlaBreachSettings) -> list[Finding]:
        by_lane: dict[str, list[Any]] = defaultdict(list)
        for row in untouched_past_sla(ctx.conn, ctx.now):
            by_lane[row.lane or "-"].append(row)
        out = []
        for lane, rows in sorted(by_lane.items()):
            if len(rows) < settings.min_leads:
                continue
            oldest = rows[0]
            over = (ctx.now - oldest.sla_deadline).total_seconds() / 60.0
            out.append(
                Finding(
                    key=f"{self.kind}:{lane}",
                    message=(
                        f"{len(rows)} lead(s) in lane {lane} are past their SLA with no first "
                        f"touch; the oldest, {oldest.lead_id} with {oldest.rep_id}, is "
                        f"{over:.0f} min over"
                    ),
                    details={
                        "lane": lane,
                        "leads": len(rows),
                        "lead_ids": [r.lead_id for r in rows[:20]],
                        "oldest_minutes_over": round(over, 1),
                    },
                )
            )
        return out


RULE = SlaBreachRule()
