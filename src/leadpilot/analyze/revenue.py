"""Projected revenue impact of the audit's plan, next to its conversion lift.

The plan (:mod:`leadpilot.analyze.recommend`) re-assigns the history's segment mix to reps to
maximise expected conversions. What that is worth in pipeline value depends on the deal
size each rep closes in each segment: E(deal | rep, segment) is estimated from the converted
leads whose ``deal_value`` is known, on the log scale (deal sizes are skewed), with
normal-normal shrinkage of each rep x segment mean towards its segment's mean and of each
segment's towards the overall mean (so a cell with two deals says little), and log-normal
residuals: E(deal) = exp(mean + sigma^2 / 2). The revenue of an assignment is
sum(rate x E(deal) x leads); its uncertainty combines the plan's posterior draws of the
rates with draws of the cell means from their approximate posteriors. Reported: the plan's
pipeline value against round-robin's with the same capacities (difference, 95% interval)
over the history's leads, per month when the history spans months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["MIN_VALUED_DEALS", "RevenueImpact", "revenue_impact", "revenue_sentence"]

MIN_VALUED_DEALS = 30
PRIOR_SD = 0.5  # log units: spread of rep x segment means around their segment's


@dataclass(frozen=True, slots=True)
class RevenueImpact:
    """The plan's pipeline value against round-robin's (same units as ``deal_value``)."""

    value: float
    ci_low: float
    ci_high: float
    plan: float
    round_robin: float
    per_month: float | None
    deals: int

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready figures."""
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "plan": self.plan,
            "round_robin": self.round_robin,
            "per_month": self.per_month,
            "deals": self.deals,
        }


def _shrunk(
    sums: NDArray[np.float64], n: NDArray[np.float64], prior: NDArray[np.float64], k: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Posterior mean and the weight left on the prior (normal-normal, prior worth ``k``
    deals)."""
    mean = (sums + k * prior) / (n + k)
    return mean, k / (n + k)


def revenue_impact(
    rep: NDArray[np.intp],
    seg: NDArray[np.intp],
    y: NDArray[np.float64],
    value: NDArray[np.float64],
    rate_draws: NDArray[np.float64],
    plan: NDArray[np.float64],
    round_robin: NDArray[np.float64],
    *,
    rng: np.random.Generator,
    months: float | None = None,
) -> RevenueImpact | None:
    """The revenue impact (see the module docstring) or ``None`` when fewer than
    ``MIN_VALUED_DEALS`` converted leads have a deal value. ``rep``/``seg``: each history
    row's codes (-1: off the roster); ``y``: converted; ``value``: ``deal_value`` (NaN when
    unknown); ``rate_draws``: shape ``(B, n_reps, n_segments)``; ``plan``/``round_robin``:
    leads per rep and segment."""
    n_r, n_s = plan.shape
    ok = (y > 0) & np.isfinite(value) & (value > 0) & (rep >= 0) & (seg >= 0)
    if ok.sum() < MIN_VALUED_DEALS:
        return None
    logv = np.log(value[ok])
    r, s = rep[ok], seg[ok]
    sigma2 = float(np.var(logv)) if len(logv) > 1 else 1.0
    # residual variance within rep x segment cells (pooled), the noise of one deal
    cells = pd.DataFrame({"r": r, "s": s, "v": logv}).groupby(["r", "s"])["v"]
    within = cells.var(ddof=1).dropna()
    counts = cells.count()
    dof = counts.loc[within.index] - 1
    if dof.sum() > 0:
        sigma2 = float((within * dof).sum() / dof.sum())
    sigma2 = max(sigma2, 1e-6)  # identical deals: no noise, but keep the algebra finite
    overall = float(logv.mean())
    k_seg = sigma2 / PRIOR_SD**2
    n_seg = np.bincount(s, minlength=n_s).astype(float)
    sum_seg = np.bincount(s, weights=logv, minlength=n_s).astype(float)
    seg_mean, _ = _shrunk(sum_seg, n_seg, np.full(n_s, overall), k_seg)
    n_cell = np.zeros((n_r, n_s))
    sum_cell = np.zeros((n_r, n_s))
    np.add.at(n_cell, (r, s), 1.0)
    np.add.at(sum_cell, (r, s), logv)
    cell_mean, _ = _shrunk(sum_cell, n_cell, np.broadcast_to(seg_mean, (n_r, n_s)), k_seg)
    cell_sd = np.sqrt(sigma2 / (n_cell + k_seg))
    draws = rate_draws.shape[0]
    mu = cell_mean[None] + cell_sd[None] * rng.standard_normal((draws, n_r, n_s))
    deal = np.exp(mu + sigma2 / 2)
    revenue = rate_draws * deal
    diff = np.einsum("bij,ij->b", revenue, plan - round_robin)
    point = np.exp(cell_mean + sigma2 / 2) * rate_draws.mean(axis=0)
    value_plan = float((point * plan).sum())
    value_rr = float((point * round_robin).sum())
    lo, hi = np.percentile(diff, [2.5, 97.5])
    gain = value_plan - value_rr
    return RevenueImpact(
        value=gain,
        ci_low=float(lo),
        ci_high=float(hi),
        plan=value_plan,
        round_robin=value_rr,
        per_month=gain / months if months else None,
        deals=int(ok.sum()),
    )


def revenue_sentence(revenue: dict[str, float | int | None] | None) -> str | None:
    """The report's sentence on the revenue impact (``None`` when there is none)."""
    if not revenue:
        return None
    gain, lo, hi = revenue["value"], revenue["ci_low"], revenue["ci_high"]
    per_month = revenue.get("per_month")
    month = f" ({per_month:+,.0f} a month)" if per_month is not None else ""
    return (
        f"Projected revenue impact of the same plan: {gain:+,.0f} of pipeline value over "
        f"round-robin on the history's leads{month}, 95% interval {lo:+,.0f} to {hi:+,.0f} "
        f"(deal sizes per rep and segment from {revenue['deals']:,} deals with a value; "
        "the plan maximises conversions, so this is what its conversions are worth, not a "
        "value-maximising plan: see objective: pipeline_value)."
    )
