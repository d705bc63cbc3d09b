"""Development shares: ramping reps get at least a minimum share of their pool's leads.

A rep's share at a moment comes from the policy's ``development`` entries
(:class:`~leadpilot.policy.policy_file.Development`): the last step of the schedule whose
``from_day`` the rep has reached since its roster ``start_date`` (a named rep without a
start date is on the first step). The share is counted over the pool's assignments in the
fairness window (``RoutingState.window_counts``), and enforced two ways:

* priced: the shadow-price LP gets, per development rep, the constraint "leads so far plus
  planned leads >= share x the window's expected total" (:func:`floors`), whose dual lowers
  the rep's price, so the plan keeps leads for them instead of spending them elsewhere;
* exact: the router gives a lead to a development rep whenever the rep would otherwise fall
  below ``floor(share x assigned leads)`` (:func:`development_pick`), so after every
  assignment each development rep holds at least ``floor(share x N)`` of the pool's ``N``
  window leads, as long as the rep is eligible and under its caps when its turn comes
  (caps and eligibility always come first). With several development reps due on the same
  lead, the one furthest below its share gets it and the next lead goes to the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.policy_file import Development, Policy, Pool
from leadpilot.policy.state import RoutingState
from leadpilot.schema import Rep

__all__ = ["DevShare", "development_pick", "floors", "share_of"]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class DevShare:
    """A rep's development share now: the rule and the minimum share of the pool's leads."""

    rule: Development
    min_share: float


def share_of(rep: Rep, policy: Policy, now: datetime) -> DevShare | None:
    """The rep's development share at ``now`` (the largest of the rules that apply), or
    ``None``."""
    best: DevShare | None = None
    days = (now.date() - rep.start_date).days if rep.start_date is not None else None
    for rule in policy.development:
        named = rule.reps is not None and rep.rep_id in rule.reps
        new = (
            rule.started_within_days is not None
            and days is not None
            and 0 <= days < rule.started_within_days
        )
        if not (named or new):
            continue
        reached = [s for s in rule.schedule if s.from_day <= (days or 0)] or rule.schedule[:1]
        share = reached[-1].min_share
        if share > 0 and (best is None or share > best.min_share):
            best = DevShare(rule, share)
    return best


def _window(policy: Policy, pool: Pool, state: RoutingState, now: datetime) -> Mapping[str, int]:
    since = (now - timedelta(days=policy.fairness.window_days - 1)).date()
    return state.window_counts(pool.name, since)


def development_pick(
    pool: Pool,
    eligible: Sequence[Rep],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    segment: str | None,
) -> tuple[int, str] | None:
    """The eligible rep who must get this lead to keep its development share (its index in
    ``eligible`` and the reason code), or ``None``."""
    if not policy.development:
        return None
    counts = _window(policy, pool, state, now)
    after = sum(counts.values()) + 1  # the pool's window leads once this one is assigned
    best: tuple[float, int, str] | None = None
    for i, rep in enumerate(eligible):
        dev = share_of(rep, policy, now)
        if dev is None or (dev.rule.segments is not None and segment not in dev.rule.segments):
            continue
        due = math.floor(dev.min_share * after + _EPS) - counts.get(rep.rep_id, 0)
        if due <= 0:
            continue
        gap = dev.min_share * after - counts.get(rep.rep_id, 0)
        if best is None or gap > best[0]:
            best = (gap, i, f"DEVELOPMENT:{dev.rule.name}")
    return None if best is None else (best[1], best[2])


def floors(
    members: Sequence[Rep], policy: Policy, now: datetime
) -> tuple[NDArray[np.float64], list[list[str] | None]] | None:
    """Each member's development share (0 for others) and the segments its leads may come
    from (``None``: any), for the LP; ``None`` when no member has a share."""
    shares = np.zeros(len(members))
    segments: list[list[str] | None] = []
    for i, rep in enumerate(members):
        dev = share_of(rep, policy, now)
        shares[i] = dev.min_share if dev is not None else 0.0
        segments.append(dev.rule.segments if dev is not None else None)
    return (shares, segments) if shares.any() else None
