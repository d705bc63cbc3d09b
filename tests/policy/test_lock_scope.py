"""``policy.lock_scope``: which pools' routing locks a decision needs.

The expected key sets are worked out by hand from the policy and roster below. The property
test checks the scope against what ``route`` really does: a state that records every counter
the router reads, and every decision's writes, must stay inside the keys ``for_lead`` named.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.ingest.matching import AccountMatcher
from leadpilot.policy import route, router_inputs
from leadpilot.policy.lock_scope import UNPOOLED, LockScope
from leadpilot.policy.policy_file import parse_policy_text
from leadpilot.policy.state import InMemoryState
from leadpilot.schema import Account, Decision, Lead, Rep

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

POLICY = parse_policy_text(
    """
holds:
  enabled: true
  touch_within_days: 90
  use_backup_rep: true
  backup_pool: C
lanes:
  - name: nurture
    assign: false
    when: [{field: source, equals: newsletter}]
  - name: standard
pools:
  - name: A
    member_pools: [A]
    when: [{field: region, equals: east}]
    eligibility: {territory: false}
  - name: B
    member_pools: [B]
    when: [{field: region, equals: west}]
    overflow: [C]
    eligibility: {territory: false}
  - name: C
    member_pools: [C]
    when: [{field: region, equals: centre}]
    eligibility: {territory: false}
  - name: D
    members: [d1, a2]
    when: [{field: region, equals: north}]
    eligibility: {territory: false}
fallback_owner: {rep: m2}
""",
    source="test",
)


def _roster(caps: Mapping[str, int] | None = None) -> list[Rep]:
    caps = caps or {}
    pools = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "d1": None, "m1": None, "m2": None}
    return [
        Rep(
            rep_id=rep_id,
            pool=pool,
            max_leads_per_day=caps.get(rep_id, 100),
            timezone="UTC",
            backup_rep_id="b1" if rep_id == "m1" else None,
        )
        for rep_id, pool in pools.items()
    ]


# m1 owns owned.com (a recent touch: a hold); nobody owns other.com.
ACCOUNTS = AccountMatcher(
    [
        Account("acc-1", name="Owned", domain="owned.com", owner_rep_id="m1",
                last_touch_at=NOW - timedelta(days=3)),
        Account("acc-2", name="Other", domain="other.com"),
    ]
)  # fmt: skip


def _lead(region: str | None, domain: str | None = None, source: str | None = None) -> Lead:
    return Lead(lead_id="l1", region=region, domain=domain, source=source)


def test_rep_and_pool_keys_by_hand() -> None:
    scope = LockScope(POLICY, _roster())
    assert scope.rep_keys("a1") == {"A"}
    assert scope.rep_keys("a2") == {"A", "D"}  # roster pool A, and a member of D by name
    assert scope.rep_keys("d1") == {"D"}
    assert scope.rep_keys("m1") == {UNPOOLED}
    assert scope.rep_keys("nobody") == {UNPOOLED}
    # A's reps include a2, who is in D too: A and D lock each other.
    assert scope.pool_keys("A") == {"A", "D"}
    assert scope.pool_keys("D") == {"A", "D"}
    assert scope.pool_keys("B") == {"B"}
    assert scope.pool_keys("C") == {"C"}


def test_keys_of_leads_by_hand() -> None:
    scope = LockScope(POLICY, _roster())
    assert scope.for_lead(_lead("east"), ACCOUNTS, NOW) == {"A", "D"}
    assert scope.for_lead(_lead("west"), ACCOUNTS, NOW) == {"B", "C"}  # overflow to C
    assert scope.for_lead(_lead("centre"), ACCOUNTS, NOW) == {"C"}
    assert scope.for_lead(_lead("south"), ACCOUNTS, NOW) == frozenset()  # no pool matches
    assert scope.for_lead(_lead("west", "other.com"), ACCOUNTS, NOW) == {"B", "C"}
    # A hold: its owner (in no pool), the owner's backup rep (b1: B) and the backup pool C,
    # plus the pool the rules pick (A, with D) in case the hold places nothing.
    assert scope.for_lead(_lead("east", "owned.com"), ACCOUNTS, NOW) == {
        UNPOOLED, "B", "C", "A", "D",
    }  # fmt: skip
    # A lane that assigns nobody: only the hold's owner and backup rep.
    nurture = _lead("east", "owned.com", source="newsletter")
    assert scope.for_lead(nurture, ACCOUNTS, NOW) == {UNPOOLED, "B"}
    # The touch is older than the hold's 90 days: no hold.
    assert scope.for_lead(_lead("centre", "owned.com"), ACCOUNTS, NOW + timedelta(days=100)) == {
        "C"
    }


def _decision(rep: str | None, pool: str | None, strategy: str = "round_robin") -> Decision:
    return Decision(
        lead_id="l1", rep_id=rep, pool=pool, lane="standard", strategy=strategy,
        reasons=(), decided_at=NOW,
    )  # fmt: skip


def test_covers_needs_every_pool_of_the_assigned_rep() -> None:
    scope = LockScope(POLICY, _roster())
    assert not scope.covers(_decision("a2", "A"), frozenset({"A"}))  # a2 is in D too
    assert scope.covers(_decision("a2", "A"), frozenset({"A", "D"}))
    assert not scope.covers(_decision("c1", "C"), frozenset({"B"}))
    assert scope.covers(_decision(None, None), frozenset())
    # The fallback owner is assigned past caps without reading its counters: only the pool
    # it counts in is needed.
    assert scope.covers(_decision("m2", "B", "fallback_owner"), frozenset({"B"}))
    assert not scope.covers(_decision("m2", "B", "fallback_owner"), frozenset({"C"}))


class _Recording(InMemoryState):
    """An in-memory state that records which reps' and pools' counters were read."""

    def __init__(self) -> None:
        super().__init__()
        self.reps_read: set[str] = set()
        self.scopes_read: set[str] = set()

    def daily_count(self, rep_id: str, day: date) -> int:
        self.reps_read.add(rep_id)
        return super().daily_count(rep_id, day)

    def open_count(self, rep_id: str, now: datetime) -> int:
        self.reps_read.add(rep_id)
        return super().open_count(rep_id, now)

    def window_counts(self, pool: str, since_day: date) -> Mapping[str, int]:
        self.scopes_read.add(pool.split("#", 1)[0])
        return super().window_counts(pool, since_day)

    def rotation(self, pool: str) -> Mapping[str, float]:
        self.scopes_read.add(pool)
        return super().rotation(pool)


_LEADS = st.lists(
    st.tuples(
        st.sampled_from(["east", "west", "centre", "north", "south"]),
        st.sampled_from([None, "owned.com", "other.com"]),
        st.sampled_from([None, "newsletter"]),
    ),
    min_size=1,
    max_size=25,
)
_CAPS = st.fixed_dictionaries({r: st.integers(0, 3) for r in ("a1", "a2", "b1", "c1", "d1", "m1")})


@settings(max_examples=60, deadline=None)
@given(leads=_LEADS, caps=_CAPS)
def test_route_stays_inside_the_keys_it_was_given(
    leads: list[tuple[str, str | None, str | None]], caps: dict[str, int]
) -> None:
    reps = _roster(caps)
    scope = LockScope(POLICY, reps)
    inputs = router_inputs(POLICY, reps, scorer=None, accounts=ACCOUNTS)
    state = _Recording()
    rng = np.random.default_rng(0)
    paths = set()
    for i, (region, domain, source) in enumerate(leads):
        lead = Lead(lead_id=f"l{i}", region=region, domain=domain, source=source)
        held = scope.for_lead(lead, ACCOUNTS, NOW)
        state.reps_read.clear()
        state.scopes_read.clear()
        decision = route(lead, inputs, state, NOW, rng)
        paths.add(decision.strategy)
        # Every counter read is guarded by a key held: a rep's by one of its pools' keys
        # (each writer of that rep holds them all), a pool's by its own key.
        for rep_id in state.reps_read:
            assert scope.rep_keys(rep_id) & held, (rep_id, held, decision.reasons)
        assert state.scopes_read <= held, (state.scopes_read, held, decision.reasons)
        assert scope.covers(decision, held), (decision, held)
        state.commit(decision)
    assert paths  # at least one decision was checked
