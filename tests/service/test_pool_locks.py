"""Per-pool routing locks on PostgreSQL (``store.engine.routing_transaction``).

Blocking is observed, never timed: a transaction that must wait is seen waiting in
``pg_locks`` (an ungranted advisory lock on the expected key), and one that must not wait
runs with a ``lock_timeout`` so that waiting would fail it instead of hanging the test.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from leadpilot.schema import Account, Lead, Rep
from leadpilot.service.core import RoutingService
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.settings import Settings
from leadpilot.store.accounts import upsert_accounts
from leadpilot.store.alerts import record_alert_once
from leadpilot.store.engine import (
    RoutingLocks,
    make_engine,
    routing_lock_key,
    routing_transaction,
    write_transaction,
)
from leadpilot.store.policies import activate_policy, save_policy
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import alerts, decisions, leads

from .conftest import T0, Clock, migrated_engine, postgres_url_or_skip

pytestmark = pytest.mark.postgres

GLOBAL_KEY = RoutingLocks(frozenset()).keys()[0]


def _locks(*pools: str) -> RoutingLocks:
    return RoutingLocks(frozenset(pools))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards. Why not a schema, as
    elsewhere: advisory locks are per database, and another run on the same database (a
    worker pass, an intake of the old code) holding the global key would make these tests
    wait for reasons that are not this code's."""
    base = make_url(postgres_url_or_skip())
    name = f"lp_locks_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _with_lock_timeout(url: str) -> sa.Engine:
    """An engine whose lock waits fail after 30 s (a wait here is the bug under test)."""
    return make_engine(
        make_url(url)
        .update_query_dict({"options": "-c lock_timeout=30000"})
        .render_as_string(hide_password=False)
    )


def _advisory(engine: sa.Engine, *, granted: bool) -> list[tuple[int, int, str]]:
    """(pid, key, mode) of the advisory locks of this database, granted or waiting."""
    query = sa.text(
        "SELECT pid, (classid::bigint << 32) | objid::bigint, mode FROM pg_locks "
        "WHERE locktype = 'advisory' AND objsubid = 1 AND granted = :granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"granted": granted}).all()
    # pg_locks gives the two 32-bit halves; put the signed 64-bit key back together.
    return [(pid, key - (1 << 64) if key >= 1 << 63 else key, mode) for pid, key, mode in rows]


def _wait_until_waiting(engine: sa.Engine, key: int) -> int:
    """The pid of the backend found waiting for advisory ``key`` (polls; fails after 120 s
    of nobody waiting, which means the transaction did not block where it should)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for pid, waiting, _ in _advisory(engine, granted=False):
            if waiting == key:
                return pid
        time.sleep(0.02)
    raise AssertionError(f"nobody waits for advisory key {key}")


class _Background:
    """Runs ``fn`` in a thread and keeps its result or error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self.result = fn()
            except BaseException as exc:  # handed to the test thread
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(120)
        assert self.done.is_set(), "the background transaction never finished"
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def _hold_key(engine: sa.Engine, key: int) -> Iterator[None]:
    """Hold advisory ``key`` exclusively in an open transaction."""
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        yield


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------ the engine
def test_other_pools_proceed_while_one_pool_is_held_and_the_same_pool_waits(
    pg_url: str, pg_engine: sa.Engine
) -> None:
    quick = _with_lock_timeout(pg_url)
    with routing_transaction(pg_engine, _locks("A")):
        # Another pool's transaction completes meanwhile (a wait would hit lock_timeout).
        with routing_transaction(quick, _locks("B")) as conn:
            conn.execute(sa.text("SELECT 1"))

        def same_pool() -> str:
            with routing_transaction(pg_engine, _locks("A")):
                return "done"

        waiter = _Background(same_pool)
        _wait_until_waiting(pg_engine, routing_lock_key("A"))
        assert not waiter.done.is_set()
    assert waiter.join() == "done"
    quick.dispose()


def test_the_exclusive_form_excludes_intakes_and_waits_for_them(pg_engine: sa.Engine) -> None:
    with routing_transaction(pg_engine):  # a worker pass, a policy activation...
        intake = _Background(lambda: _run(pg_engine, _locks("A")))
        _wait_until_waiting(pg_engine, GLOBAL_KEY)
        assert not intake.done.is_set()
    intake.join()
    with routing_transaction(pg_engine, _locks("A")):
        worker = _Background(lambda: _run(pg_engine, None))
        _wait_until_waiting(pg_engine, GLOBAL_KEY)
        assert not worker.done.is_set()
    worker.join()


def _run(engine: sa.Engine, locks: RoutingLocks | None) -> None:
    with routing_transaction(engine, locks) as conn:
        conn.execute(sa.text("SELECT 1"))


def test_a_roster_write_waits_for_intakes_and_cannot_run_inside_one(pg_url: str) -> None:
    # A rep's pools decide which keys guard its counters: a roster change must not commit
    # while an intake that read the old roster holds its keys.
    engine = migrated_engine(pg_url)
    rep = Rep(rep_id="r1", pool="A", timezone="UTC")
    with routing_transaction(engine, _locks("A")):
        writer = _Background(lambda: _upsert(engine, rep))
        _wait_until_waiting(engine, GLOBAL_KEY)
        assert not writer.done.is_set()
    writer.join()
    with routing_transaction(engine, _locks("A")) as conn, pytest.raises(RuntimeError):
        upsert_reps(conn, [rep])
    engine.dispose()


def _upsert(engine: sa.Engine, rep: Rep) -> None:
    with write_transaction(engine) as conn:
        upsert_reps(conn, [rep])


def test_keys_are_taken_global_first_then_in_ascending_order(pg_engine: sa.Engine) -> None:
    # Two pool names whose keys sort the other way round from the names, so that neither
    # name order nor the order given can pass for key order.
    names = [f"pool-{i}" for i in range(50)]
    first, second = next(
        (p, q) for p in names for q in names if p < q and routing_lock_key(p) > routing_lock_key(q)
    )
    low, high = sorted([routing_lock_key(first), routing_lock_key(second)])
    assert RoutingLocks(frozenset({first, second})).keys() == [GLOBAL_KEY, low, high]
    with _hold_key(pg_engine, high):
        both = _Background(lambda: _run(pg_engine, _locks(second, first)))
        pid = _wait_until_waiting(pg_engine, high)
        held = {(key, mode) for p, key, mode in _advisory(pg_engine, granted=True) if p == pid}
        # Waiting for the higher key, it already holds the global key (shared) and the lower.
        assert held == {(GLOBAL_KEY, "ShareLock"), (low, "ExclusiveLock")}
    both.join()


def test_two_transactions_raising_one_alert_at_once_store_it_once(pg_url: str) -> None:
    # Intakes of different pools can find one condition (a rep left out of routing) at the
    # same moment: the second must neither fail on the one-open-alert index nor store twice.
    engine = migrated_engine(pg_url)
    waiting = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted"
    )
    with write_transaction(engine) as first:
        record_alert_once(first, "rep_skipped", "m", key="rep_skipped:r1", now=T0)

        def second() -> None:
            with write_transaction(engine) as conn:
                record_alert_once(conn, "rep_skipped", "m", key="rep_skipped:r1", now=T0)

        other = _Background(second)
        deadline = time.monotonic() + 120
        with engine.connect() as probe:
            while not probe.execute(waiting).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert probe.execute(waiting).scalar_one(), "the second insert never waited"
    other.join()
    with engine.connect() as conn:
        keys = conn.execute(sa.select(alerts.c.condition_key, alerts.c.status)).all()
    assert keys == [("rep_skipped:r1", "open")]
    engine.dispose()


# ---------------------------------------------------------------------- the service
POLICY_V1 = """
holds:
  enabled: true
  touch_within_days: 90
  use_backup_rep: false
  backup_pool: C
lanes:
  - name: standard
pools:
  - name: A
    member_pools: [A]
    strategy: round_robin
    when: [{field: region, equals: east}]
    eligibility: {territory: false}
  - name: B
    member_pools: [B]
    strategy: round_robin
    when: [{field: region, equals: west}]
    eligibility: {territory: false}
  - name: C
    member_pools: [C]
    strategy: round_robin
    when: [{field: region, equals: centre}]
    eligibility: {territory: false}
"""
# The same policy with east leads sent to pool B.
POLICY_V2 = POLICY_V1.replace("equals: east", "equals: nowhere").replace(
    "equals: west", "in: [west, east]"
)


def _reps() -> list[Rep]:
    out = [
        Rep(rep_id=f"{pool.lower()}{i}", pool=pool, max_leads_per_day=50, timezone="UTC")
        for pool in "ABC"
        for i in (1, 2)
    ]
    # The account owner: in no pool, and already full today, so the hold falls to pool C.
    out.append(Rep(rep_id="owner", max_leads_per_day=0, timezone="UTC"))
    return out


def _service(engine: sa.Engine, policy: str = POLICY_V1) -> RoutingService:
    with write_transaction(engine) as conn:
        upsert_reps(conn, _reps())
        upsert_accounts(
            conn,
            [Account("acc-1", name="Owned", domain="owned.com", owner_rep_id="owner",
                     has_open_opportunity=True)],
        )  # fmt: skip
        save_policy(conn, version="v1", text=POLICY_V1, author_token_id=None, author=None)
        save_policy(conn, version="v2", text=POLICY_V2, author_token_id=None, author=None)
    _activate(engine, "v1" if policy == POLICY_V1 else "v2")
    settings = Settings(environment="development", worker_enabled=False)
    return RoutingService(
        engine, settings=settings, metrics=ServiceMetrics(), clock=Clock(T0), seed=3
    )


def _activate(engine: sa.Engine, version: str) -> None:
    with routing_transaction(engine) as conn:
        activate_policy(conn, version, action="upload", author_token_id=None, author=None)


def _retries(service: RoutingService, reason: str) -> float:
    value = service.metrics.registry.get_sample_value(
        "leadpilot_routing_lock_retries_total", {"reason": reason}
    )
    return value or 0.0


def test_a_lead_held_for_a_backup_pool_locks_it_and_other_pools_route_meanwhile(
    pg_url: str,
) -> None:
    engine = migrated_engine(pg_url)
    service = _service(engine)
    service.intake(Lead(lead_id="warm", region="west"))  # the process's first snapshot
    with _hold_key(engine, routing_lock_key("C")):
        held = _Background(
            lambda: service.intake(Lead(lead_id="held", region="east", domain="owned.com"))
        )
        _wait_until_waiting(engine, routing_lock_key("C"))
        # Pool B's lead routes while the held lead waits for C.
        other = service.intake(Lead(lead_id="other", region="west"))
        assert other.decision is not None
        assert other.decision.decision.pool == "B"
        assert not held.done.is_set()
    outcome = held.join()
    assert outcome.decision.decision.pool == "C"
    assert "HOLD_BACKUP_POOL" in outcome.decision.decision.reasons
    assert _retries(service, "changed") == _retries(service, "uncovered") == 0
    engine.dispose()


def test_a_policy_change_seen_under_the_lock_retries_with_the_new_pool(pg_url: str) -> None:
    engine = migrated_engine(pg_url)
    service = _service(engine)
    first = service.intake(Lead(lead_id="east-1", region="east"))
    assert first.decision.decision.pool == "A"
    _activate(engine, "v2")  # another replica's upload: east leads now go to pool B
    with _hold_key(engine, routing_lock_key("B")):
        # The plan (the cached v1) locks A; under the lock v2 says B: it must retry holding
        # B, so it waits for the key held here.
        moved = _Background(lambda: service.intake(Lead(lead_id="east-2", region="east")))
        _wait_until_waiting(engine, routing_lock_key("B"))
        assert not moved.done.is_set()
    outcome = moved.join()
    assert outcome.decision.decision.pool == "B"
    assert _retries(service, "changed") == 1
    assert _retries(service, "uncovered") == 0
    engine.dispose()


# --------------------------------------------------- two pools, several replicas at once
def _two_pool_policy(shared: bool) -> str:
    # Pool B also lists rep a1 by name when ``shared``: A and B then share a rep's caps.
    extra = "    members: [a1]\n" if shared else ""
    return f"""
lanes:
  - name: standard
pools:
  - name: A
    member_pools: [A]
    strategy: round_robin
    when: [{{field: region, equals: east}}]
    eligibility: {{territory: false}}
  - name: B
    member_pools: [B]
{extra}    strategy: round_robin
    when: [{{field: region, equals: west}}]
    eligibility: {{territory: false}}
"""


@pytest.mark.slow
@pytest.mark.parametrize("shared", [False, True], ids=["disjoint", "shared-rep"])
def test_two_pools_four_replicas_never_over_cap_nor_outside_the_pool(
    pg_url: str, shared: bool
) -> None:
    rng = random.Random(11 if shared else 5)
    caps = {f"{p}{i}": rng.randint(3, 12) for p in "ab" for i in range(1, 5)}
    reps = [
        Rep(rep_id=rep_id, pool=rep_id[0].upper(), max_leads_per_day=cap, timezone="UTC")
        for rep_id, cap in caps.items()
    ]
    setup = migrated_engine(pg_url)
    with write_transaction(setup) as conn:
        upsert_reps(conn, reps)
        save_policy(conn, version="p", text=_two_pool_policy(shared), author_token_id=None,
                    author=None)  # fmt: skip
    _activate(setup, "p")
    settings = Settings(environment="development", worker_enabled=False)
    replicas = [
        RoutingService(make_engine(pg_url), settings=settings, metrics=ServiceMetrics(),
                       clock=Clock(T0), seed=k)
        for k in range(4)
    ]  # fmt: skip
    regions = [rng.choice(["east", "west"]) for _ in range(160)]
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            for i in range(k, len(regions), 8):
                replicas[i % 4].intake(Lead(lead_id=f"l{i:03d}", region=regions[i]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    members = {
        "east": {r for r in caps if r.startswith("a")},
        "west": {r for r in caps if r.startswith("b")} | ({"a1"} if shared else set()),
    }
    with setup.connect() as conn:
        rows = conn.execute(
            sa.select(leads.c.lead_id, decisions.c.rep_id, decisions.c.live)
            .join(decisions, decisions.c.lead_id == leads.c.lead_id)
        ).all()  # fmt: skip
    assert len(rows) == len(regions)  # one decision per lead, all live
    assert all(live for _, _, live in rows)
    per_rep: dict[str, int] = {}
    queued = {"east": 0, "west": 0}
    for lead_id, rep_id, _ in rows:
        region = regions[int(lead_id[1:])]
        if rep_id is None:
            queued[region] += 1
            continue
        assert rep_id in members[region], (lead_id, region, rep_id)
        per_rep[rep_id] = per_rep.get(rep_id, 0) + 1
    for rep_id, cap in caps.items():
        assert per_rep.get(rep_id, 0) <= cap, (rep_id, per_rep, caps)
    for region, n in queued.items():
        if n:  # a lead was queued only when every member of its pool was full
            assert all(per_rep.get(r, 0) == caps[r] for r in members[region]), (region, per_rep)
    # The caps bind in this mix: the check above is not vacuous.
    assert sum(queued.values()) > 0
    for replica in replicas:
        replica.engine.dispose()
    setup.dispose()
