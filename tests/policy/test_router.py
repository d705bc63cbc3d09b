"""The router core on hand-built rosters: every rule, code and propensity checked by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from routing_helpers import decide

from leadpilot.policy import InMemoryState, parse_policy
from leadpilot.policy.explain import explain, why_not
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Account, Lead, Rep

# Monday 10:00 UTC: 11:00 in Berlin, 10:00 in London, 05:00 in New York.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOURS = "Mon-Fri 09:00-17:00"

REPS = [
    Rep("ann", regions=("EMEA",), timezone="Europe/Berlin", working_hours=HOURS,
        max_leads_per_day=5, role="senior", backup_rep_id="bob", languages=("de", "en")),
    Rep("bob", regions=("EMEA",), timezone="Europe/London", working_hours=HOURS,
        max_leads_per_day=5, role="mid", languages=("en",)),
    Rep("cat", regions=("NA",), timezone="America/New_York", working_hours=HOURS,
        max_leads_per_day=5, role="junior", languages=("en",)),
    Rep("dan", regions=("NA",), timezone="America/New_York", active=False),
]  # fmt: skip


@dataclass(frozen=True)
class _Match:
    account: Account
    method: str = "domain"


class _Accounts:
    def __init__(self, *accounts: Account) -> None:
        self.by_domain = {a.domain: a for a in accounts}

    def match(self, lead: Lead) -> _Match | None:
        account = self.by_domain.get(lead.domain)
        return _Match(account) if account else None


def _policy(**overrides: Any) -> Any:
    doc: dict[str, Any] = {"pools": [{"name": "all", "strategy": "round_robin"}]}
    doc.update(overrides)
    return parse_policy(doc)


def _route(lead: Lead, policy: Any, state: InMemoryState | None = None, **kw: Any) -> Any:
    kw.setdefault("now", NOW)
    kw.setdefault("rng", np.random.default_rng(0))
    kw.setdefault("scorer", None)
    return decide(lead, policy=policy, reps=REPS, state=state or InMemoryState(), **kw)


def test_round_robin_assigns_in_turn_and_records_every_exclusion() -> None:
    state = InMemoryState()
    policy = _policy()
    got = []
    for i in range(6):
        d = _route(Lead(f"l{i}", region="EMEA"), policy, state)
        state.commit(d)
        got.append(d.rep_id)
    assert got == ["ann", "bob", "ann", "bob", "ann", "bob"]
    assert d.exclusions == {"cat": "OUT_OF_TERRITORY", "dan": "INACTIVE"}
    assert d.strategy == "round_robin"
    assert d.propensity == 1.0
    assert "TERRITORY:EMEA" in d.reasons
    assert d.sla_deadline == NOW + timedelta(minutes=240)
    assert d.rep_local_day == NOW.date()


def test_away_rep_keeps_their_turn_instead_of_passing_it_on() -> None:
    state = InMemoryState()
    # Working hours off: cat (New York) is off shift at 10:00 UTC; this is about turns.
    policy = _policy(pools=[{"name": "all", "strategy": "round_robin",
                             "eligibility": {"territory": False}}],
                     lanes=[{"name": "standard", "working_hours": False}])  # fmt: skip
    order = []
    ooo = {"rep": "bob", "start": NOW.isoformat(), "end": (NOW + timedelta(hours=1)).isoformat()}
    away = _policy(pools=policy.model_dump(by_alias=True)["pools"],
                   lanes=[{"name": "standard", "working_hours": False}],
                   availability={"out_of_office": [ooo]})  # fmt: skip
    for i, pol in enumerate([policy, away, away, policy, policy, policy]):
        d = _route(Lead(f"l{i}"), pol, state)
        state.commit(d)
        order.append(d.rep_id)
    # ann, then bob is away: cat takes the lead, ann next; bob comes back at the front.
    assert order == ["ann", "cat", "ann", "bob", "cat", "ann"]


def test_weighted_round_robin_splits_18_18_32_32_exactly_over_100_leads() -> None:
    reps = [Rep(f"r{i}") for i in range(4)]
    policy = _policy(pools=[{"name": "all", "strategy": "weighted_round_robin",
                             "weights": {"r0": 18, "r1": 18, "r2": 32, "r3": 32}}])  # fmt: skip
    state = InMemoryState()
    counts = dict.fromkeys(["r0", "r1", "r2", "r3"], 0)
    for i in range(100):
        d = decide(Lead(f"l{i}"), policy=policy, reps=reps, state=state, scorer=None, now=NOW,
                  rng=np.random.default_rng(i))  # fmt: skip
        state.commit(d)
        counts[d.rep_id] += 1
        if i == 49:  # smooth: halfway the split is already 9/9/16/16
            assert counts == {"r0": 9, "r1": 9, "r2": 16, "r3": 16}
    assert counts == {"r0": 18, "r1": 18, "r2": 32, "r3": 32}


def test_load_balanced_picks_fewest_open_leads() -> None:
    state = InMemoryState()
    policy = _policy(pools=[{"name": "all", "strategy": "load_balanced",
                             "eligibility": {"territory": False}}])  # fmt: skip
    for rep, n in (("ann", 2), ("bob", 1), ("cat", 3)):
        for k in range(n):
            d = _route(Lead(f"x{rep}{k}"), _policy(pools=[{"name": "p", "members": [rep]}]))
            state.commit(d)
    d = _route(Lead("new"), policy, state)
    assert d.rep_id == "bob"
    assert "LOAD_BALANCED" in d.reasons


def test_hot_lane_needs_reps_working_now_and_sets_the_sla() -> None:
    policy = _policy(
        lanes=[
            {"name": "hot", "when": [{"field": "demo_request", "equals": True}],
             "sla_minutes": 15, "require_available_now": True},
            {"name": "standard", "sla_minutes": 240},
        ],
        pools=[{"name": "all", "strategy": "round_robin", "eligibility": {"territory": False}}],
    )  # fmt: skip
    hot = Lead("h", attributes={"demo_request": "true"})
    d = _route(hot, policy)
    assert d.lane == "hot"
    assert "HOT_LANE" in d.reasons
    assert d.sla_deadline == NOW + timedelta(minutes=15)
    assert d.exclusions["cat"] == "OUTSIDE_WORKING_HOURS"  # 05:00 in New York
    night = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    d = _route(hot, policy, now=night)
    assert d.rep_id is None
    assert d.reasons[-2:] == ("NO_ELIGIBLE_REP", "ALL_AWAY_OR_FULL")
    d = _route(Lead("s"), policy, now=night)  # a standard lead may wait for the morning
    assert d.rep_id == "ann"
    assert d.lane == "standard"


def test_holiday_and_partial_day_out_of_office() -> None:
    policy = _policy(
        pools=[{"name": "all", "strategy": "round_robin", "eligibility": {"territory": False}}],
        availability={
            "holidays": [{"date": "2026-11-23", "regions": ["EMEA"], "name": "test"}],
            "out_of_office": [{"rep": "cat", "start": "2026-11-23T09:00:00",
                               "end": "2026-11-23T12:00:00"}],  # naive: New York time
        },
    )  # fmt: skip
    d = _route(Lead("l"), policy)  # 05:00 New York: cat is not yet out
    assert d.rep_id == "cat"
    assert d.exclusions == {"ann": "OUT_OF_OFFICE", "bob": "OUT_OF_OFFICE", "dan": "INACTIVE"}
    d = _route(Lead("l"), policy, now=NOW + timedelta(hours=5))  # 10:00 New York
    assert d.rep_id is None
    assert d.exclusions["cat"] == "OUT_OF_OFFICE"
    # The holiday is on the reps' local calendar: 23:30 UTC is already the 24th in Berlin.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    d = _route(Lead("l"), policy, now=late)
    assert d.rep_id == "ann"
    assert d.exclusions["bob"] == "OUT_OF_OFFICE"


def test_daily_cap_counts_on_the_rep_local_calendar_day() -> None:
    policy = _policy(
        pools=[{"name": "all", "members": ["ann"]}],
        reps={"ann": {"max_leads_per_day": 2}},
        lanes=[{"name": "standard", "working_hours": False}],  # a late-night 24/7 lane
    )
    state = InMemoryState()
    t = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    for i in range(3):
        d = _route(Lead(f"l{i}", region="EMEA"), policy, state, now=t)
        state.commit(d)
    assert d.rep_id is None
    assert "CAPACITY_SKIP:ann" in d.reasons
    assert "ALL_AT_CAPACITY" in d.reasons
    d = _route(Lead("next", region="EMEA"), policy, state, now=t + timedelta(hours=1))
    assert d.rep_id == "ann"  # 00:00 in Berlin: a new day for ann, still the 23rd in UTC


def test_eligibility_codes_for_language_product_segment_and_seniority() -> None:
    policy = _policy(
        pools=[{"name": "all", "strategy": "round_robin", "eligibility": {
            "territory": False, "language": True, "segment": True,
            "seniority": [{"when": [{"field": "company_size", "at_least": 5000}],
                           "min_level": "senior"}]}}],
        reps={"bob": {"segments": ["SMB"]}},
    )  # fmt: skip
    d = _route(Lead("l", language="de"), policy)
    assert d.rep_id == "ann"
    assert d.exclusions["bob"] == "LANGUAGE_MISMATCH"
    d = _route(Lead("l", company_size=8000), policy)
    assert d.rep_id == "ann"
    assert d.exclusions["bob"] == "SEGMENT_MISMATCH"
    assert d.exclusions["cat"] == "SENIORITY_TOO_LOW"


def test_declined_rep_is_never_offered_the_lead_again() -> None:
    d = _route(Lead("l", region="EMEA"), _policy(), declined=frozenset({"ann"}))
    assert d.rep_id == "bob"
    assert d.exclusions["ann"] == "DECLINED_BEFORE"


def test_ownership_hold_wins_then_backup_rep_then_backup_pool() -> None:
    policy = _policy(
        pools=[{"name": "all", "strategy": "round_robin"},
               {"name": "na_backup", "members": ["cat"],
                "when": [{"field": "never", "is_set": True}]}],
        holds={"touch_within_days": 30, "backup_pool": "na_backup"},
    )  # fmt: skip
    acct = Account(
        "A1", domain="acme.com", owner_rep_id="bob", last_touch_at=NOW - timedelta(days=3)
    )
    accounts = _Accounts(acct)
    lead = Lead("l", region="NA", domain="acme.com")  # territory would say cat
    d = _route(lead, policy, accounts=accounts, scorer=SCORER)
    assert d.p_convert == pytest.approx(0.05)  # the owner is scored for evaluation
    assert d.rep_id == "bob"
    assert d.strategy == "hold"
    assert d.propensity == 1.0
    assert "OWNER_HOLD" in d.reasons
    assert "HOLD:RECENT_TOUCH" in d.reasons
    # Owner declined: ann is not bob's backup; the backup pool (cat) takes it.
    d = _route(lead, policy, accounts=accounts, declined=frozenset({"bob"}))
    assert d.rep_id == "cat"
    assert "HOLD_BACKUP_POOL" in d.reasons
    assert "OWNER_UNAVAILABLE:bob:DECLINED_BEFORE" in d.reasons
    # A stale touch is no hold: normal routing by territory.
    old = Account(
        "A1", domain="acme.com", owner_rep_id="bob", last_touch_at=NOW - timedelta(days=60)
    )
    d = _route(lead, policy, accounts=_Accounts(old))
    assert d.rep_id == "cat"
    assert "OWNER_HOLD" not in d.reasons
    # ann owns an open opportunity but is declined: her backup bob takes it.
    opp = Account("A2", domain="big.de", owner_rep_id="ann", has_open_opportunity=True)
    d = _route(Lead("m", domain="big.de"), policy, accounts=_Accounts(opp),
               declined=frozenset({"ann"}))  # fmt: skip
    assert d.rep_id == "bob"
    assert "HOLD_BACKUP_REP" in d.reasons


def test_exceptions_send_partner_leads_to_a_fixed_pool_and_nurture_assigns_nobody() -> None:
    policy = _policy(
        pools=[{"name": "all", "strategy": "round_robin"},
               {"name": "partners", "members": ["cat"], "eligibility": {"territory": False},
                "when": [{"field": "never", "is_set": True}]}],
        exceptions=[{"name": "partner", "when": [{"field": "source", "equals": "Partner"}],
                     "pool": "partners"}],
        scoring={"fit": [{"field": "industry", "in": ["Software"], "points": 50}]},
        lanes=[{"name": "nurture", "when": [{"field": "fit", "at_most": 0}], "assign": False},
               {"name": "standard", "sla_minutes": 60}],
    )  # fmt: skip
    d = _route(Lead("p", source="partner", region="EMEA", industry="Software"), policy)
    assert d.rep_id == "cat"
    assert d.pool == "partners"
    assert d.reasons[:4] == ("LANE:standard", "GRADE:B", "EXCEPTION:partner", "POOL:partners")
    d = _route(Lead("n", industry="Retail"), policy)
    assert d.rep_id is None
    assert d.lane == "nurture"
    assert "NO_ASSIGNMENT_LANE" in d.reasons
    assert d.sla_deadline is None


SCORER = TableScorer(
    {"ann": {"Software": 0.30, "Retail": 0.10}, "bob": {"Software": 0.20, "Retail": 0.25}},
    default=0.05,
)


def test_predictive_takes_the_argmax_and_logs_candidates() -> None:
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}])
    d = _route(Lead("l", region="EMEA", industry="Retail"), policy, scorer=SCORER)
    assert d.rep_id == "bob"
    assert d.strategy == "predictive"
    assert "PREDICTIVE" in d.reasons
    assert d.p_convert == pytest.approx(0.25)
    assert [c.rep_id for c in d.candidates] == ["bob", "ann"]
    assert d.model_version == "table-1"
    text = explain(d)
    assert "bob" in text
    assert "runner-up" in text
    assert why_not(d, "cat") == "cat does not cover the lead's territory (OUT_OF_TERRITORY)."


def test_low_confidence_falls_back_and_says_so() -> None:
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}],
                     predictive={"min_confidence": 0.9})  # fmt: skip
    unsure = TableScorer(SCORER.rates, default=0.05, confidence=0.5)
    d = _route(Lead("l", region="EMEA", industry="Retail"), policy, scorer=unsure)
    assert d.rep_id == "ann"
    assert d.strategy == "round_robin"
    assert "LOW_CONFIDENCE_FALLBACK" in d.reasons


@pytest.mark.parametrize(("explore", "holdout"), [(0.2, 0.0), (0.0, 0.3), (0.1, 0.2)])
def test_propensity_matches_the_mixture_and_the_empirical_frequency(
    explore: float, holdout: float
) -> None:
    # Three eligible reps; predictive wants bob, the rotation (fallback) says ann.
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}],
                     predictive={"explore": explore, "holdout": holdout})  # fmt: skip
    lead = Lead("l", industry="Retail")
    expected = {
        "ann": holdout + (1 - holdout) * explore / 3,
        "bob": (1 - holdout) * (explore / 3 + 1 - explore),
        "cat": (1 - holdout) * explore / 3,
    }
    rng = np.random.default_rng(7)
    seen = dict.fromkeys(expected, 0)
    n = 4000
    for _ in range(n):
        d = decide(lead, policy=policy, reps=reps, state=InMemoryState(), scorer=SCORER,
                  now=NOW, rng=rng)  # fmt: skip
        assert d.propensity == pytest.approx(expected[d.rep_id])
        seen[d.rep_id] += 1
    for rep, prob in expected.items():
        assert abs(seen[rep] / n - prob) < 4 * np.sqrt(prob * (1 - prob) / n) + 1e-9


def test_ties_split_the_propensity() -> None:
    reps = [Rep("ann"), Rep("bob")]
    flat = TableScorer({}, default=0.2)
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}])
    d = decide(Lead("l"), policy=policy, reps=reps, state=InMemoryState(), scorer=flat, now=NOW,
              rng=np.random.default_rng(1))  # fmt: skip
    assert d.propensity == pytest.approx(0.5)


def test_shadow_mode_assigns_by_fallback_and_records_the_recommendation() -> None:
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}], mode="shadow")
    d = _route(Lead("l", region="EMEA", industry="Retail"), policy, scorer=SCORER)
    assert d.rep_id == "ann"
    assert d.shadow_rep_id == "bob"
    assert d.mode == "shadow"
    assert d.propensity == 1.0
    assert "SHADOW_RECOMMENDS:bob" in d.reasons


def test_naive_now_is_rejected() -> None:
    from leadpilot.errors import DataValidationError

    with pytest.raises(DataValidationError, match="timezone-aware"):
        _route(Lead("l"), _policy(), now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(("shares", "expected"), [("capacity", "ann"), ("equal", "bob")])
def test_fairness_band_price_follows_the_fair_share(shares: str, expected: str) -> None:
    reps = [Rep("ann", max_leads_per_day=100), Rep("bob", max_leads_per_day=5)]
    policy = _policy(pools=[{"name": "all", "strategy": "predictive"}],
                     fairness={"shares": shares})  # fmt: skip
    state = InMemoryState()
    only_ann = _policy(pools=[{"name": "all", "members": ["ann"]}])
    for i in range(5):  # ann already has 5 leads through pool "all" this week, bob none
        state.commit(decide(Lead(f"x{i}"), policy=only_ann, reps=reps, state=state, scorer=None,
                           now=NOW, rng=np.random.default_rng(i)))  # fmt: skip
    d = decide(Lead("l", industry="Software"), policy=policy, reps=reps, state=state,
              scorer=SCORER, now=NOW, rng=np.random.default_rng(0))  # fmt: skip
    # ann converts Software better (0.30 vs 0.20). Capacity shares: ann's fair share is
    # 100/105 of the leads; 6 of 6 is index 1.05, inside the band. Equal shares: index 2.0,
    # above the band, so she pays the penalty and bob gets the lead.
    assert d.rep_id == expected
