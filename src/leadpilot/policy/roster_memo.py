"""What the router can remember about a roster across leads under one policy: each rep's
caps, who can ever be away, and the verdict of the pool's eligibility rules for a lead
*key* (the part of the lead the rules read, see ``EligibilityRule.lead_key``), so screening
a roster of 100 reps for the next lead is a dictionary lookup instead of 100 rule checks.

Only what does not change while the policy and roster stay the same is remembered: pool
membership, activity and rule verdicts. Out of office, working hours and the live counts
(caps reached) are checked per lead, as before; from ``ARRAY_SCREEN_MIN_REPS`` reps, on a
state with a tally (:mod:`leadpilot.policy.tally`), with numpy over the memo's
:class:`RosterArrays` (static codes, caps, zone and shift groups, price rows) instead of a
Python pass per rep. A memo belongs to one ``RouterInputs``
(:func:`leadpilot.policy.inputs.router_inputs` makes it) and answers only for the policy
object and roster tuple it was made for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from itertools import repeat
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # the policy file's types, without importing the eligibility module here
    from leadpilot.policy.capacity import Capacity
    from leadpilot.policy.policy_file import Policy
    from leadpilot.schema import Rep

__all__ = ["PoolRows", "RosterArrays", "RosterMemo", "ScreenRow"]

# (rep, rep_id, active, may be away, (working hours, timezone), timezone, daily cap, open cap)
ScreenRow = tuple[
    "Rep", str, bool, bool, tuple[str | None, str | None], str | None, int | None, int | None
]


class PoolRows(NamedTuple):
    """A pool's active members' screen rows, daily caps and who of them may be away; ``at``:
    each member's position in the roster; ``member_of``: each roster position's place among
    the members (-1: not one)."""

    rows: list[ScreenRow]
    caps: NDArray[np.float64]
    may_be_away: list[int]
    members: list[Rep]
    at: NDArray[np.intp]
    member_of: NDArray[np.intp]


class RosterArrays(NamedTuple):
    """The screen rows as arrays over the roster, for the screen and pricing done with numpy
    (see ``Checker.screen``): ids, reps, activity, caps (``inf``: none), the positions of
    reps who may be away, and each rep's group of reps sharing its timezone (``zone_of``)
    and its (working hours, timezone) (``shift_of``), with the first rep of each group to
    ask (``zones``, ``shifts``: a roster shares a few of each)."""

    ids: NDArray[np.object_]
    reps: NDArray[np.object_]
    active: NDArray[np.bool_]
    day_caps: NDArray[np.float64]
    open_caps: NDArray[np.float64]
    may_be_away: list[int]
    zones: list[Rep]
    zone_of: NDArray[np.intp]
    shifts: list[Rep]
    shift_of: NDArray[np.intp]


# Rule verdicts kept per memo: a key per distinct lead profile (territory, product...);
# past this many the memo starts again rather than grow without bound.
MAX_KEYS = 20_000
# ... and their arrays (an unhashable lead value gives a fresh verdict per lead)
MAX_STATIC = 4_096


class RosterMemo:
    """Static verdicts for ``policy`` and ``reps`` (see the module docstring)."""

    def __init__(self, policy: Policy, reps: tuple[Rep, ...]) -> None:
        self.policy = policy
        self.reps = reps
        self.verdicts: dict[Hashable, dict[str, str | None]] = {}
        self.caps: dict[str, Capacity] = {}
        availability = policy.availability
        self.never_away = frozenset(
            r.rep_id
            for r in reps
            if not r.out_of_office
            and not availability.holidays
            and not any(e.rep == r.rep_id for e in availability.out_of_office)
        )
        self.hits = 0
        # per pool name, its switched-on eligibility rules (``Checker``'s, for this policy)
        self.rules: dict[str, list[Any]] = {}
        self.ids = tuple(r.rep_id for r in reps)
        self.by_id = {r.rep_id: r for r in reps}
        self.unique_ids = len(self.by_id) == len(reps)
        self._rows: list[ScreenRow] | None = None
        self._arrays: RosterArrays | None = None
        self._pool_rows: dict[str, PoolRows] = {}
        # per verdict dict (by identity, kept alive here): its codes as a roster array
        self._static: dict[
            int, tuple[dict[str, str | None], NDArray[np.object_], NDArray[np.bool_]]
        ] = {}
        self._typical: tuple[Mapping[str, float], float, NDArray[np.float64]] | None = None
        # per verdict dict: who of the roster it gives a code of a set (``static_in``)
        self._static_in: dict[
            int, tuple[dict[str, str | None], frozenset[str], NDArray[np.bool_] | None]
        ] = {}
        # per price snapshot (by identity, kept alive here): its prices as a roster array
        self._prices: dict[int, tuple[object, NDArray[np.float64]]] = {}
        # the last leads-today read (``Checker._today``): the tally, its version, the
        # moment, each rep's leads on its local day and that day
        self.today: tuple[Any, int, Any, NDArray[np.float64], NDArray[np.object_]] | None = None

    def screen_rows(self, capacity: Callable[[Rep], Capacity]) -> list[ScreenRow]:
        """Per rep of the roster, in roster order, what screening reads of it that does not
        change with the lead or the moment (caps from ``capacity``, filled into ``caps``),
        so the screen's loop reads one tuple per rep instead of calling per attribute."""
        rows = self._rows
        if rows is None:
            rows = []
            for rep in self.reps:
                cap = self.caps.get(rep.rep_id)
                if cap is None:
                    cap = self.caps[rep.rep_id] = capacity(rep)
                rows.append(
                    (
                        rep,
                        rep.rep_id,
                        rep.active,
                        rep.rep_id not in self.never_away,
                        (rep.working_hours, rep.timezone),
                        rep.timezone,
                        cap.max_leads_per_day,
                        cap.max_open_leads,
                    )
                )
            self._rows = rows
        return rows

    def arrays(self, capacity: Callable[[Rep], Capacity]) -> RosterArrays:
        """The screen rows as :class:`RosterArrays` (made once)."""
        found = self._arrays
        if found is None:
            rows = self.screen_rows(capacity)
            zones: dict[object, int] = {}
            shifts: dict[object, int] = {}
            zone_of = [zones.setdefault(row[5], len(zones)) for row in rows]
            shift_of = [shifts.setdefault(row[4], len(shifts)) for row in rows]
            first = {key: zone_of.index(k) for key, k in zones.items()}
            first_shift = {key: shift_of.index(k) for key, k in shifts.items()}
            ids = np.empty(len(rows), dtype=object)
            ids[:] = [row[1] for row in rows]
            members = np.empty(len(rows), dtype=object)
            members[:] = [row[0] for row in rows]
            found = self._arrays = RosterArrays(
                ids,
                members,
                np.array([row[2] for row in rows], dtype=bool),
                np.array([np.inf if row[6] is None else float(row[6]) for row in rows]),
                np.array([np.inf if row[7] is None else float(row[7]) for row in rows]),
                [i for i, row in enumerate(rows) if row[3]],
                [rows[first[key]][0] for key in zones],
                np.array(zone_of, dtype=np.intp),
                [rows[first_shift[key]][0] for key in shifts],
                np.array(shift_of, dtype=np.intp),
            )
        return found

    def static_codes(
        self, verdicts: dict[str, str | None]
    ) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
        """A verdict of :meth:`verdict` as arrays over the roster: the codes (``None``:
        passes) and who passes."""
        found = self._static.get(id(verdicts))
        if found is None or found[0] is not verdicts:
            if len(self._static) >= MAX_STATIC:
                self._static.clear()
            codes = np.empty(len(self.ids), dtype=object)
            codes[:] = [verdicts[rep_id] for rep_id in self.ids]
            passes = np.array([code is None for code in codes.tolist()], dtype=bool)
            found = self._static[id(verdicts)] = (verdicts, codes, passes)
        return found[1], found[2]

    def static_in(
        self, verdicts: dict[str, str | None], codes: frozenset[str]
    ) -> NDArray[np.bool_] | None:
        """Who of the roster a verdict of :meth:`verdict` gives one of ``codes`` (``None``:
        nobody, the usual), made once per verdict."""
        found = self._static_in.get(id(verdicts))
        if found is None or found[0] is not verdicts or found[1] != codes:
            if len(self._static_in) >= MAX_STATIC:
                self._static_in.clear()
            hit = np.array([verdicts[rep_id] in codes for rep_id in self.ids], dtype=bool)
            found = self._static_in[id(verdicts)] = (verdicts, codes, hit if hit.any() else None)
        return found[2]

    def typical_row(self, typical: Mapping[str, float], fallback: float) -> NDArray[np.float64]:
        """Each roster rep's typical response hours (``fallback`` when unknown), a new
        array; made once per (mapping, fallback) when the mapping is read-only (a
        ``MappingProxyType``, as ``router_inputs`` makes it)."""
        if not isinstance(typical, MappingProxyType):
            return np.array([typical.get(rep_id, fallback) for rep_id in self.ids], dtype=float)
        found = self._typical
        if found is None or found[0] is not typical or found[1] != fallback:
            row = np.array([typical.get(rep_id, fallback) for rep_id in self.ids], dtype=float)
            found = self._typical = (typical, fallback, row)
        return found[2].copy()

    def price_row(self, snapshot: Mapping[str, float]) -> NDArray[np.float64]:
        """A pool's price snapshot as an array over the roster (0 for reps it does not
        price), made once per snapshot object."""
        found = self._prices.get(id(snapshot))
        if found is None or found[0] is not snapshot:
            if len(self._prices) >= 64:  # a snapshot serves until the next refresh
                self._prices.clear()
            n = len(self.ids)
            row = np.fromiter(map(snapshot.get, self.ids, repeat(0.0, n)), dtype=float, count=n)
            found = self._prices[id(snapshot)] = (snapshot, row)
        return found[1]

    def pool_rows(self, pool_name: str, includes: Callable[[Rep], bool]) -> PoolRows:
        """The rows of the roster's active members of the pool ``includes`` describes, in
        roster order (pool membership and activity do not change under one memo), with
        their daily caps (``inf``: none) and the positions of those who may be away."""
        found = self._pool_rows.get(pool_name)
        if found is None:
            assert self._rows is not None, "screen_rows first"
            at = [i for i, row in enumerate(self._rows) if row[2] and includes(row[0])]
            rows = [self._rows[i] for i in at]
            caps = np.array([np.inf if row[6] is None else float(row[6]) for row in rows])
            caps.flags.writeable = False  # the same for every lead (``member_load`` knows)
            away = [i for i, row in enumerate(rows) if row[3]]
            member_of = np.full(len(self._rows), -1, dtype=np.intp)
            member_of[at] = np.arange(len(at))
            found = self._pool_rows[pool_name] = PoolRows(
                rows, caps, away, [row[0] for row in rows], np.array(at, dtype=np.intp), member_of
            )
        return found

    def serves(self, policy: Policy, reps: tuple[Rep, ...]) -> bool:
        """Whether this memo was made for exactly this policy and roster."""
        return policy is self.policy and reps is self.reps

    def verdict(
        self, key: Hashable, compute: Callable[[], dict[str, str | None]]
    ) -> dict[str, str | None]:
        """The static code of every rep for ``key`` (``None``: passes), computed once."""
        try:
            found = self.verdicts.get(key)
        except TypeError:  # an unhashable lead value: not remembered
            return compute()
        if found is None:
            if len(self.verdicts) >= MAX_KEYS:
                self.verdicts.clear()
            found = self.verdicts[key] = compute()
        else:
            self.hits += 1
        return found
