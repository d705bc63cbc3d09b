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


def test_two_ramping_reps_due_on_the_same_lead_both_hold_their_third_by_hand() -> None:
    # cat and dan at 1/3 each: floor(N/3) reaches 1 for both at the 3rd lead, and one lead
    # cannot go to both. Looking ahead: after lead 2, two leads are owed by lead 3, so lead 2
    # goes to one of them (cat: roster order on a tie), lead 3 to dan; lead 4 is free (the
    # next two are owed by lead 6), lead 5 to cat, lead 6 to dan.
    reps = [Rep("ann"), Rep("bob"), Rep("cat"), Rep("dan")]
    policy = _policy([{"name": "ramp", "reps": ["cat", "dan"],
                       "schedule": [{"min_share": 1 / 3}]}])  # fmt: skip
    decisions = _run(policy, reps, [Lead(f"l{i}", industry="Retail") for i in range(6)])
    assert [d.rep_id for d in decisions] == ["ann", "cat", "dan", "ann", "cat", "dan"]


def test_a_segment_share_is_counted_on_the_leads_of_its_segments_by_hand() -> None:
    # cat holds half of the SMB leads; the Enterprise leads neither count nor fill it.
    # Leads: E E S S E S S. SMB leads so far after each: 0 0 1 2 2 3 4, so cat is owed
    # floor(n/2) = 0 0 0 1 1 1 2: she gets the 2nd SMB lead (the 4th lead) and the 4th SMB
    # lead (the 7th); counted on all the pool's leads she would have been owed 3 by the 7th.
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    policy = _policy(
        [{"name": "smb", "reps": ["cat"], "segments": ["SMB"], "schedule": [{"min_share": 0.5}]}]
    )
    sizes = [5000, 5000, 20, 20, 5000, 20, 20]
    leads = [Lead(f"l{i}", industry="Retail", company_size=s) for i, s in enumerate(sizes)]
    assert [d.rep_id for d in _run(policy, reps, leads)] == [
        "ann", "ann", "ann", "cat", "ann", "ann", "cat"
    ]  # fmt: skip


_SEGMENT_SIZES = {"SMB": 20, "MidMarket": 500, "Enterprise": 5000, None: None}


@settings(max_examples=60, deadline=None)
@given(
    ramps=st.lists(
        st.tuples(
            st.floats(min_value=0.02, max_value=0.5),
            st.one_of(
                st.none(),
                st.lists(st.sampled_from(["SMB", "MidMarket", "Enterprise"]), min_size=1,
                         max_size=2, unique=True),
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    others_cap=st.integers(min_value=1, max_value=6),
    segments=st.lists(st.sampled_from(["SMB", "MidMarket", "Enterprise", None]),
                      min_size=1, max_size=40),
    strategy=st.sampled_from(["predictive", "round_robin", "load_balanced"]),
)  # fmt: skip
def test_the_shares_hold_exactly_under_capacity_pressure(
    ramps: list[tuple[float, list[str] | None]],
    others_cap: int,
    segments: list[str | None],
    strategy: str,
) -> None:
    # Up to three ramping reps, each on its own share, some restricted to segments (so
    # several can be due on the same lead, each counted on its own leads); the experienced
    # reps' daily caps are far below the day's leads (capacity pressure), the ramping reps
    # have room. After every assignment each ramping rep holds at least floor(share x N) of
    # the N assigned leads that count for its share, and no cap is ever exceeded.
    from leadpilot.policy.lint import lint_policy

    dev_reps = [f"new{i}" for i in range(len(ramps))]
    reps = [Rep("ann", max_leads_per_day=others_cap), Rep("bob", max_leads_per_day=others_cap),
            *(Rep(r) for r in dev_reps)]  # fmt: skip
    policy = parse_policy(
        {
            "pools": [{"name": "all", "strategy": strategy,
                       "eligibility": {"territory": False}}],
            "development": [
                {"name": f"ramp{i}", "reps": [rep], "segments": segs,
                 "schedule": [{"min_share": share}]}
                for i, (rep, (share, segs)) in enumerate(zip(dev_reps, ramps, strict=True))
            ],
        }
    )  # fmt: skip
    refused = [f for f in lint_policy(policy, reps) if f.level == "error"]
    if refused:
        # "Exactly" is impossible when the shares of reps who count the same leads add up
        # to more than 100%: `policy check` refuses that policy, and says why.
        assert any(
            f.path == "development" and "no order of assignments can hold them all" in f.message
            for f in refused
        )
        assert _overlapping_total(ramps) > 1
        return
    leads = [
        Lead(f"l{i}", industry="Retail" if i % 3 else "Software",
             company_size=_SEGMENT_SIZES[seg])
        for i, seg in enumerate(segments)
    ]  # fmt: skip
    decisions = _run(policy, reps, leads)
    held = [0] * len(ramps)
    base = [0] * len(ramps)
    per_rep: dict[str, int] = {}
    for lead_segment, d in zip(segments, decisions, strict=True):
        assert d.rep_id is not None  # the ramping reps have room
        per_rep[d.rep_id] = per_rep.get(d.rep_id, 0) + 1
        for i, (share, segs) in enumerate(ramps):
            if segs is None or lead_segment in segs:
                base[i] += 1
                held[i] += d.rep_id == dev_reps[i]
            assert held[i] >= math.floor(share * base[i] + 1e-9), (i, base[i], held[i])
    assert per_rep.get("ann", 0) <= others_cap
    assert per_rep.get("bob", 0) <= others_cap


def _overlapping_total(ramps: list[tuple[float, list[str] | None]]) -> float:
    """The largest sum of shares over rules linked by overlapping segments (a second
    computation of what `policy check` refuses)."""
    n = len(ramps)
    linked = [[a[1] is None or b[1] is None or bool(set(a[1]) & set(b[1])) for b in ramps]
              for a in ramps]  # fmt: skip
    best = 0.0
    for start in range(n):
        seen, todo = {start}, [start]
        while todo:
            i = todo.pop()
            for j in range(n):
                if linked[i][j] and j not in seen:
                    seen.add(j)
                    todo.append(j)
        best = max(best, sum(ramps[i][0] for i in seen))
    return best


def test_policy_check_refuses_shares_over_all_the_leads_they_count_on() -> None:
    from leadpilot.policy.lint import lint_policy

    reps = [Rep("ann"), Rep("cat"), Rep("dan")]
    # 60% of the SMB leads and 60% of all leads: the SMB leads cannot hold both.
    overlapping = _policy([
        {"name": "smb", "reps": ["cat"], "segments": ["SMB"], "schedule": [{"min_share": 0.6}]},
        {"name": "all", "reps": ["dan"], "schedule": [{"min_share": 0.6}]},
    ])  # fmt: skip
    errors = [f for f in lint_policy(overlapping, reps) if f.level == "error"]
    assert [f.path for f in errors] == ["development"]
    assert "120%" in errors[0].message
    assert "all, smb" in errors[0].message
    # the same shares on segments that never meet: each counted on its own leads, fine
    apart = _policy([
        {"name": "smb", "reps": ["cat"], "segments": ["SMB"], "schedule": [{"min_share": 0.6}]},
        {"name": "ent", "reps": ["dan"], "segments": ["Enterprise"],
         "schedule": [{"min_share": 0.6}]},
    ])  # fmt: skip
    assert not [f for f in lint_policy(apart, reps) if f.level == "error"]


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
