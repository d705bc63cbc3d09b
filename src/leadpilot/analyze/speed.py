"""Time to first contact vs conversion: binned rates, a logistic fit on log hours, correlations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from leadpilot.analyze.rates import wilson_interval

__all__ = ["BINS", "CAUTION", "logistic_fit", "time_to_contact"]

# (label, lower bound in hours inclusive, upper bound exclusive): the bins RevOps teams use
# for speed-to-lead SLAs.
BINS: tuple[tuple[str, float, float], ...] = (
    ("<5 min", 0.0, 5 / 60),
    ("5-15 min", 5 / 60, 15 / 60),
    ("15-60 min", 15 / 60, 1.0),
    ("1-4 h", 1.0, 4.0),
    ("4-24 h", 4.0, 24.0),
    (">24 h", 24.0, np.inf),
)
# One minute added before taking logs, so an instant contact (0 h) stays finite.
_OFFSET_HOURS = 1 / 60
_MIN_LEADS = 30

CAUTION = (
    "Correlation is not causation: slow contact and low conversion can share a cause "
    "(reps who are overloaded or weaker, leads that look less promising and are left for "
    "later, nights and weekends). Treat the fitted effect as an upper bound on what faster "
    "contact alone would buy; a randomised SLA test measures it properly."
)


def logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression of y on [1, x] and the coefficients' covariance.

    Two parameters only, so it is fitted directly with scipy (analytic gradient) and the
    covariance is the inverse Fisher information (X'WX)^-1; scikit-learn's estimator does not
    give standard errors and statsmodels is not a dependency.
    """
    design = np.column_stack([np.ones_like(x), x])

    def nll(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = design @ beta
        loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        grad = design.T @ (1.0 / (1.0 + np.exp(-eta)) - y)
        return loss, grad

    p0 = np.clip(y.mean(), 1e-3, 1 - 1e-3)
    start = np.array([np.log(p0 / (1 - p0)), 0.0])
    res = optimize.minimize(nll, start, jac=True, method="BFGS")
    beta = np.asarray(res.x, dtype=float)
    p = 1.0 / (1.0 + np.exp(-(design @ beta)))
    info = design.T @ (design * (p * (1 - p))[:, None])
    return beta, np.linalg.inv(info)


def time_to_contact(data: pd.DataFrame) -> dict[str, Any]:
    """The ``time_to_contact`` section: bins with Wilson intervals, fitted effect, correlation.

    ``data`` needs columns ``hours`` (float, NaN when unknown), ``y`` (0/1) and ``rep``.
    Returns ``{"available": False, "reason": ...}`` when too few leads have a contact time.
    """
    hours = data["hours"].to_numpy(dtype=float)
    known = np.isfinite(hours) & (hours >= 0)
    negative = int(np.sum(np.isfinite(hours) & (hours < 0)))
    if known.sum() < _MIN_LEADS:
        return {
            "available": False,
            "leads_with_time": int(known.sum()),
            "reason": (
                ("No lead has" if known.sum() == 0 else f"Only {int(known.sum())} leads have")
                + f" a time to first contact (this section needs at least {_MIN_LEADS}); "
                "export first_contact_at or time_to_contact_hours to get it"
            ),
            "bins": [],
        }
    h = hours[known]
    y = data["y"].to_numpy(dtype=float)[known]
    bins = []
    for label, lo, hi in BINS:
        sel = (h >= lo) & (h < hi)
        n, k = int(sel.sum()), int(y[sel].sum())
        low, high = wilson_interval(k, n)
        bins.append(
            {
                "range": label,
                "leads": n,
                "converted": k,
                "rate": k / n if n else None,
                "ci_low": float(low[0]) if n else None,
                "ci_high": float(high[0]) if n else None,
            }
        )
    out: dict[str, Any] = {
        "available": True,
        "leads_with_time": int(known.sum()),
        "negative_times_ignored": negative,
        "median_hours": float(np.median(h)),
        "bins": bins,
        "caution": CAUTION,
    }
    x = np.log(h + _OFFSET_HOURS)
    if np.ptp(y) == 0 or np.ptp(x) == 0:
        out["fit"] = None
        out["correlation"] = None
        return out
    beta, cov = logistic_fit(x, y)
    se = float(np.sqrt(cov[1, 1]))
    z = beta[1] / se
    ln2 = np.log(2.0)

    def predict(hrs: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(beta[0] + beta[1] * np.log(hrs + _OFFSET_HOURS)))))

    out["fit"] = {
        "model": "logistic regression of conversion on log(hours + 1 minute)",
        "offset_hours": _OFFSET_HOURS,
        "intercept": float(beta[0]),
        "coefficient": float(beta[1]),
        "std_error": se,
        "odds_ratio_per_doubling": float(np.exp(beta[1] * ln2)),
        "ci_low": float(np.exp((beta[1] - 1.959964 * se) * ln2)),
        "ci_high": float(np.exp((beta[1] + 1.959964 * se) * ln2)),
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "predicted": {
            "5 min": predict(5 / 60),
            "1 h": predict(1.0),
            "24 h": predict(24.0),
        },
        "curve": [
            {"hours": float(t), "rate": predict(float(t))} for t in np.geomspace(1 / 60, 72, 40)
        ],
    }
    rho = stats.spearmanr(h, y)
    pb = stats.pointbiserialr(y, x)
    out["correlation"] = {
        "spearman_rho": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
        "point_biserial_r_log_hours": float(pb.statistic),
        "point_biserial_p": float(pb.pvalue),
    }
    by_rep = (
        pd.DataFrame({"rep": data["rep"].to_numpy()[known], "hours": h, "y": y})
        .dropna(subset=["rep"])
        .groupby("rep", observed=True)
        .agg(leads=("hours", "size"), median_hours=("hours", "median"), rate=("y", "mean"))
        .reset_index()
        .sort_values("median_hours", ascending=False)
    )
    out["by_rep"] = [
        {
            "rep": str(r["rep"]),
            "leads": int(r["leads"]),
            "median_hours": float(r["median_hours"]),
            "rate": float(r["rate"]),
        }
        for r in by_rep.to_dict("records")
    ]
    return out
