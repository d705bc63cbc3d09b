"""Does the assigned rep matter beyond chance? G-tests on the rep x segment x outcome table.

* **rep within segment** (rep main effect plus rep x segment interaction): are the reps'
  conversion rates inside each segment more different than chance would make them? Null:
  ``p_ij = p_j``; p-value by permutation within segments (exact, conditional on the
  segment totals). This is the test the verdict rests on.
* **rep x segment interaction**: beyond each rep's overall skill, do some reps do
  especially well with some segments? Null: the additive logistic model
  ``logit p_ij = a_i + b_j``, fitted as the log-linear model [RS][RY][SY] by iterative
  proportional fitting (the two are the same model; IPF needs no optimiser and vectorises
  over bootstrap replicates); p-value by parametric bootstrap.

The chi-square approximation is also reported, but sparse tables make it unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = ["GTest", "interaction_test", "rep_within_segment_test"]


@dataclass(frozen=True)
class GTest:
    """One likelihood-ratio test: statistic, degrees of freedom, asymptotic and resampled p."""

    name: str
    g: float
    df: int
    p_asymptotic: float
    p_value: float
    draws: int
    method: str = "parametric bootstrap"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "test": self.name,
            "g_statistic": self.g,
            "df": self.df,
            "p_value_asymptotic": self.p_asymptotic,
            "p_value": self.p_value,
            "p_value_method": self.method,
            "draws": self.draws,
        }


def _xlogy_ratio(obs: NDArray[np.float64], exp: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(obs > 0, obs * np.log(obs / np.where(exp > 0, exp, 1.0)), 0.0)
    return np.asarray(term, dtype=float)


def _g(
    k: NDArray[np.float64], n: NDArray[np.float64], e: NDArray[np.float64]
) -> NDArray[np.float64]:
    """G = 2 sum obs log(obs/exp) over both outcome cells; trailing axes are summed."""
    axes = tuple(range(k.ndim - 2, k.ndim))
    val = _xlogy_ratio(k, e) + _xlogy_ratio(n - k, n - e)
    return np.asarray(2.0 * val.sum(axis=axes), dtype=float)


def _pooled_g(
    k: NDArray[np.float64],
    n: NDArray[np.float64],
    e: NDArray[np.float64],
    groups: list[NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Sum over groupings of G on the rep x group tables (segments pooled into groups by the
    one-hot ``(n_segments, n_groups)`` matrices); ``k`` may carry leading draw axes."""
    total = np.zeros(k.shape[:-2])
    for onehot in groups:
        total = total + _g(k @ onehot, n @ onehot, e @ onehot)
    return total


def rep_within_segment_test(
    k: NDArray[np.float64],
    n: NDArray[np.float64],
    *,
    draws: int,
    rng: np.random.Generator,
    groups: list[NDArray[np.float64]] | None = None,
) -> GTest:
    """Test ``p_ij = p_j`` on ``(n_reps, n_segments)`` arrays of conversions and leads.

    The p-value is a permutation test: under the null the reps are exchangeable within a
    segment, so each segment's conversions are re-dealt among its leads at random
    (multivariate hypergeometric, segment totals fixed). Conditioning on the totals keeps it
    exact however sparse the table; a plug-in parametric bootstrap is not (with one or two
    leads per cell, G is driven by the estimated segment rates and the bootstrap is biased).

    ``groups`` (one-hot ``(n_segments, n_groups)`` matrices, e.g. all segments together, by
    industry, by size band) makes the statistic the sum of G over the rep x group tables with
    the within-segment expectations pooled: a rep who is better across many thin segments is
    seen there, where the cell-by-cell G spreads it over hundreds of degrees of freedom. The
    permutation stays within segments, so the test is exact either way.
    """
    seg_n = n.sum(axis=0)
    seg_k = k.sum(axis=0)
    seg_rate = seg_k / np.where(seg_n > 0, seg_n, 1)
    expected = n * seg_rate[None, :]
    if groups:
        g_obs = float(_pooled_g(k, n, expected, groups))
        df = sum(
            max(int((n.sum(axis=1) > 0).sum()) - 1, 0) * int(((n @ g).sum(axis=0) > 0).sum())
            for g in groups
        )
    else:
        g_obs = float(_g(k, n, expected))
        df = int(sum(max(int((n[:, j] > 0).sum()) - 1, 0) for j in range(n.shape[1])))
    g_sim = np.zeros(draws)
    sim_k = np.zeros((draws, *n.shape)) if groups else None
    for j in range(n.shape[1]):
        rows = np.flatnonzero(n[:, j] > 0)
        if rows.size < 2 or seg_k[j] in (0, seg_n[j]):
            if sim_k is not None:
                sim_k[:, rows, j] = k[rows, j]
            continue  # nothing to re-deal: this segment adds the same G to every draw (0)
        sim = rng.multivariate_hypergeometric(
            n[rows, j].astype(np.int64), int(seg_k[j]), size=draws
        ).astype(float)
        if sim_k is not None:
            sim_k[:, rows, j] = sim
        else:
            g_sim += _g(
                sim[:, :, None],
                n[rows, j][None, :, None],
                (n[rows, j] * seg_rate[j])[None, :, None],
            )
    if sim_k is not None and groups:
        g_sim = _pooled_g(sim_k, n[None], expected[None], groups)
    p_perm = float((1 + np.sum(g_sim >= g_obs - 1e-9)) / (draws + 1))
    p_asym = float(stats.chi2.sf(g_obs, df)) if df > 0 else 1.0
    return GTest("rep within segment", g_obs, df, p_asym, p_perm, draws, "permutation")


def _ipf_additive(
    k: NDArray[np.float64], n: NDArray[np.float64], iterations: int = 200
) -> NDArray[np.float64]:
    """Expected conversions under [RS][RY][SY]; ``k``/``n`` have shape ``(..., reps, segs)``."""
    yes = np.where(
        n > 0, n * (k.sum(axis=(-2, -1), keepdims=True) / n.sum(axis=(-2, -1), keepdims=True)), 0.0
    )
    for _ in range(iterations):
        before = yes
        no = n - yes
        # rep x outcome margins
        yes = yes * _safe_div(k.sum(axis=-1, keepdims=True), yes.sum(axis=-1, keepdims=True))
        no = no * _safe_div((n - k).sum(axis=-1, keepdims=True), no.sum(axis=-1, keepdims=True))
        yes, no = _rescale_rs(yes, no, n)
        # segment x outcome margins
        yes = yes * _safe_div(k.sum(axis=-2, keepdims=True), yes.sum(axis=-2, keepdims=True))
        no = no * _safe_div((n - k).sum(axis=-2, keepdims=True), no.sum(axis=-2, keepdims=True))
        yes, no = _rescale_rs(yes, no, n)
        if np.max(np.abs(yes - before)) < 1e-7:  # converged (usually within ~20 sweeps)
            break
    return yes


def _safe_div(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0), dtype=float)


def _rescale_rs(
    yes: NDArray[np.float64], no: NDArray[np.float64], n: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    total = yes + no
    scale = _safe_div(n, total)
    return yes * scale, no * scale


def interaction_test(
    k: NDArray[np.float64], n: NDArray[np.float64], *, draws: int, rng: np.random.Generator
) -> GTest:
    """Test the additive (no rep x segment interaction) model against the saturated one."""
    expected = _ipf_additive(k, n)
    g_obs = float(_g(k, n, expected))
    reps = int((n.sum(axis=1) > 0).sum())
    segs = int((n.sum(axis=0) > 0).sum())
    cells = int((n > 0).sum())
    df = max(cells - reps - segs + 1, 0)
    prob = _safe_div(expected, n)
    sim_k = rng.binomial(n.astype(np.int64), np.clip(prob, 0, 1), size=(draws, *n.shape)).astype(
        float
    )
    sim_e = _ipf_additive(sim_k, np.broadcast_to(n, sim_k.shape), iterations=60)
    g_sim = _g(sim_k, np.broadcast_to(n, sim_k.shape), sim_e)
    p_boot = float((1 + np.sum(g_sim >= g_obs - 1e-9)) / (draws + 1))
    p_asym = float(stats.chi2.sf(g_obs, df)) if df > 0 else 1.0
    return GTest("rep x segment interaction", g_obs, df, p_asym, p_boot, draws)
