"""A roster's live counts as arrays, kept current by the state that owns them.

The router reads every rep's leads today, open leads and fairness-window leads for every
lead; read rep by rep from the state's dictionaries that was most of a decision at 500
reps. :class:`Tally` holds the same numbers as float arrays in roster order (positions of
``ids``), built from the state once per day / window and then moved by each committed
decision (one position per commit), so a decision reads them with numpy instead of a
Python call per rep. :meth:`leadpilot.policy.state.InMemoryState.tally` hands one out, and
so does the service's ``leadpilot.store.counters.DbRoutingState`` (kept with the counters an
intake read and moved by each decision the process commits, see ``Prefetched``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from itertools import repeat

import numpy as np
from numpy.typing import NDArray

__all__ = ["Tally"]

NDF = NDArray[np.float64]

# Old days and windows are never asked for again; past these the tally starts afresh.
_MAX_DAYS = 16
_MAX_WINDOWS = 64


class Tally:
    """Per rep of ``ids``: leads on a calendar day (``day``), leads through a pool scope
    since a day (``window``) and open leads (``open``), each an array of shape
    ``(len(ids),)`` the caller must not modify. ``daily(rep_id, day)``, ``window_counts(scope,
    since)`` and ``open_counts(rep_id)`` read the owner's records, for a day or window seen
    the first time; :meth:`add` and :meth:`release` move the arrays with the owner's."""

    def __init__(
        self,
        ids: tuple[str, ...],
        daily: Callable[[str, date], int],
        window_counts: Callable[[str, date], Mapping[str, int]],
        open_count: Callable[[str], int],
    ) -> None:
        self.ids = ids
        self.index = {rep_id: i for i, rep_id in enumerate(ids)}
        self._daily = daily
        self._window_counts = window_counts
        self._days: dict[date, NDF] = {}
        self._windows: dict[tuple[str, date], NDF] = {}
        self.open: NDF = np.array([float(open_count(rep_id)) for rep_id in ids])
        # moved by every ``add`` and ``release``: what was read of the arrays at one version
        # holds until the next (see ``RosterMemo.today``)
        self.version = 0

    def day(self, day: date) -> NDF:
        """Each rep's leads on its calendar ``day`` (``daily_count``)."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= _MAX_DAYS:
                self._days.clear()
            n = len(self.ids)
            reads = map(self._daily, self.ids, repeat(day, n))
            found = self._days[day] = np.fromiter(reads, dtype=float, count=n)
        return found

    def window(self, scope: str, since: date) -> NDF:
        """Each rep's leads through ``scope`` on UTC dates from ``since`` (``window_counts``)."""
        found = self._windows.get((scope, since))
        if found is None:
            if len(self._windows) >= _MAX_WINDOWS:
                self._windows.clear()
            counts = self._window_counts(scope, since)
            n = len(self.ids)
            found = np.fromiter(map(counts.get, self.ids, repeat(0, n)), dtype=float, count=n)
            self._windows[(scope, since)] = found
        return found

    def copy(self) -> Tally:
        """A tally with the same reads and copies of the arrays (``add`` on one leaves the
        other as it was)."""
        out = Tally.__new__(Tally)
        out.ids, out.index = self.ids, self.index
        out._daily, out._window_counts = self._daily, self._window_counts
        out._days = {day: counts.copy() for day, counts in self._days.items()}
        out._windows = {key: counts.copy() for key, counts in self._windows.items()}
        out.open = self.open.copy()
        out.version = self.version
        return out

    def add(self, rep_id: str, day: date, scopes: tuple[str, ...], decided: date) -> None:
        """One more lead for ``rep_id``: on its ``day``, open, and in each of ``scopes``
        (the pool and its segment scope) on the UTC date ``decided``."""
        i = self.index.get(rep_id)
        if i is None:
            return
        self.version += 1
        found = self._days.get(day)
        if found is not None:
            found[i] += 1.0
        self.open[i] += 1.0
        for (scope, since), counts in self._windows.items():
            if decided >= since and scope in scopes:
                counts[i] += 1.0

    def release(self, rep_id: str) -> None:
        """One of ``rep_id``'s open leads closed (the owner had one to close)."""
        i = self.index.get(rep_id)
        if i is not None:
            self.version += 1
            self.open[i] -= 1.0
