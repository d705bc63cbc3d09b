"""A decision log with known truth for ``leadpilot report shadow`` / ``report lift``.

``build_measured_log`` runs the real service in-process (FastAPI test client, SQLite file)
on a synthetic world: leads in shadow mode, then live with a 30% per-lead holdout, then live
with a switchback holdout (hourly blocks, 10-minute washout), one lead every 12 minutes.
Each lead's outcome is drawn from the world's true conversion probability for the rep who
got it (meetings and opportunity amounts follow) and posted as events through the API.
``demo_section`` is the step of ``leadpilot demo`` that builds a small log and reads both
reports back.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["LIVE_FROM", "PHASES", "build_measured_log", "demo_section"]

PHASES = {
    "shadow": "mode: shadow\n",
    "per-lead holdout": "predictive: {holdout: 0.3, shadow_prices: false}\n",
    "switchback": (
        "predictive:\n  holdout: 0.5\n  shadow_prices: false\n  holdout_design: switchback\n"
        "  switchback: {block_minutes: 60, washout_minutes: 10}\n"
    ),
}
POOL = "pools:\n  - name: sdr\n    strategy: predictive\n    fallback: round_robin\n"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LIVE_FROM = START.date()  # every phase starts on this day
STEP = timedelta(minutes=12)


class _Clock:
    """The service's clock, moved by the builder."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_measured_log(
    db: Path,
    leads_per_phase: int = 300,
    *,
    say: Any = print,
) -> None:
    """Write a decision log to the new SQLite file ``db`` (see the module docstring)."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        # starlette's note about its httpx transport is for its maintainers, not the demo's user
        warnings.simplefilter("ignore")
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

    n_new = len(PHASES) * leads_per_phase
    world = generate_world(n_leads=600, n_reps=6, n_new_leads=n_new, seed=4)
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
    clock = _Clock(START)
    app = create_app(
        Settings(environment="development", worker_enabled=False),
        engine=engine,
        scorer=scorer,
        clock=clock,
        seed=1,
    )
    rng = np.random.default_rng(2)
    leads = leads_from_frame(world.new_leads)
    fields = ("lead_id", "industry", "company_size", "region", "country", "product",
              "language", "source", "engagement_score")  # fmt: skip
    as_admin = {"Authorization": f"Bearer {admin}"}
    as_crm = {"Authorization": f"Bearer {writer}"}
    try:
        with TestClient(app) as client:
            for phase, (name, extra) in enumerate(PHASES.items()):
                r = client.post("/v1/policy", json={"policy": POOL + extra}, headers=as_admin)
                r.raise_for_status()
                for lead in leads[phase * leads_per_phase : (phase + 1) * leads_per_phase]:
                    body = {f: getattr(lead, f) for f in fields if getattr(lead, f) is not None}
                    r = client.post("/v1/leads", json=body, headers=as_crm)
                    r.raise_for_status()
                    rep = r.json()["decision"]["rep_id"]
                    if rep is not None:
                        p = float(scorer.score_candidates(lead, [rep]).p[0])
                        for kind, more in _events(rng, p):
                            event = {"event_id": f"{kind}-{lead.lead_id}", "type": kind,
                                     "lead_id": lead.lead_id, **more}  # fmt: skip
                            client.post("/v1/events", json=event, headers=as_crm).raise_for_status()
                    clock.now += STEP
                say(f"{name}: {leads_per_phase} leads routed")
    finally:
        engine.dispose()


def _events(rng: Any, p: float) -> list[tuple[str, dict[str, Any]]]:
    """A lead's outcome events: won with probability ``p``; a meeting and an opportunity
    (log-normal amount) when won, and as often again when lost."""
    import numpy as np

    won = bool(rng.random() < p)
    events: list[tuple[str, dict[str, Any]]] = []
    if won or rng.random() < p:
        amount = round(float(rng.lognormal(np.log(8000), 0.6)), 2)
        events += [("meeting_booked", {}), ("opportunity_created", {"amount": amount})]
    events.append(("closed_won" if won else "closed_lost", {}))
    return events


DEMO_LEADS_PER_PHASE = 100


def demo_section(out: Any, workdir: Path) -> dict[str, Any]:
    """For ``leadpilot demo``: a small decision log through the HTTP service, then the
    shadow and lift reports read back from it (HTML + JSON in ``workdir``)."""
    import json

    from leadpilot.evaluate.lift import lift_report, policies_by_version
    from leadpilot.evaluate.report_pages import render_lift_html, render_shadow_html
    from leadpilot.evaluate.shadow import shadow_report
    from leadpilot.store.engine import make_engine
    from leadpilot.store.measurement import measured_leads, policy_texts

    db = workdir / "measured.db"
    db.unlink(missing_ok=True)
    with out.status("Routing leads through the service...", spinner="dots") as status:
        build_measured_log(
            db, DEMO_LEADS_PER_PHASE, say=lambda msg: status.update(f"{msg[:1].upper()}{msg[1:]}")
        )
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            shadow_leads = measured_leads(conn, mode="shadow", since=None)
            live_leads = measured_leads(conn, mode="live", since=None)
            policies = policies_by_version(policy_texts(conn))
    finally:
        engine.dispose()
    shadow = shadow_report(shadow_leads, policies, since=None).as_dict()
    lift = lift_report(live_leads, policies, since=None).as_dict()
    for name, document, html in (
        ("shadow", shadow, render_shadow_html(shadow)),
        ("lift", lift, render_lift_html(lift)),
    ):
        (workdir / f"{name}.html").write_text(html, encoding="utf-8")
        (workdir / f"{name}.json").write_text(
            json.dumps(document, indent=2, default=str), encoding="utf-8"
        )
    out.print(
        f"{DEMO_LEADS_PER_PHASE} leads each in shadow mode, live with a 30% per-lead holdout "
        "and live with an hourly switchback; outcomes drawn from the world's truth and posted "
        "as events."
    )
    out.print(f"[bold]Shadow report:[/] {shadow['verdict']}")
    for design in lift["designs"]:
        c = design["conversion"]
        out.print(
            f"[bold]Lift ({design['design']}):[/] {design['verdict']} "
            f"(difference {100 * c['difference']:+.1f} pts, 95% interval "
            f"{_pts(c['ci_low'])} to {_pts(c['ci_high'])}, {c['units']} units)"
        )
    out.print(
        f"Wrote {workdir}/shadow.html, lift.html (+ .json). Try:\n"
        f"  leadpilot report shadow --db sqlite:///{db} --out shadow.html\n"
        f"  leadpilot report lift --db sqlite:///{db} --out lift.html"
    )
    return {"shadow": shadow, "lift": lift}


def _pts(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"
