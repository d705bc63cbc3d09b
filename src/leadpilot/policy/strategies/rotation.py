"""How a rep is picked inside a pool: rotation (plain and weighted), load balancing, and the
argmax of the predictive score. Each returns the probability of every eligible rep, so the
router can log propensities; rotation credits live in the routing state.

Rotation semantics (written by hand: no library implements rotation over a persistent,
database-backed cursor):

- ``round_robin`` is a queue. A rep's credit is the serial number of their last turn; the
  eligible rep with the oldest turn (never served first, then roster order) is next and moves
  to the back. A rep skipped for being away keeps their place at the front, so they get the
  next lead when they return instead of their turn passing to someone else.
- ``weighted_round_robin`` is nginx's smooth weighted round-robin: every eligible rep's
  credit grows by its weight, the largest credit wins and pays back the eligible total. Over
  time the shares equal the weights (18/18/32/32 holds), with no bursts. A rep who is away
  accrues nothing and keeps the credit they had.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import islice, repeat

import numpy as np
from numpy.typing import NDArray

# From this many reps numpy reads the credits faster than a Python loop.
ARRAY_MIN = 64

__all__ = [
    "argmax_distribution",
    "load_balanced_pick",
    "rotation_pick",
    "rotation_update",
]


def rotation_pick(
    rep_ids: Sequence[str],
    credits: Mapping[str, float],
    *,
    weighted: bool,
    weights: Mapping[str, float] | None = None,
) -> str:
    """The next rep in rotation among ``rep_ids`` (eligible, in roster order)."""
    if not rep_ids:
        raise ValueError("no eligible rep to rotate over")
    if weighted:
        w = weights or {}
        best, best_value = rep_ids[0], -np.inf
        for rep in rep_ids:
            value = credits.get(rep, 0.0) + w.get(rep, 1.0)
            if value > best_value:  # strict: ties go to roster order
                best, best_value = rep, value
        return best
    n = len(rep_ids)
    if n >= ARRAY_MIN:
        values = np.fromiter(map(credits.get, rep_ids, repeat(-np.inf, n)), dtype=float, count=n)
        if not np.isnan(values).any():  # argmin: the first of the least, as the loop below
            return rep_ids[int(np.argmin(values))]
    best, best_value = rep_ids[0], np.inf
    for rep in rep_ids:
        value = credits.get(rep, -np.inf)
        if value < best_value:
            best, best_value = rep, value
    return best


def rotation_update(
    rep_ids: Sequence[str],
    credits: Mapping[str, float],
    chosen: str,
    *,
    weighted: bool,
    weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The credits that change when ``chosen`` (one of the eligible ``rep_ids``) gets a lead."""
    if weighted:
        w = weights or {}
        update = {rep: credits.get(rep, 0.0) + w.get(rep, 1.0) for rep in rep_ids}
        update[chosen] -= sum(w.get(rep, 1.0) for rep in rep_ids)
        return update
    return {chosen: last_turn(credits) + 1.0}


def last_turn(credits: Mapping[str, float]) -> float:
    """The latest turn among ``credits`` (0 when none): the largest finite credit of a rep
    (keys starting with "@" are other strategies' bookkeeping, not turns)."""
    n = len(credits)
    if n >= ARRAY_MIN:
        values = np.fromiter(credits.values(), dtype=float, count=n)
        top = float(values.max()) if n else math.nan
        if math.isfinite(top):  # no NaN, no inf: the first holder of the top, if a rep
            first = next(islice(iter(credits), int(values.argmax()), None))
            if not first.startswith("@"):
                return top
        finite = np.isfinite(values)
        if finite.any():  # the largest finite credit, when a rep (not "@...") holds it
            top = values[finite].max()
            keys = list(credits)
            if any(not keys[i].startswith("@") for i in np.flatnonzero(values == top).tolist()):
                return float(top)
    served = [v for k, v in credits.items() if math.isfinite(v) and not k.startswith("@")]
    return max(served) if served else 0.0


def load_balanced_pick(
    rep_ids: Sequence[str],
    open_counts: Sequence[int],
    daily_counts: Sequence[int],
    credits: Mapping[str, float],
) -> str:
    """The rep with the fewest open leads; ties: fewest today, then rotation order."""
    if not rep_ids:
        raise ValueError("no eligible rep to balance over")
    keys = [
        (open_counts[i], daily_counts[i], credits.get(rep, -np.inf), i)
        for i, rep in enumerate(rep_ids)
    ]
    return rep_ids[min(keys)[3]]


def argmax_distribution(score: NDArray[np.float64], *, tol: float = 1e-12) -> NDArray[np.float64]:
    """Uniform probability over the maximisers of ``score`` (shape ``(n,)``), zero elsewhere."""
    top = float(np.max(score))
    winners = score >= top - tol
    return winners / winners.sum()
