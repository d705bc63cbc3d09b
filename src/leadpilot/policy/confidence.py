"""The router's confidence: how likely its choice converts the lead better than the rep the
fallback strategy would have picked, from the scorer's own uncertainty.

Conversion probabilities ``p`` are compared, not price-adjusted scores: a shadow price trades a
rep's capacity for later leads, it does not make a rep better at this one. So a priced choice
of a lower-p rep has a low confidence on purpose, and ``min_confidence`` then hands the lead to
the fallback: the threshold says how sure the model must be that its rep is better for this
lead before it overrides the fallback.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

__all__ = [
    "THRESHOLDS",
    "against_round_robin",
    "beats",
    "choice_confidence",
    "summarise_confidence",
]

NDF = NDArray[np.float64]

# min_confidence values whose fallback share the model card reports
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def beats(draws: NDF | None, p: NDF, choice: int) -> NDF:
    """P(rep ``choice`` converts the lead better than each rep), shape ``(n_reps,)``.

    ``draws`` (n_bags, n_reps): P(convert) under each bag of the ensemble; the bag-to-bag
    spread of each difference gives a normal approximation (each bag is fit on a random half
    of the rows, whose spread matches the sampling spread of a fit on all of them, see
    :class:`leadpilot.model.confidence.TopRepConfidence`). The entry of ``choice`` itself is
    1: were the fallback to pick the same rep, nothing would be at stake. Without draws (a
    scorer that knows the truth) each entry is 1, 1/2 or 0."""
    diff = p[choice] - p
    if draws is not None and draws.shape[0] > 1:
        sd = (draws[:, [choice]] - draws).std(axis=0, ddof=1)
    else:
        sd = np.zeros_like(diff)
    step = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    out = np.where(sd > 0, ndtr(diff / np.where(sd > 0, sd, 1.0)), step)
    out[choice] = 1.0
    return np.asarray(out, dtype=float)


def choice_confidence(draws: NDF | None, p: NDF, dist: NDF, fallback: int) -> float:
    """The confidence of a choice spread over reps as ``dist`` (ties split evenly) against
    the fallback's pick ``fallback``: sum_i dist_i P(rep i converts better than it)."""
    return float(
        sum(float(dist[i]) * float(beats(draws, p, int(i))[fallback]) for i in np.flatnonzero(dist))
    )


def against_round_robin(draws: NDF | None, p: NDF) -> NDF:
    """The confidence of the top rep (by p) for one lead when the fallback is round-robin,
    whose pick is any rep with equal chance: one value per possible pick, ``(n_reps,)``."""
    return beats(draws, p, int(np.argmax(p)))


def summarise_confidence(values: NDF) -> dict[str, object]:
    """Quantiles of the confidences and the share of leads each ``min_confidence`` in
    :data:`THRESHOLDS` would send to the fallback."""
    v = np.asarray(values, dtype=float)
    qs = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9)
    return {
        "n": len(v),
        "quantiles": {f"{q:g}": float(np.quantile(v, q)) for q in qs} if len(v) else {},
        "fallback_share": {f"{t:g}": float(np.mean(v < t)) if len(v) else 0.0 for t in THRESHOLDS},
    }
