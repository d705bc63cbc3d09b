"""The service part of ``leadpilot demo``: a real server on 127.0.0.1, real HTTP calls.

The server runs in a background thread with a clock the demo can fast-forward, so SLA
breaches happen in seconds instead of 15 minutes; everything else is the production path
(SQLite store, auth, router, background worker, reassignment decisions).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from leadpilot.errors import LeadpilotError
from leadpilot.ingest.history import read_history
from leadpilot.ingest.roster import (
    accounts_from_frame,
    leads_from_frame,
    read_accounts,
    read_reps,
    reps_from_frame,
)
from leadpilot.schema import Lead, Scorer
from leadpilot.service.app import create_app
from leadpilot.service.inputs import load_scorer
from leadpilot.settings import Settings
from leadpilot.store.accounts import upsert_accounts
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token

__all__ = ["DEMO_POLICY", "demo_service"]

DEMO_POLICY = """\
# Demo policy: hot leads (demo requests) must be touched within 15 minutes.
lanes:
  - name: hot
    sla_minutes: 15
    when:
      - field: demo_request
        equals: true
  - name: standard
    sla_minutes: 240
pools:
  - name: everyone
    strategy: predictive
    fallback: round_robin
max_reassignments: 2
retrain:
  enabled: false   # this step is about SLA timers; step 9 shows retraining
"""
_CANONICAL = (
    "lead_id", "email", "company", "domain", "source", "industry", "company_size",
    "size_band", "annual_revenue", "region", "country", "state", "product",
    "engagement_score", "title", "language", "external_id",
)  # fmt: skip
_SIGNALS = ("demo_request", "pricing_page_visit")


class _ShiftedClock:
    """A clock that starts at ``start``, runs at real speed, and jumps when the demo moves
    ``offset`` forward.

    Pinned rather than real time: who is on shift (and so whose SLA clock runs) depends on
    the time of day, and the tour must tell the same story whenever it is run."""

    def __init__(self, start: datetime) -> None:
        self.offset = timedelta(0)
        self._start = start
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0) + self.offset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload(lead: Lead) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in _CANONICAL:
        value = getattr(lead, name)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            body[name] = value
    body["attributes"] = {
        k: bool(lead.attributes[k]) for k in _SIGNALS if lead.attributes.get(k) is not None
    }
    return body


def _wait_for_ctrl_c() -> None:
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def demo_service(
    console: Console,
    world_dir: Path,
    model_dir: Path | None = None,
    *,
    limit: int = 300,
    keep_serving: bool = False,
    wait: Callable[[str, str], None] | None = None,
) -> None:
    """Start the service on SQLite (127.0.0.1, free port), post the world's new leads
    through the API, touch most of them, fast-forward past the hot-lane SLA, and show the
    reassignments and KPIs; then stop the server. ``limit`` bounds the leads posted.
    ``keep_serving``: first print the dashboard's URL and a demo admin token, and serve
    until Ctrl-C (or until ``wait(url, token)`` returns)."""
    import uvicorn

    scorer: Scorer | None = None
    if model_dir is not None:
        try:
            scorer = load_scorer(model_dir)
        except LeadpilotError as exc:
            console.print(f"[yellow]No model ({exc.message}); routing by round-robin.[/]")
    with tempfile.TemporaryDirectory(prefix="leadpilot-serve-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'leadpilot.db'}")
        upgrade(engine)
        with write_transaction(engine) as conn:
            upsert_reps(conn, reps_from_frame(read_reps(world_dir / "reps.csv")))
            upsert_accounts(conn, accounts_from_frame(read_accounts(world_dir / "accounts.csv")))
            admin, _ = create_token(conn, role="admin", name="demo-admin")
            writer, _ = create_token(conn, role="writer", name="demo-crm")
        first_day = read_history(world_dir / "new_leads.csv").frame["created_at"].min()
        # 16:00 UTC on the world's first day: mid-shift for most reps (UTC-8..UTC+2).
        clock = _ShiftedClock(first_day.normalize().to_pydatetime() + timedelta(hours=16))
        settings = Settings(worker_poll_seconds=0.25)
        app = create_app(settings, engine=engine, scorer=scorer, clock=clock, seed=0)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            for _ in range(200):
                if server.started:
                    break
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                _tour(console, client, clock, world_dir, admin, writer, limit)
            if keep_serving:
                console.print(
                    f"\n[bold]The dashboard is at {base}/[/] (sign in with the demo admin "
                    f"token [bold]{admin}[/]). Serving until Ctrl-C."
                )
                (wait or (lambda _url, _token: _wait_for_ctrl_c()))(base, admin)
        finally:
            server.should_exit = True
            thread.join(15)
            engine.dispose()


def _tour(
    console: Console,
    client: httpx.Client,
    clock: _ShiftedClock,
    world_dir: Path,
    admin: str,
    writer: str,
    limit: int,
) -> None:
    auth = {"Authorization": f"Bearer {writer}"}
    console.print(
        f"Service up at {client.base_url} (OpenAPI at /docs); health: "
        f"{client.get('/healthz').json()['status']}"
    )
    resp = client.post(
        "/v1/policy", json={"policy": DEMO_POLICY}, headers={"Authorization": f"Bearer {admin}"}
    )
    resp.raise_for_status()
    console.print(
        f"Uploaded the demo policy, version [bold]{resp.json()['version']}[/] "
        "(hot lane: 15-minute SLA)."
    )

    frame = read_history(world_dir / "new_leads.csv", keep_extra=True).frame
    first_day = frame["created_at"].dt.date.min()
    day = frame[frame["created_at"].dt.date == first_day]
    new = leads_from_frame(day)[:limit]
    console.print(
        f"Posting the {len(new)} new leads of the world's first day ({first_day}), "
        "as a CRM webhook would, each with an Idempotency-Key."
    )
    statuses: Counter[str] = Counter()
    why_queued: Counter[str] = Counter()
    latencies = []
    routed: list[dict[str, Any]] = []
    for lead in new:
        started = time.perf_counter()
        r = client.post(
            "/v1/leads",
            json=_payload(lead),
            headers={**auth, "Idempotency-Key": f"demo-{lead.lead_id}"},
        )
        latencies.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        body = r.json()
        statuses["duplicate" if body["duplicate"] else body["status"]] += 1
        if body["status"] == "routed" and not body["duplicate"]:
            routed.append(body)
        elif body["status"] == "queued" and body["decision"]:
            why_queued.update(set(body["decision"]["exclusions"].values()) - {"NOT_IN_POOL"})
    console.print(
        f"Posted {len(new)} new leads over HTTP: "
        + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))
        + f"; median {median(latencies):.1f} ms per request."
    )
    if why_queued:
        console.print(
            f"{statuses['queued']} queued, never forced onto a rep who cannot take them "
            "(drained as capacity frees or the next working day starts); reps were excluded "
            "for: " + ", ".join(f"{c} ({n} leads)" for c, n in why_queued.most_common())
        )

    # Reps touch most leads within minutes; every third hot lead whose SLA runs out in the
    # next 16 minutes is left untouched. A hot lead given to a rep before their shift starts
    # has its SLA clock start with the shift (NEXT_SHIFT), so it cannot breach here.
    clock.offset += timedelta(minutes=5)
    horizon = clock() + timedelta(minutes=11)
    hot = [b for b in routed if b["decision"]["lane"] == "hot"]
    running = [
        b["lead_id"]
        for b in hot
        if b["decision"]["sla_deadline"]
        and datetime.fromisoformat(b["decision"]["sla_deadline"]) <= horizon
    ]
    untouched = set(running[::3])
    later = len(hot) - len(running)
    for body in routed:
        if body["lead_id"] not in untouched:
            client.post(
                "/v1/events",
                headers=auth,
                json={
                    "event_id": f"touch-{body['lead_id']}",
                    "type": "first_touch",
                    "lead_id": body["lead_id"],
                },
            ).raise_for_status()
    hot_waiting = len(untouched)
    console.print(
        f"First touch recorded for {len(routed) - hot_waiting} of {len(routed)} "
        f"routed leads 5 minutes after routing; {hot_waiting} hot leads are still "
        "untouched."
        + (
            f" ({later} hot leads went to reps whose shift starts later: their 15-minute "
            "SLA clock starts with the shift.)"
            if later
            else ""
        )
    )

    console.print("Fast-forwarding the service clock 16 minutes: the hot-lane SLA expires...")
    clock.offset += timedelta(minutes=11)
    moved: list[dict[str, Any]] = []
    stuck: list[dict[str, Any]] = []
    # Bounded wait for the background worker: done once every breached lead was either
    # reassigned or alerted as unassignable (waiting on reassignments alone sat out the
    # whole bound whenever one lead had nobody else to go to).
    for _ in range(80):
        time.sleep(0.25)
        moved = [
            d
            for d in client.get("/v1/decisions", headers=auth, params={"limit": 1000}).json()
            if d["trigger"] == "sla_breach"
        ]
        stuck = [
            a
            for a in client.get("/v1/alerts", headers=auth).json()
            if a["kind"] == "sla_breach_unassignable"
        ]
        if len(moved) + len(stuck) >= hot_waiting:
            break
    table = Table(title="SLA breaches reassigned by the background worker")
    for col in ("lead", "lane", "from rep", "to rep", "reasons"):
        table.add_column(col)
    for d in moved[:10]:
        history = client.get("/v1/decisions", headers=auth, params={"lead_id": d["lead_id"]}).json()
        before = history[-2]["rep_id"] if len(history) > 1 else None
        table.add_row(
            d["lead_id"],
            d["lane"] or "",
            before or "",
            d["rep_id"] or "(queue)",
            " ".join(d["reasons"][:3]),
        )
    console.print(table)
    if len(moved) > 10:
        console.print(f"... and {len(moved) - 10} more.")
    if stuck:
        console.print(
            f"{len(stuck)} breached leads stayed with their owner: no other rep was eligible "
            "(recorded as alerts, GET /v1/alerts)."
        )

    kpis = client.get("/v1/kpis", headers=auth).json()
    speed = kpis["speed_to_first_touch"]
    rows = [r for r in kpis["fairness"] if r["fairness_index"]]
    fair = [r["fairness_index"] for r in rows]
    # The pool average behind each index (leads / index): with a handful of leads per rep in
    # one day, one lead moves the index a lot, so say how much.
    per_rep = [r["leads"] / r["fairness_index"] for r in rows]
    rate = kpis["reassignment_rate"]
    console.print(
        f"KPIs: median speed to first touch {speed['median_minutes'] or 0:.1f} min; "
        f"reassignment rate {100 * (rate['rate'] or 0):.1f}% "
        f"(95% CI {100 * (rate['low'] or 0):.1f}-{100 * (rate['high'] or 0):.1f}%); "
        f"fairness index {min(fair, default=0):.2f}-{max(fair, default=0):.2f}"
        + (
            f" (one day, about {sum(per_rep) / len(per_rep):.1f} leads per rep, so one lead "
            f"moves a rep's index by about {len(per_rep) / sum(per_rep):.2f}; reps away today "
            "count as 0. The band is held over a rolling window: see route-batch above)."
            if per_rep
            else "."
        )
    )
