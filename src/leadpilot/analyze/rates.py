"""Conversion rates with 95% Wilson score intervals, grouped by any column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

__all__ = ["rate_table", "wilson_interval"]


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval for binomial proportions (vectorised).

    Written out because it is a three-line closed form (Wilson 1927; Agresti & Coull 1998)
    and statsmodels, which has it, is not a dependency. Unlike the normal ("Wald") interval
    it stays inside [0, 1] and behaves at 0/n and n/n. ``trials == 0`` gives ``(0, 1)``.

    >>> lo, hi = wilson_interval(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = float(norm.ppf(0.5 + confidence / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, 0.0)
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        # exact ends at 0/n and n/n (the formula gives them up to rounding)
        low = np.where((n > 0) & (k > 0), np.clip(centre - half, 0.0, 1.0), 0.0)
        high = np.where((n > 0) & (k < n), np.clip(centre + half, 0.0, 1.0), 1.0)
    return np.atleast_1d(low).astype(float), np.atleast_1d(high).astype(float)


def rate_table(
    data: pd.DataFrame,
    by: str,
    *,
    label: str,
    won: bool = False,
    missing_label: str = "(missing)",
) -> pd.DataFrame:
    """Leads, conversions, rate and Wilson 95% interval per value of ``by``.

    ``data`` is the prepared frame of :func:`leadpilot.analyze.core.prepare` (column ``y``
    is the 0/1 outcome, ``won`` the 0/1/NaN closed-won flag). Rows are sorted by leads,
    largest first. When ``won`` is true, ``won`` and ``win_rate`` (won / opportunities: closed-won
    per converted lead whose deal outcome is known) are added.
    """
    keys = data[by].astype("object").where(data[by].notna(), missing_label)
    grouped = data.assign(_key=keys).groupby("_key", sort=False, observed=True)
    out = pd.DataFrame(
        {
            "leads": grouped["y"].size(),
            "converted": grouped["y"].sum(),
        }
    )
    if won:
        out["won"] = grouped["won"].sum(min_count=1)
        # a win rate is won / opportunities (converted leads whose deal outcome is known)
        opportunities = data["won"].where(data["y"] == 1)
        out["won_known"] = opportunities.groupby(keys, sort=False, observed=True).count()
    out = out.reset_index().rename(columns={"_key": label})
    out["leads"] = out["leads"].astype(int)
    out["converted"] = out["converted"].astype(int)
    out["rate"] = out["converted"] / out["leads"]
    low, high = wilson_interval(out["converted"].to_numpy(), out["leads"].to_numpy())
    out["ci_low"] = low
    out["ci_high"] = high
    if won:
        known = out.pop("won_known").astype(float)
        out["won"] = out["won"].fillna(0).astype(int)
        out["win_rate"] = np.where(known > 0, out["won"] / known.where(known > 0, 1), np.nan)
    return out.sort_values(["leads", label], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
