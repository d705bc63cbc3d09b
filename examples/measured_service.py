"""Build a decision log to try ``leadpilot report shadow`` and ``leadpilot report lift`` on.

Runs the real service in-process (FastAPI test client, SQLite file) on a synthetic world
with known truth: 300 leads in shadow mode, then 300 live with a 30% per-lead holdout, then
300 live with a switchback holdout (hourly blocks, 10-minute washout), one lead every 12
minutes. Each lead's outcome is drawn from the world's true conversion probability for the
rep who got it (meetings and opportunity amounts follow), and posted as events.

    python examples/measured_service.py measured.db
    leadpilot report shadow --db sqlite:///measured.db --out shadow.html
    leadpilot report lift --db sqlite:///measured.db --out lift.html --json lift.json
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token
from leadpilot.synth import generate_world
from leadpilot.synth.truth import GroundTruthScorer

PHASES = {
    "shadow": "mode: shadow\n",
    "per-lead holdout": "predictive: {holdout: 0.3, shadow_prices: false}\n",
    "switchback": (
        "predictive:\n  holdout: 0.5\n  shadow_prices: false\n  holdout_design: switchback\n"
        "  switchback: {block_minutes: 60, washout_minutes: 10}\n"
    ),
}
POOL = "pools:\n  - name: sdr\n    strategy: predictive\n    fallback: round_robin\n"
LEADS_PER_PHASE = 300


class Clock:
    """The service's clock, moved by this script."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def main(path: str) -> None:
    db = Path(path)
    if db.exists():
        sys.exit(f"{db} exists: give a new file name")
    world = generate_world(n_leads=600, n_reps=6, n_new_leads=3 * LEADS_PER_PHASE, seed=4)
    # Every rep in one pool, on UTC, always on shift, with room for the day's leads.
    reps = [
        dataclasses.replace(
            r, pool="sdr", timezone="UTC", working_hours=None, max_leads_per_day=None
        )
        for r in reps_from_frame(world.reps)
    ]
    scorer = GroundTruthScorer(world.truth)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        admin, _ = create_token(conn, role="admin", name="example-admin")
        writer, _ = create_token(conn, role="writer", name="example-crm")
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    app = create_app(
        Settings(environment="development", worker_enabled=False),
        engine=engine,
        scorer=scorer,
        clock=clock,
        seed=1,
    )
    rng = np.random.default_rng(2)
    leads = leads_from_frame(world.new_leads)
    as_admin = {"Authorization": f"Bearer {admin}"}
    as_crm = {"Authorization": f"Bearer {writer}"}
    with TestClient(app) as client:
        for phase, (name, extra) in enumerate(PHASES.items()):
            r = client.post("/v1/policy", json={"policy": POOL + extra}, headers=as_admin)
            r.raise_for_status()
            for lead in leads[phase * LEADS_PER_PHASE : (phase + 1) * LEADS_PER_PHASE]:
                body = {
                    f.name: getattr(lead, f.name)
                    for f in dataclasses.fields(lead)
                    if f.name in ("lead_id", "industry", "company_size", "region", "country",
                                  "product", "language", "source", "engagement_score")
                    and getattr(lead, f.name) is not None
                }  # fmt: skip
                r = client.post("/v1/leads", json=body, headers=as_crm)
                r.raise_for_status()
                rep = r.json()["decision"]["rep_id"]
                if rep is not None:
                    p = float(scorer.score_candidates(lead, [rep]).p[0])
                    won = bool(rng.random() < p)
                    events = []
                    if won or rng.random() < p:
                        amount = round(float(rng.lognormal(np.log(8000), 0.6)), 2)
                        events += [
                            ("meeting_booked", {}),
                            ("opportunity_created", {"amount": amount}),
                        ]
                    events.append(("closed_won" if won else "closed_lost", {}))
                    for kind, extra_fields in events:
                        event = {"event_id": f"{kind}-{lead.lead_id}", "type": kind,
                                 "lead_id": lead.lead_id, **extra_fields}  # fmt: skip
                        client.post("/v1/events", json=event, headers=as_crm).raise_for_status()
                clock.now += timedelta(minutes=12)
            print(f"{name}: {LEADS_PER_PHASE} leads routed")
    engine.dispose()
    print(f"decision log: sqlite:///{db}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/measured_service.py NEW_FILE.db")
    main(sys.argv[1])
