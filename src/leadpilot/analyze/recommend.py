"""Capacity-respecting routing rules and their projected impact, with honest uncertainty.

The historical mix of leads (counted per segment) is re-assigned to reps by a linear
programme that maximises expected conversions under the shrunk rep x segment rates (a
hierarchical beta-binomial model, :class:`CellModel`), with each rep's capacity as a hard
limit (scipy's HiGHS via ``linprog``). Two kinds of uncertainty are reported:

* the headline lift is cross-fitted: the history is cut into contiguous time blocks, a plan
  learned on the other blocks is judged on each block's own outcomes (parametric bootstrap
  from Beta posteriors around the held-out counts), so it is not inflated by the noise the
  plan chased (optimising and evaluating on the same leads would be);
* each rule's gain is re-evaluated on joint posterior draws of the full-history model.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, sparse

from leadpilot.analyze.shrinkage import Shrunk, combine_odds, fit_concentration, shrink
from leadpilot.errors import DataValidationError

__all__ = [
    "CellModel",
    "Coded",
    "Layout",
    "Plan",
    "cell_model",
    "encode",
    "plan_routing",
    "segment_keys",
    "summarise",
]

UNKNOWN = "(unknown)"
BOOTSTRAP_DRAWS = 1000
JUDGE_PRIOR_LEADS = 1.0
CROSS_FIT_FOLDS = 5


def segment_keys(data: pd.DataFrame, dims: list[str]) -> pd.Series:
    """Routing segment of every lead: the values of ``dims`` joined by " / "."""
    if not dims:
        return pd.Series("all leads", index=data.index)
    parts = [data[d].astype("object").where(data[d].notna(), UNKNOWN).astype(str) for d in dims]
    key = parts[0]
    for p in parts[1:]:
        key = key + " / " + p
    return key


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(p / (1 - p)), dtype=float)


def _expit(z: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=float)


@dataclass
class _Affinity:
    """Shrunk rates of one dimension's rep x value cells, mapped onto rep x segment."""

    post: Shrunk  # flat over the (n_reps, n_values) grid: fitted prior strength
    post_ci: Shrunk  # the same with the strength capped by each rep's evidence, for draws
    index: NDArray[np.intp]  # (n_reps, n_segments) -> position in post
    center: NDArray[np.float64]  # (n_reps, n_segments) log-odds of the no-affinity prior


@dataclass
class CellModel:
    """Hierarchical model of every rep x routing-segment conversion rate.

    log-odds(cell) = log-odds(rep) + log-odds(segment) - log-odds(team)
                     + sum over dimensions of the rep's affinity to the segment's value,
    each ingredient with its own Beta posterior; the cell's own leads then update that prior
    (beta-binomial, strength fitted). ``sample`` draws all ingredients, so a rep's cells move
    together, and their uncertainty reaches the projected lift.
    """

    rep_post: Shrunk  # (n_reps,)
    rep_post_ci: Shrunk
    offset: NDArray[np.float64]  # (n_reps, n_segments): segment and team terms
    affinities: list[_Affinity]
    n: NDArray[np.float64]
    k: NDArray[np.float64]
    strength: NDArray[np.float64]  # (n_reps, n_segments) fitted prior strength of the cells
    strength_ci: NDArray[np.float64]  # the same capped by the rep's evidence, for draws

    def _prior_logit(
        self, rep_term: NDArray[np.float64], aff_terms: list[NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        z = rep_term + self.offset
        for term in aff_terms:
            z = z + term
        return z

    @property
    def rates(self) -> NDArray[np.float64]:
        """Posterior mean rate of each cell, shape ``(n_reps, n_segments)``."""
        rep_term = _logit(self.rep_post.mean)[:, None]
        aff = [_logit(a.post.mean[a.index]) - a.center for a in self.affinities]
        prior = _expit(self._prior_logit(rep_term, aff))
        alpha = self.k + self.strength * prior
        return np.asarray(alpha / (self.n + self.strength), dtype=float)

    def sample(self, rng: np.random.Generator, draws: int) -> NDArray[np.float64]:
        """Joint posterior draws of every cell, shape ``(draws, n_reps, n_segments)``."""
        rep_term = _logit(self.rep_post_ci.sample(rng, draws))[:, :, None]
        aff = [_logit(a.post_ci.sample(rng, draws)[:, a.index]) - a.center for a in self.affinities]
        prior = _expit(self._prior_logit(rep_term, aff))
        s = self.strength_ci
        return rng.beta(self.k + s * prior, self.n - self.k + s * (1.0 - prior))


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


@dataclass(frozen=True)
class Coded:
    """The prepared history as integer codes, computed once and sliced for the folds.

    ``rep`` and ``seg`` index ``Layout.reps`` / ``Layout.segments`` (-1 = not on the
    roster); ``dim[d]`` indexes ``Layout.dim_values[d]``.
    """

    y: NDArray[np.float64]
    rep: NDArray[np.intp]
    seg: NDArray[np.intp]
    dim: list[NDArray[np.intp]]

    def rows(self, sel: slice | NDArray[np.intp]) -> Coded:
        """The same codes for a subset of leads."""
        return Coded(self.y[sel], self.rep[sel], self.seg[sel], [d[sel] for d in self.dim])


@dataclass(frozen=True)
class Layout:
    """Reps, routing segments and the value of each dimension that makes up each segment."""

    reps: list[str]
    segments: list[str]
    dim_values: list[list[str]]
    seg_value: list[NDArray[np.intp]]  # per dimension, shape (n_segments,)


def encode(data: pd.DataFrame, reps: list[str], dims: list[str]) -> tuple[Coded, Layout]:
    """Integer codes of the leads' reps, routing segments and dimension values."""
    seg_of = segment_keys(data, dims)
    segments = sorted(seg_of.unique().astype(str))
    seg_codes = pd.Index(segments).get_indexer(pd.Index(seg_of))
    dim_values: list[list[str]] = []
    dim_codes: list[NDArray[np.intp]] = []
    seg_value: list[NDArray[np.intp]] = []
    parts = [s.split(" / ") for s in segments]
    for d_i, d in enumerate(dims):
        col = data[d].astype("object").where(data[d].notna(), UNKNOWN).astype(str)
        values = sorted(col.unique())
        dim_values.append(values)
        dim_codes.append(pd.Index(values).get_indexer(pd.Index(col)))
        seg_value.append(pd.Index(values).get_indexer(pd.Index([p[d_i] for p in parts])))
    coded = Coded(
        y=data["y"].to_numpy(float),
        rep=pd.Index(reps).get_indexer(pd.Index(data["rep"])),
        seg=seg_codes,
        dim=dim_codes,
    )
    return coded, Layout(reps, segments, dim_values, seg_value)


def cell_model(coded: Coded, layout: Layout, overall: float) -> CellModel:
    """Fit the :class:`CellModel` of every rep x routing segment on (a slice of) the history."""
    y, rep_codes = coded.y, coded.rep
    n_reps = len(layout.reps)
    shape = (n_reps, len(layout.segments))
    n, k = _counts(rep_codes, coded.seg, y, shape)
    on_roster = rep_codes >= 0
    rep_n = np.bincount(rep_codes[on_roster], minlength=n_reps).astype(float)
    rep_k = np.bincount(rep_codes[on_roster], weights=y[on_roster], minlength=n_reps)
    typical = float(np.median(rep_n[rep_n > 0])) if (rep_n > 0).any() else 1.0
    # A rep without history is as uncertain as a typical rep's volume of evidence allows.
    rep_post = shrink(rep_k, rep_n, overall)
    rep_post_ci = shrink(
        rep_k, rep_n, overall, rep_post.kappa, evidence=np.where(rep_n > 0, rep_n, typical)
    )
    rep_rate = rep_post.mean

    dims = layout.dim_values
    dim_rate_per_seg = []
    affinities: list[_Affinity] = []
    for d_i, values in enumerate(dims):
        vn, vk = _counts(rep_codes, coded.dim[d_i], y, (n_reps, len(values)))
        tot_n, tot_k = vn.sum(axis=0), vk.sum(axis=0)
        # a value absent from this slice of history falls back to the team rate
        v_rate = np.where(tot_n > 0, tot_k / np.maximum(tot_n, 1), overall)
        prior = combine_odds([rep_rate[:, None], v_rate[None, :]], [np.full(vn.shape, overall)])
        post = shrink(vk.ravel(), vn.ravel(), prior.ravel())
        post_ci = shrink(
            vk.ravel(),
            vn.ravel(),
            prior.ravel(),
            post.kappa,
            evidence=np.repeat(np.maximum(rep_n, 1.0), len(values)),
        )
        seg_v = layout.seg_value[d_i]
        index = np.arange(n_reps)[:, None] * len(values) + seg_v[None, :]
        affinities.append(
            _Affinity(post=post, post_ci=post_ci, index=index, center=_logit(prior.ravel()[index]))
        )
        dim_rate_per_seg.append(v_rate[seg_v])
    seg_n, seg_k = n.sum(axis=0), k.sum(axis=0)
    n_segs = len(layout.segments)
    if len(dims) > 1:
        seg_prior = combine_odds(dim_rate_per_seg, [np.full(n_segs, overall)] * (len(dims) - 1))
    else:
        seg_prior = np.full(n_segs, overall)
    seg_rate = shrink(seg_k, seg_n, seg_prior).mean
    offset = np.broadcast_to(_logit(seg_rate)[None, :] - _logit(np.array(overall)), shape).copy()
    model = CellModel(
        rep_post=rep_post,
        rep_post_ci=rep_post_ci,
        offset=offset,
        affinities=affinities,
        n=n,
        k=k,
        strength=np.zeros(shape),
        strength_ci=np.zeros(shape),
    )
    # fit the cells' own prior strength around the point prior, capped by the rep's evidence
    rep_term = _logit(rep_post.mean)[:, None]
    aff = [_logit(a.post.mean[a.index]) - a.center for a in affinities]
    point_prior = _expit(model._prior_logit(rep_term, aff))
    kappa = fit_concentration(k.ravel(), n.ravel(), point_prior.ravel())
    model.strength = np.full(shape, kappa)
    model.strength_ci = np.minimum(kappa, np.maximum(rep_n, 1.0))[:, None] * np.ones(shape)
    return model


@dataclass
class Plan:
    """A capacity-respecting assignment of the historical segment mix to reps."""

    reps: list[str]
    segments: list[str]
    volume: NDArray[np.float64]  # (n_segments,) leads per segment in the history
    capacity: NDArray[np.float64]  # (n_reps,)
    capacity_source: str
    rates: NDArray[np.float64]  # (n_reps, n_segments) posterior means
    observed_n: NDArray[np.float64]
    observed_k: NDArray[np.float64]
    plan: NDArray[np.float64]  # (n_reps, n_segments) leads assigned
    round_robin: NDArray[np.float64]
    historical: NDArray[np.float64]
    draws: NDArray[np.float64] = field(repr=False)  # (B, n_reps, n_segments)
    # (B, 3) conversions of the cross-fitted plan, round-robin and history; and their point
    cross_fit_draws: NDArray[np.float64] = field(
        repr=False, default_factory=lambda: np.zeros((0, 3))
    )
    cross_fit_point: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    fold_plans: list[NDArray[np.float64]] = field(default_factory=list, repr=False)

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
    """Solve the capacity-constrained assignment and draw its posterior uncertainty.

    A rep may take more than its round-robin share of a segment only if it has at least
    ``min_leads`` leads of that segment in the history: rules rest on evidence, not priors.
    """
    assigned = data[data["rep"].notna()]
    volume_by_rep = assigned.groupby("rep", observed=True).size()
    reps, cap, cap_source = _capacities(volume_by_rep, roster, float(len(assigned)))
    coded, layout = encode(assigned, reps, dims)
    segments = layout.segments
    vol = np.bincount(coded.seg, minlength=len(segments)).astype(float)
    model = cell_model(coded, layout, overall)
    n, k = model.n, model.k
    n_r, n_s = len(reps), len(segments)
    share = cap / cap.sum()
    rr = share[:, None] * vol[None, :]
    plan = _solve(model.rates, n, vol, cap, rr, min_leads)
    # Keep the posterior samples under ~30 million numbers (240 MB) on very wide tables.
    draws = int(min(draws, max(200, 10_000_000 // max(n_r * n_s, 1))))
    sample = model.sample(rng, draws)

    # Cross-fitting: the history is cut into contiguous blocks (time order); a plan chosen on
    # all the other blocks is judged by each block's own outcomes, so the headline lift is not
    # inflated by the noise the plan chased (the winner's curse of optimising and evaluating
    # on the same leads). Each plan learns from (K-1)/K of the history, so it is only a little
    # worse than the full plan: the estimate is slightly conservative.
    bounds = np.linspace(0, len(assigned), CROSS_FIT_FOLDS + 1).astype(int)
    plan_conv = np.zeros(draws)
    rr_conv = np.zeros(draws)
    hist_conv = np.zeros(draws)
    point = np.zeros(3)
    fold_plans = []
    for lo, hi in itertools.pairwise(bounds):
        train = np.r_[0:lo, hi : len(assigned)]
        learned = cell_model(coded.rows(train), layout, overall)
        chosen = _solve(learned.rates, learned.n, vol, cap, rr, min_leads)
        fold_plans.append(chosen)
        block = coded.rows(slice(lo, hi))
        block_n, block_k = _counts(block.rep, block.seg, block.y, learned.n.shape)
        # The judge is the block's own counts with a one-lead prior (the learned rate, which
        # only matters for cells the block never saw): nearly unbiased for each cell, where a
        # model shrunk on the small block would understate real gaps.
        alpha = block_k + JUDGE_PRIOR_LEADS * learned.rates
        beta = block_n - block_k + JUDGE_PRIOR_LEADS * (1.0 - learned.rates)
        judge_rates = alpha / (alpha + beta)
        judge_draws = rng.beta(alpha, beta, size=(draws, *alpha.shape))
        plan_conv += np.einsum("bij,ij->b", judge_draws, chosen)
        rr_conv += np.einsum("bij,ij->b", judge_draws, rr)
        hist_conv += np.einsum("bij,ij->b", judge_draws, n)
        point += [float((judge_rates * x).sum()) for x in (chosen, rr, n)]
    return Plan(
        reps=reps,
        segments=segments,
        volume=vol,
        capacity=cap,
        capacity_source=cap_source,
        rates=model.rates,
        observed_n=n,
        observed_k=k,
        plan=plan,
        round_robin=rr,
        historical=n,
        draws=sample,
        cross_fit_draws=np.column_stack([plan_conv, rr_conv, hist_conv]),
        cross_fit_point=point,
        fold_plans=fold_plans,
    )


def _solve(
    rates: NDArray[np.float64],
    n: NDArray[np.float64],
    vol: NDArray[np.float64],
    cap: NDArray[np.float64],
    rr: NDArray[np.float64],
    min_leads: int,
) -> NDArray[np.float64]:
    """LP over x_ij (rep-major): max sum p x  s.t.  sum_i x_ij = vol_j, sum_j x_ij <= cap_i,
    and x_ij <= round-robin share where the rep has fewer than ``min_leads`` of segment j."""
    n_r, n_s = rates.shape
    a_eq = sparse.kron(sparse.csr_matrix(np.ones((1, n_r))), sparse.identity(n_s), format="csr")
    a_ub = sparse.kron(sparse.identity(n_r), sparse.csr_matrix(np.ones((1, n_s))), format="csr")
    upper = np.where(n >= min_leads, vol[None, :], rr).ravel()
    res = optimize.linprog(
        -rates.ravel(),
        A_ub=a_ub,
        b_ub=cap + 1e-9,
        A_eq=a_eq,
        b_eq=vol,
        bounds=np.column_stack([np.zeros(n_r * n_s), upper]),
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
    cf = plan.cross_fit_draws
    lift_rr = _ratio(cf[:, 0], cf[:, 1]) - 1.0
    lift_hist = _ratio(cf[:, 0], cf[:, 2]) - 1.0
    p_plan, p_rr, p_hist = (float(v) for v in plan.cross_fit_point)
    point_plan = float((plan.rates * plan.plan).sum())
    point_rr = float((plan.rates * plan.round_robin).sum())
    point_hist = float((plan.rates * plan.historical).sum())
    rr_lo, rr_hi = _interval(lift_rr)
    h_lo, h_hi = _interval(lift_hist)
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
            "value": float(_ratio(p_plan, p_rr)) - 1.0,
            "ci_low": rr_lo,
            "ci_high": rr_hi,
            "baseline": "round-robin with the same capacities",
        },
        "in_sample_lift": float(_ratio(point_plan, point_rr)) - 1.0,
        "projected_lift_vs_history": {
            "value": float(_ratio(p_plan, p_hist)) - 1.0,
            "ci_low": h_lo,
            "ci_high": h_hi,
        },
        "probability_lift_positive": float(np.mean(lift_rr > 0)),
        "probability_lift_15pct": float(np.mean(lift_rr >= 0.15)),
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
