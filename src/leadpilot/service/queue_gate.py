"""When the worker should try the queued leads again.

A lead queues because every rep eligible for it was away, outside working hours or at a
cap. Routing it again is a full decision (screen, score, price), so re-routing the whole
queue on every poll turns each poll into a burst of CPU under the routing lock that
intakes wait behind. Nothing in the queue can be placed until some rep *opens up*: comes
back from leave, starts working hours, gains headroom under a cap (a release, a new local
day), or the roster or policy changes. ``Openings`` reads exactly those facts; the gate
starts a pass over the queue only when they improved on the last pass, and then walks the
whole queue in bounded batches, so no lead sits behind older ones forever.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadpilot.policy.availability import is_away, is_working, local_day
from leadpilot.policy.eligibility import capacity_of
from leadpilot.service.inputs import Snapshot

__all__ = ["Openings", "QueueGate", "openings_of"]

# What the check does not read (e.g. a hand edit of the database) is still caught by a
# pass at least this often.
BACKSTOP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class _RepOpening:
    present: bool  # not out of office or on holiday
    working: bool
    daily_room: float  # leads it may still take today (inf: no cap)
    open_room: float  # open leads it may still hold (inf: no cap)

    def better_than(self, old: _RepOpening) -> bool:
        return (
            (self.present and not old.present)
            or (self.working and not old.working)
            or self.daily_room > old.daily_room
            or self.open_room > old.open_room
        )


@dataclass(frozen=True, slots=True)
class Openings:
    """What limits who can take a queued lead now: the versions of the policy and roster,
    and each active rep's presence, working hours and headroom."""

    policy_version: str | None
    roster_version: int
    reps: dict[str, _RepOpening]

    def lowered(self, other: Openings) -> Openings:
        """Per rep the lesser of these openings and ``other`` (absent, present, working and
        room each the lower), with these versions: what a lead refused under either saw."""
        reps = dict(self.reps)
        for rep_id, theirs in other.reps.items():
            mine = reps.get(rep_id)
            reps[rep_id] = (
                theirs
                if mine is None
                else _RepOpening(
                    present=mine.present and theirs.present,
                    working=mine.working and theirs.working,
                    daily_room=min(mine.daily_room, theirs.daily_room),
                    open_room=min(mine.open_room, theirs.open_room),
                )
            )
        return Openings(self.policy_version, self.roster_version, reps)

    def improved_on(self, old: Openings) -> bool:
        """Whether a lead that could not be placed under ``old`` might be placed now."""
        if (self.policy_version, self.roster_version) != (old.policy_version, old.roster_version):
            return True
        for rep_id, now in self.reps.items():
            before = old.reps.get(rep_id)
            if before is None or now.better_than(before):
                return True
        return False


def openings_of(snapshot: Snapshot, now: datetime) -> Openings:
    """The openings of ``snapshot``'s roster at ``now``."""
    policy, state = snapshot.policy, snapshot.state
    reps: dict[str, _RepOpening] = {}
    # a roster has a few shifts: each (hours, timezone) asked once (every queued lead's
    # intake reads the openings, under the routing lock)
    shifts: dict[tuple[str | None, str | None], bool] = {}
    for rep in snapshot.reps:
        if not rep.active:
            continue
        cap = capacity_of(rep, policy)
        daily = (
            math.inf
            if cap.max_leads_per_day is None
            else cap.max_leads_per_day - state.daily_count(rep.rep_id, local_day(rep, now))
        )
        open_ = (
            math.inf
            if cap.max_open_leads is None
            else cap.max_open_leads - state.open_count(rep.rep_id, now)
        )
        shift = (rep.working_hours, rep.timezone)
        working = shifts.get(shift)
        if working is None:
            working = shifts[shift] = is_working(rep, now)
        reps[rep.rep_id] = _RepOpening(
            present=is_away(rep, now, policy.availability) is None,
            working=working,
            daily_room=daily,
            open_room=open_,
        )
    return Openings(snapshot.policy_version, snapshot.roster_version, reps)


class QueueGate:
    """One worker's memory of its passes over the queue.

    A pass starts when the openings improved on those at the start of the last complete
    pass (or the backstop elapsed), walks the queue oldest first ``batch`` leads per poll,
    and ends at the last lead queued before it started. Leads queued since were tried by
    their own intake with the openings of their time, so they need no pass of their own
    (and a pass that chased them could, under a steady stream of queued leads, never end).
    """

    def __init__(self, backstop: timedelta = BACKSTOP) -> None:
        self.backstop = backstop
        # the worker thread reads and advances the gate; intake threads lower it (``refused``)
        self._lock = threading.Lock()
        self._last: Openings | None = None  # at the start of the last complete pass
        self._last_at: datetime | None = None
        self._current: Openings | None = None  # at the start of the pass under way
        self._current_at: datetime | None = None
        self.cursor: tuple[datetime, str] | None = None  # last lead tried in this pass

    @property
    def until(self) -> datetime | None:
        """The end of the pass under way: leads queued up to its start."""
        return self._current_at

    @property
    def in_pass(self) -> bool:
        """Whether a pass is under way (continue it without looking at openings)."""
        return self._current is not None

    @property
    def has_baseline(self) -> bool:
        """Whether a pass (or a look at an empty queue) has completed."""
        return self._last is not None

    def passed_empty(self, openings: Openings, now: datetime) -> None:
        """The queue was found empty after ``openings`` were read: the same as a pass
        started with them that found nothing to try."""
        with self._lock:
            if self._current is None and self._last is None:
                self._last, self._last_at = openings, now

    def refused(self, openings: Openings) -> None:
        """A lead was queued (by an intake, a reassignment or a retry) because nobody could
        take it under ``openings``. The reference a pass is compared with is lowered to
        them, so a rep who fills up and opens up again later starts a pass even when their
        room only comes back to what it was at the last pass."""
        with self._lock:
            if self._last is not None:
                self._last = self._last.lowered(openings)
            if self._current is not None:
                self._current = self._current.lowered(openings)

    def should_start(self, openings: Openings, now: datetime) -> bool:
        """Whether to start a pass, given the openings now."""
        with self._lock:
            if self._last is None or self._last_at is None:
                return True
            if now - self._last_at >= self.backstop or now < self._last_at:
                return True
            return openings.improved_on(self._last)

    def start(self, openings: Openings, now: datetime) -> None:
        """Begin a pass from the oldest queued lead."""
        with self._lock:
            self._current, self._current_at, self.cursor = openings, now, None

    def advance(self, cursor: tuple[datetime, str] | None, *, finished: bool) -> None:
        """Record the last lead tried; at the queue's end, close the pass."""
        with self._lock:
            self.cursor = cursor
            if finished:
                self._last, self._last_at = self._current, self._current_at
                self._current = self._current_at = self.cursor = None
