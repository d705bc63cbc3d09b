"""The plan's projected lift, estimated out of sample by cross-fitting.

The history is cut into two contiguous halves (time order, or file order without dates). The
plan learned from one half is judged by the additive model fitted on the other half alone:
its posterior (Laplace) draws of every rep x segment rate, over the whole history's segment
mix, give the plan's and round-robin's expected conversions. Then the halves swap roles and
the two judgements are summed. The judge never saw the data the plan was chosen on, so the
estimate is not flattered by noise the plan chased (the winner's curse of judging a plan on
the rates it was optimised for); the judge's ridge shrinkage makes it conservative (a rep x
segment effect it cannot confirm counts as none) and its posterior spread is the interval.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leadpilot.analyze.additive import AdditiveModel
from leadpilot.analyze.coding import Coded, Layout

__all__ = ["CROSS_FIT_FOLDS", "CrossFitLift", "cross_fit_lift", "posterior_lift"]

CROSS_FIT_FOLDS = 2

NDF = NDArray[np.float64]


@dataclass(frozen=True)
class CrossFitLift:
    """Cross-fitted lift of the plan over round-robin and over the history, with 95% intervals
    (``None`` when it cannot be computed: no conversions at all)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    vs_history: float | None
    vs_history_low: float | None
    vs_history_high: float | None
    probability_positive: float | None
    probability_15pct: float | None
    conversions: tuple[float, float, float]  # plan, round-robin, history (estimated sums)
    folds: int


def _interval(values: NDF) -> tuple[float, float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _lift(totals: NDF, folds: int) -> CrossFitLift:
    """Lift of column 0 over columns 1 (round-robin) and 2 (history) of (draws, 3) totals."""
    plan_c, rr_c, hist_c = totals[:, 0], totals[:, 1], totals[:, 2]
    sums = (float(plan_c.mean()), float(rr_c.mean()), float(hist_c.mean()))
    if sums[1] <= 0:
        return CrossFitLift(None, None, None, None, None, None, None, None, sums, folds)
    lift = plan_c / np.where(rr_c > 0, rr_c, np.nan) - 1.0
    vs_hist = plan_c / np.where(hist_c > 0, hist_c, np.nan) - 1.0
    lo_rr, hi_rr = _interval(lift)
    lo_h, hi_h = _interval(vs_hist)
    return CrossFitLift(
        value=sums[0] / sums[1] - 1.0,
        ci_low=lo_rr,
        ci_high=hi_rr,
        vs_history=sums[0] / sums[2] - 1.0 if sums[2] > 0 else None,
        vs_history_low=lo_h,
        vs_history_high=hi_h,
        probability_positive=float(np.mean(lift > 0)),
        probability_15pct=float(np.mean(lift >= 0.15)),
        conversions=sums,
        folds=folds,
    )


def posterior_lift(rates: NDF, plan: NDF, round_robin: NDF, historical: NDF) -> CrossFitLift:
    """The plan's lift under posterior draws ``rates`` (draws, n_reps, n_segments)."""
    totals = np.column_stack(
        [np.einsum("bij,ij->b", rates, a) for a in (plan, round_robin, historical)]
    )
    return _lift(totals, 0)


def cross_fit_lift(
    coded: Coded,
    layout: Layout,
    *,
    fit: Callable[[Coded, Layout], AdditiveModel],
    plan_for: Callable[[AdditiveModel], NDF],
    judge: Callable[[AdditiveModel, int], NDF],
    round_robin: NDF,
    historical: NDF,
    draws: int,
    folds: int = CROSS_FIT_FOLDS,
) -> tuple[CrossFitLift, list[NDF]]:
    """Judge the plan learned on each part of the history by the model of the rest.

    ``plan_for(model)`` -> (n_reps, n_segments) leads assigned; ``judge(model, draws)`` ->
    (draws, n_reps, n_segments) posterior rates; ``round_robin`` and ``historical``: the
    baselines' assignments. Returns the estimate and each fold's plan."""
    n = len(coded.y)
    bounds = np.linspace(0, n, folds + 1).astype(int)
    totals = np.zeros((draws, 3))
    fold_plans: list[NDF] = []
    for lo, hi in itertools.pairwise(bounds):
        if hi <= lo or hi - lo == n:
            continue
        rest = np.r_[0:lo, hi:n]
        chosen = plan_for(fit(coded.rows(rest), layout))
        fold_plans.append(chosen)
        rates = judge(fit(coded.rows(slice(lo, hi)), layout), draws)
        # each part is judged on its own share of the history's volume
        weight = (hi - lo) / n
        for col, assignment in enumerate((chosen, round_robin, historical)):
            totals[:, col] += weight * np.einsum("bij,ij->b", rates, assignment)
    return _lift(totals, len(fold_plans)), fold_plans
