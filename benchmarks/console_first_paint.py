"""First paint of the console's pages with 100,000 decisions in the store.

    python benchmarks/console_first_paint.py                  # 100,000 decisions, SQLite
    python benchmarks/console_first_paint.py --decisions 2000 # a quick look
    python benchmarks/console_first_paint.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

The store is filled directly, in arrival order as the service writes it (leads and their
decisions over 30 days, 50 reps in two pools,
5 candidates and a few exclusions per decision, touches and meetings on some leads); as the
fill bypasses the service's write paths (which keep the daily KPI rollups), the rollups are
then rebuilt as migration 0008 does for existing data, and the days after the newest whole
day are left as the service would leave them between worker passes (today read raw). Then a
live server (uvicorn in a thread, the background worker off) answers each page; Debian's
chromium loads it (``Authorization: Bearer``) and reports its first contentful paint. The
server's time per page (median of 5, after one warm-up) is reported beside it. Target: first
paint under 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _figures import record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from leadpilot.schema import Rep  # noqa: E402
from leadpilot.service.app import create_app  # noqa: E402
from leadpilot.settings import Settings  # noqa: E402
from leadpilot.store.engine import make_engine, write_transaction  # noqa: E402
from leadpilot.store.kpi_rollups import rebuild_rollups  # noqa: E402
from leadpilot.store.migrate import upgrade  # noqa: E402
from leadpilot.store.reps import upsert_reps  # noqa: E402
from leadpilot.store.tables import decisions, leads  # noqa: E402
from leadpilot.store.tokens import create_token  # noqa: E402

NOW = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
PAGES = ("/", "/?days=30", "/?days=30&pool=inbound", "/decisions", "/decisions?q=lead-0999",
         "/reps", "/model", "/alerts")  # fmt: skip


# The first contentful paint (ms after navigation start); where chromium reports no paint
# entry, the end of the load event (later than any paint).
_PAINT = """() => new Promise(done => {
  const fcp = () => performance.getEntriesByName('first-contentful-paint')[0];
  const nav = () => performance.getEntriesByType('navigation')[0].loadEventEnd;
  if (fcp()) return done(fcp().startTime);
  new PerformanceObserver(list => done(list.getEntries()[0].startTime))
    .observe({type: 'paint', buffered: true});
  setTimeout(() => done(fcp() ? fcp().startTime : nav()), 2000);
})"""


def fill(engine, n: int, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    reps = [
        Rep(rep_id=f"rep-{i:02d}", pool="inbound" if i < 35 else "enterprise",
            max_leads_per_day=500, timezone="UTC")
        for i in range(50)
    ]  # fmt: skip
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
    # A store is written as leads arrive: ids and rows in time order, as in service.
    arrivals = sorted(NOW - timedelta(minutes=rng.uniform(0, 30 * 24 * 60)) for _ in range(n))
    batch = 5000
    for start in range(0, n, batch):
        lead_rows, decision_rows = [], []
        for i in range(start, min(n, start + batch)):
            at = arrivals[i]
            rep = rng.choice(reps)
            hot = rng.random() < 0.3
            touched = (
                at + timedelta(minutes=rng.expovariate(1 / 12)) if rng.random() < 0.8 else None
            )
            lead_rows.append({
                "lead_id": f"lead-{i:06d}", "email": f"p{i}@c{i % 9000}.example.com",
                "company": f"Company {i % 9000}", "fields": {"lead_id": f"lead-{i:06d}"},
                "created_at": at, "received_at": at, "status": "routed", "rep_id": rep.rep_id,
                "lane": "hot" if hot else "standard", "reassignments": int(rng.random() < 0.04),
                "first_touch_at": touched,
                "meeting_at": touched if touched and rng.random() < 0.2 else None,
            })  # fmt: skip
            others = rng.sample([r for r in reps if r.pool == rep.pool and r is not rep], 4)
            decision_rows.append({
                "lead_id": f"lead-{i:06d}", "seq": 1, "live": True, "trigger": "intake",
                "rep_id": rep.rep_id, "pool": rep.pool, "lane": "hot" if hot else "standard",
                "strategy": "predictive",
                "reasons": [f"LANE:{'hot' if hot else 'standard'}", f"POOL:{rep.pool}",
                            "HOLDOUT" if rng.random() < 0.1 else "PREDICTIVE"],
                "candidates": [{"rep_id": r.rep_id, "p_convert": rng.random() / 5,
                                "price": rng.random() / 50, "score": rng.random() / 5}
                               for r in [rep, *others]],
                "exclusions": {r.rep_id: "NOT_IN_POOL" for r in reps[:3] if r.pool != rep.pool},
                "p_convert": rng.random() / 5, "decided_at": at, "mode": "live",
                "sla_deadline": at + timedelta(minutes=15 if hot else 240),
            })  # fmt: skip
        with write_transaction(engine) as conn:
            conn.execute(leads.insert(), lead_rows)
            conn.execute(decisions.insert(), decision_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite)")
    parser.add_argument(
        "--chromium", default=os.environ.get("LEADPILOT_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    import uvicorn

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'console.db'}"
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        fill(engine, args.decisions)
        print(
            f"filled {args.decisions:,} leads and decisions "
            f"in {time.perf_counter() - started:.0f} s"
        )
        cpu0 = time.process_time()
        with write_transaction(engine) as conn:
            days = rebuild_rollups(conn)
        print(f"rolled up {days} days in {time.process_time() - cpu0:.1f} s CPU")
        with write_transaction(engine) as conn:
            token, _ = create_token(conn, role="reader", name="bench")
        app = create_app(Settings(worker_enabled=False), engine=engine, clock=lambda: NOW)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        server_ms: dict[str, float] = {}
        cpu_ms: dict[str, float] = {}  # this process: the server thread and the client
        with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
            for page in PAGES:
                http.get(page).raise_for_status()
                times = []
                cpu0 = time.process_time()
                for _ in range(5):
                    t0 = time.perf_counter()
                    http.get(page).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                cpu_ms[page] = (time.process_time() - cpu0) * 1000 / 5
                server_ms[page] = statistics.median(times)
        paint_ms: dict[str, float] = {}
        if Path(args.chromium).exists():
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                context = browser.new_context(extra_http_headers=auth)
                page = context.new_page()
                for path in PAGES:
                    page.goto(base + path)
                    paint_ms[path] = page.evaluate(_PAINT)
                browser.close()
        server.should_exit = True
        thread.join(15)
        engine.dispose()
    print(f"{'page':<28} {'server ms':>10} {'cpu ms':>8} {'first paint ms':>15}")
    for path in PAGES:
        paint = paint_ms.get(path, float("nan"))
        print(f"{path:<28} {server_ms[path]:>10.0f} {cpu_ms[path]:>8.0f} {paint:>15.0f}")
    worst = max(paint_ms.values()) if paint_ms else max(server_ms.values())
    record(
        "console_first_paint_100k" if args.decisions == 100_000 else "console_first_paint",
        worst,
        "ms",
        target="first paint < 1000 ms",
        met=worst < 1000,
        work={"decisions": args.decisions},
        cpu_s=max(cpu_ms.values()) / 1000,
        note="worst page of " + ", ".join(PAGES),
    )


if __name__ == "__main__":
    main()
