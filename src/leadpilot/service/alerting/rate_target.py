"""A KPI rate over target: its Wilson 95% interval lies wholly above ``target`` (so a rate
over target by chance on few leads raises nothing)."""

from __future__ import annotations

from leadpilot.policy.alert_settings import RateTargetSettings
from leadpilot.service.alerting.base import Finding, RuleContext

__all__ = ["RateTargetRule"]


class RateTargetRule:
    """``<kind>:all`` for the KPI ``kpi`` of ``GET /v1/kpis`` (e.g. ``duplicate_rate``)."""

    def __init__(self, kind: str, what: str) -> None:
        self.kind = kind
        self.what = what
        self.description = f"{what} over target"

    def evaluate(self, ctx: RuleContext, settings: RateTargetSettings) -> list[Finding]:
        rate = getattr(ctx.kpis(settings.window_days), self.kind)
        if rate.denominator < settings.min_leads or rate.low is None or rate.low <= settings.target:
            return []
        return [
            Finding(
                key=f"{self.kind}:all",
                message=(
                    f"{self.what} {rate.rate:.1%} ({rate.numerator}/{rate.denominator}, 95% CI "
                    f"{rate.low:.1%}-{rate.high:.1%}) over the last {settings.window_days} "
                    f"days is above the target {settings.target:.1%}"
                ),
                details={
                    "numerator": rate.numerator,
                    "denominator": rate.denominator,
                    "rate": rate.rate,
                    "low": rate.low,
                    "high": rate.high,
                    "target": settings.target,
                },
            )
        ]
