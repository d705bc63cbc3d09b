"""Compiled loops (numba) for the batch router's fast lane: the fairness guard and the
choice of one lead, bit for bit the numpy code they replace.

Per lead the fast lane made ~40 numpy calls on arrays of a pool's size (100 reps) for the
guard (``strategies.predictive.guard_mask`` / ``fairness.band_guard``), the argmax with its
guard test and the decision's top candidates: ~1-2 us of call overhead each for a few hundred
flops. These loops do the same IEEE operations in the same order per element (no fast-math,
no fused multiply-add), numpy's ``maximum`` / ``minimum`` (NaN propagates), Python's ``max`` /
``min`` of two floats (the first unless the second is strictly larger / smaller) and numpy's
pairwise summation of a 1-D float64 array (:func:`_np_sum`), so every output is the numpy
code's (``tests/policy/test_fast_kernels.py`` compares them on random inputs, ties, NaNs and
infinities included). The plain functions run as Python when numba is absent or not loaded
(:func:`compiled`), for the tests' reference comparisons.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["choose", "compiled", "gather", "guard", "screen"]

NDF = NDArray[np.float64]

# numpy's pairwise summation: blocks of at most this many elements are summed with eight
# accumulators (numpy/_core/src/umath/loops_utils.h.src, PW_BLOCKSIZE)
_PW_BLOCK = 128

_AVAILABLE = importlib.util.find_spec("numba") is not None and not os.environ.get(
    "LEADPILOT_NO_NUMBA"
)
_LOADED: dict[str, Any] = {}


def _block(a: NDF, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's ``pairwise_sum`` of ``a[lo : lo + n]`` for ``n <= _PW_BLOCK``."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def _pairwise(a: NDF, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's ``pairwise_sum`` of ``a[lo : lo + n]``: blocks of at most ``_PW_BLOCK``, a
    longer run split in two halves (the first a multiple of 8) summed separately and added.
    numpy recurses; here an explicit stack (numba's on-disk cache does not hold recursive
    functions)."""
    if n <= _PW_BLOCK:
        return _block(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    stage = np.empty(64, dtype=np.int64)
    sums = np.empty(64)
    top, done = 0, 0
    los[0], ns[0], stage[0] = lo, n, 0
    while top >= 0:
        start, size = los[top], ns[top]
        if size <= _PW_BLOCK:
            sums[done] = _block(a, start, size)
            done += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] == 0:  # the first half
            stage[top] = 1
            top += 1
            los[top], ns[top], stage[top] = start, half, 0
        elif stage[top] == 1:  # then the second
            stage[top] = 2
            top += 1
            los[top], ns[top], stage[top] = start + half, size - half, 0
        else:  # both summed: first + second
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
    return float(sums[0])


def _np_sum(a: NDF) -> float:  # pragma: no cover - compiled
    """``float(a.sum())`` of a contiguous 1-D float64 array, bit for bit."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


def _np_max(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.maximum(a, b)`` (a NaN on either side is the result)."""
    return a if (a >= b or a != a) else b


def _np_min(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.minimum(a, b)``."""
    return a if (a <= b or a != a) else b


def _py_max(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``max(a, b)`` of two floats: ``a`` unless ``b`` is larger."""
    return b if b > a else a


def _py_min(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``min(a, b)`` of two floats."""
    return b if b < a else a


def _guard(
    window: NDF,
    members: NDArray[np.int64],
    share: NDF,
    cap_day: NDF,
    daily: NDF,
    at: NDArray[np.int64],
    low: float,
    high: float,
    end: float,
    later_days: float,
    day_end: float,
    end_high: float,
    today_caution: float,
    later_caution: float,
    today_z: float,
    keep: NDArray[np.bool_],
) -> bool:  # pragma: no cover - compiled
    """``guard_mask`` of the fast lane's call into ``keep`` (shape ``at``); False: ``None``.
    The pool's members are roster indices ``members`` (``window``, ``cap_day``, ``daily``
    are per roster rep; ``share`` per member); ``at``: each candidate's place among the
    members (-1: none); the snapshot's horizon values as ``guard_mask`` reads them."""
    m = members.shape[0]
    counts = np.empty(m)
    caps = np.empty(m)
    used = np.empty(m)
    for j in range(m):
        counts[j] = window[members[j]]
        caps[j] = _np_min(cap_day[members[j]], 1e6)
        used[j] = daily[members[j]]
    held = _np_sum(counts)
    # band_guard(counts, share, band, end - held, max(caps - used, 0), later_room=caps *
    # later_days, today_left=day_end - held, leads_left_high=end_high - held)
    left = _py_max(end - held, 1.0)
    left_high = _py_max(end_high - held, left)
    projected = _py_max(_py_min(day_end - held, left), 1.0)
    today = _py_max(projected - today_z * np.sqrt(projected), 1.0)  # fairness.today_low
    over = np.empty(m, dtype=np.bool_)
    short = np.empty(m)
    room = np.empty(m)
    later_room = np.empty(m)
    later = np.empty(m)
    carry = np.empty(m)
    need = _py_max(today_caution * today, 1.0)
    any_forced = False
    for j in range(m):
        room[j] = _np_max(caps[j] - used[j], 0.0)
        later_room[j] = caps[j] * later_days
    room_sum = _np_sum(room)
    later_sum = _np_sum(later_room)
    for j in range(m):
        # fairness.must_take: the leads the others' caps will leave to this member
        take = _np_min(_np_max((projected - 1.0) - (room_sum - room[j]), 0.0), room[j])
        take += _np_min(
            _np_max((left - projected) - (later_sum - later_room[j]), 0.0), later_room[j]
        )
        over[j] = counts[j] + 1.0 + take > high * share[j] * (held + left) + 1e-9
        short[j] = np.ceil(_np_max(low * share[j] * (held + left_high) - counts[j], 0.0) - 1e-9)
        later[j] = later_caution * later_room[j]
        carry[j] = _np_min(_np_max(short[j] - later[j], 0.0), room[j])
        if carry[j] >= need:
            any_forced = True
    forced = np.empty(m, dtype=np.bool_)
    for j in range(m):
        forced[j] = carry[j] >= need
    if not any_forced and _np_sum(carry) >= today_caution * today:
        for j in range(m):
            forced[j] = carry[j] > 0
            any_forced = any_forced or forced[j]
    if not any_forced:
        both = np.empty(m)
        for j in range(m):
            both[j] = _np_min(short[j], room[j] + later[j])
        if _np_sum(both) >= left_high:
            for j in range(m):
                forced[j] = short[j] > 0 and room[j] > 0
    n = at.shape[0]
    any_must = False
    for i in range(n):
        k = at[i]
        keep[i] = True if k < 0 else not over[k]
        if k >= 0 and forced[k] and keep[i]:
            any_must = True
    any_keep = False
    for i in range(n):
        if any_must:
            k = at[i]
            keep[i] = keep[i] and k >= 0 and forced[k]
        any_keep = any_keep or keep[i]
    return any_keep


def _choose(
    p: NDF, price: NDF, keep: NDArray[np.bool_], guarded: bool, top: int, dist: NDF,
    order: NDArray[np.int64],
) -> tuple[int, int, bool]:  # pragma: no cover - compiled  # fmt: skip
    """The fast lane's choice from the scores ``p`` and ``price`` (the guard's ``keep``
    when ``guarded``): ``dist`` = ``argmax_distribution`` of ``p - price`` with the reps
    the guard rules out at -inf, and into ``order`` the first ``top`` of ``np.argsort(-(p
    - price), kind="stable")`` (``decision_candidates``' order). Returns (how many of
    ``order`` were written, the one winner's index or -1, whether the guard changed the
    distribution (``_guard_acted``)); (-1, -1, False) when a score is NaN (the caller keeps
    numpy's code)."""
    n = p.shape[0]
    score = np.empty(n)
    for i in range(n):
        score[i] = p[i] - price[i]
        if score[i] != score[i]:
            return -1, -1, False
    best = -np.inf
    all_kept = True
    for i in range(n):
        if guarded and not keep[i]:
            all_kept = False
        elif score[i] > best:
            best = score[i]
    # argmax_distribution: np.max, then score >= top - tol, each 1 / count
    floor = best - 1e-12
    count = 0
    winner = -1
    for i in range(n):
        if (not guarded or keep[i]) and score[i] >= floor:
            count += 1
            winner = i
    if best == -np.inf:  # every score -inf (np.max is -inf: all pass ``>= -inf``)
        count, winner = n, n - 1
        for i in range(n):
            dist[i] = 1.0 / n
    else:
        for i in range(n):
            dist[i] = 1.0 / count if ((not guarded or keep[i]) and score[i] >= floor) else 0.0
    acted = False
    if guarded and not all_kept:
        # the unguarded distribution differs iff its winners differ
        top_all = -np.inf
        for i in range(n):
            if score[i] > top_all:
                top_all = score[i]
        floor_all = top_all - 1e-12
        count_all = 0
        for i in range(n):
            if score[i] >= floor_all:
                count_all += 1
        for i in range(n):
            d = 1.0 / count_all if score[i] >= floor_all else 0.0
            if d != dist[i]:
                acted = True
                break
    # the stable descending order's first ``top``: the largest score, ties by index
    taken = np.zeros(n, dtype=np.bool_)
    k = min(top, n)
    for t in range(k):
        pick = -1
        for i in range(n):
            if not taken[i] and (pick < 0 or -score[i] < -score[pick]):
                pick = i
        taken[pick] = True
        order[t] = pick
    return k, (winner if count == 1 else -1), acted


def _screen(
    open_: NDF, cap_open: NDF, daily: NDF, cap_day: NDF, static: NDArray[np.int64],
    daily_code: int, open_code: int, code: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """Each rep's exclusion code into ``code``: its static code when not 0, else
    ``daily_code`` at the daily cap, else ``open_code`` at the open-lead cap, else 0 (the
    fast lane's ``np.where(open >= cap_open, open_code, 0)``, ``code[daily >= cap_day] =
    daily_code``, ``np.where(static == 0, code, static)``)."""
    for i in range(code.shape[0]):
        if static[i] != 0:
            code[i] = static[i]
        elif daily[i] >= cap_day[i]:
            code[i] = daily_code
        elif open_[i] >= cap_open[i]:
            code[i] = open_code
        else:
            code[i] = 0


def _gather(
    eligible: NDArray[np.int64], price_all: NDF, credits: NDF, open_: NDF, cap_day: NDF,
    typical: NDF, per_lead: float, queue_aware: bool, price: NDF, hours: NDF,
) -> int:  # pragma: no cover - compiled  # fmt: skip
    """The eligible reps' prices into ``price`` (``price_all[eligible]``) and, when
    ``queue_aware``, their expected response hours into ``hours`` (``typical[eligible] +
    np.maximum(0.0, open[eligible] - cap_day[eligible]) * per_lead``, each element the same
    steps); returns ``int(np.argmin(credits[eligible]))`` (the first of the smallest; the
    credits hold no NaN)."""
    best = 0
    for j in range(eligible.shape[0]):
        i = eligible[j]
        price[j] = price_all[i]
        if queue_aware:
            backlog = _np_max(0.0, open_[i] - cap_day[i])
            hours[j] = typical[i] + backlog * per_lead
        if credits[i] < credits[eligible[best]]:
            best = j
    return best


def compiled() -> dict[str, Any] | None:
    """The compiled ``guard`` and ``choose`` (numba, cached on disk), or ``None`` when numba
    is absent, turned off (``LEADPILOT_NO_NUMBA``) or not imported yet by this process (a
    process that scores few leads does not pay numba's import: see
    :mod:`leadpilot.model.glm_kernels`, whose loading the batch router triggers for big
    replays)."""
    if not _AVAILABLE or "numba" not in sys.modules:
        return None
    if not _LOADED:
        from numba import njit

        jit = njit(cache=True, nogil=True)
        glob = globals()
        for name in ("_block", "_pairwise", "_np_sum", "_np_max", "_np_min", "_py_max", "_py_min"):
            glob[name] = jit(glob[name])
        _LOADED["guard"] = jit(_guard)
        _LOADED["choose"] = jit(_choose)
        _LOADED["screen"] = jit(_screen)
        _LOADED["gather"] = jit(_gather)
    return _LOADED


def guard(*args: Any) -> bool:
    """:func:`_guard`, compiled when numba is loaded (else the plain loop)."""
    found = compiled()
    return bool((found["guard"] if found else _guard)(*args))


def choose(*args: Any) -> tuple[int, int, bool]:
    """:func:`_choose`, compiled when numba is loaded (else the plain loop)."""
    found = compiled()
    k, winner, acted = (found["choose"] if found else _choose)(*args)
    return int(k), int(winner), bool(acted)


def screen(*args: Any) -> None:
    """:func:`_screen`, compiled when numba is loaded (else the plain loop)."""
    found = compiled()
    (found["screen"] if found else _screen)(*args)


def gather(*args: Any) -> int:
    """:func:`_gather`, compiled when numba is loaded (else the plain loop)."""
    found = compiled()
    return int((found["gather"] if found else _gather)(*args))
