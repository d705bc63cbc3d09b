"""Webhook deliveries failing (reassignment notices, alert notices, CRM callbacks), one
alert per receiving host. URLs are named by host only: a Slack or CRM webhook URL carries
its secret."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from leadpilot.policy.alert_settings import DeliveryFailureSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.store.alerts import delivery_failures, redact_url

__all__ = ["RULE"]


class DeliveryFailureRule:
    """``delivery_failures:<scheme://host>``."""

    kind = "delivery_failures"
    description = "webhook deliveries that gave up or keep failing"

    def evaluate(self, ctx: RuleContext, settings: DeliveryFailureSettings) -> list[Finding]:
        rows = delivery_failures(
            ctx.conn,
            since=ctx.now - timedelta(hours=settings.window_hours),
            min_attempts=settings.min_attempts,
        )
        hosts: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            hosts[redact_url(row.url)].append(row)
        out = []
        for host, failing in sorted(hosts.items()):
            gave_up = sum(r.status == "failed" for r in failing)
            retrying = len(failing) - gave_up
            last = next((r for r in failing if r.last_error), None)
            error = (last.last_error or "").replace(last.url, host)[:200] if last else "-"
            out.append(
                Finding(
                    key=f"{self.kind}:{host}",
                    message=(
                        f"webhook deliveries to {host} are failing: {gave_up} gave up in the "
                        f"last {settings.window_hours} h, {retrying} still retrying; "
                        f"last error: {error}"
                    ),
                    details={"host": host, "gave_up": gave_up, "retrying": retrying},
                )
            )
        return out


RULE = DeliveryFailureRule()
