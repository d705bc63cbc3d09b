"""A treated-minus-control difference of per-lead outcomes, with its interval, p-value and
the sample that would detect it: the arithmetic shared by the lift and shadow reports.

Units are clusters of leads (a switchback block) or single leads (a cluster of one). An
arm's value is the ratio ``sum(y) / sum(n)`` over its units; its variance is the
cluster-robust (linearised ratio) one, ``m / (m - 1) * sum((y_u - r n_u)^2) / N^2``, which
for units of one lead is ``s^2 / N`` with the sample variance ``s^2``: Welch's. The interval
and p-value use Student's t with ``m_treated + m_control - 2`` degrees of freedom (a normal
for thousands of leads; honest for a few dozen blocks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["POWER", "Contrast", "arm_variance", "contrast"]

POWER = 0.8  # the power the "sample needed" figure is computed for (two-sided 5% test)


@dataclass(frozen=True, slots=True)
class Contrast:
    """``treated - control`` with its 95% interval and two-sided p-value (None when an arm
    has fewer than two units); ``units_needed``: how many units in all (at today's split
    and spread) a 5% test needs to detect a difference this size with 80% power (None when
    the difference is 0 or unknown)."""

    treated: float
    control: float
    difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    units: int
    units_needed: int | None

    @property
    def relative(self) -> float | None:
        """The difference relative to the control (None when the control is 0)."""
        return self.difference / self.control if self.control else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``relative``."""
        return {**asdict(self), "relative": self.relative}


def arm_variance(y: ArrayLike, n: ArrayLike) -> tuple[float, float]:
    """An arm's ratio ``sum(y) / sum(n)`` and its cluster-robust variance (NaN below two
    units)."""
    ys, ns = np.asarray(y, dtype=float), np.asarray(n, dtype=float)
    total = float(ns.sum())
    ratio = float(ys.sum()) / total if total > 0 else float("nan")
    m = len(ys)
    if m < 2 or total <= 0:
        return ratio, float("nan")
    resid = ys - ratio * ns
    return ratio, m / (m - 1) * float((resid**2).sum()) / total**2


def contrast(y1: ArrayLike, n1: ArrayLike, y0: ArrayLike, n0: ArrayLike) -> Contrast:
    """The difference of arm 1 (treated: outcomes ``y1`` over leads ``n1`` per unit) and
    arm 0 (control)."""
    r1, v1 = arm_variance(y1, n1)
    r0, v0 = arm_variance(y0, n0)
    m = len(np.atleast_1d(y1)) + len(np.atleast_1d(y0))
    diff = r1 - r0
    se = math.sqrt(v1 + v0) if math.isfinite(v1 + v0) else float("nan")
    if not math.isfinite(se) or m < 3:
        return Contrast(r1, r0, diff, None, None, None, m, None)
    t = stats.t(df=m - 2)
    half = float(t.ppf(0.975)) * se
    p_value = float(2 * t.sf(abs(diff) / se)) if se > 0 else 1.0 if diff == 0 else 0.0
    needed = None
    if diff != 0 and se > 0:
        z = float(stats.norm.ppf(0.975) + stats.norm.ppf(POWER))
        needed = math.ceil(m * (z * se / abs(diff)) ** 2)
    return Contrast(r1, r0, diff, diff - half, diff + half, p_value, m, needed)
