"""The retrain's training set from the store: labels wait for the outcome window, and the
model's own choices are re-weighted by their logged propensity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.errors import ConfigError
from leadpilot.lifecycle.trainset import _resample, build_training_set, parse_window
from leadpilot.schema import Rep
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import decisions
from leadpilot.store.tokens import create_token

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_labels_wait_for_the_outcome_window(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    upgrade(engine)
    reps = [Rep(rep_id=f"r{i}", pool="sdr", timezone="UTC") for i in range(3)]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        token, _ = create_token(conn, role="writer", name="t")
    clock = Clock()
    settings = Settings(environment="development", worker_enabled=False)
    client = TestClient(create_app(settings, engine=engine, clock=clock, seed=1))
    h = {"Authorization": f"Bearer {token}"}
    with client:
        for i, days_ago in enumerate((50, 45, 40, 10, 5)):
            clock.now = T0 - timedelta(days=days_ago)
            r = client.post("/v1/leads", json={"lead_id": f"L{i}", "email": f"a{i}@b{i}.com"},
                            headers=h)  # fmt: skip
            assert r.status_code == 201, r.text
        clock.now = T0
        events = [("e1", "meeting_booked", "L0"), ("e2", "closed_lost", "L1"),
                  ("e3", "meeting_booked", "L3")]  # fmt: skip
        for event_id, kind, lead in events:
            r = client.post("/v1/events", json={"event_id": event_id, "type": kind,
                                                "lead_id": lead}, headers=h)  # fmt: skip
            assert r.status_code in (200, 201), r.text
    with engine.connect() as conn:
        ts = build_training_set(conn, now=T0, window=timedelta(days=365),
                                outcome_window=timedelta(days=30))  # fmt: skip
    got = {k: (None if v is pd.NA else bool(v))
           for k, v in zip(ts.frame["lead_id"], ts.frame["converted"], strict=True)}  # fmt: skip
    # meeting -> converted; lost -> not; 40 days, nothing -> not (past the window);
    # 10 days with a meeting -> converted; 5 days, nothing -> open (left unlabelled)
    assert got["L0"] is True
    assert got["L1"] is False
    assert got["L2"] is False
    assert got["L3"] is True
    assert got["L4"] is None
    assert ts.open_rows == 1
    assert ts.routed_rows == 5
    assert ts.history_rows == 0
    # No model routed them (no scorer): nothing re-weighted, every row once.
    assert ts.weighted_rows == 0
    assert len(ts.frame) == 5
    engine.dispose()


def test_model_choices_are_weighted_by_inverse_propensity(tmp_path: Path) -> None:
    """Leads the model placed with propensity 0.9 (its pick) and 0.1 (an exploration): the
    exploration stands for nine times as many leads."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    upgrade(engine)
    reps = [Rep(rep_id=f"r{i}", pool="sdr", timezone="UTC") for i in range(2)]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        token, _ = create_token(conn, role="writer", name="t")
    clock = Clock()
    client = TestClient(create_app(Settings(environment="development", worker_enabled=False),
                                   engine=engine, clock=clock, seed=1))  # fmt: skip
    with client:
        for i in range(10):
            clock.now = T0 - timedelta(days=60 - i)
            client.post("/v1/leads", json={"lead_id": f"L{i}", "email": f"a{i}@b{i}.com"},
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    with write_transaction(engine) as conn:  # as a model-routed log would read
        for i in range(10):
            conn.execute(decisions.update().where(decisions.c.lead_id == f"L{i}").values(
                model_version="cm-x", propensity=0.1 if i == 4 else 0.9))  # fmt: skip
        ts = build_training_set(conn, now=T0, window=timedelta(days=365))
    counts = ts.frame["lead_id"].str.split("#").str[0].value_counts()
    # weights 1/0.9 (x9) and 1/0.1, rescaled to add up to 10 rows: 0.5 each, and 5.5
    assert ts.weighted_rows == 10
    assert len(ts.frame) == 10
    assert counts["L4"] in (5, 6)
    assert counts.drop("L4").sum() == 10 - counts["L4"]
    assert ts.propensity["L4"] == pytest.approx(0.1)
    engine.dispose()


def test_resample_by_hand() -> None:
    frame = pd.DataFrame({"lead_id": ["a", "b", "c", "d"]})
    # weights x 4/6 = .667, 2, .667, .667; running sums + .5 floored: 1, 3, 3, 4
    out = _resample(frame, np.array([1.0, 3.0, 1.0, 1.0]))
    assert list(out["lead_id"]) == ["a", "b", "b#1", "d"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.05, 20.0), min_size=1, max_size=40))
def test_resample_keeps_the_rows_number_and_order(weights: list[float]) -> None:
    frame = pd.DataFrame({"lead_id": [f"L{i:03d}" for i in range(len(weights))]})
    out = _resample(frame, np.array(weights))
    assert len(out) == len(weights)
    base = out["lead_id"].str.split("#").str[0]
    assert list(base) == sorted(base)  # time order kept
    # every row kept within one of its expected count
    expected = np.array(weights) * len(weights) / sum(weights)
    got = base.value_counts().reindex(frame["lead_id"], fill_value=0).to_numpy()
    assert np.all(np.abs(got - expected) < 1 + 1e-9)


def test_window_parsing() -> None:
    assert parse_window("18m") == timedelta(days=18 * 30.4375)
    assert parse_window("90d") == timedelta(days=90)
    assert parse_window("2y") == timedelta(days=730.5)
    with pytest.raises(ConfigError, match="not a duration"):
        parse_window("soon")
