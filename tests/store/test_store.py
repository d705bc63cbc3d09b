"""The store: migrations, tokens, timestamps, and the database RoutingState."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadpilot.errors import ConfigError, StoreError
from leadpilot.settings import load_settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import check_current, current_revision, head_revision, upgrade
from leadpilot.store.tables import api_tokens, metadata
from leadpilot.store.tokens import create_token, hash_token, lookup_token, revoke_token
from leadpilot.store.types import utcnow


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


def test_timestamps_come_back_aware_in_utc(engine: sa.Engine) -> None:
    from leadpilot.store.alerts import list_alerts, record_alert

    with write_transaction(engine) as conn:
        record_alert(conn, "test", "hello", now=utcnow())
    with engine.connect() as conn:
        (row,) = list_alerts(conn)
    assert row.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - row.created_at).total_seconds()) < 60


def test_sqlite_hands_out_the_connection_returned_last(tmp_path: Path) -> None:
    """Its page cache is warm (SQLite drops a connection's cache when another one wrote)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lifo.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            opened = [first.connection.dbapi_connection, second.connection.dbapi_connection]
        # second went back to the pool first, then first: first is handed out next (the
        # pool's default, FIFO, would hand out second), and again after each write on it
        for _ in range(3):
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
                assert conn.connection.dbapi_connection is opened[0]
    finally:
        engine.dispose()
