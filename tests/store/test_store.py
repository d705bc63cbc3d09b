"""The store: migrations, tokens, timestamps, and the database RoutingState."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from leadpilot.errors import ConfigError, StoreError
from leadpilot.policy import InMemoryState
from leadpilot.schema import Decision
from leadpilot.settings import load_settings
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import check_current, current_revision, head_revision, upgrade
from leadpilot.store.tables import api_tokens, metadata
from leadpilot.store.tokens import create_token, hash_token, lookup_token, revoke_token


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    return eng


def test_migrations_create_every_table_and_are_idempotent(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(StoreError, match="leadpilot db upgrade"):
        check_current(eng)
    assert upgrade(eng) == head_revision()
    assert upgrade(eng) == head_revision()
    check_current(eng)
    names = set(sa.inspect(eng).get_table_names())
    assert set(metadata.tables) <= names
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert current_revision(eng) == head_revision()


def test_tokens_are_stored_hashed_and_revocable(engine: sa.Engine) -> None:
    with write_transaction(engine) as conn:
        token, info = create_token(conn, role="reader", name="dash")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(api_tokens.c.token_hash)).scalar_one()
        assert token not in stored
        assert stored == hash_token(token)
        assert len(token) > 40
        assert lookup_token(conn, token) == info
        assert lookup_token(conn, token + "x") is None
    with write_transaction(engine) as conn:
        assert revoke_token(conn, info.id)
        assert lookup_token(conn, token) is None
    with write_transaction(engine) as conn, pytest.raises(ConfigError, match="admin, writer"):
        create_token(conn, role="root", name="x")


def test_unknown_database_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported database"):
        make_engine("mysql://x@y/z")


def test_settings_refuse_the_default_secret_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADPILOT_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("LEADPILOT_WEBHOOK_SECRET", "a" * 40)
    assert load_settings().environment == "production"
    monkeypatch.setenv("LEADPILOT_DATABASE_URL", "sqlite:///elsewhere.db")
    assert load_settings().database_url == "sqlite:///elsewhere.db"
    assert load_settings(database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"


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
def test_database_state_matches_the_in_memory_reference(engine: sa.Engine, seed: int) -> None:
    """The database RoutingState gives the same answers as the router's InMemoryState."""
    reference = InMemoryState()
    decisions = _random_decisions(seed, 120)
    with write_transaction(engine) as conn:
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


def test_timestamps_come_back_aware_in_utc(engine: sa.Engine) -> None:
    from leadpilot.store.alerts import list_alerts, record_alert

    with write_transaction(engine) as conn:
        record_alert(conn, "test", "hello")
    with engine.connect() as conn:
        (row,) = list_alerts(conn)
    assert row.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - row.created_at).total_seconds()) < 60
