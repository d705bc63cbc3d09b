"""Empirical-Bayes beta-binomial shrinkage of small-sample conversion rates.

Each cell (a rep, or a rep x segment pair) has ``k`` conversions out of ``n`` leads. Its true
rate is modelled as Beta(kappa * m, kappa * (1 - m)), where ``m`` is the cell's prior mean
(e.g. what the rep's and the segment's base rates predict) and ``kappa`` (the prior's
strength, in pseudo-leads) is fitted once for all cells by maximising the beta-binomial
marginal likelihood. The posterior Beta(k + kappa m, n - k + kappa (1 - m)) is what a
3-for-3 cell really tells us: a little, not 100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

__all__ = ["Shrunk", "combine_odds", "fit_concentration", "shrink"]

_EPS = 1e-4
# Bounds of the prior strength (pseudo-leads). The upper bound stands for "cells do not
# differ beyond binomial noise": the posterior then equals the prior mean.
KAPPA_MIN = 0.5
KAPPA_MAX = 1e6


@dataclass(frozen=True)
class Shrunk:
    """Posterior Beta(alpha, beta) of each cell; ``mean`` is the shrunk rate."""

    alpha: NDArray[np.float64]
    beta: NDArray[np.float64]
    kappa: float

    @property
    def mean(self) -> NDArray[np.float64]:
        """Posterior mean rate of each cell."""
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Equal-tailed credible interval of each cell's rate."""
        tail = (1.0 - level) / 2.0
        low = stats.beta.ppf(tail, self.alpha, self.beta)
        high = stats.beta.ppf(1.0 - tail, self.alpha, self.beta)
        return np.asarray(low, dtype=float), np.asarray(high, dtype=float)

    def sample(self, rng: np.random.Generator, draws: int) -> NDArray[np.float64]:
        """Posterior draws, shape ``(draws, n_cells)``."""
        return rng.beta(self.alpha, self.beta, size=(draws, self.alpha.size))


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.asarray(np.log(p / (1.0 - p)), dtype=float)


def combine_odds(plus: Sequence[ArrayLike], minus: Sequence[ArrayLike]) -> NDArray[np.float64]:
    """Rate whose log-odds is sum(logit(plus)) - sum(logit(minus)).

    The additive (no-interaction) prediction for a rep in a segment is
    ``combine_odds([rep_rate, segment_rate], [overall_rate])``: the rep's odds ratio against
    the whole team applied to the segment's rate.
    """
    z = sum(_logit(np.asarray(p, dtype=float)) for p in plus) - sum(
        _logit(np.asarray(p, dtype=float)) for p in minus
    )
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float))), dtype=float)


def fit_concentration(k: ArrayLike, n: ArrayLike, prior_mean: ArrayLike) -> float:
    """Prior strength kappa maximising the beta-binomial marginal likelihood of the cells.

    Cells with ``n == 0`` carry no information and are ignored. Returns ``KAPPA_MAX`` when
    the cells vary no more than binomial noise (or there are fewer than two informative
    cells), i.e. full pooling toward the prior mean.
    """
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    m = np.clip(np.asarray(prior_mean, dtype=float), _EPS, 1.0 - _EPS)
    keep = n_arr > 0
    if keep.sum() < 2:
        return KAPPA_MAX
    k_arr, n_arr, m = k_arr[keep], n_arr[keep], m[keep]

    def negloglik(log_kappa: float) -> float:
        kappa = float(np.exp(log_kappa))
        return -float(stats.betabinom.logpmf(k_arr, n_arr, kappa * m, kappa * (1.0 - m)).sum())

    lo, hi = np.log(KAPPA_MIN), np.log(KAPPA_MAX)
    res = optimize.minimize_scalar(negloglik, bounds=(lo, hi), method="bounded")
    best = float(res.x)
    # The likelihood is flat toward kappa -> infinity under pure noise; prefer full pooling
    # when it is as good as the optimum (within rounding), so null data shrinks all the way.
    if negloglik(hi) <= negloglik(best) + 1e-6:
        return KAPPA_MAX
    return float(np.exp(best))


def shrink(
    k: ArrayLike,
    n: ArrayLike,
    prior_mean: ArrayLike,
    kappa: float | None = None,
    *,
    evidence: ArrayLike | None = None,
) -> Shrunk:
    """Posterior of each cell's rate given its prior mean; kappa is fitted when not given.

    ``evidence`` (per cell, in leads) caps each cell's prior strength: a prior mean estimated
    from a rep's 150 leads cannot be worth more than 150 pseudo-leads, even when the cells
    vary so little that the fitted kappa is huge. Without the cap, intervals would claim a
    precision the data never had.
    """
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    m = np.clip(np.broadcast_to(np.asarray(prior_mean, dtype=float), k_arr.shape), _EPS, 1 - _EPS)
    if kappa is None:
        kappa = fit_concentration(k_arr, n_arr, m)
    strength = np.full(k_arr.shape, kappa, dtype=float)
    if evidence is not None:
        cap = np.maximum(np.broadcast_to(np.asarray(evidence, dtype=float), k_arr.shape), 1.0)
        strength = np.minimum(strength, cap)
    return Shrunk(
        alpha=k_arr + strength * m, beta=n_arr - k_arr + strength * (1.0 - m), kappa=kappa
    )
