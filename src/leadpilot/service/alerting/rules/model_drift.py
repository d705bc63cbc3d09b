"""Model drift: the population stability index (PSI) of a key feature above ``threshold``.

The PSI is ``alerting.drift.feature_drift``'s (the console's model page shows the same):
the reference is the first ``baseline_days`` of decisions under the model version of the
newest decision, against the last ``recent_days``; both need ``min_decisions``. Features:
decision columns or lead fields (``fields.<name>``); missing values are left out.
"""

from __future__ import annotations

from datetime import timedelta

from leadpilot.policy.alert_settings import ModelDriftSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.alerting.drift import feature_drift

__all__ = ["RULE"]


class ModelDriftRule:
    """``model_drift:<feature>``."""

    kind = "model_drift"
    description = "a key feature's population stability index above the threshold"

    def evaluate(self, ctx: RuleContext, settings: ModelDriftSettings) -> list[Finding]:
        report = feature_drift(
            ctx.conn,
            settings,
            recent_since=ctx.now - timedelta(days=settings.recent_days),
            recent_until=ctx.now,
        )
        first, base_end = report.baseline_since, report.baseline_until
        out = []
        for drift in report.features:
            if drift.psi is None or drift.psi <= settings.threshold or first is None:
                continue
            out.append(
                Finding(
                    key=f"{self.kind}:{drift.feature}",
                    message=(
                        f"{drift.feature} drifted: PSI {drift.psi:.2f} > {settings.threshold} "
                        f"between {drift.baseline_n} decisions from {first:%Y-%m-%d} to "
                        f"{base_end:%Y-%m-%d} and {drift.recent_n} in the last "
                        f"{settings.recent_days} days (model {report.model_version or 'none'})"
                    ),
                    details={
                        "feature": drift.feature,
                        "psi": drift.psi,
                        "baseline_n": drift.baseline_n,
                        "recent_n": drift.recent_n,
                        "model_version": report.model_version,
                        "baseline": "first decisions under the model version",
                    },
                )
            )
        return out


RULE = ModelDriftRule()
