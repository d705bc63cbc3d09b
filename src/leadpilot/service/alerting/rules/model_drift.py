"""Model drift: the population stability index (PSI) of a key feature above ``threshold``.

The model record (``FittedConversion``) keeps no training distributions, so the baseline is
the stored decisions' own: the first ``baseline_days`` of decisions under the model version
of the newest decision (the lead mix the model met when it went live), against the last
``recent_days``. Both need ``min_decisions``; the baseline must end before the recent window
starts. Features: decision columns or lead fields (``fields.<name>``); missing values are
left out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadpilot.policy.alert_settings import DRIFT_COLUMNS, ModelDriftSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.alerting.stats import psi
from leadpilot.store.alert_reads import decision_features, first_decision_at, latest_model_version

__all__ = ["RULE"]


def _values(rows: list[dict[str, Any]], feature: str) -> list[Any]:
    if feature.startswith("fields."):
        name = feature.removeprefix("fields.")
        return [v for r in rows if (v := (r.get("fields") or {}).get(name)) is not None]
    return [r[feature] for r in rows if r.get(feature) is not None]


class ModelDriftRule:
    """``model_drift:<feature>``."""

    kind = "model_drift"
    description = "a key feature's population stability index above the threshold"

    def evaluate(self, ctx: RuleContext, settings: ModelDriftSettings) -> list[Finding]:
        version = latest_model_version(ctx.conn)
        first = first_decision_at(ctx.conn, version)
        if first is None:
            return []
        recent_start = ctx.now - timedelta(days=settings.recent_days)
        base_end = min(first + timedelta(days=settings.baseline_days), recent_start)
        if base_end <= first:
            return []  # the model has not served long enough to have a baseline
        columns = [f for f in DRIFT_COLUMNS if f in settings.features]
        fields = any(f.startswith("fields.") for f in settings.features)
        base_rows = decision_features(ctx.conn, since=first, until=base_end, columns=columns,
                                      model_version=version, with_fields=fields)  # fmt: skip
        recent_rows = decision_features(ctx.conn, since=recent_start, until=ctx.now,
                                        columns=columns, model_version=version,
                                        with_fields=fields)  # fmt: skip
        out = []
        for feature in settings.features:
            base, recent = _values(base_rows, feature), _values(recent_rows, feature)
            if min(len(base), len(recent)) < settings.min_decisions:
                continue
            value = psi(base, recent, bins=settings.bins)
            if value <= settings.threshold:
                continue
            out.append(
                Finding(
                    key=f"{self.kind}:{feature}",
                    message=(
                        f"{feature} drifted: PSI {value:.2f} > {settings.threshold} between "
                        f"{len(base)} decisions from {first:%Y-%m-%d} to {base_end:%Y-%m-%d} "
                        f"and {len(recent)} in the last {settings.recent_days} days "
                        f"(model {version or 'none'})"
                    ),
                    details={
                        "feature": feature,
                        "psi": value,
                        "baseline_n": len(base),
                        "recent_n": len(recent),
                        "model_version": version,
                        "baseline": "first decisions under the model version",
                    },
                )
            )
        return out


RULE = ModelDriftRule()
