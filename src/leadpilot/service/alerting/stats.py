"""The tests behind the alert rules: one-sided Fisher exact, Poisson and binomial tails,
Wilson intervals and the population stability index."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest, chi2, fisher_exact, poisson

__all__ = [
    "binomial_two_sided",
    "fisher_drop",
    "poisson_upper_tail",
    "psi",
    "psi_noise",
    "psi_shares",
    "wilson",
]

_PSI_FLOOR = 1e-4  # share given to an empty bin, so the log stays finite


def fisher_drop(k_recent: int, n_recent: int, k_base: int, n_base: int) -> float:
    """One-sided Fisher exact p-value that the recent rate is lower than the baseline's."""
    table = [[k_recent, n_recent - k_recent], [k_base, n_base - k_base]]
    return float(fisher_exact(table, alternative="less").pvalue)


def poisson_upper_tail(observed: int, mean: float) -> float:
    """P(X >= observed) for X ~ Poisson(mean)."""
    if observed <= 0:
        return 1.0
    return float(poisson.sf(observed - 1, mean))


def binomial_two_sided(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial p-value of ``k`` in ``n`` against share ``p``."""
    return float(binomtest(k, n, p).pvalue)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of ``k / n`` (``n`` > 0)."""
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def psi_shares(
    baseline: Sequence[object], recent: Sequence[object], *, bins: int = 10
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The bins ``psi`` compares and the baseline's and recent shares in each: deciles of
    the baseline for numbers (``bins`` quantile edges), one bin per value otherwise."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in baseline)
    if numeric and all(isinstance(v, int | float) for v in recent):
        base = np.asarray(baseline, dtype=float)
        new = np.asarray(recent, dtype=float)
        edges = np.unique(np.quantile(base, np.linspace(0, 1, bins + 1))[1:-1])
        b_counts = np.bincount(np.searchsorted(edges, base, side="right"), minlength=len(edges) + 1)
        r_counts = np.bincount(np.searchsorted(edges, new, side="right"), minlength=len(edges) + 1)
        bounds = ["-inf", *(f"{e:.3g}" for e in edges), "inf"]
        labels = [f"{lo} to {hi}" for lo, hi in itertools.pairwise(bounds)]
        return labels, b_counts / len(base), r_counts / len(new)
    b_count, r_count = Counter(map(str, baseline)), Counter(map(str, recent))
    cats = sorted(set(b_count) | set(r_count))
    b_share = np.array([b_count[c] / len(baseline) for c in cats])
    r_share = np.array([r_count[c] / len(recent) for c in cats])
    return cats, b_share, r_share


def psi(baseline: Sequence[object], recent: Sequence[object], *, bins: int = 10) -> float:
    """Population stability index sum((r - b) ln(r / b)) over the bins of ``psi_shares``.
    Empty bins get a share of 1e-4."""
    _, b_share, r_share = psi_shares(baseline, recent, bins=bins)
    b_share = np.maximum(b_share, _PSI_FLOOR)
    r_share = np.maximum(r_share, _PSI_FLOOR)
    return float(sum((r - b) * math.log(r / b) for r, b in zip(r_share, b_share, strict=True)))


def psi_noise(n_bins: int, n_baseline: int, n_recent: int) -> float:
    """The PSI that sampling alone exceeds 5% of the time when nothing drifted: for small
    shifts PSI ~ (1/n_b + 1/n_r) chi-square(bins - 1) (the two-sample chi-square test)."""
    if n_bins < 2:
        return 0.0
    return float(chi2.ppf(0.95, n_bins - 1) * (1 / n_baseline + 1 / n_recent))
