"""Metrics of probabilistic predictions: AUC, log loss, Brier, calibration error, reliability
table, per-group breakdowns, bootstrap intervals of the difference between two models, the
expected AUC / Brier when the true probabilities are known (synthetic worlds), and
``jsonable`` to write any of them as strict JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

__all__ = [
    "auc_difference",
    "auc_differences",
    "expected_auc",
    "expected_brier",
    "expected_calibration_error",
    "jsonable",
    "metrics",
    "metrics_by_group",
    "reliability_table",
]

NDF = NDArray[np.float64]
_CLIP = 1e-6


def expected_auc(p_true: NDF, scores: NDF) -> float:
    """AUC expected over the outcomes when row ``i`` converts with probability ``p_true[i]``:
    every row counts as a positive with weight ``p_true`` and as a negative with weight
    ``1 - p_true`` (the pair of a row with itself is not a real pair; its share, about
    1/n, is the same for every scorer compared on the same rows)."""
    p_true, scores = np.asarray(p_true, np.float64), np.asarray(scores, np.float64)
    y = np.r_[np.ones(len(scores)), np.zeros(len(scores))]
    return float(roc_auc_score(y, np.r_[scores, scores], sample_weight=np.r_[p_true, 1 - p_true]))


def expected_brier(p_true: NDF, p: NDF) -> float:
    """Brier score expected over the outcomes: mean(p_true (1 - p_true) + (p - p_true)^2)."""
    p_true, p = np.asarray(p_true, np.float64), np.asarray(p, np.float64)
    return float(np.mean(p_true * (1 - p_true) + (p - p_true) ** 2))


def expected_calibration_error(y: NDF, p: NDF, *, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean prediction| over ``bins`` equal-width bins."""
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    if len(y) == 0:
        return math.nan
    # the bins of reliability_table, without its DataFrame (metrics_by_group calls this
    # once per group)
    b = np.clip(np.digitize(p, np.linspace(0.0, 1.0, bins + 1)[1:-1]), 0, bins - 1)
    n = np.bincount(b, minlength=bins).astype(np.float64)
    gap = np.abs(np.bincount(b, weights=y, minlength=bins) - np.bincount(b, p, minlength=bins))
    return float(gap.sum() / n.sum())


def reliability_table(y: NDF, p: NDF, *, bins: int = 10) -> pd.DataFrame:
    """Per probability bin: n, mean predicted, observed rate and its 95% Wilson interval
    (the data of a reliability plot)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows: list[dict[str, float]] = []
    z = 1.959963984540054
    for i in range(bins):
        mask = b == i
        n = int(mask.sum())
        if n == 0:
            continue
        k = float(y[mask].sum())
        rate = k / n
        centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        rows.append(
            {
                "bin_low": float(edges[i]),
                "bin_high": float(edges[i + 1]),
                "n": n,
                "predicted": float(p[mask].mean()),
                "observed": rate,
                "observed_low": max(0.0, centre - half),
                "observed_high": min(1.0, centre + half),
            }
        )
    return pd.DataFrame(rows)


def metrics(y: NDF, p: NDF) -> dict[str, float]:
    """ROC AUC (NaN with one class), log loss, Brier score, ECE, n, positives, mean p (the
    numbers of scikit-learn's ``roc_auc_score``, ``log_loss`` and ``brier_score_loss``,
    computed directly: their input checks cost more than the sums on small groups)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    n = len(y)
    k = float(y.sum())
    both = 0 < k < n
    return {
        "n": float(n),
        "positives": k,
        "rate": k / n if n else math.nan,
        "mean_p": float(p.mean()) if n else math.nan,
        "auc": _Ranked.of(p, y).auc(np.ones(n)) if both else math.nan,
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))) if n else math.nan,
        "brier": float(np.mean((p - y) ** 2)) if n else math.nan,
        "ece": expected_calibration_error(y, p),
    }


def metrics_by_group(y: NDF, p: NDF, groups: pd.Series, *, min_n: int = 30) -> pd.DataFrame:
    """:func:`metrics` per group value with at least ``min_n`` rows, largest groups first."""
    keys = groups.astype("object").where(groups.notna(), "(missing)").astype(str).to_numpy()
    codes, uniques = pd.factorize(keys)  # in order of first appearance, as pd.unique
    order = np.argsort(codes, kind="stable")  # each group's rows, in their original order
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(uniques)))])
    rows = []
    for g, key in enumerate(uniques):
        idx = order[bounds[g] : bounds[g + 1]]
        if len(idx) < min_n:
            continue
        rows.append({"group": key, **metrics(y[idx], p[idx])})
    if not rows:
        return pd.DataFrame(columns=["group", "n"])
    return pd.DataFrame(rows).sort_values("n", ascending=False).reset_index(drop=True)


def _weighted_auc(order: NDArray[np.int64], tie_start: NDArray[np.bool_], y: NDF, w: NDF) -> float:
    """AUC with case weights, given rows sorted by score and tie-block starts (O(n))."""
    return _Ranked(order, tie_start, y).auc(w)


class _Ranked:
    """One score's rows in score order, ready for weighted AUCs under many weightings (the
    sort, the tie blocks and the sorted outcomes are computed once)."""

    def __init__(self, order: NDArray[np.int64], tie_start: NDArray[np.bool_], y: NDF) -> None:
        self.order = order
        self.block = np.cumsum(tie_start) - 1
        self.ys = y[order]
        self.not_ys = 1 - self.ys

    @classmethod
    def of(cls, p: NDF, y: NDF) -> _Ranked:
        order = np.argsort(p, kind="stable")
        ps = p[order]
        return cls(order, np.concatenate([[True], ps[1:] != ps[:-1]]), y)

    def auc(self, w: NDF) -> float:
        ws = w[self.order]
        wp, wn = ws * self.ys, ws * self.not_ys
        neg_in_block = np.bincount(self.block, weights=wn)
        pos_in_block = np.bincount(self.block, weights=wp)
        neg_below = np.concatenate([[0.0], np.cumsum(neg_in_block)[:-1]])
        num = float((pos_in_block * (neg_below + 0.5 * neg_in_block)).sum())
        den = float(wp.sum() * wn.sum())
        return num / den if den > 0 else math.nan


def auc_difference(
    y: NDF,
    p_model: NDF,
    p_other: NDF,
    *,
    n_boot: int = 200,
    seed: int = 0,
    groups: NDArray[np.int64] | None = None,
) -> dict[str, float]:
    """Bootstrap (resampling test rows) of AUC and Brier differences, model minus other:
    point estimates, 95% percentile intervals and a normal-approximation p-value for the AUC
    difference being <= 0. ``groups`` (codes 0..k-1): rows that are copies of one lead
    (:mod:`leadpilot.copies`), resampled together."""
    out = auc_differences(y, p_model, {"other": p_other}, n_boot=n_boot, seed=seed, groups=groups)
    return out["other"]


def auc_differences(
    y: NDF,
    p_model: NDF,
    others: Mapping[str, NDF],
    *,
    n_boot: int = 200,
    seed: int = 0,
    groups: NDArray[np.int64] | None = None,
) -> dict[str, dict[str, float]]:
    """:func:`auc_difference` of the model against each of ``others``, the same numbers as
    one call per other model (the same bootstrap weights), with the weights drawn and the
    model's AUC under them computed once per replicate rather than once per other model."""
    rng = np.random.default_rng(seed)
    n = len(y)
    # One Poisson weight per lead, shared by its rows (one row per lead: the same draws).
    n_draw = n if groups is None else int(groups.max()) + 1 if len(groups) else 0
    if n > 100_000:
        n_boot = min(n_boot, 100)  # the interval is already narrow; bound the time
    model = _Ranked.of(p_model, y)
    ranked = {name: _Ranked.of(p, y) for name, p in others.items()}
    ones = np.ones(n)
    auc_model = model.auc(ones)
    se0 = (p_model - y) ** 2
    delta = {name: se0 - (p - y) ** 2 for name, p in others.items()}
    boot_auc = {name: np.empty(n_boot) for name in others}
    boot_brier = {name: np.empty(n_boot) for name in others}
    for b in range(n_boot):
        w = rng.poisson(1.0, n_draw).astype(np.float64)  # Poisson bootstrap: no n x n draws
        if groups is not None:
            w = w[groups]
        a = model.auc(w)
        w_sum = w.sum()
        for name, r in ranked.items():
            boot_auc[name][b] = a - r.auc(w)
            boot_brier[name][b] = float((w * delta[name]).sum() / w_sum)
    out = {}
    for name, p in others.items():
        d_auc = auc_model - ranked[name].auc(ones)
        d_brier = float(se0.mean() - ((p - y) ** 2).mean())
        sd = float(np.nanstd(boot_auc[name], ddof=1))
        out[name] = {
            "auc_diff": float(d_auc),
            "auc_diff_low": float(np.nanpercentile(boot_auc[name], 2.5)),
            "auc_diff_high": float(np.nanpercentile(boot_auc[name], 97.5)),
            "auc_diff_p": float(norm.sf(d_auc / sd)) if sd > 0 else math.nan,
            "brier_diff": d_brier,
            "brier_diff_low": float(np.percentile(boot_brier[name], 2.5)),
            "brier_diff_high": float(np.percentile(boot_brier[name], 97.5)),
        }
    return out


def jsonable(obj: Any) -> Any:
    """Replace NaN/inf by None recursively so ``json.dumps`` writes strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    return obj
