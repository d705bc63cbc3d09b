"""The batch router's fast lane (``leadpilot.policy.batch_fast``) decides as ``route``: the
same decisions, field for field, as ``route_batch(fast_lane=False)`` (``route`` for every
lead) on random rosters, policies and streams, with the trained model's lean scores and with
a table scorer; its pieces checked against the code they stand in for."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from test_router_properties import INDUSTRIES, rosters, streams

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import (
    InMemoryState,
    default_policy,
    fast_kernels,
    parse_policy,
    router_inputs,
)
from leadpilot.policy import batch_fast as fast_module
from leadpilot.policy.availability import is_working, local_day
from leadpilot.policy.batch import route_batch
from leadpilot.policy.batch_fast import _confidence, _working_until, _zone_day
from leadpilot.policy.confidence import choice_confidence
from leadpilot.policy.eligibility import covers_territory
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Lead, Rep
from leadpilot.synth import generate_world


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the leads the fast lane decided and those it handed to ``route``."""
    seen: Counter[str] = Counter()
    monkeypatch.setattr(fast_module.FastLane, "decide", _counted(seen))
    return seen


def _counted(seen: Counter[str]) -> Any:
    decide = fast_module.FastLane.__dict__["decide"]

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        decision, inputs = decide(self, *args, **kwargs)
        seen["fast" if decision is not None else "route"] += 1
        return decision, inputs

    return counted


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(1, 10),
    n=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
)
def test_confidence_from_two_columns_is_choice_confidence_bit_for_bit(
    k: int, n: int, seed: int, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    shrunk = rng.normal(-1.0, 0.7, size=(1 + k, n))
    if ties:  # equal columns: zero spread, the step instead of ndtr
        shrunk[:, rng.integers(n)] = shrunk[:, 0]
    # a monotone calibration, elementwise as the model's (np.interp on isotonic knots)
    knots = np.sort(rng.normal(-1.0, 1.0, size=12))
    levels = np.sort(rng.uniform(0.0, 1.0, size=12))

    def calibrate(z: Any) -> Any:
        return np.interp(z, knots, levels)

    p = calibrate(shrunk[0])
    score = p - rng.uniform(0.0, 0.05, size=n) * (not ties)
    winners = score >= score.max() - 1e-12
    dist = winners / winners.sum()
    fallback = int(rng.integers(n))
    expected = choice_confidence(calibrate(shrunk[1:]), p, dist, fallback)
    assert _confidence(shrunk, calibrate, p, dist, fallback) == expected


ZONES = ("UTC", "Europe/London", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata",
         "Pacific/Chatham", "America/New_York", "Asia/Tehran")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    minutes=st.integers(0, 60 * 24 * 365 * 3),
    within=st.floats(0.0, 1.0),
)
def test_zone_day_holds_until_the_instant_it_names(zone: str, minutes: int, within: float) -> None:
    """The cached local date is ``local_day`` now and at every instant before ``until``
    (checked at a random one and the last microsecond), DST changes included."""
    rep = Rep("r", timezone=zone)
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    start_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    day, until = _zone_day(rep, start, start_us)
    assert day == local_day(rep, start).toordinal()
    assert until > start_us
    span = until - start_us - 1
    for offset in (int(span * within), span):
        moment = start + timedelta(microseconds=offset)
        assert local_day(rep, moment).toordinal() == day
        # the same date read in the rep's zone directly (an independent reading)
        assert moment.astimezone(ZoneInfo(zone)).date().toordinal() == day


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hours=st.sampled_from(
        [
            None,
            "Mon-Fri 09:00-17:00",
            "Mon-Thu 08:30-12:00; Fri 13:15-23:59",
            "Sat-Sun 00:00-02:00, Mon 22:00-23:30",
        ]
    ),
    seconds=st.integers(0, 3600 * 24 * 365 * 3),
    within=st.floats(0.0, 1.0),
)
def test_working_answer_holds_until_the_instant_it_names(
    zone: str, hours: str | None, seconds: int, within: float
) -> None:
    """``is_working`` answers as at the start at every instant before ``_working_until``'s
    (checked at a random one and the last microsecond, DST changes included)."""
    rep = Rep("r", timezone=zone, working_hours=hours)
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=seconds % 7)
    start_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    until = _working_until(rep, start, start_us)
    assert until > start_us
    answer = is_working(rep, start)
    span = min(until, start_us + 10 * 86_400_000_000) - start_us - 1
    for offset in (int(span * within), span):
        assert is_working(rep, start + timedelta(microseconds=offset)) == answer
    # the same answer read from the rep's wall clock directly (an independent reading)
    local = start.astimezone(ZoneInfo(zone))
    if hours == "Mon-Fri 09:00-17:00":
        assert answer == (local.weekday() < 5 and 9 <= local.hour < 17)


def _policy(fallback: str, explore: float, holdout: float, territory: bool, hours: bool,
            min_confidence: float) -> Any:  # fmt: skip
    return parse_policy(
        {
            "lanes": [
                {"name": "hot", "when": [{"field": "demo_request", "equals": True}],
                 "sla_minutes": 15, "require_available_now": True},
                {"name": "standard", "sla_minutes": 120, "working_hours": hours},
            ],
            "exceptions": [{"name": "media", "when": [{"field": "industry", "equals": "Media"}],
                            "pool": "rota"}],
            "pools": [
                {"name": "all", "strategy": "predictive", "fallback": fallback,
                 "eligibility": {"territory": territory}},
                {"name": "rota", "strategy": "round_robin"},
            ],
            "predictive": {"explore": explore, "holdout": holdout,
                           "min_confidence": min_confidence},
        }
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    reps=rosters(),
    leads=streams(),
    fallback=st.sampled_from(["round_robin", "weighted_round_robin"]),
    explore=st.sampled_from([0.0, 0.3]),
    holdout=st.sampled_from([0.0, 0.2]),
    territory=st.booleans(),
    hours=st.booleans(),
    refresh_every=st.sampled_from([None, 1, 3]),
    batch_size=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    compiled=st.booleans(),
)
def test_fast_lane_decides_as_route_on_random_worlds(
    reps: list[Rep],
    leads: list[Lead],
    fallback: str,
    explore: float,
    holdout: float,
    territory: bool,
    hours: bool,
    refresh_every: int | None,
    batch_size: int,
    seed: int,
    compiled: bool,
) -> None:
    """Random rosters (caps, zones, shifts, inactive reps) and streams under a policy with a
    hot lane, an exception to a round-robin pool and the predictive pool's knobs: the fast
    lane's decisions are ``route``'s (its guard and choice compiled or numpy's), no rep goes
    over a cap or outside the rules, and a seed replays exactly."""
    policy = _policy(fallback, explore, holdout, territory, hours, 0.0)
    rng = np.random.default_rng(seed)
    scorer = TableScorer(
        {r.rep_id: {ind: float(rng.uniform(0.05, 0.5)) for ind in INDUSTRIES} for r in reps},
        decay_per_hour=0.01,
    )
    history = [Lead(f"h{i}", created_at=leads[0].created_at - timedelta(days=1 + i % 5),  # type: ignore[operator]
                    industry=INDUSTRIES[i % 3]) for i in range(20)]  # fmt: skip
    typical = {r.rep_id: 1.0 + i for i, r in enumerate(reps)}
    inputs = router_inputs(policy, reps, scorer=scorer, response_hours=typical)
    kw: dict[str, Any] = {"history": history, "seed": seed, "batch_size": batch_size,
                          "refresh_every": refresh_every}  # fmt: skip
    state = InMemoryState(open_lead_ttl=timedelta(days=1))
    seen: Counter[str] = Counter()
    with pytest.MonkeyPatch.context() as patch:
        _kernels(patch, compiled)
        patch.setattr(fast_module.FastLane, "decide", _counted(seen))
        got = route_batch(leads, inputs, state=state, **kw)
    assert got == route_batch(leads, inputs, fast_lane=False, **kw)
    if fallback == "round_robin":  # the lane's: every predictive lead placed on shift
        elsewhere = ("NEXT_SHIFT", "OVERFLOW")
        lane = [
            d
            for d in got
            if "PREDICTIVE" in d.reasons
            and d.pool == "all"
            and not any(r.startswith(elsewhere) for r in d.reasons)
        ]
        assert seen["fast"] >= len(lane)
    assert got == route_batch(leads, inputs, **kw)  # determinism under the seed
    by_id = {r.rep_id: r for r in reps}
    per_day: Counter[tuple[str, Any]] = Counter()
    opened: dict[str, list[datetime]] = {}
    for d, lead in zip(got, leads, strict=True):
        if d.rep_id is None:
            continue
        rep = by_id[d.rep_id]
        assert rep.active
        if d.pool == "all":
            assert not territory or covers_territory(rep, lead, policy)
        live = [t for t in opened.get(rep.rep_id, []) if t > d.decided_at - timedelta(days=1)]
        assert rep.max_open_leads is None or len(live) < rep.max_open_leads
        opened.setdefault(rep.rep_id, []).append(d.decided_at)
        per_day[(rep.rep_id, local_day(rep, d.decided_at))] += 1
    for (rep_id, _day), count in per_day.items():
        cap = by_id[rep_id].max_leads_per_day
        assert cap is None or count <= cap


def _kernels(patch: pytest.MonkeyPatch, on: bool) -> None:
    """The fast lane with its compiled loops (numba imported) or numpy's code."""
    if on:
        pytest.importorskip("numba")
        assert fast_kernels.compiled() is not None
    else:
        patch.setattr(fast_kernels, "compiled", lambda: None)
    build = fast_module.FastLane.__dict__["build"].__func__

    def checked(cls: Any, inputs: Any, state: Any) -> Any:
        lane = build(cls, inputs, state)
        assert lane is None or lane.kernels == on
        return lane

    patch.setattr(fast_module.FastLane, "build", classmethod(checked))


@pytest.fixture(scope="module")
def world() -> Any:
    return generate_world(n_leads=3_000, n_reps=15, n_new_leads=400, seed=5)


@pytest.fixture(scope="module")
def model(world: Any) -> Any:
    from leadpilot.model import ConversionModel

    # small and fast: the test is the fast lane against route, not model quality
    return ConversionModel(n_bags=3, n_estimators=40, early_stopping_rounds=10).fit(
        world.history, world.reps
    )


@pytest.mark.slow
@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(
    ("refresh_every", "explore", "min_confidence", "hours"),
    [(25, 0.0, 0.0, False), (None, 0.2, 0.0, True), (7, 0.0, 0.6, True)],
)
def test_fast_lane_with_the_trained_model_decides_as_route(
    world: Any,
    model: Any,
    monkeypatch: pytest.MonkeyPatch,
    refresh_every: int | None,
    explore: float,
    min_confidence: float,
    hours: bool,
    compiled: bool,
) -> None:
    """The model's lean scores (shrunk log-odds, the columns calibrated as read, the
    confidence from two columns) give ``route``'s decisions; queue backlogs move reps'
    response times (re-scored rows), a low confidence hands leads to ``route``."""
    reps = reps_from_frame(world.reps)
    history = leads_from_frame(world.history)
    leads = leads_from_frame(world.new_leads)
    policy = default_policy(reps)
    data = policy.model_dump(by_alias=True, exclude_unset=True)
    data["lanes"] = [{"name": "standard", "sla_minutes": 240, "working_hours": hours}]
    data["predictive"] = {"explore": explore, "min_confidence": min_confidence}
    policy = type(policy).model_validate(data)
    inputs = router_inputs(policy, reps, scorer=model, history=history)
    _kernels(monkeypatch, compiled)
    seen = _counting(monkeypatch)
    got = route_batch(leads, inputs, history=history, refresh_every=refresh_every, seed=3)
    assert seen["fast"] > len(leads) / 2
    if min_confidence:
        assert seen["route"] > 0  # low-confidence leads
    assert got == route_batch(
        leads, inputs, history=history, refresh_every=refresh_every, seed=3, fast_lane=False
    )
    assert any("AT_OPEN_CAP" in d.exclusions.values() for d in got) or any(
        "CAPACITY_SKIP" in r for d in got for r in d.reasons
    )


def _rotation_policy(strategy: str, holdout: float, territory: bool, hours: bool) -> Any:
    return parse_policy(
        {
            "lanes": [
                {"name": "hot", "when": [{"field": "demo_request", "equals": True}],
                 "sla_minutes": 15, "require_available_now": True},
                {"name": "standard", "sla_minutes": 120, "working_hours": hours},
            ],
            "exceptions": [{"name": "media", "when": [{"field": "industry", "equals": "Media"}],
                            "pool": "rota"}],
            "pools": [
                {"name": "all", "strategy": strategy, "fallback": "round_robin",
                 "eligibility": {"territory": territory}},
                {"name": "rota", "strategy": "round_robin"},
            ],
            "predictive": {"explore": 0.0, "holdout": holdout},
        }
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    reps=rosters(),
    leads=streams(),
    strategy=st.sampled_from(["round_robin", "load_balanced"]),
    holdout=st.sampled_from([0.0, 0.3]),
    territory=st.booleans(),
    hours=st.booleans(),
    scored=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fast_lane_decides_rotation_pools_as_route(
    reps: list[Rep],
    leads: list[Lead],
    strategy: str,
    holdout: float,
    territory: bool,
    hours: bool,
    scored: bool,
    seed: int,
) -> None:
    """Round-robin and load-balanced pools (with and without a scorer, so with and without
    shadow prices for other pools) are decided by the fast lane as ``route`` decides them,
    off shift too (the reps whose shift starts soonest, ``NEXT_SHIFT``), and each lane
    decision is the strategy's rule recomputed from the decisions before it:
    the rotation's oldest turn among the eligible reps (never served first, then roster
    order), and for load balancing the fewest open leads, then fewest today, then that."""
    policy = _rotation_policy(strategy, holdout, territory, hours)
    scorer = (
        TableScorer({r.rep_id: dict.fromkeys(INDUSTRIES, 0.2) for r in reps}) if scored else None
    )
    history = [Lead(f"h{i}", created_at=leads[0].created_at - timedelta(days=1 + i % 5),  # type: ignore[operator]
                    industry=INDUSTRIES[i % 3]) for i in range(20)]  # fmt: skip
    inputs = router_inputs(policy, reps, scorer=scorer)
    kw: dict[str, Any] = {"history": history, "seed": seed}
    seen: Counter[str] = Counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_module.FastLane, "decide", _counted(seen))
        got = route_batch(leads, inputs, **kw)
    assert got == route_batch(leads, inputs, fast_lane=False, **kw)
    by_id = {r.rep_id: r for r in reps}
    place = {r.rep_id: i for i, r in enumerate(reps)}
    turns: dict[str, dict[str, int]] = {}  # per pool, each rep's latest turn (decision index)
    placed = shifts = 0
    for k, d in enumerate(got):
        if d.rep_id is None or d.strategy not in ("round_robin", "load_balanced"):
            continue
        turn = turns.setdefault(d.pool or "", {})
        placed += 1
        shifts += any(r.startswith("NEXT_SHIFT") for r in d.reasons)
        # both pools hold every rep: the active ones not excluded are the eligible (those
        # on shift, or off shift those whose shift starts soonest: NEXT_SHIFT)
        eligible = [r.rep_id for r in reps if r.active and r.rep_id not in d.exclusions]
        rr_key = {r: (turn.get(r, -1), place[r]) for r in eligible}
        if d.strategy == "round_robin":
            assert rr_key[d.rep_id] == min(rr_key.values())
        else:
            now = d.decided_at
            earlier = [e for e in got[:k] if e.rep_id is not None]
            since = now - timedelta(days=1)  # open for a day (``open_lead_days``)
            opened = {r: sum(e.rep_id == r and e.decided_at > since for e in earlier)
                      for r in eligible}  # fmt: skip
            today = {r: sum(e.rep_id == r and e.rep_local_day == local_day(by_id[r], now)
                            for e in earlier) for r in eligible}  # fmt: skip
            key = {r: (opened[r], today[r], *rr_key[r]) for r in eligible}
            assert key[d.rep_id] == min(key.values())
        turn[d.rep_id] = k
    assert seen["fast"] >= placed  # every such lead was the lane's
    note(f"{placed} placed by the rule, {shifts} of them before the shift")


@pytest.mark.parametrize("owner", [None, {"queue": "triage"}, {"rep": "r0"}])
@pytest.mark.parametrize("hours", [False, True])
@pytest.mark.parametrize("strategy", ["predictive", "round_robin"])
def test_fast_lane_queues_leads_nobody_can_take_as_route(
    owner: dict[str, str] | None, hours: bool, strategy: str
) -> None:
    """Three reps with one lead a day each (one out of office, one on a night shift in
    another zone) and twelve leads a day: once the caps are reached nobody can take a lead,
    and the lane writes ``route``'s unassigned decision (no rep, ``NO_ELIGIBLE_REP`` and
    why, the fallback queue) itself, unless a fallback owner rep takes it (``route``)."""
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)  # a Monday
    away = ((start - timedelta(days=1), start + timedelta(days=3)),)
    reps = [
        Rep("r0", max_leads_per_day=1, industries=tuple(INDUSTRIES)),
        Rep("r1", max_leads_per_day=1, out_of_office=away),
        Rep("r2", max_leads_per_day=1, timezone="Asia/Tokyo", working_hours="Mon-Fri 09:00-17:00"),
        Rep("r3", max_leads_per_day=1, active=False),
    ]
    data: dict[str, Any] = {
        "lanes": [{"name": "standard", "sla_minutes": 60, "working_hours": hours}],
        "pools": [{"name": "all", "strategy": strategy, "fallback": "round_robin"}],
    }
    if owner is not None:
        data["fallback_owner"] = owner
    policy = parse_policy(data)
    leads = [Lead(f"l{i}", created_at=start + timedelta(days=i // 12, minutes=37 * (i % 12)),
                  industry=INDUSTRIES[i % 3]) for i in range(36)]  # fmt: skip
    history = [Lead(f"h{i}", created_at=start - timedelta(days=1 + i % 5),
                    industry=INDUSTRIES[i % 3]) for i in range(20)]  # fmt: skip
    scorer = TableScorer({r.rep_id: dict.fromkeys(INDUSTRIES, 0.1 + 0.1 * k)
                          for k, r in enumerate(reps)})  # fmt: skip
    inputs = router_inputs(policy, reps, scorer=scorer)
    kw: dict[str, Any] = {"history": history, "seed": 5, "refresh_every": 1}
    seen: Counter[str] = Counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_module.FastLane, "decide", _counted(seen))
        got = route_batch(leads, inputs, **kw)
    assert got == route_batch(leads, inputs, fast_lane=False, **kw)
    nobody = [d for d in got if d.rep_id is None]
    placed = [d for d in got if d.rep_id is not None]
    if owner is not None and "rep" in owner:
        # the owner rep takes every lead nobody else can (past caps): ``route`` decides
        assert not nobody
        assert sum(d.strategy == "fallback_owner" for d in placed) >= 30
        assert seen["route"] >= 30
        return
    # r1 is away, r3 inactive; r0 and r2 take one lead a day each (with working hours r2,
    # off shift at these hours, as the rep whose shift starts soonest once r0 is full)
    assert len(placed) == 6
    assert sum(any(r.startswith("NEXT_SHIFT") for r in d.reasons) for d in placed) == (
        3 if hours else 0
    )
    assert len(nobody) == 36 - len(placed)
    assert seen["fast"] == 36  # every lead the lane's, the queued ones too
    for d in nobody:
        assert (d.pool, d.strategy, d.propensity) == ("all", strategy, 1.0)
        assert (d.candidates, d.p_convert) == ((), None)
        assert d.exclusions["r1"] == "OUT_OF_OFFICE"
        assert d.exclusions["r3"] == "INACTIVE"
        assert d.exclusions["r0"] == "AT_DAILY_CAP"
        assert d.exclusions["r2"] == ("OUTSIDE_WORKING_HOURS" if hours else "AT_DAILY_CAP")
        assert "CAPACITY_SKIP:r0" in d.reasons
        tail = ["NO_ELIGIBLE_REP", "ALL_AWAY_OR_FULL"]
        if owner is not None:
            tail.append("FALLBACK_QUEUE:triage")
        assert list(d.reasons[-len(tail) :]) == tail


def test_records_made_through_their_slots_equal_the_constructors() -> None:
    """The lane's decisions and candidates, made field by field through their slots, are
    the records the dataclasses' constructors make: equal, the same repr, the same pickle."""
    import pickle

    from leadpilot.schema import Candidate, Decision

    made = fast_module._candidate("r1", 0.25, 0.125, 0.125)
    want = Candidate("r1", 0.25, 0.125, 0.125, None)
    assert made == want
    assert repr(made) == repr(want)
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    values: dict[str, Any] = {
        "lead_id": "L1", "rep_id": "r1", "pool": "p", "lane": "l", "strategy": "predictive",
        "reasons": ("LANE:l", "PREDICTIVE"), "decided_at": at, "candidates": (want,),
        "exclusions": {"r2": "AT_DAILY_CAP"}, "p_convert": 0.25, "confidence": 0.75,
        "propensity": 0.5, "model_version": "m1", "policy_version": "h1",
        "sla_deadline": at + timedelta(minutes=5), "mode": "live", "shadow_rep_id": None,
        "fit_score": 1.5, "intent_score": 2.5, "grade": "A", "rep_local_day": at.date(),
        "rotation_update": {"r1": 3.0}, "expected_value": None, "segment": "smb",
    }  # fmt: skip
    decision = fast_module._make_decision(tuple(values[k] for k in fast_module._DECISION_FIELDS))
    want_decision = Decision(**values)
    assert decision == want_decision
    assert repr(decision) == repr(want_decision)
    assert pickle.loads(pickle.dumps(decision)) == want_decision
    with pytest.raises(ValueError):  # a value short: refused, no half-made record
        fast_module._make_decision(tuple(values[k] for k in fast_module._DECISION_FIELDS[:-1]))


def test_rotation_candidates_are_decision_candidates_of_the_one_hot_choice() -> None:
    """The rotation's candidates, written without the sort: ``decision_candidates`` of
    the one-hot distribution at the pick, for every pick, choice and size (by the
    router's own function)."""
    from leadpilot.policy.router import TOP_CANDIDATES, decision_candidates

    for n in range(1, TOP_CANDIDATES + 6):
        ids = [f"r{i}" for i in range(n)]
        for pick in range(n):
            dist = np.zeros(n)
            dist[pick] = 1.0
            for chosen in range(n):
                want = decision_candidates(ids, None, dist, dist, chosen, None)
                picked = fast_module._rotation_picked(n, pick, chosen)
                got = tuple(fast_module._candidate(ids[i], None, None, None) for i in picked)
                assert got == want
