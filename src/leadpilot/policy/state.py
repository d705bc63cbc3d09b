"""Routing state behind a small interface: capacity counters, open leads, rotation credits.

The router core reads the state and returns a :class:`~leadpilot.schema.Decision`; the caller
then calls ``state.commit(decision)``, which must apply the decision's effects atomically
(the service does the read, the routing and the commit in one database transaction with the
rows locked, so replicas never over-assign). :class:`InMemoryState` serves ``route-batch``,
simulation and the tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from leadpilot.policy.tally import Tally
from leadpilot.schema import Decision

__all__ = ["InMemoryState", "RoutingState", "segment_scope"]


@runtime_checkable
class RoutingState(Protocol):
    """What the router reads about the past, and how a decision is recorded.

    Counting conventions (an implementation must follow them):

    - ``daily_count(rep, day)``: leads assigned to ``rep`` whose ``decision.rep_local_day`` is
      ``day`` (the rep's own calendar day: ``max_leads_per_day`` applies to it).
    - ``open_count(rep, now)``: leads assigned to ``rep`` that are still open (not yet closed
      or released) at ``now``.
    - ``window_counts(pool, since_day)``: per rep, leads assigned through ``pool`` whose
      ``decided_at`` UTC date is on or after ``since_day`` (the fairness window); the scope
      ``segment_scope(pool, segment)`` counts the pool's leads whose ``decision.segment`` is
      ``segment`` (committed in both).
    - ``rotation(pool)``: the pool's rotation credits (rep id -> number), as last written by
      a decision's ``rotation_update``; reps never served are absent.
    """

    def daily_count(self, rep_id: str, day: date) -> int:
        """Leads assigned to ``rep_id`` on its local calendar ``day``."""
        ...

    def open_count(self, rep_id: str, now: datetime) -> int:
        """Leads assigned to ``rep_id`` still open at ``now``."""
        ...

    def window_counts(self, pool: str, since_day: date) -> Mapping[str, int]:
        """Per rep, leads assigned through ``pool`` since ``since_day`` (UTC dates)."""
        ...

    def rotation(self, pool: str) -> Mapping[str, float]:
        """The pool's round-robin credits."""
        ...

    def commit(self, decision: Decision) -> None:
        """Record ``decision`` atomically: +1 daily and open count of ``decision.rep_id``
        (on ``decision.rep_local_day``), +1 in the pool's window, and the rotation credits in
        ``decision.rotation_update``. A decision with no rep changes nothing."""
        ...


def segment_scope(pool: str, segment: str) -> str:
    """The ``window_counts`` scope of ``pool``'s leads of the policy segment ``segment``
    (what a development share restricted to segments is counted on)."""
    return f"{pool}#segment={segment}"


class InMemoryState:
    """A :class:`RoutingState` in memory, for batch routing, simulation and tests.

    ``open_lead_ttl``: with no close events (``route-batch``), a lead counts as open for this
    long after assignment; ``None`` means open until :meth:`release` is called.
    """

    def __init__(self, *, open_lead_ttl: timedelta | None = None) -> None:
        self.open_lead_ttl = open_lead_ttl
        # per local day, its leads per rep (a day's counts read at once by ``tally``)
        self._daily: dict[date, Counter[str]] = {}
        self._open: dict[str, deque[datetime]] = defaultdict(deque)
        self._pool_days: dict[str, dict[date, Counter[str]]] = defaultdict(dict)
        self._rotation: dict[str, dict[str, float]] = defaultdict(dict)
        self.decisions: list[Decision] = []
        # per roster (the ids tuple's identity), its live counts as arrays (see ``tally``)
        self._tallies: dict[int, Tally] = {}

    def daily_count(self, rep_id: str, day: date) -> int:
        """Leads assigned to ``rep_id`` on its local calendar ``day``."""
        counts = self._daily.get(day)
        return counts.get(rep_id, 0) if counts else 0  # not [...]: Counter's miss runs Python

    def open_count(self, rep_id: str, now: datetime) -> int:
        """Leads assigned to ``rep_id`` still open at ``now``."""
        times = self._open.get(rep_id)
        if not times:
            return 0
        if self.open_lead_ttl is not None:
            cutoff = now - self.open_lead_ttl
            while times and times[0] <= cutoff:
                times.popleft()
        return len(times)

    def window_counts(self, pool: str, since_day: date) -> Mapping[str, int]:
        """Per rep, leads assigned through ``pool`` since ``since_day``."""
        total: Counter[str] = Counter()
        for day, counts in self._pool_days.get(pool, {}).items():
            if day >= since_day:
                total.update(counts)
        return total

    def rotation(self, pool: str) -> Mapping[str, float]:
        """The pool's round-robin credits."""
        return self._rotation.get(pool, {})

    def tally(self, ids: tuple[str, ...]) -> Tally | None:
        """The live counts of the reps ``ids`` as arrays (:class:`Tally`), moved by every
        later ``commit`` and ``release``; ``None`` when open leads expire by time
        (``open_lead_ttl``) or a subclass reads its counts its own way."""
        if self.open_lead_ttl is not None or not _plain(self, _READS):
            return None
        found = self._tallies.get(id(ids))
        if found is None or found.ids is not ids:
            if len(self._tallies) >= 8:  # rosters come and go with policy reloads
                self._tallies.clear()
            found = self._tallies[id(ids)] = Tally(
                ids,
                self.daily_count,
                self.window_counts,
                self._open_leads,
                day_counts=self._day_counts,
                scope_day_counts=self._scope_day_counts,
                # the credits mirrored only when read as here (``commit`` moves them)
                rotation=self.rotation if _plain(self, _ROTATION) else None,
            )
        return found

    def _day_counts(self, day: date) -> Mapping[str, int]:
        return self._daily.get(day, _NONE)

    def _scope_day_counts(self, scope: str, day: date) -> Mapping[str, int]:
        days = self._pool_days.get(scope)
        return days.get(day, _NONE) if days else _NONE

    def _open_leads(self, rep_id: str) -> int:
        times = self._open.get(rep_id)
        return len(times) if times else 0

    def commit(self, decision: Decision) -> None:
        """Record ``decision`` (see :class:`RoutingState`)."""
        self.decisions.append(decision)
        rep = decision.rep_id
        if rep is None:
            return
        day = decision.rep_local_day or decision.decided_at.date()
        counts = self._daily.get(day)
        if counts is None:
            counts = self._daily[day] = Counter()
        counts[rep] += 1
        self._open[rep].append(decision.decided_at)
        if self._tallies:
            scopes: tuple[str, ...] = ()
            if decision.pool is not None:
                scopes = (decision.pool,)
                if decision.segment is not None:
                    scopes += (segment_scope(decision.pool, decision.segment),)
            for tally in self._tallies.values():
                tally.add(rep, day, scopes, decision.decided_at.date())
        if decision.pool is not None:
            days = self._pool_days[decision.pool]
            days.setdefault(decision.decided_at.date(), Counter())[rep] += 1
            if decision.segment is not None:
                scope = self._pool_days[segment_scope(decision.pool, decision.segment)]
                scope.setdefault(decision.decided_at.date(), Counter())[rep] += 1
            if decision.rotation_update:
                self._rotation[decision.pool].update(decision.rotation_update)
                for tally in self._tallies.values():
                    tally.rotate(decision.pool, decision.rotation_update)

    def release(self, rep_id: str) -> None:
        """One of ``rep_id``'s open leads was closed (touched, converted, lost)."""
        times = self._open.get(rep_id)
        if times:
            times.popleft()
            for tally in self._tallies.values():
                tally.release(rep_id)


_NONE: Mapping[str, int] = MappingProxyType({})

_READS = ("daily_count", "open_count", "window_counts")
_ROTATION = ("rotation", "commit")


def _plain(state: InMemoryState, names: tuple[str, ...]) -> bool:
    """Whether ``state``'s class keeps ``InMemoryState``'s methods ``names`` (a tally
    mirrors what they read and move)."""
    cls = type(state)
    return cls is InMemoryState or all(
        getattr(cls, name) is getattr(InMemoryState, name) for name in names
    )
