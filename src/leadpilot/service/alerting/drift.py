"""Drift of the model's inputs and scores: each feature's population stability index (PSI)
between a reference window and a recent one. Shown on the console's model page and read by
the ``model_drift`` alert rule, so the page and the alert say the same thing.

The model record keeps no training distributions, so the reference is the stored decisions'
own: the first ``baseline_days`` of decisions under the model version of the newest decision
(the lead mix the model met when it went live), ending before the recent window starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadpilot.policy.alert_settings import DRIFT_COLUMNS, ModelDriftSettings
from leadpilot.service.alerting.stats import psi, psi_noise, psi_shares
from leadpilot.store.alert_reads import decision_features, first_decision_at, latest_model_version

__all__ = ["DriftReport", "FeatureDrift", "feature_drift"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature: its PSI (``None`` when either window has fewer than ``min_decisions``
    values), the PSI sampling alone would exceed 5% of the time (``noise``), the window
    sizes and the number of bins compared."""

    feature: str
    psi: float | None
    noise: float | None
    baseline_n: int
    recent_n: int
    bins: int

    def verdict(self, threshold: float = 0.2) -> tuple[str, str]:
        """``(status, words)``: the PSI against 0.1 and the alert's ``threshold``, and
        against the sampling noise. Status ``green``, ``amber``, ``red`` or ``none``."""
        if self.psi is None or self.noise is None:
            return "none", "cannot tell: too few decisions"
        chance = self.psi <= self.noise
        if self.psi > threshold:
            if chance:
                return "amber", "above the alert threshold, but within sampling noise"
            return "red", "significant shift"
        if chance:
            return "green", "stable (within sampling noise)"
        if self.psi < 0.1:
            return "green", "stable"
        return "amber", "moderate shift: watch"


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The reference window (``None`` when there is none yet) and each feature's drift."""

    model_version: str | None
    baseline_since: datetime | None
    baseline_until: datetime | None
    recent_since: datetime
    recent_until: datetime
    features: list[FeatureDrift]


def _values(rows: list[dict[str, Any]], feature: str) -> list[Any]:
    if feature.startswith("fields."):
        name = feature.removeprefix("fields.")
        return [v for r in rows if (v := (r.get("fields") or {}).get(name)) is not None]
    return [r[feature] for r in rows if r.get(feature) is not None]


def feature_drift(
    conn: sa.Connection,
    settings: ModelDriftSettings,
    *,
    recent_since: datetime,
    recent_until: datetime,
    features: list[str] | None = None,
    pool: str | None = None,
) -> DriftReport:
    """PSI of each of ``features`` (default: the settings') between the reference window
    and the intake decisions in ``[recent_since, recent_until)`` (of ``pool`` when given)."""
    names = features if features is not None else list(settings.features)
    version = latest_model_version(conn)
    first = first_decision_at(conn, version)
    base_end = min(first + timedelta(days=settings.baseline_days), recent_since) if first else None
    if first is None or base_end is None or base_end <= first:
        # the model has not served long enough before the window to have a reference
        return DriftReport(version, None, None, recent_since, recent_until, [])
    columns = [f for f in DRIFT_COLUMNS if f in names]
    fields = any(f.startswith("fields.") for f in names)

    def read(since: datetime, until: datetime) -> list[dict[str, Any]]:
        return decision_features(conn, since=since, until=until, columns=columns,
                                 model_version=version, with_fields=fields, pool=pool)  # fmt: skip

    base_rows, recent_rows = read(first, base_end), read(recent_since, recent_until)
    out = []
    for feature in names:
        base, recent = _values(base_rows, feature), _values(recent_rows, feature)
        value = noise = None
        n_bins = 0
        if min(len(base), len(recent)) >= settings.min_decisions:
            n_bins = len(psi_shares(base, recent, bins=settings.bins)[0])
            value = psi(base, recent, bins=settings.bins)
            noise = psi_noise(n_bins, len(base), len(recent))
        out.append(FeatureDrift(feature, value, noise, len(base), len(recent), n_bins))
    return DriftReport(version, first, base_end, recent_since, recent_until, out)
