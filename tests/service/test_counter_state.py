"""The router's counters in the database (``DbRoutingState``) against the in-memory
reference, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from leadpilot.policy import InMemoryState
from leadpilot.schema import Decision
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.engine import routing_transaction

from .conftest import migrated_engine


def _random_decisions(seed: int, n: int) -> list[Decision]:
    rng = np.random.default_rng(seed)
    reps = [f"r{i}" for i in range(5)]
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    out = []
    for i in range(n):
        when = start + timedelta(hours=float(rng.uniform(0, 24 * 9)))
        rep = None if rng.random() < 0.1 else reps[int(rng.integers(5))]
        pool = ["a", "b"][int(rng.integers(2))]
        credits = {r: float(rng.integers(0, 9)) for r in reps if rng.random() < 0.5}
        out.append(
            Decision(
                lead_id=f"L{i}",
                rep_id=rep,
                pool=pool,
                lane="standard",
                strategy="round_robin",
                reasons=(),
                decided_at=when,
                rep_local_day=(when - timedelta(hours=5)).date(),
                rotation_update=credits,
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_database_state_matches_the_in_memory_reference(
    backend: str, seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The database RoutingState gives the same answers as the router's InMemoryState, on
    both databases: read lazily, and prefetched (window totals summed by the database for
    the prefetched window, other windows read when asked for)."""
    url = (
        request.getfixturevalue("pg_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 's.db'}"
    )
    engine = migrated_engine(url)
    reference = InMemoryState()
    decisions = _random_decisions(seed, 120)
    with routing_transaction(engine) as conn:
        state = DbRoutingState(conn)
        for d in decisions:
            state.commit(d)
            reference.commit(d)
        state.release("r1")
        reference.release("r1")
    with engine.connect() as conn:
        lazy = DbRoutingState(conn)
        prefetched = DbRoutingState(conn)  # one query up front, then the cache (and misses)
        prefetched.prefetch(datetime(2026, 1, 9, 12, tzinfo=UTC), window_days=3)
        now = datetime(2026, 1, 20, tzinfo=UTC)
        for fresh in (lazy, prefetched):
            for rep in [f"r{i}" for i in range(5)]:
                assert fresh.open_count(rep, now) == reference.open_count(rep, now)
                for k in range(12):
                    day = date(2026, 1, 4) + timedelta(days=k)
                    assert fresh.daily_count(rep, day) == reference.daily_count(rep, day)
            for pool in ("a", "b", "c"):
                assert dict(fresh.rotation(pool)) == dict(reference.rotation(pool))
                for k in range(12):
                    since = date(2026, 1, 4) + timedelta(days=k)
                    assert dict(fresh.window_counts(pool, since)) == {
                        r: c for r, c in reference.window_counts(pool, since).items() if c
                    }
    engine.dispose()


@pytest.mark.parametrize("seed", [4, 5])
def test_carried_tally_matches_a_fresh_read(seed: int, tmp_path: Path) -> None:
    """The counts as arrays (``DbRoutingState.tally``) carried from one intake's counters to
    the next (``Prefetched.after``, moved by each decision) equal a tally built from the
    counters read afresh from the database after every decision, and the in-memory
    reference's: open leads, each local day around the decision, and the window of each pool
    and segment scope (the prefetched window and a shorter one read when asked for)."""
    from leadpilot.policy.state import segment_scope
    from leadpilot.store.counters import (
        PREFETCH_QUERY,
        Prefetched,
        decision_effects,
        prefetch_params,
    )

    engine = migrated_engine(f"sqlite:///{tmp_path / 't.db'}")
    reference = InMemoryState()
    ids = tuple(f"r{i}" for i in range(6))  # r5 is never assigned
    decisions = _random_decisions(seed, 60)
    decisions = [
        d if i % 3 else replace_segment(d, "smb") for i, d in enumerate(decisions)
    ]  # some with a segment scope
    now = datetime(2026, 1, 9, 12, tzinfo=UTC)
    params = prefetch_params(now, window_days=7)
    scopes = ["a", "b", segment_scope("a", "smb"), segment_scope("b", "smb")]
    since_short = date(2026, 1, 8)
    with routing_transaction(engine) as conn:
        carried = Prefetched.parse(conn.execute(PREFETCH_QUERY, params), params)
        for k, d in enumerate(decisions):
            state = DbRoutingState(conn)
            state.adopt(carried)
            tally = state.tally(ids)
            assert tally is not None
            if k % 7 == 0:  # ask for arrays at some points only: the rest is built later
                for scope in scopes:
                    tally.window(scope, carried.since)
                    tally.window(scope, since_short)
                for day in params["days"]:
                    tally.day(date.fromisoformat(day))
            state.commit(d)  # writes the effects and forgets its reads
            assert state.tally(ids) is None  # nothing held once written
            reference.commit(d)
            after = carried.after(*decision_effects(d))
            assert after is not None
            carried = after
            fresh_state = DbRoutingState(conn)
            fresh_state.adopt(Prefetched.parse(conn.execute(PREFETCH_QUERY, params), params))
            fresh = fresh_state.tally(ids)
            state = DbRoutingState(conn)
            state.adopt(carried)
            held = state.tally(ids)
            assert held is not None
            assert fresh is not None
            np.testing.assert_array_equal(held.open, fresh.open)
            expected_open = [reference.open_count(r, now) for r in ids]
            np.testing.assert_array_equal(held.open, expected_open)
            for day in params["days"]:
                on = date.fromisoformat(day)
                np.testing.assert_array_equal(held.day(on), fresh.day(on))
                np.testing.assert_array_equal(
                    held.day(on), [reference.daily_count(r, on) for r in ids]
                )
            for scope in scopes:
                for since in (carried.since, since_short):
                    want = reference.window_counts(scope, since)
                    np.testing.assert_array_equal(
                        held.window(scope, since), fresh.window(scope, since)
                    )
                    np.testing.assert_array_equal(
                        held.window(scope, since), [want.get(r, 0) for r in ids]
                    )


def replace_segment(decision: Decision, segment: str) -> Decision:
    """``decision`` counted on a policy segment too (a development share's scope)."""
    from dataclasses import replace

    return replace(decision, segment=segment)
