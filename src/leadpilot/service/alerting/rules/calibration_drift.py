"""Calibration drift: the model's probabilities no longer match what happens.

Calibration in the large over routed leads old enough for their outcome: observed
conversions O against the sum of the logged ``p_convert`` E; under good calibration O - E
has variance sum p(1 - p) (independent leads), so z = (O - E) / sqrt(sum p(1 - p)) and the
alert fires when its two-sided normal p-value is below ``alpha``.
"""

from __future__ import annotations

import math
from datetime import timedelta

from scipy.stats import norm

from leadpilot.policy.alert_settings import CalibrationDriftSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.store.alert_reads import predicted_and_observed

__all__ = ["RULE"]


class CalibrationDriftRule:
    """``calibration_drift:all``."""

    kind = "calibration_drift"
    description = "observed conversions far from the model's predicted sum"

    def evaluate(self, ctx: RuleContext, settings: CalibrationDriftSettings) -> list[Finding]:
        until = ctx.now - timedelta(days=settings.lag_days)
        since = until - timedelta(days=settings.window_days)
        rows = predicted_and_observed(ctx.conn, since=since, until=until, outcome=settings.outcome)
        if len(rows) < settings.min_leads:
            return []
        expected = sum(p for p, _ in rows)
        observed = sum(1 for _, converted in rows if converted)
        variance = sum(p * (1 - p) for p, _ in rows)
        if variance <= 0:
            return []
        z = (observed - expected) / math.sqrt(variance)
        p_value = float(2 * norm.sf(abs(z)))
        if p_value >= settings.alpha:
            return []
        return [
            Finding(
                key=f"{self.kind}:all",
                message=(
                    f"the model's probabilities are off: {observed} {settings.outcome} "
                    f"outcome(s) observed vs {expected:.1f} predicted over {len(rows)} leads "
                    f"received {since:%Y-%m-%d} to {until:%Y-%m-%d} (z = {z:.2f}, p = "
                    f"{p_value:.2g}); retrain or recalibrate"
                ),
                details={
                    "leads": len(rows),
                    "observed": observed,
                    "expected": expected,
                    "z": z,
                    "p_value": p_value,
                },
            )
        ]


RULE = CalibrationDriftRule()
