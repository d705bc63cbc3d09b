"""What the router can remember about a roster across leads under one policy: each rep's
caps, who can ever be away, and the verdict of the pool's eligibility rules for a lead
*key* (the part of the lead the rules read, see ``EligibilityRule.lead_key``), so screening
a roster of 100 reps for the next lead is a dictionary lookup instead of 100 rule checks.

Only what does not change while the policy and roster stay the same is remembered: pool
membership, activity and rule verdicts. Out of office, working hours and the live counts
(caps reached) are checked per lead, as before. A memo belongs to one ``RouterInputs``
(:func:`leadpilot.policy.inputs.router_inputs` makes it) and answers only for the policy
object and roster tuple it was made for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # the policy file's types, without importing the eligibility module here
    from leadpilot.policy.capacity import Capacity
    from leadpilot.policy.policy_file import Policy
    from leadpilot.schema import Rep

__all__ = ["PoolRows", "RosterMemo", "ScreenRow"]

# (rep, rep_id, active, may be away, (working hours, timezone), timezone, daily cap, open cap)
ScreenRow = tuple[
    "Rep", str, bool, bool, tuple[str | None, str | None], str | None, int | None, int | None
]


class PoolRows(NamedTuple):
    """A pool's active members' screen rows, daily caps and who of them may be away."""

    rows: list[ScreenRow]
    caps: NDArray[np.float64]
    may_be_away: list[int]
    members: list[Rep]


# Rule verdicts kept per memo: a key per distinct lead profile (territory, product...);
# past this many the memo starts again rather than grow without bound.
MAX_KEYS = 20_000


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
        self._rows: list[ScreenRow] | None = None
        self._pool_rows: dict[str, PoolRows] = {}

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

    def pool_rows(self, pool_name: str, includes: Callable[[Rep], bool]) -> PoolRows:
        """The rows of the roster's active members of the pool ``includes`` describes, in
        roster order (pool membership and activity do not change under one memo), with
        their daily caps (``inf``: none) and the positions of those who may be away."""
        found = self._pool_rows.get(pool_name)
        if found is None:
            assert self._rows is not None, "screen_rows first"
            rows = [row for row in self._rows if row[2] and includes(row[0])]
            caps = np.array([np.inf if row[6] is None else float(row[6]) for row in rows])
            away = [i for i, row in enumerate(rows) if row[3]]
            found = self._pool_rows[pool_name] = PoolRows(
                rows, caps, away, [row[0] for row in rows]
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
