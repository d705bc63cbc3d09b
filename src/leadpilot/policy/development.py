"""Development shares: ramping reps get at least a minimum share of the leads that qualify
for their share (the pool's leads, or the pool's leads of the rule's ``segments``).

A rep's share at a moment comes from the policy's ``development`` entries
(:class:`~leadpilot.policy.policy_file.Development`): the last step of the schedule whose
``from_day`` the rep has reached since its roster ``start_date`` (a named rep without a
start date is on the first step). The share is counted over the fairness window: the rep's
leads that qualify for it against the pool's assigned leads that qualify for it
(``RoutingState.window_counts`` of the pool, or of the pool's per-segment scopes,
:func:`segment_scope`). It is enforced two ways:

* priced: the shadow-price LP gets, per development rep, the constraint "qualifying leads so
  far plus planned qualifying leads >= share x the window's expected qualifying total"
  (:func:`floors`), whose dual lowers the rep's price, so the plan keeps leads for them;
* exact: the router gives a lead to a development rep when it must, so that after every
  assignment each development rep holds at least ``floor(share x N)`` of the ``N`` window
  leads that qualify for it (:func:`development_pick`), as long as the rep is eligible and
  under its caps when its turn comes (caps and eligibility always come first) and the
  shares of the development reps of a pool whose segments overlap add up to at most 100%
  (``policy check`` refuses more: then no order of assignments can hold them all).

Why a look-ahead and not "give the lead to a rep below its share": two reps at 50% each are
both due on the 2nd lead, and one of them would fall a lead short. Each rep's k-th lead is a
job with a deadline (the qualifying lead after which ``floor(share x N)`` reaches k); the
router keeps the jobs schedulable as earliest-deadline-first in the worst case (every future
lead qualifying for every share), and gives this lead to the earliest job only when leaving
it to someone else would make that impossible. So the reps learn without being handed leads
before they are due (the rest of the pool's leads follow the policy's objective).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.policy_file import Development, Policy, Pool
from leadpilot.policy.state import RoutingState, segment_scope
from leadpilot.schema import Rep

__all__ = [
    "DevShare",
    "Overbooked",
    "ShareStanding",
    "development_pick",
    "floors",
    "overbooked",
    "share_groups",
    "share_of",
    "standings",
]

_EPS = 1e-9
# Jobs further ahead than this many leads are not looked at (reached only when the shares
# add up to ~100%, where the look-ahead bound below grows without limit).
_MAX_HORIZON = 20_000


@dataclass(frozen=True, slots=True)
class DevShare:
    """A rep's development share now: the rule and the minimum share of the pool's leads."""

    rule: Development
    min_share: float


@dataclass(frozen=True, slots=True)
class ShareStanding:
    """A development rep's share in the fairness window: ``held`` of its qualifying leads
    out of the pool's ``base`` qualifying (assigned) leads."""

    rep_id: str
    share: DevShare
    held: int
    base: int

    def qualifies(self, segment: str | None) -> bool:
        """Whether a lead of ``segment`` counts towards (and may fill) this share."""
        segments = self.share.rule.segments
        return segments is None or segment in segments

    def due_after(self, k: NDArray[np.float64]) -> NDArray[np.float64]:
        """The qualifying-lead count ``N`` at which ``floor(share x N)`` first reaches each
        ``k`` (the deadlines of the rep's k-th lead)."""
        s = self.share.min_share
        n = np.ceil((k - _EPS) / s)
        n += np.floor(s * n + _EPS) < k  # float rounding, either way
        n -= np.floor(s * (n - 1) + _EPS) >= k
        return n


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


def standings(
    pool: Pool, reps: Sequence[Rep], policy: Policy, state: RoutingState, now: datetime
) -> list[ShareStanding]:
    """The development reps among ``reps`` and where each stands in the fairness window."""
    if not policy.development:
        return []
    since = (now - timedelta(days=policy.fairness.window_days - 1)).date()
    cache: dict[str, Mapping[str, int]] = {}

    def counts(scope: str) -> Mapping[str, int]:
        if scope not in cache:
            cache[scope] = state.window_counts(scope, since)
        return cache[scope]

    out = []
    for rep in reps:
        dev = share_of(rep, policy, now)
        if dev is None:
            continue
        scopes = (
            [pool.name]
            if dev.rule.segments is None
            else [segment_scope(pool.name, s) for s in dev.rule.segments]
        )
        held = sum(counts(s).get(rep.rep_id, 0) for s in scopes)
        base = sum(sum(counts(s).values()) for s in scopes)
        out.append(ShareStanding(rep.rep_id, dev, held, base))
    return out


def development_pick(
    pool: Pool,
    members: Sequence[Rep],
    eligible: Sequence[Rep],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    segment: str | None,
) -> tuple[int, str] | None:
    """The eligible rep who must get this lead (of ``segment``) so that every development
    share of the pool's ``members`` can still be held exactly (its index in ``eligible``
    and the reason code), or ``None`` when the lead is free for the policy's choice."""
    if not policy.development:
        return None
    covering = {r.name for r in policy.development if r.segments is None or segment in r.segments}
    if not covering:
        return None  # the lead counts for no share
    # Shares whose segments never meet this lead's are independent of it.
    group = next(g for g in share_groups(policy) if g & covering)
    index = {rep.rep_id: i for i, rep in enumerate(eligible)}
    # Reps who cannot take this lead (caps, away, rules) are left out of the look-ahead:
    # this lead cannot help them, and their lateness must not push leads onto the others.
    found = [
        s
        for s in standings(pool, members, policy, state, now)
        if s.rep_id in index and s.share.rule.name in group
    ]
    if not found:
        return None
    deadlines, owners = _jobs(found, segment)
    if not len(deadlines):
        return None
    order = np.argsort(deadlines, kind="stable")
    d, who = deadlines[order], owners[order]
    worst = _latest_failure(d)
    takers = np.array([s.qualifies(segment) for s in found])[who]
    if worst is None or not takers.any() or d[takers].min() > worst:
        return None  # the schedule holds without this lead, or this lead cannot help it
    first = d[takers].min()
    # Among the jobs due as early, the rep furthest below its share.
    tied = sorted({int(w) for w in who[takers & (d == first)]})
    best = max(tied, key=lambda i: _gap(found[i], segment))
    standing = found[best]
    return index[standing.rep_id], f"DEVELOPMENT:{standing.share.rule.name}"


def _latest_failure(d: NDArray[np.float64]) -> float | None:
    """The last horizon ``h >= 0`` (in leads after this one) by which more jobs are due
    than there are leads (``#{d_j <= h} > h``), or ``None``; ``d`` sorted. Giving this lead
    to a job due by then removes one job from every horizon from its deadline on."""
    # The count of jobs due by h is j + 1 on [d_j, next deadline) for the last job j of
    # each tie; it exceeds h up to h = j.
    last = np.r_[d[1:] != d[:-1], True]
    upto = np.minimum(np.r_[d[1:], np.inf] - 1, np.arange(len(d), dtype=float))
    fails = last & (np.maximum(d, 0.0) <= upto)
    return float(upto[fails].max()) if fails.any() else None


def _gap(standing: ShareStanding, segment: str | None) -> float:
    base = standing.base + (1 if standing.qualifies(segment) else 0)
    return standing.share.min_share * base - standing.held


def _jobs(
    found: Sequence[ShareStanding], segment: str | None
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Every outstanding lead the reps are owed within the look-ahead: its deadline in
    leads after this one (this lead counts for the reps it qualifies for) and its rep."""
    total = sum(s.share.min_share for s in found)
    overdue = sum(max(math.floor(s.share.min_share * s.base + _EPS) - s.held, 0) for s in found)
    # With every share held, the free slots before lead h exceed (1 - total) h - len(found)
    # - overdue: no job further ahead can make the schedule fail.
    horizon = (
        _MAX_HORIZON
        if total >= 1 - 1e-6
        else min(math.ceil((len(found) + overdue + 1) / (1 - total)) + 1, _MAX_HORIZON)
    )
    deadlines, owners = [], []
    for i, s in enumerate(found):
        base = s.base + (1 if s.qualifies(segment) else 0)
        last = math.floor(s.share.min_share * (base + horizon) + _EPS)
        if last <= s.held:
            continue
        k = np.arange(s.held + 1, last + 1, dtype=float)
        deadlines.append(s.due_after(k) - base)
        owners.append(np.full(len(k), i, dtype=np.intp))
    if not deadlines:
        return np.zeros(0), np.zeros(0, dtype=np.intp)
    return np.concatenate(deadlines), np.concatenate(owners)


def floors(
    members: Sequence[Rep], policy: Policy, now: datetime
) -> tuple[NDArray[np.float64], list[list[str] | None]] | None:
    """Each member's development share (0 for others) and the segments its leads may come
    from (``None``: any), for the LP; ``None`` when no member has a share."""
    if not policy.development:  # no rule: nobody has a share
        return None
    shares = np.zeros(len(members))
    segments: list[list[str] | None] = []
    for i, rep in enumerate(members):
        dev = share_of(rep, policy, now)
        shares[i] = dev.min_share if dev is not None else 0.0
        segments.append(dev.rule.segments if dev is not None else None)
    return (shares, segments) if shares.any() else None


def share_groups(policy: Policy) -> list[frozenset[str]]:
    """The development rules (by name) in groups whose segments overlap, directly or
    through another rule (a rule without ``segments`` overlaps every rule): a lead counts
    for shares of one group only, so each group's shares are held on their own."""
    rules = policy.development
    group = list(range(len(rules)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, a in enumerate(rules):
        for j in range(i):
            b = rules[j]
            if a.segments is None or b.segments is None or set(a.segments) & set(b.segments):
                group[root(i)] = root(j)
    out: dict[int, set[str]] = {}
    for i, rule in enumerate(rules):
        out.setdefault(root(i), set()).add(rule.name)
    return [frozenset(names) for names in out.values()]


@dataclass(frozen=True, slots=True)
class Overbooked:
    """A pool whose development reps of one group of rules can be owed more than all the
    leads they count on: ``total`` (above 1) and who (rep ids; ``"(a new rep)"`` stands
    for a rule by start date that no roster rep is on yet)."""

    pool: str
    rules: tuple[str, ...]
    total: float
    reps: tuple[str, ...]


def overbooked(policy: Policy, reps: Sequence[Rep], today: date) -> list[Overbooked]:
    """Pools and groups of rules (:func:`share_groups`) whose shares, each at its schedule's
    highest step, add up to more than 100% of the leads they count on: no order of
    assignments can then hold them all, so ``policy check`` refuses the policy."""
    out = []
    for pool in policy.pools:
        members = [r for r in reps if r.active and pool.includes(r)]
        for names in share_groups(policy):
            rules = [r for r in policy.development if r.name in names]
            owed: dict[str, float] = {}
            for rule in rules:
                top = max(step.min_share for step in rule.schedule)
                on = [r.rep_id for r in members if _may_be_on(rule, r, today)]
                if not on and rule.started_within_days is not None:
                    on = ["(a new rep)"]
                for rep_id in on:
                    owed[rep_id] = max(owed.get(rep_id, 0.0), top)
            total = sum(owed.values())
            if total > 1 + _EPS:
                out.append(Overbooked(pool.name, tuple(sorted(names)), total, tuple(owed)))
    return out


def _may_be_on(rule: Development, rep: Rep, today: date) -> bool:
    """Whether ``rep`` is, or will be, on ``rule`` (named, or started less than the rule's
    days ago, or starting later)."""
    if rule.reps is not None and rep.rep_id in rule.reps:
        return True
    if rule.started_within_days is None or rep.start_date is None:
        return False
    return (today - rep.start_date).days < rule.started_within_days
