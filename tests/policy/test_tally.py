"""The live counts as arrays (``policy/tally.py``, ``InMemoryState.tally``) and what reads
them with numpy (the array screen, today's counts, response hours, window counts, the
fairness guard's places, rotation) change no decision: checked against the per-rep reads
of the same state (a state without a tally) lead after lead, and against the rotation
rules written as loops."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import (
    DemandModel,
    InMemoryState,
    ShadowPricer,
    default_policy,
    eligibility,
    parse_policy,
    refresh_prices,
    router_inputs,
)
from leadpilot.policy.availability import local_day
from leadpilot.policy.eligibility import Checker
from leadpilot.policy.pricer import route_priced
from leadpilot.policy.router import lead_view
from leadpilot.policy.state import segment_scope
from leadpilot.policy.strategies import rotation
from leadpilot.policy.strategies.predictive import expected_response_hours
from leadpilot.policy.strategies.rotation import last_turn, rotation_pick
from leadpilot.policy.tally import Tally
from leadpilot.schema import Decision, Lead, Rep
from leadpilot.synth import generate_world

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ZONES = ("UTC", "America/New_York", "Asia/Tokyo", "America/Los_Angeles")
HOURS = (None, "Mon-Fri 09:00-17:00", "Mon-Sun 00:00-23:59", "Sat-Sun 10:00-14:00")
POLICY = parse_policy(
    {
        "pools": [
            {"name": "east", "strategy": "round_robin",
             "when": [{"field": "region", "equals": "E"}],
             "members": ["r0", "r1", "r2", "r3", "r4"]},
            {"name": "all", "strategy": "round_robin"},
        ],
        "availability": {"out_of_office": [{"rep": "r1", "start": "2026-11-24T13:00:00Z",
                                            "end": "2026-11-24T15:00:00Z"}]},
    }
)  # fmt: skip


@contextmanager
def arrays_always() -> Iterator[None]:
    """The numpy reads at any roster size (they start at a size these tests do not reach)."""
    with (
        patch.object(eligibility, "ARRAY_SCREEN_MIN_REPS", 0),
        patch.object(rotation, "ARRAY_MIN", 0),
    ):
        yield


class PerRepState(InMemoryState):
    """The same records read rep by rep: no tally (the reads main made)."""

    def tally(self, ids: tuple[str, ...]) -> Tally | None:
        return None


@st.composite
def rosters(draw: Any) -> list[Rep]:
    return [
        Rep(
            f"r{i}",
            timezone=draw(st.sampled_from(ZONES)),
            working_hours=draw(st.sampled_from(HOURS)),
            max_leads_per_day=draw(st.none() | st.integers(0, 3)),
            max_open_leads=draw(st.none() | st.integers(0, 4)),
            active=draw(st.booleans()) if i else True,
            out_of_office=((NOW, NOW + timedelta(hours=3)),) if draw(st.booleans()) else (),
        )
        for i in range(draw(st.integers(2, 10)))
    ]


# one step: minutes from NOW (any order: replays and retries go back in time), a rep, a pool
# (None: no pool), a segment, and whether to close one of the rep's open leads instead
STEPS = st.lists(
    st.tuples(
        st.integers(-2000, 3000),
        st.integers(0, 9),
        st.sampled_from([None, "east", "all"]),
        st.sampled_from([None, "SMB", "Enterprise"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(
    reps=rosters(),
    steps=STEPS,
    declined=st.sets(st.sampled_from([f"r{i}" for i in range(10)]), max_size=3),
    working=st.booleans(),
)
def test_array_reads_match_the_per_rep_reads(
    reps: list[Rep],
    steps: list[tuple[int, int, str | None, str | None, bool]],
    declined: set[str],
    working: bool,
) -> None:
    """Lead after lead, as commits and releases move the counts: the array screen gives the
    eligible reps, codes and local days of the per-rep screen; today's counts, response
    hours, open counts and window counts (the pool's and a segment's) equal the state's
    per-rep answers."""
    with arrays_always():
        _compare_reads(reps, steps, declined, working)


def _compare_reads(
    reps: list[Rep],
    steps: list[tuple[int, int, str | None, str | None, bool]],
    declined: set[str],
    working: bool,
) -> None:
    inputs = router_inputs(POLICY, reps)
    memo = inputs.roster_memo()
    assert memo is not None
    lane = POLICY.lanes[0].model_copy(update={"working_hours": working})
    fast_state, slow_state = InMemoryState(), PerRepState()
    typical = {r.rep_id: 1.5 + i for i, r in enumerate(reps) if i % 3}  # some reps unknown
    fallback = float(np.median(list(typical.values()))) if typical else 0.0
    view = lead_view(Lead("l", created_at=NOW), POLICY)
    for k, (minutes, pick, pool_name, segment, close) in enumerate(steps):
        now = NOW + timedelta(minutes=minutes)
        kw: dict[str, Any] = {"policy": POLICY, "now": now, "lane": lane,
                              "declined": frozenset(declined), "memo": memo}  # fmt: skip
        fast_checker = Checker(state=fast_state, **kw)
        assert fast_checker.tally() is not None
        assert Checker(state=slow_state, **kw).tally() is None
        for pool in POLICY.pools:
            fast = fast_checker.screen(inputs.reps, pool, view)
            slow = Checker(state=slow_state, **kw).screen(inputs.reps, pool, view)
            assert [r.rep_id for r in fast.eligible] == [r.rep_id for r in slow.eligible]
            assert fast.ids == [r.rep_id for r in slow.eligible]
            assert fast.exclusions == slow.exclusions
            assert list(fast.exclusions) == list(slow.exclusions)  # roster order
            assert fast.local_days == slow.local_days
            hours = fast_checker.response_hours(
                fast.eligible, typical, POLICY.predictive.minutes_per_open_lead / 60.0, fallback
            )
            want = expected_response_hours(slow.eligible, slow_state, now, POLICY, typical)
            np.testing.assert_array_equal(hours, want)
            rows = memo.pool_rows(pool.name, pool.includes)
            np.testing.assert_array_equal(
                fast_checker.used_today(rows),
                [slow_state.daily_count(r.rep_id, local_day(r, now)) for r in rows.members],
            )
            tally = fast_checker.tally()
            assert tally is not None
            for scope in (pool.name, segment_scope(pool.name, "SMB")):
                for since in (now.date(), (now - timedelta(days=2)).date(), date(2026, 1, 1)):
                    counts = slow_state.window_counts(scope, since)
                    np.testing.assert_array_equal(
                        tally.window(scope, since), [counts.get(r.rep_id, 0) for r in reps]
                    )
        np.testing.assert_array_equal(
            fast_checker.tally().open,  # type: ignore[union-attr]
            [slow_state.open_count(r.rep_id, now) for r in reps],
        )
        rep_id = f"r{pick}"  # may be outside the roster: the tally skips it
        for state in (fast_state, slow_state):
            if close:
                state.release(rep_id)
            else:
                rep = next((r for r in reps if r.rep_id == rep_id), Rep(rep_id))
                state.commit(
                    Decision(f"l{k}", rep_id, pool_name, lane.name, "test", (), now,
                             rep_local_day=local_day(rep, now), segment=segment)
                )  # fmt: skip


def test_a_subclass_reading_its_own_way_and_expiring_leads_get_no_tally() -> None:
    class Counting(InMemoryState):
        def daily_count(self, rep_id: str, day: date) -> int:
            return super().daily_count(rep_id, day)

    ids = ("a", "b")
    assert InMemoryState().tally(ids) is not None
    assert Counting().tally(ids) is None
    assert InMemoryState(open_lead_ttl=timedelta(hours=1)).tally(ids) is None


def test_route_priced_decides_as_with_per_rep_reads() -> None:
    """The service's decision (``route_priced``, default policy: predictive with shadow
    prices and the fairness guard) over a synthetic world's leads, on a state with a tally
    and on one read rep by rep: the same decisions, field for field."""
    world = generate_world(n_leads=3000, n_reps=40, n_new_leads=400, seed=5)
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    scorer = world.truth.as_scorer()
    policy = default_policy(reps)
    base = router_inputs(policy, reps, scorer=scorer, history=history)
    demand = DemandModel.from_leads(history, seed=0)
    runs = []
    with arrays_always():
        for state in (InMemoryState(), PerRepState()):
            runs.append(_route_all(leads, base, state, demand))
    assert runs[0] == runs[1]
    reasons = {r for d in runs[0] for r in d["reasons"]}
    assert "FAIRNESS_GUARD" in reasons  # the guard acted on some leads
    assert any(d["exclusions"] for d in runs[0])  # and some reps were screened out


def _route_all(
    leads: list[Lead], base: Any, state: InMemoryState, demand: DemandModel
) -> list[dict[str, Any]]:
    """Each lead's decision as a dict, routed the service's way on ``state``."""
    pricer = ShadowPricer(demand)
    rng = np.random.default_rng(1)
    first = leads[0].created_at
    assert first is not None
    inputs = refresh_prices(leads[0], base, state, first, pricer)
    out = []
    for lead in leads:
        assert lead.created_at is not None
        decision, inputs = route_priced(lead, inputs, state, lead.created_at, rng, pricer)
        state.commit(decision)
        out.append(asdict(decision))
    return out


CREDITS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "@last", "@x"]),
    st.sampled_from([-math.inf, math.inf, math.nan, 0.0, 1.0, 2.0, 3.0, 7.5]),
)


@settings(max_examples=300, deadline=None)
@given(credits=CREDITS, ids=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1))
def test_rotation_reads_match_their_loops(credits: dict[str, float], ids: list[str]) -> None:
    with arrays_always():
        _compare_rotation(credits, ids)


def _compare_rotation(credits: dict[str, float], ids: list[str]) -> None:
    served = [v for k, v in credits.items() if math.isfinite(v) and not k.startswith("@")]
    assert last_turn(credits) == (max(served) if served else 0.0)
    best, best_value = ids[0], math.inf
    for rep in ids:
        if credits.get(rep, -math.inf) < best_value:
            best, best_value = rep, credits.get(rep, -math.inf)
    assert rotation_pick(ids, credits, weighted=False) == best


def test_equal_prices_keep_the_snapshot() -> None:
    inputs = router_inputs(POLICY, [Rep("r0")])
    priced = inputs.with_prices("all", {"r0": 0.25})
    assert priced.with_prices("all", {"r0": 0.25}) is priced
    changed = priced.with_prices("all", {"r0": 0.5})
    assert changed is not priced
    assert dict(changed.prices["all"]) == {"r0": 0.5}


def test_the_same_snapshot_is_known_by_identity() -> None:
    """The snapshot the inputs were made with keeps them (no comparison of its prices);
    inputs whose prices were reset since take it again."""
    inputs = router_inputs(POLICY, [Rep("r0")])
    snapshot = {"r0": 0.25}
    priced = inputs.with_prices("all", snapshot)
    assert priced.with_prices("all", snapshot) is priced
    reset = replace(priced, prices=MappingProxyType({}))
    again = reset.with_prices("all", snapshot)
    assert again is not reset
    assert dict(again.prices["all"]) == snapshot


def test_a_window_moved_on_counts_as_read_afresh() -> None:
    """A fairness window asked for a later ``since`` is the previous one less the dates it
    left (``Tally._slid_window``): the same counts as the state's ``window_counts``, day
    after day, for a pool and its segment scope, also past the slide's limit."""
    ids = ("a", "b", "c")
    state = InMemoryState()
    tally = state.tally(ids)
    assert tally is not None
    scope = segment_scope("all", "SMB")
    for k in range(80):
        now = NOW + timedelta(hours=9 * k)
        for back in (0, 13) if k != 50 else (0, 13, 45):
            since = (now - timedelta(days=back)).date()
            for name in ("all", scope):
                counts = state.window_counts(name, since)
                np.testing.assert_array_equal(
                    tally.window(name, since), [counts.get(i, 0) for i in ids]
                )
        rep = ("a", "b", "c", "z")[k % 4]  # "z": not in the roster
        state.commit(
            Decision(f"l{k}", rep, "all", "standard", "test", (), now,
                     rep_local_day=now.date(), segment="SMB" if k % 3 else None)
        )  # fmt: skip
        day = now.date()
        np.testing.assert_array_equal(tally.day(day), [state.daily_count(i, day) for i in ids])
