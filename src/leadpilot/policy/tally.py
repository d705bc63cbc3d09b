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
from datetime import date, timedelta
from itertools import repeat

import numpy as np
from numpy.typing import NDArray

__all__ = ["Tally"]

NDF = NDArray[np.float64]

# Old days and windows are never asked for again; past these the tally starts afresh.
_MAX_DAYS = 16
_MAX_WINDOWS = 64
# A window moved on by more days than this is read afresh from the owner.
_MAX_SLIDE_DAYS = 31
_ONE_DAY = timedelta(days=1)


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
        *,
        day_counts: Callable[[date], Mapping[str, int]] | None = None,
        scope_day_counts: Callable[[str, date], Mapping[str, int]] | None = None,
        rotation: Callable[[str], Mapping[str, float]] | None = None,
    ) -> None:
        self.ids = ids
        self.index = {rep_id: i for i, rep_id in enumerate(ids)}
        self._daily = daily
        self._window_counts = window_counts
        # optional faster reads of the owner's records (``InMemoryState`` has them): a day's
        # counts per rep at once, and a scope's leads on one UTC date (a new window is then
        # the previous window of its scope less the dates it no longer covers)
        self._day_counts = day_counts
        self._scope_day_counts = scope_day_counts
        # a pool's rotation credits per rep (``rotation``; -inf: no turn yet), kept by an
        # owner that moves them with ``rotate`` (``InMemoryState``); none without the reader
        self._rotation = rotation
        self._credits: dict[str, NDF] = {}
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
            if self._day_counts is not None:  # one mapping, read with C-level gets
                counts = self._day_counts(day)
                # none: the usual for a day first asked for (nobody's lead on it yet)
                found = self._per_rep(counts) if counts else np.zeros(n)
            else:
                reads = map(self._daily, self.ids, repeat(day, n))
                found = np.fromiter(reads, dtype=float, count=n)
            self._days[day] = found
        return found

    def window(self, scope: str, since: date) -> NDF:
        """Each rep's leads through ``scope`` on UTC dates from ``since`` (``window_counts``)."""
        found = self._windows.get((scope, since))
        if found is None and self._scope_day_counts is not None:
            found = self._slid_window(scope, since)
        if found is None:
            if len(self._windows) >= _MAX_WINDOWS:
                self._windows.clear()
            found = self._per_rep(self._window_counts(scope, since))
            self._windows[(scope, since)] = found
        return found

    def credits(self, pool: str) -> NDF | None:
        """Each rep's credit in ``pool``'s rotation (``rotation(pool).get(rep_id, -inf)``),
        or ``None`` when the owner does not keep them here."""
        if self._rotation is None:
            return None
        found = self._credits.get(pool)
        if found is None:
            if len(self._credits) >= _MAX_WINDOWS:
                self._credits.clear()
            found = self._credits[pool] = self._per_rep(self._rotation(pool), -np.inf)
        return found

    def rotate(self, pool: str, update: Mapping[str, float]) -> None:
        """``pool``'s rotation credits moved by ``update`` (a decision's ``rotation_update``,
        as the owner applies it)."""
        found = self._credits.get(pool)
        if found is not None:
            index = self.index
            for rep_id, credit in update.items():
                i = index.get(rep_id)
                if i is not None:
                    found[i] = credit

    def _slid_window(self, scope: str, since: date) -> NDF | None:
        """The window of ``scope`` from ``since`` as the latest earlier window of ``scope``
        kept here, less its leads on the dates before ``since`` (the same counts as the
        owner's ``window_counts``: both count a committed lead on its UTC date); ``None``
        with no earlier window. The earlier one is dropped (windows move forward with time;
        one asked for again is read afresh)."""
        read = self._scope_day_counts
        assert read is not None
        base: date | None = None
        for key_scope, key_since in self._windows:
            if key_scope == scope and key_since < since and (base is None or key_since > base):
                base = key_since
        if base is None or (since - base).days > _MAX_SLIDE_DAYS:
            return None
        found = self._windows.pop((scope, base)).copy()  # a reader may hold the old one
        day = base
        while day < since:
            counts = read(scope, day)
            if counts:
                found -= self._per_rep(counts)
            day += _ONE_DAY
        self._windows[(scope, since)] = found
        return found

    def _per_rep(self, values: Mapping[str, float], missing: float = 0) -> NDF:
        """``values`` of the roster's reps in roster order (``missing`` for the others),
        read with C-level gets."""
        n = len(self.ids)
        return np.fromiter(map(values.get, self.ids, repeat(missing, n)), float, count=n)

    def copy(self) -> Tally:
        """A tally with the same reads and copies of the arrays (``add`` on one leaves the
        other as it was)."""
        out = Tally.__new__(Tally)
        out.ids, out.index = self.ids, self.index
        out._daily, out._window_counts = self._daily, self._window_counts
        out._day_counts, out._scope_day_counts = self._day_counts, self._scope_day_counts
        out._rotation = self._rotation
        out._credits = {pool: credits.copy() for pool, credits in self._credits.items()}
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
