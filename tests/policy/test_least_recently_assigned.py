"""``least_recently_assigned``: the eligible rep whose last assignment in the pool is the
oldest gets the lead (never assigned first), ties by rotation; checked against a separate
reimplementation, through the policy file, explanations and ``policy check``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.policy import InMemoryState, parse_policy, route, router_inputs
from leadpilot.policy.explain import explain, reason_text
from leadpilot.policy.lint import lint_policy
from leadpilot.schema import Lead, Rep

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
POLICY = parse_policy(
    {
        "pools": [
            {
                "name": "all",
                "strategy": "least_recently_assigned",
                "eligibility": {"territory": False},
            }
        ]
    }
)


def _reference(
    reps: list[str], declined_per_lead: list[frozenset[str]], gaps: list[int]
) -> list[str | None]:
    """The definition, written out: never-assigned reps first in roster order, else the
    rep whose last assignment is the oldest."""
    last: dict[str, datetime] = {}
    out: list[str | None] = []
    now = T0
    for declined, gap in zip(declined_per_lead, gaps, strict=True):
        now += timedelta(minutes=gap)
        eligible = [r for r in reps if r not in declined]
        if not eligible:
            out.append(None)
            continue
        never = [r for r in eligible if r not in last]
        pick = never[0] if never else min(eligible, key=lambda r: last[r])
        last[pick] = now
        out.append(pick)
    return out


@settings(max_examples=40, deadline=None)
@given(
    n_reps=st.integers(2, 6),
    plan=st.lists(
        st.tuples(st.sets(st.integers(0, 5), max_size=3), st.integers(1, 90)),
        min_size=1,
        max_size=30,
    ),
)
def test_matches_the_definition(n_reps: int, plan: list[tuple[set[int], int]]) -> None:
    names = [f"r{i}" for i in range(n_reps)]
    declined = [frozenset(names[i] for i in away if i < n_reps) for away, _ in plan]
    gaps = [gap for _, gap in plan]
    inputs = router_inputs(POLICY, [Rep(n) for n in names])
    state = InMemoryState()
    got: list[str | None] = []
    now = T0
    for k, (away, gap) in enumerate(zip(declined, gaps, strict=True)):
        now += timedelta(minutes=gap)
        d = route(Lead(f"l{k}"), inputs, state, now, np.random.default_rng(k), away)
        state.commit(d)
        got.append(d.rep_id)
    assert got == _reference(names, declined, gaps)


def test_a_rep_back_from_a_break_is_first_and_ties_go_by_rotation() -> None:
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    inputs = router_inputs(POLICY, reps)
    state = InMemoryState()

    def one(k: int, minutes: int, declined: frozenset[str] = frozenset()) -> str | None:
        d = route(
            Lead(f"l{k}"),
            inputs,
            state,
            T0 + timedelta(minutes=minutes),
            np.random.default_rng(0),
            declined,
        )
        state.commit(d)
        return d.rep_id

    # nobody assigned yet: ties, broken by rotation (roster order)
    assert [one(0, 0), one(1, 1)] == ["ann", "bob"]
    # cat declines twice; ann and bob alternate by their last times
    assert one(2, 2, frozenset({"cat"})) == "ann"
    assert one(3, 3, frozenset({"cat"})) == "bob"
    # cat was never assigned: first in line
    assert one(4, 4) == "cat"
    assert one(5, 5) == "ann"


def test_is_explained_and_listed_by_policy_check() -> None:
    reps = [Rep("ann"), Rep("bob")]
    d = route(Lead("l"), router_inputs(POLICY, reps), InMemoryState(), T0, np.random.default_rng(0))
    assert d.strategy == "least_recently_assigned"
    assert "LEAST_RECENTLY_ASSIGNED" in d.reasons
    assert reason_text()["LEAST_RECENTLY_ASSIGNED"] == "the longest without a lead from this pool"
    assert "LEAST_RECENTLY_ASSIGNED: the longest without a lead from this pool" in explain(d)
    summary = [f.message for f in lint_policy(POLICY, reps) if f.path == "pools[0]"]
    assert any("least_recently_assigned (the longest without a lead" in m for m in summary)
    # a fallback too (it needs no model)
    assert parse_policy({"pools": [{"name": "a", "fallback": "least_recently_assigned"}]})
