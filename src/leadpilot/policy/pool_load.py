"""A pool's load for pricing: its active members, each member's leads in the fairness
window, daily cap and fair share (read by the fairness-band prices and the shadow pricer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.fairness import fair_shares
from leadpilot.policy.policy_file import Policy, Pool
from leadpilot.policy.state import RoutingState
from leadpilot.policy.tally import Tally
from leadpilot.schema import Rep

__all__ = ["PoolLoad", "daily_cap", "member_load", "pool_load"]


@dataclass(frozen=True, slots=True)
class PoolLoad:
    """``members`` (active, in roster order) and, per member (shape ``(n,)``): ``counts``
    (leads in the fairness window), ``caps`` (daily cap, ``inf`` when none) and ``share``
    (fair share of the pool's leads, sums to 1)."""

    members: list[Rep]
    counts: NDArray[np.float64]
    caps: NDArray[np.float64]
    share: NDArray[np.float64]


def daily_cap(cap: int | None) -> float:
    """A daily cap as a number (``inf``: no cap)."""
    return float("inf") if cap is None else float(cap)


def pool_load(
    pool: Pool,
    reps: Sequence[Rep],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    cap_of: Callable[[Rep], int | None],
) -> PoolLoad:
    """The load of ``pool`` at ``now``; ``cap_of(rep)``: the rep's effective daily cap."""
    members = [r for r in reps if r.active and pool.includes(r)]
    caps = np.array([daily_cap(cap_of(rep)) for rep in members])
    return member_load(pool.name, members, caps, policy, state, now)


def member_load(
    pool_name: str,
    members: list[Rep],
    caps: NDArray[np.float64],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    tally: Tally | None = None,
    at: NDArray[np.intp] | None = None,
) -> PoolLoad:
    """``pool_load`` given the pool's active ``members`` and their daily ``caps`` (as
    ``daily_cap`` gives them; e.g. from the roster memo's rows); the window's counts from
    the state's ``tally`` when given, at the members' roster positions ``at``."""
    fairness = policy.fairness
    since = (now - timedelta(days=fairness.window_days - 1)).date()
    if tally is not None and at is not None:
        counts = tally.window(pool_name, since)[at]
    else:
        window = state.window_counts(pool_name, since)
        counts = np.array([float(window.get(r.rep_id, 0)) for r in members])
    by_capacity = fairness.shares == "capacity"
    last = _SHARES[0] if _SHARES else None  # one read: another thread may replace it
    if last is not None and last[0] is caps and last[1] == by_capacity:
        share = last[2]
    else:
        share = fair_shares(caps if by_capacity else np.ones(len(members)))
        if not caps.flags.writeable:  # the memo's (read-only): the same shares next time
            share.flags.writeable = False
            _SHARES[:] = [(caps, by_capacity, share)]
    return PoolLoad(members, counts, caps, share)


# The last read-only caps (a roster memo's pool rows: the router asks with the same array
# for every lead), whether shares follow capacity, and the fair shares they give.
_SHARES: list[tuple[NDArray[np.float64], bool, NDArray[np.float64]]] = []
