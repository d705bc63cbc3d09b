"""Capacity-respecting routing rules and their projected impact, with honest uncertainty.

The historical mix of leads (counted per segment) is re-assigned to reps by a linear
programme that maximises expected conversions under the rates of an additive conversion model
(:mod:`leadpilot.analyze.additive`: rep, segment values, lead source, rep x segment value,
each routing dimension's interactions with their own empirical-Bayes prior spread), with each
rep's capacity as a hard limit (scipy's HiGHS via ``linprog``). Uncertainty:

* the headline lift (``Plan.lift``) is the plan's lift over round-robin under joint posterior
  draws of every rep x segment rate of the full-history model (Laplace approximation), drawn
  from every plausible combination of the interactions' spreads in proportion to its
  evidence, so the interval carries how strong segment strengths are as well as their values;
  ``benchmarks/audit_power.py`` checks its coverage of the plan's true lift on synthetic worlds;
* an out-of-sample check (``Plan.out_of_sample``, :mod:`leadpilot.analyze.crossfit`): the plan
  learned on one contiguous half of the history (time or file order) judged by the posterior
  of a model fitted on the other half alone, then the halves swapped. It is a plug-in judgement
  by a model, not a doubly robust (propensity-weighted) estimate, and conservative: each judge
  shrinks the effects it sees on half the history;
* each rule's gain is re-evaluated on the same posterior draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, sparse

from leadpilot.analyze.additive import AdditiveModel, fit_additive
from leadpilot.analyze.coding import Coded, Layout, encode, segment_keys
from leadpilot.analyze.crossfit import (
    CROSS_FIT_FOLDS,
    CrossFitLift,
    cross_fit_lift,
    posterior_lift,
)
from leadpilot.errors import DataValidationError

__all__ = [
    "COVARIATES",
    "CROSS_FIT_FOLDS",
    "Plan",
    "encode",
    "plan_routing",
    "segment_keys",
    "solve_plan",
    "summarise",
]

BOOTSTRAP_DRAWS = 1000
# lead attributes the model adjusts for without routing by them
COVARIATES = ("source",)


def _counts(
    rep_codes: NDArray[np.intp],
    other: NDArray[np.intp],
    y: NDArray[np.float64],
    shape: tuple[int, int],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ok = (rep_codes >= 0) & (other >= 0)
    n = np.zeros(shape)
    k = np.zeros(shape)
    np.add.at(n, (rep_codes[ok], other[ok]), 1.0)
    np.add.at(k, (rep_codes[ok], other[ok]), y[ok])
    return n, k


@dataclass
class Plan:
    """A capacity-respecting assignment of the historical segment mix to reps."""

    reps: list[str]
    segments: list[str]
    volume: NDArray[np.float64]  # (n_segments,) leads per segment in the history
    capacity: NDArray[np.float64]  # (n_reps,)
    capacity_source: str
    rates: NDArray[np.float64]  # (n_reps, n_segments) the model's expected rates
    observed_n: NDArray[np.float64]
    observed_k: NDArray[np.float64]
    plan: NDArray[np.float64]  # (n_reps, n_segments) leads assigned
    round_robin: NDArray[np.float64]
    historical: NDArray[np.float64]
    draws: NDArray[np.float64] = field(repr=False)  # (B, n_reps, n_segments)
    lift: CrossFitLift | None = None  # the posterior lift of this plan
    out_of_sample: CrossFitLift | None = None  # plans of each half judged by the other half
    interaction_sd: float = 0.0  # the model's rep x segment prior spread (empirical Bayes)
    # each routing dimension's own rep x value spread, by dimension name
    interaction_sds: dict[str, float] = field(default_factory=dict)
    interaction_evidence: float = 0.0  # its log Bayes factor against none
    # per routing dimension, each segment's value code (n_segments,)
    segment_values: list[NDArray[np.intp]] = field(default_factory=list, repr=False)
    fold_plans: list[NDArray[np.float64]] = field(default_factory=list, repr=False)
    # each history row's rep and segment codes, outcome and deal value (revenue impact)
    row_rep: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp), repr=False)
    row_seg: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp), repr=False)
    row_y: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    row_value: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    def conversions(self, assignment: NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected conversions of an assignment under each posterior draw, shape (B,)."""
        return np.asarray(np.einsum("bij,ij->b", self.draws, assignment), dtype=float)


def _capacities(
    reps_in_history: pd.Series, roster: pd.DataFrame | None, total: float
) -> tuple[list[str], NDArray[np.float64], str]:
    if roster is not None and "rep_id" in roster.columns:
        active = roster
        if "active" in roster.columns:
            flag = roster["active"].astype("object")
            active = roster[~flag.isin([False, "false", "False", "no", "No", 0, "0"])]
        ids = [str(r) for r in active["rep_id"].dropna()]
        if not set(ids) & set(reps_in_history.index):
            raise DataValidationError(
                "none of the reps in the roster appear in the history's rep column",
                hint="check that reps.csv rep_id values match the history's rep/owner names",
            )
        cap_col = "max_leads_per_day" if "max_leads_per_day" in active.columns else None
        weights = (
            pd.to_numeric(active[cap_col], errors="coerce").to_numpy(float)
            if cap_col
            else np.full(len(ids), np.nan)
        )
        if np.all(np.isnan(weights)):
            weights = np.ones(len(ids))
            source = "roster (equal shares: no max_leads_per_day given)"
        else:
            weights = np.where(np.isnan(weights), np.nanmedian(weights), weights)
            source = "roster max_leads_per_day (shares of the history's volume)"
        weights = np.clip(weights, 0, None)
        return ids, total * weights / weights.sum(), source
    ids = [str(r) for r in reps_in_history.index]
    return ids, reps_in_history.to_numpy(float), "historical volume per rep"


def _model_inputs(coded: Coded, layout: Layout) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Each segment's mix of covariate combinations (n_segments, n_combos), and the codes of
    each combination (n_combos, n_covariates)."""
    if not coded.cov:
        return np.ones((len(layout.segments), 1)), np.zeros((1, 0), dtype=np.intp)
    keys = np.column_stack(coded.cov)
    combos, inverse = np.unique(keys, axis=0, return_inverse=True)
    counts = np.zeros((len(layout.segments), len(combos)))
    np.add.at(counts, (coded.seg, inverse.ravel()), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    mix = np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / len(combos))
    return mix, combos.astype(np.intp)


def fit_model(
    coded: Coded,
    layout: Layout,
    interaction_sd: float | None = None,
    rep_sd: float | None = None,
    main_sd: float | None = None,
    block_sds: tuple[float, ...] | None = None,
) -> AdditiveModel:
    """The additive conversion model on (a slice of) the coded history (prior spreads None:
    chosen by empirical Bayes)."""
    return fit_additive(
        coded.y,
        coded.rep,
        coded.dim,
        coded.cov,
        n_reps=len(layout.reps),
        dim_sizes=tuple(len(v) for v in layout.dim_values),
        cov_sizes=tuple(len(v) for v in layout.cov_values),
        interaction_sd=interaction_sd,
        rep_sd=rep_sd,
        main_sd=main_sd,
        block_sds=block_sds,
    )


def plan_routing(
    data: pd.DataFrame,
    dims: list[str],
    overall: float,
    *,
    roster: pd.DataFrame | None,
    min_leads: int,
    rng: np.random.Generator,
    draws: int = BOOTSTRAP_DRAWS,
) -> Plan:
    """Solve the capacity-constrained assignment under the additive model's rates, estimate
    its lift out of sample (cross-fitting) and draw the rates' posterior uncertainty.

    ``overall`` and ``min_leads`` are kept for the callers' signature; the model's evidence
    is pooled across each rep's segments, so no per-cell lead count gates the plan.
    """
    del overall, min_leads
    assigned = data[data["rep"].notna()]
    volume_by_rep = assigned.groupby("rep", observed=True).size()
    reps, cap, cap_source = _capacities(volume_by_rep, roster, float(len(assigned)))
    coded, layout = encode(assigned, reps, dims, COVARIATES)
    segments = layout.segments
    vol = np.bincount(coded.seg, minlength=len(segments)).astype(float)
    n, k = _counts(coded.rep, coded.seg, coded.y, (len(reps), len(segments)))
    share = cap / cap.sum()
    rr = share[:, None] * vol[None, :]
    mix, combos = _model_inputs(coded, layout)
    model = fit_model(coded, layout)
    rates = model.segment_rates(layout.seg_value, mix, combos)[0]
    plan = solve_plan(rates, vol, cap)
    # Keep the posterior samples under ~30 million numbers (240 MB) on very wide tables.
    n_r, n_s = len(reps), len(segments)
    n_draws = int(min(draws, max(100, 3_000_000 // max(n_r * n_s * combos.shape[0], 1))))
    # the spread of rep x segment effects integrated out (see additive.py), so the interval
    # carries the uncertainty of how strong segment strengths are, not only of their values
    sample = model.posterior_segment_rates(layout.seg_value, mix, combos, rng, n_draws)
    out_of_sample, fold_plans = cross_fit_lift(
        coded,
        layout,
        # the folds reuse the full history's prior spread (one fit each instead of a grid)
        fit=lambda c, lay: fit_model(
            c, lay, rep_sd=model.rep_sd, main_sd=model.main_sd, block_sds=model.block_sds
        ),
        plan_for=lambda m: solve_plan(m.segment_rates(layout.seg_value, mix, combos)[0], vol, cap),
        judge=lambda m, b: m.segment_rates(layout.seg_value, mix, combos, m.draws(rng, b)),
        round_robin=rr,
        historical=n,
        draws=n_draws,
    )
    return Plan(
        reps=reps,
        segments=segments,
        volume=vol,
        capacity=cap,
        capacity_source=cap_source,
        rates=rates,
        observed_n=n,
        observed_k=k,
        plan=plan,
        round_robin=rr,
        historical=n,
        draws=sample,
        lift=posterior_lift(sample, plan, rr, n),
        out_of_sample=out_of_sample,
        interaction_sd=model.interaction_sd,
        interaction_sds={d: model.block_sd(i) for i, d in enumerate(dims)},
        interaction_evidence=model.interaction_evidence,
        fold_plans=fold_plans,
        segment_values=layout.seg_value,
        row_rep=coded.rep,
        row_seg=coded.seg,
        row_y=np.asarray(coded.y, dtype=float),
        row_value=(
            pd.to_numeric(assigned["value"], errors="coerce").to_numpy(dtype=float)
            if "value" in assigned.columns
            else np.full(len(assigned), np.nan)
        ),
    )


def solve_plan(
    rates: NDArray[np.float64],
    vol: NDArray[np.float64],
    cap: NDArray[np.float64],
) -> NDArray[np.float64]:
    """LP over x_ij (rep-major): max sum p x  s.t.  sum_i x_ij = vol_j, sum_j x_ij <= cap_i."""
    n_r, n_s = rates.shape
    a_eq = sparse.kron(sparse.csr_matrix(np.ones((1, n_r))), sparse.identity(n_s), format="csr")
    a_ub = sparse.kron(sparse.identity(n_r), sparse.csr_matrix(np.ones((1, n_s))), format="csr")
    res = optimize.linprog(
        -rates.ravel(),
        A_ub=a_ub,
        b_ub=cap + 1e-9,
        A_eq=a_eq,
        b_eq=vol,
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:  # pragma: no cover - the round-robin split is always feasible
        raise DataValidationError(f"the capacity plan could not be solved: {res.message}")
    return np.clip(res.x.reshape(n_r, n_s), 0.0, None)


def _ratio(a: NDArray[np.float64] | float, b: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """a / b, and 1 where b is 0 (no conversions at all: no lift either way)."""
    num = np.asarray(a, dtype=float)
    den = np.asarray(b, dtype=float)
    return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0), dtype=float)


def _safe_rate(conversions: float, leads: float) -> float | None:
    return float(conversions / leads) if leads > 0 else None


def _interval(values: NDArray[np.float64]) -> tuple[float, float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def summarise(plan: Plan, *, max_rules: int = 10, months: float | None = None) -> dict[str, Any]:
    """Projected lift vs round-robin and vs history, and the rules in words, as JSON.

    ``months`` (the history's span) adds each rule's gain per month."""
    cf = plan.lift
    oos = plan.out_of_sample
    point_plan = float((plan.rates * plan.plan).sum())
    point_rr = float((plan.rates * plan.round_robin).sum())
    point_hist = float((plan.rates * plan.historical).sum())
    rules = []
    for j, seg in enumerate(plan.segments):
        x = plan.plan[:, j]
        gain_draws = np.einsum("bi,i->b", plan.draws[:, :, j], x - plan.round_robin[:, j])
        gain = float(plan.rates[:, j] @ (x - plan.round_robin[:, j]))
        if gain <= 0:
            continue
        vol = plan.volume[j]
        rr_rate = float(plan.rates[:, j] @ plan.round_robin[:, j]) / vol
        targets = []
        for i in np.argsort(-x):
            if (
                x[i] < 0.2 * vol
                or x[i] <= plan.round_robin[i, j] + 1e-9
                or plan.rates[i, j] <= rr_rate
            ):
                continue
            targets.append(
                {
                    "rep": plan.reps[i],
                    "share": float(x[i] / vol),
                    "rate": float(plan.rates[i, j]),
                    "observed_leads": int(plan.observed_n[i, j]),
                    "observed_converted": int(plan.observed_k[i, j]),
                }
            )
        if not targets:
            continue
        lo, hi = _interval(gain_draws)
        who = " and ".join(
            f"{t['rep']} ({t['rate']:.0%}, n={t['observed_leads']})" for t in targets[:3]
        )
        share_note = (
            f"{targets[0]['share']:.0%} of them"
            if len(targets) == 1
            else " / ".join(f"{t['share']:.0%}" for t in targets[:3]) + " of them"
        )
        rules.append(
            {
                "segment": seg,
                "segment_leads": int(vol),
                "route_to": targets,
                "round_robin_rate": rr_rate,
                "planned_rate": float(plan.rates[:, j] @ x) / vol,
                "projected_extra_conversions": gain,
                "ci_low": lo,
                "ci_high": hi,
                "per_month": gain / months if months else None,
                "text": (
                    f"Route {seg} leads to {who} instead of round-robin ({rr_rate:.0%}): "
                    f"{share_note}, about {gain:+.1f} conversions per {int(vol)} such leads "
                    + (f"({gain / months:+.1f} a month; " if months else "(")
                    + f"95% interval {lo:+.1f} to {hi:+.1f})."
                ),
            }
        )
    rules.sort(key=lambda r: -float(r["projected_extra_conversions"]))
    return {
        "segments": len(plan.segments),
        "reps": len(plan.reps),
        "leads": int(plan.volume.sum()),
        "capacity_source": plan.capacity_source,
        "expected_conversions": {
            "plan": point_plan,
            "round_robin": point_rr,
            "historical": point_hist,
        },
        "projected_lift": {
            "value": cf.value if cf else None,
            "ci_low": cf.ci_low if cf else None,
            "ci_high": cf.ci_high if cf else None,
            "baseline": "round-robin with the same capacities",
        },
        "in_sample_lift": float(_ratio(point_plan, point_rr)) - 1.0,
        "projected_lift_vs_history": {
            "value": cf.vs_history if cf else None,
            "ci_low": cf.vs_history_low if cf else None,
            "ci_high": cf.vs_history_high if cf else None,
        },
        "model": {
            "kind": "additive ridge logistic regression (rep, segment values, source, "
            "rep x segment value)",
            "interaction_sd": plan.interaction_sd,
            "interaction_sds": dict(plan.interaction_sds),
            "log_bayes_factor": plan.interaction_evidence,
            "out_of_sample_lift": {
                "value": oos.value if oos else None,
                "ci_low": oos.ci_low if oos else None,
                "ci_high": oos.ci_high if oos else None,
            },
        },
        "probability_lift_positive": cf.probability_positive if cf else None,
        "probability_lift_15pct": cf.probability_15pct if cf else None,
        "rules": rules[:max_rules],
        "rules_total": len(rules),
        "plan": [
            {
                "rep": plan.reps[i],
                "capacity": float(plan.capacity[i]),
                "assigned": float(plan.plan[i].sum()),
                "historical": float(plan.historical[i].sum()),
                "expected_rate_plan": _safe_rate(plan.rates[i] @ plan.plan[i], plan.plan[i].sum()),
                "expected_rate_round_robin": _safe_rate(
                    plan.rates[i] @ plan.round_robin[i], plan.round_robin[i].sum()
                ),
            }
            for i in range(len(plan.reps))
        ],
    }
