"""The store's seams: the routing lock as a type (``LockedConn``), the one write path of the
decision log, and the Decision <-> row mapping derived from the dataclass fields."""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from mypy import api as mypy_api

from leadpilot.schema import Candidate, Decision
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.decisions import (
    DECISION_COLUMNS,
    StoredDecision,
    as_logged,
    decision_from_row,
    decision_row,
    stored_decision,
    stored_decision_json,
)
from leadpilot.store.engine import make_engine, routing_transaction, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.tables import decisions

SRC = Path(__file__).resolve().parents[2] / "src" / "leadpilot"

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# Every stored field away from its default, so a field the mapping dropped would show.
FULL = Decision(
    lead_id="L1",
    rep_id="r2",
    pool="sdr",
    lane="hot",
    strategy="predictive",
    reasons=("HOT_LANE", "PREDICTIVE"),
    decided_at=T0,
    candidates=(Candidate("r2", 0.31, 0.02, 0.29), Candidate("r1", 0.2, None, None)),
    exclusions={"r3": "CAPACITY_DAILY"},
    p_convert=0.31,
    confidence=0.8,
    propensity=0.9,
    model_version="m1",
    policy_version="p1",
    sla_deadline=T0 + timedelta(minutes=5),
    mode="shadow",
    shadow_rep_id="r1",
    fit_score=72.5,
    intent_score=40.0,
    grade="A",
)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    return eng


def test_decision_columns_are_the_decision_fields_the_table_has() -> None:
    fields = {f.name for f in dataclasses.fields(Decision)}
    # Written out by hand: what the log keeps, and the three it does not (the state's own;
    # the segment follows from the lead's company size and the policy version).
    assert set(DECISION_COLUMNS) == fields - {"rep_local_day", "rotation_update", "segment"}
    assert set(decisions.c.keys()) - set(DECISION_COLUMNS) == {"id", "seq", "live", "trigger"}


def test_decision_row_round_trips_every_stored_field() -> None:
    row = decision_row(FULL, trigger="intake", seq=3)
    assert row["candidates"] == [
        {"rep_id": "r2", "p_convert": 0.31, "price": 0.02, "score": 0.29, "value": None},
        {"rep_id": "r1", "p_convert": 0.2, "price": None, "score": None, "value": None},
    ]
    assert row["reasons"] == ["HOT_LANE", "PREDICTIVE"]
    assert (row["seq"], row["live"], row["trigger"]) == (3, True, "intake")
    assert decision_from_row(row) == FULL
    stored = StoredDecision(id=7, seq=3, live=False, trigger="sla_breach", decision=FULL)
    as_json = stored_decision_json(stored)
    assert as_json["decided_at"] == "2026-03-02T09:30:00+00:00"
    assert stored_decision(as_json) == stored


def test_as_logged_is_the_decision_the_log_reads_back() -> None:
    """``as_logged`` (what ``record_decision`` returns without the JSON round trip) equals
    the round trip through the row, state-only fields set and sequences given as lists."""
    with_state = dataclasses.replace(
        FULL,
        reasons=["HOT_LANE", "PREDICTIVE"],  # type: ignore[arg-type]
        rep_local_day=date(2026, 3, 2),
        rotation_update={"r2": 4.0},
        segment="smb",
    )
    read_back = decision_from_row(decision_row(with_state, trigger="intake", seq=1))
    assert as_logged(with_state) == read_back == FULL
    assert type(as_logged(with_state).reasons) is tuple


def test_a_decision_survives_the_database(engine: sa.Engine) -> None:
    from leadpilot.schema import Lead
    from leadpilot.store.leads import lead_row
    from leadpilot.store.record import DecisionRecord, TimerStart, record_decision

    with routing_transaction(engine) as conn:
        first = record_decision(
            conn,
            DecisionRecord(
                decision=FULL,
                trigger="intake",
                lead_columns=lead_row(Lead(lead_id="L1"), status="routed", received_at=T0),
                first=True,
                timers=[TimerStart("r2", "sla", T0 + timedelta(minutes=5))],
            ),
        )
        again = dataclasses.replace(FULL, rep_id="r1", reasons=("DECLINED_REASSIGN",))
        second = record_decision(
            conn,
            DecisionRecord(
                decision=again,
                trigger="declined",
                lead_columns={"rep_id": "r1"},
                released_rep="r2",
            ),
        )
    assert (first.seq, second.seq) == (1, 2)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(decisions).order_by(decisions.c.id)).all()
        state = DbRoutingState(conn)
        assert [stored_decision(r) for r in rows] == [
            dataclasses.replace(first, live=False),
            second,
        ]
        # r2 got the lead and lost it again; r1 holds it.
        assert (state.open_count("r2", T0), state.open_count("r1", T0)) == (0, 1)
        assert state.daily_count("r1", date(2026, 3, 2)) == 1


def test_routing_state_is_written_only_in_a_routing_transaction(engine: sa.Engine) -> None:
    with write_transaction(engine) as conn, pytest.raises(RuntimeError, match="routing lock"):
        DbRoutingState(conn).release("r1")
    with routing_transaction(engine) as conn:
        DbRoutingState(conn).commit(FULL)
    # The flag lives on the pooled DBAPI connection: it must not outlive the transaction.
    with write_transaction(engine) as conn, pytest.raises(RuntimeError, match="routing lock"):
        DbRoutingState(conn).commit(FULL)
    with engine.connect() as conn:
        assert DbRoutingState(conn).open_count("r2", T0) == 1


@pytest.mark.slow  # one cold mypy run over the store (~20-50 s)
def test_mypy_rejects_writing_routing_state_without_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYPYPATH", str(SRC.parent))  # this checkout's leadpilot, typed
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa

            from leadpilot.store.engine import routing_transaction, write_transaction
            from leadpilot.store.timers import cancel_timers


            def forgot_the_lock(engine: sa.Engine) -> None:
                with write_transaction(engine) as conn:
                    cancel_timers(conn, "L1", ("sla",))


            def holds_the_lock(engine: sa.Engine) -> None:
                with routing_transaction(engine) as conn:
                    cancel_timers(conn, "L1", ("sla",))
            """
        )
    )
    out, _err, status = mypy_api.run(
        [
            str(snippet),
            "--no-incremental",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--config-file",
            str(SRC.parents[1] / "pyproject.toml"),
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert len(errors) == 1, out
    assert "snippet.py:10:" in errors[0]
    assert '"Connection"; expected "LockedConn"' in errors[0]


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_no_sql_in_service_modules() -> None:
    """SQL lives in ``store/``: no service module touches tables or builds statements."""
    builders = {"select", "insert", "update", "delete", "text", "func", "exists", "bindparam"}
    found = []
    for path in _modules("service"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "leadpilot.store.tables":
                found.append(f"{path.name}: imports store.tables")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "sa"
                and node.attr in builders
            ):
                found.append(f"{path.name}:{node.lineno}: sa.{node.attr}")
    assert found == []


def test_one_module_writes_the_decision_log() -> None:
    writers = []
    for path in _modules(""):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"insert", "update"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "decisions"
            ):
                writers.append(path.relative_to(SRC).as_posix())
    assert set(writers) == {"store/record.py"}
