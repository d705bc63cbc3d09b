"""CRM sync failing: owner writes back to the CRM (the outbox) or CRM webhook events (the
inbox) that gave up in the last ``window_hours``, or are still retrying after
``min_attempts`` failed attempts; one alert per CRM. (Each row that gives up also raises its
own event alert: ``crm_writeback_dead``, ``crm_intake_failed``.)"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from leadpilot.policy.alert_settings import DeliveryFailureSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.store.alert_reads import crm_failures

__all__ = ["RULE"]


class CrmFailureRule:
    """``crm_failures:<crm>``."""

    kind = "crm_failures"
    description = "CRM owner writes or webhook events that gave up or keep failing"

    def evaluate(self, ctx: RuleContext, settings: DeliveryFailureSettings) -> list[Finding]:
        rows = crm_failures(
            ctx.conn,
            since=ctx.now - timedelta(hours=settings.window_hours),
            min_attempts=settings.min_attempts,
        )
        by_crm: dict[str, list[tuple[str, str, str, int, str | None]]] = defaultdict(list)
        for row in rows:
            by_crm[row[0]].append(row)
        out = []
        for crm, failing in sorted(by_crm.items()):
            gave_up = sum(1 for r in failing if r[2] in {"dead", "failed"})
            retrying = len(failing) - gave_up
            kinds = sorted({r[1] for r in failing})
            last = next((r[4] for r in failing if r[4]), None) or "-"
            out.append(
                Finding(
                    key=f"{self.kind}:{crm}",
                    message=(
                        f"{crm} sync is failing ({', '.join(kinds)}): {gave_up} gave up in the "
                        f"last {settings.window_hours} h, {retrying} still retrying; last "
                        f"error: {last[:200]}"
                    ),
                    details={"crm": crm, "gave_up": gave_up, "retrying": retrying},
                )
            )
        return out


RULE = CrmFailureRule()
