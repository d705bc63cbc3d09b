"""A synthetic world driven through the service over simulated months in which the reps'
skills change: the harness of the retrain acceptance tests.

The world's history is loaded into a store and the first champion trained from it. Then
the truth changes (each rep takes another rep's skill and industry and size affinities,
amplified) and new leads arrive through ``POST /v1/leads`` day by day; each routed lead
converts with its rep's *new* true probability, reported as a ``meeting_booked`` or
``closed_lost`` event. Routing is predictive with 20% exploration, so the decision log holds
propensities.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
from leadpilot.schema import Lead
from leadpilot.service.app import create_app
from leadpilot.service.inputs import policy_from_text
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, routing_transaction, write_transaction
from leadpilot.store.history import load_history_leads
from leadpilot.store.migrate import upgrade
from leadpilot.store.policies import activate_policy, save_policy
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token
from leadpilot.synth import generate_world
from leadpilot.synth.truth import GroundTruth

POLICY = """
pools:
  - name: all
    strategy: predictive
    fallback: round_robin
    eligibility: {territory: false}
predictive:
  explore: 0.2
"""
LEAD_COLUMNS = ("source", "industry", "company_size", "region", "country", "product",
                "engagement_score", "title", "language")  # fmt: skip


def changed_truth(truth: GroundTruth, shift: int, scale: float) -> GroundTruth:
    """Rep ``i`` takes rep ``i + shift``'s skill and affinities, times ``scale``."""
    reps = truth.reps
    moved = []
    for i, rep in enumerate(reps):
        src = reps[(i + shift) % len(reps)]
        moved.append(
            replace(
                rep,
                skill=src.skill * scale,
                industry_affinity={k: v * scale for k, v in src.industry_affinity.items()},
                size_affinity={k: v * scale for k, v in src.size_affinity.items()},
            )
        )
    return replace(truth, reps=tuple(moved))


@dataclass
class Sim:
    url: str
    engine: sa.Engine
    world: Any
    truth_after: GroundTruth
    history_end: datetime
    store: Path
    reps: list[str]


def build(root: Path, *, seed: int = 5) -> Sim:
    world = generate_world(n_leads=8_000, n_reps=8, n_new_leads=600, months=12, seed=seed)
    url = f"sqlite:///{root / 'lp.db'}"
    engine = make_engine(url)
    upgrade(engine)
    roster = world.reps[world.reps["active"].fillna(False).astype(bool)].copy()
    # One pool, always working, no caps: the test is about who converts what.
    roster["pool"] = "all"
    roster["timezone"] = "UTC"
    roster["working_hours"] = None
    for col in ("max_leads_per_day", "max_open_leads", "backup_rep_id"):
        roster[col] = None
    for col in ("regions", "industries", "products", "languages"):
        roster[col] = [() for _ in range(len(roster))]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps_from_frame(roster))
        load_history_leads(conn, leads_from_frame(world.history))
        version = policy_from_text(POLICY).policy_hash
        save_policy(conn, version=version, text=POLICY, author_token_id=None, author="test")
    with routing_transaction(engine) as conn:
        activate_policy(conn, version, action="upload", author_token_id=None, author="test")
    end = pd.Timestamp(world.history["created_at"].max()).to_pydatetime()
    return Sim(
        url=url,
        engine=engine,
        world=world,
        truth_after=changed_truth(world.truth, shift=3, scale=2.0),
        history_end=end,
        store=root / "models",
        reps=list(roster["rep_id"]),
    )


def lead_pool(world: Any) -> pd.DataFrame:
    """Lead attributes to draw simulated arrivals from (history and new leads alike)."""
    frame = pd.concat([world.history, world.new_leads], ignore_index=True)
    return frame[list(LEAD_COLUMNS)].reset_index(drop=True)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def simulate(sim: Sim, *, start: datetime, days: int, per_day: int, seed: int = 0) -> int:
    """Route ``per_day`` leads on each business day from ``start`` through the service
    (with the registry's champion) and report their true outcomes; returns leads routed."""
    rng = np.random.default_rng(seed)
    pool = lead_pool(sim.world)
    with write_transaction(sim.engine) as conn:
        token, _ = create_token(conn, role="writer", name=f"sim-{seed}")
    h = {"Authorization": f"Bearer {token}"}
    clock = Clock(start)
    settings = Settings(
        environment="development", worker_enabled=False, model_store=sim.store,
        background_pricing=False, force_model=True,
    )  # fmt: skip
    client = TestClient(create_app(settings, engine=sim.engine, clock=clock, seed=seed))
    routed = 0
    day = start.replace(hour=15, minute=0, second=0, microsecond=0)
    with client:
        for _ in range(days):
            day += timedelta(days=1)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            rows = pool.iloc[rng.integers(0, len(pool), per_day)]
            for j, (_, row) in enumerate(rows.iterrows()):
                clock.now = day + timedelta(minutes=5 * j)
                lead_id = f"S{seed}-{day:%Y%m%d}-{j:03d}"
                body: dict[str, Any] = {"lead_id": lead_id, "email": f"{lead_id}@co{j}.example"}
                for col in LEAD_COLUMNS:
                    value = row[col]
                    if value is not None and not (isinstance(value, float) and np.isnan(value)):
                        body[col] = value.item() if hasattr(value, "item") else value
                r = client.post("/v1/leads", json=body, headers=h)
                assert r.status_code == 201, r.text
                rep = (r.json().get("decision") or {}).get("rep_id")
                if rep is None:
                    continue
                routed += 1
                frame = pd.DataFrame([{**body, "created_at": clock.now}])
                p = float(sim.truth_after.true_probability(frame, [rep])[0, 0])
                kind = "meeting_booked" if rng.random() < p else "closed_lost"
                event = {"event_id": f"e-{lead_id}", "type": kind, "lead_id": lead_id}
                r = client.post("/v1/events", json=event, headers=h)
                assert r.status_code in (200, 201), r.text
    return routed


def routing_quality(model: Any, truth: GroundTruth, leads: pd.DataFrame, reps: list[str]) -> float:
    """Share of the possible gain the model's top pick captures under ``truth``: (its
    rep's true P - the average rep's) / (the best rep's - the average rep's), over
    ``leads``, with no capacity limits."""
    p_true = truth.true_probability(leads, reps)
    scores = _scores(model, leads, reps)
    picked = p_true[np.arange(len(leads)), np.argmax(scores, axis=1)]
    avg, best = p_true.mean(axis=1), p_true.max(axis=1)
    return float((picked - avg).sum() / (best - avg).sum())


def expected_log_loss(
    model: Any, truth: GroundTruth, leads: pd.DataFrame, reps: list[str]
) -> float:
    """The model's log loss over every (lead, rep) pair of ``leads`` in expectation under
    ``truth`` (each pair's outcome drawn with its true probability): calibration and
    ranking of every rep, not only of the rep each lead happened to get."""
    p_true = truth.true_probability(leads, reps)
    q = np.clip(_scores(model, leads, reps), 1e-6, 1 - 1e-6)
    return float(np.mean(-(p_true * np.log(q) + (1 - p_true) * np.log(1 - q))))


def _scores(model: Any, leads: pd.DataFrame, reps: list[str]) -> np.ndarray:
    pairs = leads.loc[leads.index.repeat(len(reps))].copy()
    pairs["rep_id"] = np.tile(np.array(reps, dtype=object), len(leads))
    return np.asarray(model.predict_proba(pairs.reset_index(drop=True))).reshape(
        len(leads), len(reps)
    )


def as_lead(row: pd.Series) -> Lead:
    return leads_from_frame(pd.DataFrame([row]))[0]


NOW = datetime(2026, 1, 1, tzinfo=UTC)
