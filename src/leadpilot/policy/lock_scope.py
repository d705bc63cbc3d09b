"""Which pools' routing locks a decision needs (``store.engine.routing_transaction``).

The counters a decision reads and writes are of two kinds:

- **per pool**: round-robin credits and fairness windows (``rr`` and ``win`` counters, scoped
  by pool name): read and written only by decisions in that pool, under its key;
- **per rep**: the daily count and the open-lead count (caps span pools). A pool's decision
  reads them for its members (the screen, the strategy, the shadow prices) and writes them
  for the rep it assigns.

So every pool has a **lock set**: the pool itself plus every pool any of its members belongs
to (``rep_keys``). A decision that may assign a rep holds all of that rep's pools; a decision
that reads a rep's counters holds at least one of them (the pool it screens); so any reader
and writer of one rep's counters share a key and run one after the other. Pools whose reps
are disjoint have lock sets of their own and route in parallel; pools that share reps lock
each other (they share capacity, so they must).

A rep in no pool of the policy (an account owner outside every pool) gets the key ``""``;
its roster ``pool`` name is always one of its keys (a hold's decision counts in that pool).
The policy's ``fallback_owner`` is assigned past caps without reading its counters, and
counter updates are increments, so its decision commutes with any other that reads that
rep: it needs no key of the rep's pools (only of the pool it counts in).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadpilot.policy.holds import AccountLookup
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.router import reach
from leadpilot.schema import Decision, Lead, Rep

__all__ = ["UNPOOLED", "LockScope"]

UNPOOLED = ""  # the key of reps in no pool (a pool name is never empty)


class LockScope:
    """The lock sets of one policy and roster (build once per policy and roster version)."""

    def __init__(self, policy: Policy, reps: Sequence[Rep]) -> None:
        self.policy = policy
        self.reps = reps
        self._by_id = {rep.rep_id: rep for rep in reps}
        self._rep_keys: dict[str, frozenset[str]] = {}
        members: dict[str, list[Rep]] = {p.name: [] for p in policy.pools}
        for rep in reps:
            names = {p.name for p in policy.pools if p.includes(rep)}
            for name in names:
                members[name].append(rep)
            if rep.pool:
                names.add(rep.pool)
            self._rep_keys[rep.rep_id] = frozenset(names or {UNPOOLED})
        self._pool_keys = {
            name: frozenset({name}).union(*(self._rep_keys[r.rep_id] for r in reps_in))
            for name, reps_in in members.items()
        }

    def rep_keys(self, rep_id: str) -> frozenset[str]:
        """The keys a decision assigning ``rep_id`` holds: every pool the rep is in."""
        return self._rep_keys.get(rep_id, frozenset({UNPOOLED}))

    def pool_keys(self, pool: str) -> frozenset[str]:
        """The keys of a decision that screens ``pool``: the pool and its members' pools."""
        return self._pool_keys[pool]

    def for_lead(self, lead: Lead, accounts: AccountLookup | None, now: datetime) -> frozenset[str]:
        """The keys routing the new ``lead`` at ``now`` needs (``router.reach``)."""
        found = reach(lead, self.policy, self._by_id, accounts, now)
        return self._union(
            [self.pool_keys(p.name) for p in found.pools]
            + [self.rep_keys(r) for r in found.hold_reps]
        )

    def covers(self, decision: Decision, held: frozenset[str]) -> bool:
        """Whether ``held`` covers what ``decision`` writes: its pool's counters and, unless
        it is the fallback owner's (see the module docstring), every pool of its rep."""
        if decision.pool is not None and decision.pool not in held:
            return False
        if decision.rep_id is None or decision.strategy == "fallback_owner":
            return True
        return self.rep_keys(decision.rep_id) <= held

    @staticmethod
    def _union(sets: list[frozenset[str]]) -> frozenset[str]:
        return frozenset().union(*sets) if sets else frozenset()
