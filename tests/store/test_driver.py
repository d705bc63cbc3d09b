"""``store.driver``: the same rows as ``conn.execute`` on SQLite, through the sqlite3 cursor."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.errors import StoreError
from leadpilot.store import driver
from leadpilot.store.counters import _UPSERTS, prefetch_params
from leadpilot.store.driver import execute_insert, insert_returning, select_rows
from leadpilot.store.engine import make_engine, routing_transaction
from leadpilot.store.intake import _INTAKE_READ, _INTAKE_READ_HELD
from leadpilot.store.kpi_rollups import _MARK
from leadpilot.store.migrate import upgrade
from leadpilot.store.record import _INSERT_DECISION, _INSERT_LEAD
from leadpilot.store.tables import leads
from tests.service.conftest import postgres_url_or_skip

WHEN = datetime(2026, 12, 2, 16, 5, 7, 123456, tzinfo=UTC)


def _lead(lead_id: str, **extra: Any) -> dict[str, Any]:
    row = {
        "lead_id": lead_id,
        "email": f"{lead_id}@example.com",
        "external_id": None,
        "company": "Acme \u00e9",
        "domain": None,
        "account_id": None,
        "fields": {"industry": "saas", "list": [1, 2.5], "none": None, "nested": {"a": True}},
        "created_at": WHEN - timedelta(hours=3),
        "received_at": WHEN.astimezone(UTC),
        "status": "routed",
        "reassignments": 0,
        "rep_id": "r1",
        "queued_at": None,
    }
    row.update(extra)
    return row


def _decision(lead_id: str) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "seq": 1,
        "live": True,
        "trigger": "intake",
        "rep_id": "r1",
        "pool": "p",
        "lane": None,
        "strategy": "predictive",
        "reasons": ["A", "B:c"],
        "candidates": [{"rep_id": "r1", "p": 0.25}],
        "exclusions": {},
        "p_convert": 0.25,
        "confidence": None,
        "propensity": 1.0,
        "model_version": "m1",
        "policy_version": None,
        "decided_at": WHEN,
        "sla_deadline": WHEN + timedelta(minutes=30),
        "mode": "live",
        "shadow_rep_id": None,
        "fit_score": None,
        "intent_score": 0.5,
        "grade": None,
        "expected_value": None,
    }


def _raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows as SQLite stores them (no SQLAlchemy types on the way back)."""
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_stores_what_execute_stores(tmp_path: Path) -> None:
    """The lead, its decision (RETURNING its id), counter upserts (executemany, the
    constant floor of the increment) and the KPI day marks are stored byte for byte as
    ``conn.execute`` stores them: dates as SQLAlchemy's text, JSON as its dumps (a ``None``
    in a JSON column too), booleans as 0/1."""
    paths = {}
    for mode in ("execute", "driver"):
        path = paths[mode] = tmp_path / f"{mode}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        run = (
            (lambda c, s, r: execute_insert(c, s, r))
            if mode == "driver"
            else (lambda c, s, r: c.execute(s, r))
        )
        returning = (
            (lambda c, s, r: insert_returning(c, s, r))
            if mode == "driver"
            else (lambda c, s, r: c.execute(s, r).scalar_one())
        )
        with routing_transaction(engine) as conn:
            run(conn, _INSERT_LEAD, _lead("L1"))
            # the same instant in another zone and naive: the same text (UTC) as execute's
            pacific = WHEN.astimezone(timezone(timedelta(hours=-8)))
            run(
                conn,
                _INSERT_LEAD,
                _lead(
                    "L2",
                    fields={"x": None},
                    closed_won=False,
                    received_at=pacific,
                    queued_at=WHEN.replace(tzinfo=None),
                ),
            )
            first = returning(conn, _INSERT_DECISION, _decision("L1"))
            second = returning(conn, _INSERT_DECISION, _decision("L2"))
            assert (first, second) == (1, 2)
            rows = [
                {"kind": "day", "scope": "2026-12-02", "key": "r1", "value": 1.0},
                {"kind": "open", "scope": "", "key": "r1", "value": -3.0},
            ]
            run(conn, _UPSERTS[("sqlite", True)], rows)
            run(conn, _UPSERTS[("sqlite", True)], rows)  # the second one updates
            run(conn, _UPSERTS[("sqlite", False)], [{**rows[0], "value": 7.5}])
            run(conn, _MARK["sqlite"], [{"day": date(2026, 12, 2), "dirty": True}])
        engine.dispose()
    for table in ("leads", "decisions", "routing_counters", "kpi_day_marks"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert _raw(paths["driver"], query) == _raw(paths["execute"], query), table
    # and what that is, checked by hand
    (lead,) = _raw(paths["driver"], "SELECT fields, received_at, closed_won FROM leads LIMIT 1")
    assert lead == (
        '{"industry": "saas", "list": [1, 2.5], "none": null, "nested": {"a": true}}',
        "2026-12-02 16:05:07.123456",
        None,
    )
    assert _raw(paths["driver"], "SELECT kind, value FROM routing_counters ORDER BY 1") == [
        ("day", 7.5),
        ("open", 0.0),
    ]


def test_python_defaults_and_errors_go_through_execute(tmp_path: Path) -> None:
    """A row without a column that has a Python-side default gets it (the statement runs
    through ``conn.execute``), and a constraint failure is SQLAlchemy's ``IntegrityError``
    either way."""
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    row = _lead("L1")
    del row["reassignments"]  # default=0
    with routing_transaction(engine) as conn:
        execute_insert(conn, _INSERT_LEAD, row)
        assert conn.execute(sa.select(leads.c.reassignments)).scalar_one() == 0
    with pytest.raises(sa.exc.IntegrityError), routing_transaction(engine) as conn:
        execute_insert(conn, _INSERT_LEAD, _lead("L1"))  # the same key again


def test_the_intake_read_reads_what_execute_reads(tmp_path: Path) -> None:
    """``select_rows`` of the intake's read (sent to the sqlite3 cursor) returns the rows
    ``conn.execute`` returns, as plain tuples."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    params = {"lead_id": "L1", "external_id": None, "email": "L2@example.com", "token_hash": "x"}
    with routing_transaction(engine) as conn:
        execute_insert(conn, _INSERT_LEAD, _lead("L1"))
        execute_insert(conn, _INSERT_LEAD, _lead("L2", received_at=WHEN - timedelta(days=1)))
        rows = select_rows(conn, _INTAKE_READ_HELD, params)
        assert driver._binder_for(conn, _INTAKE_READ_HELD, tuple(params)) is not None  # cursor
        assert [tuple(r) for r in conn.execute(_INTAKE_READ_HELD, params).all()] == rows
        assert all(type(r) is tuple for r in rows)
        assert [r[1] for r in rows if r[0] == "dup"] == ["L2", "L1"]


def test_statement_listeners_still_see_every_statement(tmp_path: Path) -> None:
    """With a ``before_cursor_execute`` listener (a profiler, SQL logging) the statements go
    through SQLAlchemy's execution, so the listener sees them; the rows are the same."""
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    upgrade(engine)
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(" ", 3)[2] if statement.startswith("INSERT") else "")

    with routing_transaction(engine) as conn:
        execute_insert(conn, _INSERT_LEAD, _lead("L1"))
        assert seen == []
    sa.event.listen(engine, "before_cursor_execute", listen)
    with routing_transaction(engine) as conn:
        execute_insert(conn, _INSERT_LEAD, _lead("L2"))
        assert insert_returning(conn, _INSERT_DECISION, _decision("L2")) == 1
        select_rows(
            conn,
            _INTAKE_READ_HELD,
            {"lead_id": "L2", "external_id": None, "email": None, "token_hash": ""},
        )
    assert [s for s in seen if s] == ["leads", "decisions"]
    assert len(seen) == 4  # BEGIN and the read too
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one() == 2


def test_a_driver_error_is_handled_as_execute_handles_it(tmp_path: Path) -> None:
    """A driver error on the cursor path goes through the connection's error handling: the
    engine's ``handle_error`` listeners run (an ``OperationalError`` invalidates the
    connection, ``store.engine``) and SQLAlchemy's wrapper is raised (the store's
    ``StoreError`` from ``routing_transaction``, as for ``conn.execute``)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    upgrade(engine)
    handled: list[type] = []
    sa.event.listen(
        engine, "handle_error", lambda ctx: handled.append(type(ctx.sqlalchemy_exception))
    )
    with routing_transaction(engine) as conn:
        conn.exec_driver_sql("DROP TABLE kpi_day_marks")
    # routing_transaction answers SQLAlchemy's OperationalError as the store's StoreError
    with pytest.raises(StoreError, match="no such table"):  # noqa: SIM117
        with routing_transaction(engine) as conn:
            execute_insert(conn, _MARK["sqlite"], [{"day": date(2026, 12, 2), "dirty": True}])
    assert handled == [sa.exc.OperationalError]


def test_postgres_reads_through_the_cursor_what_execute_reads(tmp_path: Path) -> None:
    """On PostgreSQL (psycopg) ``select_rows`` of the intake's read with the counters, sent
    to the cursor with named parameters, returns the rows ``conn.execute`` returns, also
    when this process sent the same statement to SQLite first (the SQL is per back end)."""
    base = postgres_url_or_skip()
    lite = make_engine(f"sqlite:///{tmp_path / 'first.db'}")
    upgrade(lite)
    with routing_transaction(lite) as conn:
        select_rows(
            conn,
            _INTAKE_READ,
            {"lead_id": "L1", "external_id": None, "email": None, "token_hash": "x"}
            | prefetch_params(WHEN, window_days=7),
        )
    lite.dispose()
    schema = f"lp_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        engine = make_engine(f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")
        upgrade(engine)
        counters = [
            {"kind": "open", "scope": "", "key": "r1", "value": 2.0},
            {"kind": "rr", "scope": "p", "key": "r1", "value": 0.5},
            {"kind": "day", "scope": "2026-12-02", "key": "r1", "value": 1.0},
            {"kind": "win", "scope": "p", "key": "2026-12-01|r1", "value": 3.0},
        ]
        params = {
            "lead_id": "L1",
            "external_id": None,
            "email": "l2@example.com",
            "token_hash": "x",
            **prefetch_params(WHEN, window_days=7),
        }
        with routing_transaction(engine) as conn:
            conn.execute(_INSERT_LEAD, [_lead("L1"), _lead("L2", email="l2@example.com")])
            conn.execute(_UPSERTS[("postgresql", False)], counters)
            rows = select_rows(conn, _INTAKE_READ, params)
            assert driver._binder_for(conn, _INTAKE_READ, tuple(params)) is not None  # cursor
            assert rows == [tuple(r) for r in conn.execute(_INTAKE_READ, params).all()]
            assert ("open", "", "r1", 2.0) in [r[:3] + r[4:] for r in rows]
            assert ("winsum", "p", "r1", 3.0) in [r[:3] + r[4:] for r in rows]
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_sql_logging_from_logging_config_sees_every_statement(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQL logging switched on through ``logging`` (not ``echo``) still logs the intake's
    statements: they go through SQLAlchemy's execution then."""
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    upgrade(engine)
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):  # noqa: SIM117
        with routing_transaction(engine) as conn:
            execute_insert(conn, _INSERT_LEAD, _lead("L1"))
    assert any("INSERT INTO leads" in r.getMessage() for r in caplog.records)


def test_a_closed_driver_connection_is_handled_as_execute_handles_it(tmp_path: Path) -> None:
    """A driver error taking the cursor (its connection closed under it) is SQLAlchemy's
    wrapped error, as ``conn.execute`` raises it, not the driver's own."""
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)

    raised: list[BaseException] = []

    def insert_on_a_closed_connection() -> None:
        with routing_transaction(engine) as conn:
            conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
            try:
                execute_insert(conn, _INSERT_LEAD, _lead("L1"))
            except BaseException as exc:
                raised.append(exc)
                raise

    with pytest.raises(sa.exc.DBAPIError):  # the transaction's rollback fails too
        insert_on_a_closed_connection()
    assert len(raised) == 1
    assert isinstance(raised[0], sa.exc.DBAPIError)
    assert "closed database" in str(raised[0])


def test_two_instants_in_a_repeated_hour_bind_apart() -> None:
    """In a zone's repeated hour (end of daylight saving) fold 0 and fold 1 are an hour
    apart although they compare equal: each binds its own instant."""
    from zoneinfo import ZoneInfo

    from leadpilot.store.types import UTCDateTime

    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=zone)
    second = first.replace(fold=1)
    assert first == second
    assert hash(first) == hash(second)
    engine = sa.create_engine("sqlite://")
    processor = UTCDateTime().bind_processor(engine.dialect)
    assert processor is not None
    once = driver._dates_once(processor, "sqlite")
    assert once(first) == processor(first)
    assert once(second) == processor(second)
    assert once(first) != once(second)
