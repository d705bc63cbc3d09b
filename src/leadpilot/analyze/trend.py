"""Trends by month (conversion and speed-to-lead, each with its 95% interval) and speed-to-lead
by lead source.

A month's conversion rate carries a Wilson interval; its median time to first contact a
distribution-free interval from the order statistics (the binomial(n, 1/2) quantiles), so
skewed contact times need no normal approximation. Leads whose outcome is still open are
counted per month: the latest months' rates rest on the leads that closed early.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadpilot.analyze.rates import wilson_interval
from leadpilot.analyze.speed import logistic_fit

__all__ = ["MIN_MONTH_LEADS", "median_interval", "monthly_trend", "speed_by_source"]

# Months with fewer leads than this are marked thin (left out of the chart, kept in the table).
MIN_MONTH_LEADS = 30
# Speed by source needs this many leads with a contact time in a source.
MIN_SOURCE_TIMES = 10


def median_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of the median: order statistics x_(l) and x_(n-l+1) with
    l the binomial(n, 1/2) quantile at (1 - confidence) / 2 (coverage at least ``confidence``
    up to the binomial's discreteness).

    >>> median_interval(np.arange(1.0, 101.0))
    (40.0, 61.0)
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    low = max(int(stats.binom.ppf((1 - confidence) / 2, n, 0.5)), 1)
    return float(x[low - 1]), float(x[n - low])


def _slope(month_index: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """Logistic regression of conversion on the month: odds ratio per month with its 95%
    interval and p-value (None when the outcome or the month does not vary)."""
    if np.ptp(y) == 0 or np.ptp(month_index) == 0:
        return None
    beta, cov = logistic_fit(month_index.astype(float), y.astype(float))
    se = float(np.sqrt(cov[1, 1]))
    z = 1.959964
    return {
        "odds_ratio_per_month": float(np.exp(beta[1])),
        "ci_low": float(np.exp(beta[1] - z * se)),
        "ci_high": float(np.exp(beta[1] + z * se)),
        "p_value": float(2 * stats.norm.sf(abs(beta[1] / se))),
    }


def monthly_trend(data: pd.DataFrame, created_all: pd.Series) -> dict[str, Any]:
    """The ``trend`` section from the prepared leads (``created``, ``y``, ``hours``) and the
    creation dates of every row read (``created_all``, open leads included).

    ``{"available": False, "reason": ...}`` without creation dates or with one month only."""
    created = pd.to_datetime(data["created"], utc=True, errors="coerce")
    dated = created.notna()
    if dated.sum() == 0:
        return {
            "available": False,
            "reason": "The history has no creation dates, so there is no trend by month; "
            "export the lead's created date to get it",
        }
    month = created[dated].dt.tz_convert(None).dt.to_period("M")
    if month.nunique() < 2:
        return {
            "available": False,
            "reason": f"All dated leads were created in one month ({month.iloc[0]}), so there "
            "is no trend by month",
        }
    all_created = pd.to_datetime(created_all, utc=True, errors="coerce").dropna()
    all_month = all_created.dt.tz_convert(None).dt.to_period("M").value_counts()
    y = data.loc[dated, "y"].to_numpy(dtype=float)
    hours = data.loc[dated, "hours"].to_numpy(dtype=float)
    keys = month.to_numpy()
    rows = []
    for m in pd.period_range(month.min(), month.max(), freq="M"):
        sel = keys == m
        n, k = int(sel.sum()), int(y[sel].sum())
        lo, hi = wilson_interval(k, n)
        h = hours[sel]
        h = h[np.isfinite(h) & (h >= 0)]
        mlo, mhi = median_interval(h)
        rows.append(
            {
                "month": str(m),
                "leads": n,
                "open": max(int(all_month.get(m, 0)) - n, 0),
                "converted": k,
                "rate": k / n if n else None,
                "ci_low": float(lo[0]) if n else None,
                "ci_high": float(hi[0]) if n else None,
                "thin": n < MIN_MONTH_LEADS,
                "leads_with_time": len(h),
                "median_hours": float(np.median(h)) if len(h) else None,
                "median_hours_low": mlo if len(h) else None,
                "median_hours_high": mhi if len(h) else None,
            }
        )
    index = np.array([(p - month.min()).n for p in month])
    return {
        "available": True,
        "months": rows,
        "undated_leads": int((~dated).sum()),
        "conversion_slope": _slope(index, y),
        "has_speed": any(r["leads_with_time"] for r in rows),
    }


def speed_by_source(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Per lead source with at least ``MIN_SOURCE_TIMES`` contact times: median time to first
    contact (95% interval), the share reached within an hour (Wilson interval) and the
    conversion rate of those leads; slowest first."""
    hours = data["hours"].to_numpy(dtype=float)
    known = np.isfinite(hours) & (hours >= 0) & data["source"].notna().to_numpy()
    if not known.any():
        return []
    sub = data.loc[known, ["source", "hours", "y"]]
    out = []
    for source, g in sub.groupby("source", observed=True):
        h = g["hours"].to_numpy(dtype=float)
        if len(h) < MIN_SOURCE_TIMES:
            continue
        fast = int((h < 1.0).sum())
        lo, hi = wilson_interval(fast, len(h))
        mlo, mhi = median_interval(h)
        out.append(
            {
                "source": str(source),
                "leads": len(h),
                "median_hours": float(np.median(h)),
                "median_hours_low": mlo,
                "median_hours_high": mhi,
                "within_1h": fast / len(h),
                "within_1h_low": float(lo[0]),
                "within_1h_high": float(hi[0]),
                "rate": float(g["y"].mean()),
            }
        )
    return sorted(out, key=lambda r: (-r["median_hours"], r["source"]))
