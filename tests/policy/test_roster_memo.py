"""The roster memo (``policy/roster_memo.py``) changes no verdict: with every eligibility
rule switched on, screening a roster with the memo gives the same eligible reps and
exclusion codes as checking every rule for every rep, lead after lead; and the batch
router decides the same with and without it."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.policy import InMemoryState, parse_policy, router_inputs
from leadpilot.policy.availability import local_day
from leadpilot.policy.eligibility import Checker
from leadpilot.policy.pricer import _remaining, _remaining_rows
from leadpilot.policy.router import lead_view
from leadpilot.policy.scoring import qualify
from leadpilot.policy.strategies.predictive import expected_response_hours
from leadpilot.schema import Decision, Lead, Rep

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
REGIONS = ("NA", "EMEA", "APAC")
PRODUCTS = ("core", "addon")
LANGUAGES = ("en", "de")
SEGMENTS = ("SMB", "MidMarket", "Enterprise", "tier-1")

POLICY = parse_policy(
    {
        "pools": [
            {
                "name": "all",
                "strategy": "round_robin",
                "eligibility": {
                    "territory": True,
                    "product": True,
                    "language": True,
                    "industry": True,
                    "segment": True,
                    "account_tier": True,
                    "seniority": [
                        {"when": [{"field": "demo_request", "equals": True}], "min_level": "mid"},
                        {"when": [{"field": "company_size", "at_least": 1000}],
                         "min_level": "senior"},
                    ],
                },
            }
        ],
        "territories": {"NA": ["US"], "EMEA": ["DE"]},
        "availability": {"out_of_office": [{"rep": "r1", "start": "2026-11-24T00:00:00Z",
                                            "end": "2026-11-25T00:00:00Z"}]},
    }
)  # fmt: skip


def _subset(draw: Any, values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(draw(st.sets(st.sampled_from(values), max_size=2)))


@st.composite
def rosters(draw: Any) -> list[Rep]:
    return [
        Rep(
            f"r{i}",
            regions=_subset(draw, REGIONS),
            products=_subset(draw, PRODUCTS),
            languages=_subset(draw, LANGUAGES),
            industries=_subset(draw, ("Software", "Retail")),
            segments=_subset(draw, SEGMENTS),
            seniority=draw(st.sampled_from([None, "junior", "mid", "senior"])),
            max_leads_per_day=draw(st.none() | st.integers(0, 2)),
            active=draw(st.booleans()) if i else True,
        )
        for i in range(draw(st.integers(2, 8)))
    ]


@st.composite
def leads(draw: Any) -> list[Lead]:
    return [
        Lead(
            f"l{i}",
            created_at=NOW + timedelta(minutes=i),
            region=draw(st.sampled_from((*REGIONS, None))),
            country=draw(st.sampled_from(("US", "DE", None))),
            product=draw(st.sampled_from((*PRODUCTS, None))),
            language=draw(st.sampled_from((*LANGUAGES, None))),
            industry=draw(st.sampled_from(("Software", "Retail", None))),
            company_size=draw(st.sampled_from((None, 20.0, 300.0, 5000.0))),
            attributes={"demo_request": draw(st.booleans())},
        )
        for i in range(draw(st.integers(1, 25)))
    ]


@settings(max_examples=60, deadline=None)
@given(reps=rosters(), stream=leads(), tier=st.sampled_from([None, "tier-1", "tier-2"]))
def test_memo_screens_as_checking_every_rule(
    reps: list[Rep], stream: list[Lead], tier: Any
) -> None:
    inputs = router_inputs(POLICY, reps)
    memo = inputs.roster_memo()
    assert memo is not None
    pool = POLICY.pools[0]
    state = InMemoryState()
    for lead in stream:
        view = lead_view(lead, POLICY)
        qualify(view, POLICY)
        view.derived["account_tier"] = tier
        kw: dict[str, Any] = {"policy": POLICY, "state": state, "now": lead.created_at,
                              "lane": POLICY.lanes[0], "declined": frozenset()}  # fmt: skip
        fast = Checker(**kw, memo=memo).screen(inputs.reps, pool, view)
        slow = Checker(**kw).screen(inputs.reps, pool, view)
        assert [r.rep_id for r in fast.eligible] == [r.rep_id for r in slow.eligible]
        assert fast.exclusions == slow.exclusions
        assert fast.local_days == slow.local_days
    assert memo.hits + len(memo.verdicts) >= len(stream)  # every lead went through the memo


def test_memo_screens_every_lead_profile_as_checking_every_rule() -> None:
    """Every combination of the lead fields the rules read, in one stream (so a memo key
    that missed a field would hand one profile another's verdict), against reps that
    differ in each rule."""
    reps = [
        Rep(f"r{i}", regions=(region,), products=(product,), languages=(language,),
            segments=(segment,), seniority=seniority)
        for i, (region, product, language, segment, seniority) in enumerate(
            itertools.product(REGIONS[:2], PRODUCTS, LANGUAGES, ("SMB", "tier-1"),
                              ("junior", "senior"))
        )
    ]  # fmt: skip
    stream = [
        Lead(f"l{i}", created_at=NOW, region=region, country=country, product=product,
             language=language, company_size=size, attributes={"demo_request": demo})
        for i, (region, country, product, language, size, demo) in enumerate(
            itertools.product((*REGIONS, None), ("US", "DE", None), (*PRODUCTS, None),
                              LANGUAGES, (20.0, 5000.0), (True, False))
        )
    ]  # fmt: skip
    inputs = router_inputs(POLICY, reps)
    memo = inputs.roster_memo()
    pool = POLICY.pools[0]
    kw: dict[str, Any] = {"policy": POLICY, "state": InMemoryState(), "now": NOW,
                          "lane": POLICY.lanes[0], "declined": frozenset()}  # fmt: skip
    for tier in (None, "tier-1"):
        for lead in stream:
            view = lead_view(lead, POLICY)
            qualify(view, POLICY)
            view.derived["account_tier"] = tier
            fast = Checker(**kw, memo=memo).screen(inputs.reps, pool, view)
            slow = Checker(**kw).screen(inputs.reps, pool, view)
            assert fast.exclusions == slow.exclusions, lead


def test_memo_answers_only_for_its_own_policy_and_roster() -> None:
    reps = [Rep("r0"), Rep("r1")]
    inputs = router_inputs(POLICY, reps)
    assert inputs.roster_memo() is not None
    assert replace(inputs, reps=(Rep("r0"),)).roster_memo() is None
    other = parse_policy({"pools": [{"name": "all", "strategy": "round_robin"}]})
    assert inputs.with_policy(other).roster_memo() is not inputs.memo
    assert inputs.with_policy(other).roster_memo() is not None


AVAILABILITY_POLICY = parse_policy(
    {
        "pools": [{"name": "all", "strategy": "round_robin"}],
        "availability": {"out_of_office": [{"rep": "r1", "start": "2026-11-24T13:00:00Z",
                                            "end": "2026-11-24T15:00:00Z"}]},
    }
)  # fmt: skip


@st.composite
def busy_rosters(draw: Any) -> list[Rep]:
    """Reps that differ in what is checked per lead: zones, working hours, both caps,
    activity, a policy out-of-office range (r1) and their own."""
    zones = ("UTC", "America/New_York", "Asia/Tokyo", "Europe/Berlin")
    hours = (None, "Mon-Fri 09:00-17:00", "Mon-Sun 00:00-23:59", "Sat-Sun 10:00-14:00")
    return [
        Rep(
            f"r{i}",
            timezone=draw(st.sampled_from(zones)),
            working_hours=draw(st.sampled_from(hours)),
            max_leads_per_day=draw(st.none() | st.integers(0, 3)),
            max_open_leads=draw(st.none() | st.integers(0, 4)),
            active=draw(st.booleans()) if i else True,
            out_of_office=((NOW, NOW + timedelta(hours=3)),) if draw(st.booleans()) else (),
        )
        for i in range(draw(st.integers(2, 9)))
    ]


@settings(max_examples=80, deadline=None)
@given(
    reps=busy_rosters(),
    steps=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 8)), min_size=1, max_size=20),
    declined=st.sets(st.sampled_from([f"r{i}" for i in range(9)]), max_size=3),
    working=st.booleans(),
)
def test_memo_screen_and_response_hours_match_the_per_rep_checks(
    reps: list[Rep], steps: list[tuple[int, int]], declined: set[str], working: bool
) -> None:
    """The memo's screen loop (one row per rep, per-zone answers) gives the eligible reps,
    codes and local days of ``availability_block`` rep by rep as the live counts fill up;
    the checker's response hours equal ``expected_response_hours`` computed from the state
    directly; the pricer's per-pool rows give the members, today's counts and the leads left
    of the per-rep reading."""
    policy = AVAILABILITY_POLICY
    inputs = router_inputs(policy, reps)
    memo = inputs.roster_memo()
    assert memo is not None
    pool, lane = policy.pools[0], policy.lanes[0].model_copy(update={"working_hours": working})
    state = InMemoryState(open_lead_ttl=timedelta(hours=5))
    typical = {r.rep_id: 1.5 + i for i, r in enumerate(reps) if i % 3}  # some reps unknown
    fallback = float(np.median(list(typical.values()))) if typical else 0.0
    view = lead_view(Lead("l", created_at=NOW), policy)
    for minutes, pick in steps:
        now = NOW + timedelta(minutes=minutes)
        kw: dict[str, Any] = {"policy": policy, "state": state, "now": now, "lane": lane,
                              "declined": frozenset(declined)}  # fmt: skip
        fast_checker = Checker(**kw, memo=memo)
        fast = fast_checker.screen(inputs.reps, pool, view)
        slow = Checker(**kw).screen(inputs.reps, pool, view)
        assert [r.rep_id for r in fast.eligible] == [r.rep_id for r in slow.eligible]
        assert fast.exclusions == slow.exclusions
        assert fast.local_days == slow.local_days
        hours = fast_checker.response_hours(
            fast.eligible, typical, policy.predictive.minutes_per_open_lead / 60.0, fallback
        )
        want = expected_response_hours(fast.eligible, state, now, policy, typical)
        np.testing.assert_array_equal(hours, want)
        # The pricer's cache key reads the same rows: members' leads today and leads left.
        rows = memo.pool_rows(pool.name, pool.includes)
        members = [r for r in inputs.reps if r.active and pool.includes(r)]
        assert [row[0] for row in rows.rows] == members
        used = fast_checker.used_today(rows.rows)
        np.testing.assert_array_equal(
            used, [state.daily_count(r.rep_id, local_day(r, now)) for r in members]
        )
        np.testing.assert_array_equal(
            _remaining_rows(rows, used, policy, now, frozenset(declined)),
            _remaining(members, used, Checker(**kw), policy, now, frozenset(declined)),
        )
        rep = inputs.reps[pick % len(inputs.reps)]  # a lead for it, whatever its caps
        state.commit(
            Decision(f"l{minutes}", rep.rep_id, pool.name, lane.name, "test", (), now,
                     rep_local_day=local_day(rep, now))
        )  # fmt: skip
