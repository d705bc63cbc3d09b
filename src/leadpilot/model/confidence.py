"""How sure the bagged ensemble is that the top rep really beats the pool average."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["TopRepConfidence", "top_vs_pool"]

_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class TopRepConfidence:
    """The top rep's edge over the pool average, with its spread across the bags.

    ``probability`` = P(top rep's conversion probability > pool average), from a normal
    approximation to the bag-to-bag spread of the difference; ``low``/``high`` bound the
    difference (about 95%). Each bag is fit on a random half of the training rows: the
    spread of half-sample fits matches the sampling spread of a fit on all rows (for smooth
    estimators), which is why half-sampling and not the classic bootstrap is used.
    """

    top_index: int
    p_top: float
    p_pool: float
    difference: float
    low: float
    high: float
    probability: float


def top_vs_pool(P: NDArray[np.float64], p: NDArray[np.float64]) -> TopRepConfidence:
    """``P`` (n_bags, n_reps) per-bag probabilities, ``p`` (n_reps,) the ensemble's."""
    top = int(np.argmax(p))
    diff_bags = P[:, top] - P.mean(axis=1)
    diff = float(p[top] - p.mean())
    k = P.shape[0]
    sd = float(diff_bags.std(ddof=1)) if k > 1 else 0.0
    if p.shape[0] < 2:
        prob = 0.5
    elif sd > 0:
        prob = 0.5 * (1.0 + math.erf(diff / (sd * _SQRT2)))
    else:
        prob = 1.0 if diff > 0 else 0.5
    return TopRepConfidence(
        top_index=top,
        p_top=float(p[top]),
        p_pool=float(p.mean()),
        difference=diff,
        low=diff - 1.96 * sd,
        high=diff + 1.96 * sd,
        probability=prob,
    )
