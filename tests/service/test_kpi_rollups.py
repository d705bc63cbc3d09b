"""The KPIs read through the daily rollups (``store.kpi_rollups``) equal an independent
computation from the raw tables, over random windows and pools, on SQLite and PostgreSQL:
with days clean, days dirtied by late events (an outcome or first touch for an old lead, a
reassignment of an old lead, a repeat intake of an old lead), and partial days at the edges.

The world is written through the API (the service's own write paths, which mark the days),
and the worker's rollup refresh runs at chosen moments, as it would between requests."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.service.kpis import compute_kpis, routing_method
from leadpilot.store import kpi_rollups
from leadpilot.store.engine import routing_transaction
from leadpilot.store.tables import decisions, duplicate_intakes, kpi_day_marks, leads

from . import console_world as world
from .conftest import Api, build_api, migrated_engine

POOLS = (None, "sdr", "ae")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'kpi.db'}"
    )
    engine = migrated_engine(url)
    api = build_api(engine, world.reps())
    with api.client:
        admin = api.headers("admin")
        api.client.post("/v1/policy", json={"policy": world.POLICY}, headers=admin)
        yield api
    engine.dispose()


class World:
    """Posts leads and events through the API at the app's clock, remembering what it
    posted so later events can pick old leads."""

    def __init__(self, api: Api, seed: int) -> None:
        self.api = api
        self.rng = random.Random(seed)
        self.leads: list[str] = []
        self.n = 0

    def post(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.api.post(path, body)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def event(self, kind: str, lead_id: str, **extra: Any) -> None:
        self.n += 1
        body = {"event_id": f"ev-{self.n}", "type": kind, "lead_id": lead_id, **extra}
        resp = self.api.post("/v1/events", body)
        assert resp.status_code < 300 or resp.status_code == 422, resp.text

    def new_lead(self) -> None:
        rng = self.rng
        lead_id = f"L{len(self.leads):04d}"
        region = rng.choice(["EMEA", "NAMER"])
        self.post("/v1/leads", world.lead_body(lead_id, region, rng.random() < 0.4))
        self.leads.append(lead_id)

    def day(self, n_leads: int) -> None:
        """A day's traffic: leads every few minutes, touches and outcomes for recent ones,
        now and then a decline, a manual reassignment or a repeat intake."""
        rng = self.rng
        for _ in range(n_leads):
            self.api.clock.advance(seconds=rng.randint(60, 5400))
            self.new_lead()
            recent = self.leads[-6:]
            if rng.random() < 0.6:
                self.event("first_touch", rng.choice(recent))
            if rng.random() < 0.15:
                self.event("meeting_booked", rng.choice(recent))
            if rng.random() < 0.1:
                self.event("opportunity_created", rng.choice(recent))
            if rng.random() < 0.08:
                self.decline(rng.choice(recent))
            if rng.random() < 0.05:
                self.event("reassigned", rng.choice(recent), rep_id=rng.choice(_REP_IDS))
            if rng.random() < 0.08:
                old = rng.choice(self.leads)
                self.post("/v1/leads", {"email": f"{old}@{old}.example.com", "region": "EMEA"})

    def decline(self, lead_id: str) -> None:
        owner = self.api.get(f"/v1/leads/{lead_id}").json().get("rep_id")
        if owner:
            self.event("declined", lead_id, rep_id=owner)

    def late_events(self) -> None:
        """Events about leads received days ago."""
        rng = self.rng
        old = self.leads[: len(self.leads) // 2]
        for lead_id in rng.sample(old, 4):
            self.event("meeting_booked", lead_id)
        for lead_id in rng.sample(old, 3):
            self.event("first_touch", lead_id)
        self.event("opportunity_created", rng.choice(old))
        self.decline(rng.choice(old))
        self.event("reassigned", rng.choice(old), rep_id=rng.choice(_REP_IDS))
        dup = rng.choice(old)
        self.post("/v1/leads", {"email": f"{dup}@{dup}.example.com", "region": "NAMER"})


_REP_IDS = [r.rep_id for r in world.reps()]


def refresh(api: Api) -> int:
    """What the worker does each poll: rebuild the dirty days before today."""
    return kpi_rollups.refresh_dirty_days(
        lambda: routing_transaction(api.engine), today=api.clock.now.date()
    )


def independent(conn: sa.Connection, since: datetime, until: datetime, pool: str | None) -> dict:
    """The KPIs computed in Python from the raw rows, without the store's aggregation."""
    first: dict[str, Any] = {}
    assigned: dict[tuple[str, str], int] = defaultdict(int)
    for d in conn.execute(sa.select(decisions).order_by(decisions.c.id)):
        if d.rep_id is None:
            continue
        first.setdefault(d.lead_id, d)
        if since <= d.decided_at <= until and (pool is None or d.pool == pool):
            assigned[(d.pool, d.rep_id)] += 1
    n = routed = reassigned = hot = hot_meetings = opportunities = met = decided = 0
    waits: list[int] = []
    waits_hot: list[int] = []
    methods: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for lead in conn.execute(sa.select(leads).where(leads.c.status != "history")):
        if not since <= lead.received_at <= until:
            continue
        f = first.get(lead.lead_id)
        if pool is not None and (f is None or f.pool != pool):
            continue
        n += 1
        if f is None:
            continue
        routed += 1
        reassigned += lead.reassignments > 0
        meeting = lead.meeting_at is not None
        opportunities += lead.opportunity_at is not None
        counts = methods[routing_method(f.strategy, f.reasons)]
        counts[0] += meeting
        counts[1] += 1
        if lead.lane == "hot":
            hot += 1
            hot_meetings += meeting
        touch = lead.first_touch_at
        if touch is not None:
            wait = round((touch - f.decided_at).total_seconds() * 1000)
            waits.append(wait)
            if lead.lane == "hot":
                waits_hot.append(wait)
        if f.sla_deadline is not None:
            met += touch is not None and touch <= f.sla_deadline
            decided += touch is not None or f.sla_deadline < until
    dups = 0
    for dup in conn.execute(sa.select(duplicate_intakes)):
        f = first.get(dup.lead_id)
        if since <= dup.received_at <= until and (pool is None or (f and f.pool == pool)):
            dups += 1
    hours = (until - since).total_seconds() / 3600
    return {
        "median": median(waits) / 60_000 if waits else None,
        "median_hot": median(waits_hot) / 60_000 if waits_hot else None,
        "touched": len(waits),
        "routed": routed,
        "reassignment": (reassigned, routed),
        "duplicate": (dups, dups + n),
        "meeting": (hot_meetings, hot),
        "opportunity": (opportunities, routed),
        "methods": {m: tuple(c) for m, c in methods.items()},
        "sla": (met, decided),
        "per_hour": routed / hours,
        "assigned": dict(assigned),
    }


def from_report(conn: sa.Connection, since: datetime, until: datetime, pool: str | None) -> dict:
    r = compute_kpis(conn, since=since, until=until, pool=pool)

    def pair(k: Any) -> tuple[int, int]:
        return (k.numerator, k.denominator)

    return {
        "median": r.speed_to_first_touch.median_minutes,
        "median_hot": r.speed_to_first_touch.median_minutes_hot,
        "touched": r.speed_to_first_touch.touched,
        "routed": r.speed_to_first_touch.routed,
        "reassignment": pair(r.reassignment_rate),
        "duplicate": pair(r.duplicate_rate),
        "meeting": pair(r.conversion_to_meeting),
        "opportunity": pair(r.conversion_to_opportunity),
        "methods": {m.method: pair(m.meeting_rate) for m in r.conversion_by_method},
        "sla": pair(r.sla_attainment),
        "per_hour": r.leads_per_hour,
        "assigned": {(f.pool, f.rep_id): f.leads for f in r.fairness if f.leads},
    }


def windows(rng: random.Random, start: datetime, now: datetime, n: int) -> Iterator[tuple]:
    """Random windows: arbitrary moments, midnight-aligned ends (the console's ``until``
    date), and ends just after recent leads (open SLA deadlines)."""
    span = (now - start).total_seconds()
    for i in range(n):
        until = start + timedelta(seconds=rng.uniform(0.1, 1.0) * span)
        if i % 3 == 1:
            until = datetime.combine(until.date(), datetime.min.time(), UTC)
        if i % 5 == 0:
            until = now - timedelta(minutes=rng.uniform(0, 120))
        since = until - timedelta(days=rng.uniform(0.2, 12))
        yield since, until, rng.choice(POOLS)


def assert_equal_everywhere(api: Api, rng: random.Random, start: datetime, n: int = 25) -> None:
    with api.engine.connect() as conn:
        for since, until, pool in windows(rng, start, api.clock.now, n):
            got = from_report(conn, since, until, pool)
            want = independent(conn, since, until, pool)
            assert got == want, (since, until, pool)


def clean_days(api: Api) -> set[date]:
    with api.engine.connect() as conn:
        query = sa.select(kpi_day_marks.c.day).where(kpi_day_marks.c.dirty.is_(False))
        return set(conn.execute(query).scalars())


def scenario(api: Api, *, days: int, per_day: tuple[int, int], n: int) -> None:
    """Days of traffic; compare with every day dirty, after the worker's rebuild, after late
    events (before and after the next rebuild)."""
    start = api.clock.now
    w = World(api, seed=11)
    rng = random.Random(5)
    for _ in range(days):
        w.day(rng.randint(*per_day))
        api.clock.now = datetime.combine(api.clock.now.date() + timedelta(days=1),
                                         datetime.min.time(), UTC) + timedelta(hours=7)  # fmt: skip
    # nothing rebuilt yet: every day is dirty and read raw
    assert not clean_days(api)
    assert_equal_everywhere(api, rng, start, n=n // 3)

    assert refresh(api) >= days - 1
    cleaned = clean_days(api)
    assert len(cleaned) >= days - 1
    assert max(cleaned) < api.clock.now.date()
    assert_equal_everywhere(api, rng, start, n)

    # late events dirty old days: still exact before the worker runs again, and after
    w.late_events()
    assert clean_days(api) < cleaned
    assert_equal_everywhere(api, rng, start, n)
    refresh(api)
    assert_equal_everywhere(api, rng, start, n)


def test_rollup_kpis_equal_the_raw_computation(store: Api) -> None:
    scenario(store, days=3, per_day=(6, 9), n=8)


@pytest.mark.slow
def test_rollup_kpis_equal_the_raw_computation_longer(store: Api) -> None:
    scenario(store, days=10, per_day=(10, 16), n=30)


def test_whole_days_are_read_from_the_rollups(store: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A window of whole clean days reads no lead row raw but its edges."""
    api = store
    w = World(api, seed=3)
    for _ in range(4):
        w.day(8)
        api.clock.advance(days=1)
    refresh(api)
    read: list[int] = []
    real = kpi_rollups.lead_facts

    def counting(*args: Any, **kwargs: Any) -> list[Any]:
        rows = real(*args, **kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(kpi_rollups, "lead_facts", counting)
    until = datetime.combine(api.clock.now.date(), datetime.min.time(), UTC)
    since = until - timedelta(days=3)
    with api.engine.connect() as conn:
        report = compute_kpis(conn, since=since, until=until)
        assert report.speed_to_first_touch.routed >= 10
        assert sum(read) == 0  # three whole clean days, and nothing received at ``until``
        w.event("meeting_booked", w.leads[-10])  # dirties its day
    with api.engine.connect() as conn:
        assert compute_kpis(conn, since=since, until=until).conversion_to_meeting
        assert 0 < sum(read) < report.speed_to_first_touch.routed


def test_the_worker_rebuilds_dirty_days_before_today(api: Api) -> None:
    """The background worker's loop keeps the rollups current: a day dirtied by intake is
    clean once the day is over and the worker has polled; today stays dirty."""
    import time

    from leadpilot.service.worker import Worker

    api.post("/v1/leads", world.lead_body("W1", "EMEA", True)).raise_for_status()
    yesterday = api.clock.now.date()
    api.clock.advance(days=1)
    api.post("/v1/leads", world.lead_body("W2", "EMEA", True)).raise_for_status()
    worker = Worker(api.service, interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while yesterday not in clean_days(api) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert clean_days(api) == {yesterday}
