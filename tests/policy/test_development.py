"""Development shares: hand-checked cases, the LP's price, and the exact share under
capacity pressure (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.errors import PolicyError
from leadpilot.policy import InMemoryState, parse_policy, route, router_inputs
from leadpilot.policy.development import share_of
from leadpilot.policy.pricing import solve_assignment_lp
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Lead, Rep

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
# cat converts worst: without a development share she would never get a lead.
SCORER = TableScorer({"ann": {"Retail": 0.5}, "bob": {"Retail": 0.4}, "cat": {"Retail": 0.1}})


def _policy(development: list[dict[str, object]], **extra: object):  # type: ignore[no-untyped-def]
    return parse_policy(
        {
            "pools": [{"name": "all", "eligibility": {"territory": False}}],
            "fairness": {"penalty": 0.0, "band": (0.0, 100.0)},
            "development": development,
            **extra,
        }
    )


def _run(policy, reps, leads, scorer=SCORER):  # type: ignore[no-untyped-def]
    state, rng = InMemoryState(), np.random.default_rng(0)
    inputs = router_inputs(policy, reps, scorer=scorer)
    out = []
    for i, lead in enumerate(leads):
        d = route(lead, inputs, state, NOW + timedelta(minutes=i), rng)
        state.commit(d)
        out.append(d)
    return out


def test_a_named_rep_gets_exactly_a_quarter_of_the_leads_by_hand() -> None:
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    policy = _policy([{"name": "ramp", "reps": ["cat"], "schedule": [{"min_share": 0.25}]}])
    decisions = _run(policy, reps, [Lead(f"l{i}", industry="Retail") for i in range(8)])
    # after the 4th lead floor(0.25 x 4) = 1 is due, after the 8th floor(0.25 x 8) = 2
    cat = [i + 1 for i, d in enumerate(decisions) if d.rep_id == "cat"]
    assert cat == [4, 8]
    assert all("DEVELOPMENT:ramp" in decisions[i - 1].reasons for i in cat)
    assert decisions[3].strategy == "development"
    assert decisions[3].propensity == 1.0
    assert decisions[3].p_convert == pytest.approx(0.1)
    assert {d.rep_id for i, d in enumerate(decisions) if i + 1 not in cat} == {"ann"}


def test_the_ramp_follows_the_start_date() -> None:
    steps = [{"from_day": 0, "min_share": 0.1}, {"from_day": 30, "min_share": 0.2}]
    rule = {"name": "new", "started_within_days": 90, "schedule": steps}
    policy = _policy([rule])
    assert share_of(Rep("x", start_date=date(2026, 11, 13)), policy, NOW).min_share == 0.1  # type: ignore[union-attr]
    assert share_of(Rep("x", start_date=date(2026, 10, 1)), policy, NOW).min_share == 0.2  # type: ignore[union-attr]
    assert share_of(Rep("x", start_date=date(2026, 1, 1)), policy, NOW) is None
    assert share_of(Rep("x"), policy, NOW) is None  # no start date, not named


def test_a_segment_rule_only_gives_leads_of_its_segments() -> None:
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    policy = _policy(
        [{"name": "smb", "reps": ["cat"], "segments": ["SMB"], "schedule": [{"min_share": 0.5}]}]
    )
    big = [Lead(f"e{i}", industry="Retail", company_size=5000) for i in range(4)]
    assert all(d.rep_id == "ann" for d in _run(policy, reps, big))
    small = [Lead(f"s{i}", industry="Retail", company_size=20) for i in range(4)]
    assert [d.rep_id for d in _run(policy, reps, small)] == ["ann", "cat", "ann", "cat"]


def test_capacity_comes_before_the_share() -> None:
    reps = [Rep("ann"), Rep("bob"), Rep("cat", max_leads_per_day=1)]
    policy = _policy([{"name": "ramp", "reps": ["cat"], "schedule": [{"min_share": 0.5}]}])
    decisions = _run(policy, reps, [Lead(f"l{i}", industry="Retail") for i in range(6)])
    assert sum(d.rep_id == "cat" for d in decisions) == 1


def test_bad_development_entries_name_the_key() -> None:
    with pytest.raises(PolicyError, match="reps"):
        _policy([{"name": "x", "schedule": [{"min_share": 0.1}]}])
    with pytest.raises(PolicyError, match="from_day"):
        _policy([{"name": "x", "reps": ["a"], "schedule": [
            {"from_day": 30, "min_share": 0.1}, {"from_day": 0, "min_share": 0.2}]}])  # fmt: skip
    with pytest.raises(PolicyError, match="segment"):
        _policy([{"name": "x", "reps": ["a"], "segments": ["Huge"],
                  "schedule": [{"min_share": 0.1}]}])  # fmt: skip
    with pytest.raises(PolicyError, match="min_share"):
        _policy([{"name": "x", "reps": ["a"], "schedule": [{"min_share": 1.5}]}])


def test_the_share_is_priced_at_the_conversions_it_costs() -> None:
    # Two expected leads, both converting at 0.5 with ann and 0.1 with cat; cat must hold half
    # a lead (a fractional floor, so the dual is unique: at a whole lead it is any value
    # between the two neighbouring moves' costs). Each unit costs 0.4: her price is -0.4, so
    # with it her score (0.1 + 0.4) equals ann's and the router is indifferent, as the plan.
    p = np.array([[0.5, 0.1], [0.5, 0.1]])
    ok = np.ones((2, 2), dtype=bool)
    x, price = solve_assignment_lp(
        p, ok, 1.0, np.array([10.0, 10.0]), np.zeros(2), np.ones(2), (0.0, 100.0), 0.0,
        floor=np.array([0.0, 0.5]), floor_penalty=2.0,
    )  # fmt: skip
    assert x[:, 1].sum() == pytest.approx(0.5)
    assert price == pytest.approx([0.0, -0.4])
    # without the floor the LP is unchanged: everything to ann, no prices
    x0, price0 = solve_assignment_lp(
        p, ok, 1.0, np.array([10.0, 10.0]), np.zeros(2), np.ones(2), (0.0, 100.0), 0.0
    )
    assert x0[:, 1].sum() == pytest.approx(0.0)
    assert price0 == pytest.approx([0.0, 0.0])


def test_segment_rows_limit_what_counts_towards_the_share() -> None:
    # Only lead 0 is in cat's segment: the share is met with it, at its cost 0.5 - 0.1 (not
    # with lead 1, which would cost the same 0.4 but does not count).
    p = np.array([[0.5, 0.1], [0.9, 0.5]])
    ok = np.ones((2, 2), dtype=bool)
    rows = np.array([[True, True], [False, False]])
    x, price = solve_assignment_lp(
        p, ok, 1.0, np.array([10.0, 10.0]), np.zeros(2), np.ones(2), (0.0, 100.0), 0.0,
        floor=np.array([0.0, 0.5]), floor_rows=rows, floor_penalty=2.0,
    )  # fmt: skip
    assert x[0, 1] == pytest.approx(0.5)
    assert x[1, 1] == pytest.approx(0.0)
    assert price[1] == pytest.approx(-0.4)


@settings(max_examples=40, deadline=None)
@given(
    share=st.floats(min_value=0.02, max_value=0.6),
    others_cap=st.integers(min_value=1, max_value=6),
    n_leads=st.integers(min_value=1, max_value=40),
    strategy=st.sampled_from(["predictive", "round_robin", "load_balanced"]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_the_share_holds_exactly_under_capacity_pressure(
    share: float, others_cap: int, n_leads: int, strategy: str, seed: int
) -> None:
    # The experienced reps' daily caps are far below the day's leads (capacity pressure);
    # the ramping rep has room. After every assignment the ramping rep holds at least
    # floor(share x N) of the pool's N assigned leads, and no cap is ever exceeded.
    rng = np.random.default_rng(seed)
    reps = [Rep("ann", max_leads_per_day=others_cap), Rep("bob", max_leads_per_day=others_cap),
            Rep("cat", max_leads_per_day=1000)]  # fmt: skip
    policy = parse_policy(
        {
            "pools": [{"name": "all", "strategy": strategy,
                       "eligibility": {"territory": False}}],
            "development": [{"name": "ramp", "reps": ["cat"],
                             "schedule": [{"min_share": share}]}],
        }
    )  # fmt: skip
    leads = [
        Lead(f"l{i}", industry=str(rng.choice(["Retail", "Software"]))) for i in range(n_leads)
    ]
    decisions = _run(policy, reps, leads)
    n = cat = 0
    per_rep: dict[str, int] = {}
    for d in decisions:
        if d.rep_id is None:
            continue
        n += 1
        cat += d.rep_id == "cat"
        per_rep[d.rep_id] = per_rep.get(d.rep_id, 0) + 1
        assert cat >= math.floor(share * n + 1e-9)
    assert per_rep.get("ann", 0) <= others_cap
    assert per_rep.get("bob", 0) <= others_cap


@pytest.mark.slow
def test_the_batch_router_with_shadow_prices_keeps_the_share_on_a_synthetic_world() -> None:
    from leadpilot.ingest import leads_from_frame, reps_from_frame
    from leadpilot.policy.batch import route_batch
    from leadpilot.synth import generate_world

    # 5 active reps with daily caps of 3-4 for ~12 leads a day: under pressure.
    world = generate_world(n_leads=3_000, n_reps=6, n_new_leads=240, seed=1)
    reps = reps_from_frame(world.reps)
    active = world.active_rep_ids
    truth = world.truth
    weakest = min(active, key=lambda r: truth.reps[truth.rep_ids.index(r)].skill)
    policy = parse_policy(
        {
            "lanes": [{"name": "standard", "sla_minutes": 240, "working_hours": False}],
            "pools": [{"name": "all", "eligibility": {"territory": False}}],
            "fairness": {"window_days": 90},
            "development": [{"name": "ramp", "reps": [weakest],
                             "schedule": [{"min_share": 0.2}]}],
        }
    )  # fmt: skip
    history = leads_from_frame(world.history)
    inputs = router_inputs(policy, reps, scorer=truth.as_scorer(), history=history)
    decisions = route_batch(leads_from_frame(world.new_leads), inputs, history=history)
    n = mine = forced = 0
    for d in decisions:
        if d.rep_id is None:
            continue
        n += 1
        mine += d.rep_id == weakest
        forced += "DEVELOPMENT:ramp" in d.reasons
        if weakest not in d.exclusions:  # at a cap, capacity comes first
            assert mine >= math.floor(0.2 * n + 1e-9)
    # the prices did part of the work: the rep got leads the rule did not have to force
    assert mine > forced


def test_lint_names_unknown_development_reps_and_shares_over_the_whole_pool() -> None:
    from leadpilot.policy.lint import lint_policy

    policy = _policy([
        {"name": "a", "reps": ["ann", "zed"], "schedule": [{"min_share": 0.6}]},
    ])  # fmt: skip
    findings = lint_policy(policy, [Rep("ann"), Rep("bob")])
    paths = {(f.level, f.path) for f in findings}
    assert ("warning", "development[0].reps") in paths
    assert ("error", "development") not in paths  # one known rep at 60%
    two = _policy([{"name": "a", "reps": ["ann", "bob"], "schedule": [{"min_share": 0.6}]}])
    assert ("error", "development") in {
        (f.level, f.path) for f in lint_policy(two, [Rep("ann"), Rep("bob")])
    }
