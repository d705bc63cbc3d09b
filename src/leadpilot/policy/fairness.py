"""Fairness: each rep's fair share of a pool's leads, the fairness index, and the
fairness-only prices used when there is no demand model."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from leadpilot.schema import Rep

__all__ = ["band_prices", "fair_shares", "fairness_index"]


def fair_shares(caps: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each rep's fair share of a pool's leads: proportional to daily capacity; equal when
    any capacity is unknown (``inf``) or all are zero. Shape ``(n_reps,)``, sums to 1."""
    n = len(caps)
    if n == 0:
        return caps
    if not np.all(np.isfinite(caps)) or caps.sum() <= 0:
        return np.full(n, 1.0 / n)
    return caps / caps.sum()


def fairness_index(counts: NDArray[np.float64], share: NDArray[np.float64]) -> NDArray[np.float64]:
    """Leads per rep over their fair share of the total (1.0 = exactly fair). With equal
    shares this is the usual 'leads per rep / pool average'."""
    total = counts.sum()
    if total == 0:
        return np.ones(len(counts))
    return counts / (total * share)


# The shadow-price LP plans inside the band by this much on each side: it plans with
# expected arrivals, and the realised day differs, so planning at the edge lands just
# outside it (fairness 0.86-1.15 measured on the synthetic worlds with the plain band).
PLANNING_MARGIN = 0.03


def planning_band(band: tuple[float, float]) -> tuple[float, float]:
    """The band the price LP plans with: ``band`` narrowed by ``PLANNING_MARGIN`` per side
    (never past 1, so a band of (1, 1) stays as it is)."""
    low, high = band
    return min(low + PLANNING_MARGIN, 1.0), max(high - PLANNING_MARGIN, 1.0)


def band_prices(
    eligible: list[Rep],
    members: list[Rep],
    counts: NDArray[np.float64],
    share: NDArray[np.float64],
    band: tuple[float, float],
    penalty: float,
) -> NDArray[np.float64]:
    """Fairness-only prices (no demand model): ``penalty`` for a rep whose next lead would
    put them above the band's top, minus ``penalty`` for a rep below its bottom."""
    if not members or counts.sum() == 0:
        return np.zeros(len(eligible))
    index = {r.rep_id: i for i, r in enumerate(members)}
    total = counts.sum() + 1
    out = np.zeros(len(eligible))
    for k, rep in enumerate(eligible):
        i = index.get(rep.rep_id)
        if i is None:
            continue
        if (counts[i] + 1) / (total * share[i]) > band[1]:
            out[k] = penalty
        elif counts[i] / (total * share[i]) < band[0]:
            out[k] = -penalty
    return out
