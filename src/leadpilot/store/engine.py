"""Engine factory: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg 3).

Routing writes are serialised by ``routing_transaction``, the one way to obtain a
``LockedConn``: per pool for intakes, globally for the rest; see its docstring for the locks
and the order they are taken in.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, NewType

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from leadpilot.errors import ConfigError, StoreError

__all__ = [
    "LockedConn",
    "RoutingLocks",
    "exclude_routing",
    "in_write_transaction",
    "is_postgres",
    "lock_wait_seconds",
    "locked",
    "locked_pools",
    "make_engine",
    "pool_keys_held",
    "routing_lock_key",
    "routing_transaction",
    "write_transaction",
]

# A connection inside ``routing_transaction``: its transaction holds the routing lock. Store
# functions that change routing state (leads' owners and status, the decision log, counters,
# timers) take one, so mypy rejects a path that writes them without the lock.
LockedConn = NewType("LockedConn", sa.Connection)

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Arbitrary, fixed 64-bit key of leadpilot's global routing advisory lock (see
# routing_transaction: taken exclusively by paths that touch every pool, shared by intakes).
_ROUTING_LOCK_KEY = 7_311_225_340_195
# One in-process writer lock per SQLite engine. Why: a thread that finds the database write
# lock taken waits in SQLite's busy handler, which *sleeps* in steps of up to 100 ms and is
# not woken when the lock frees; under concurrent requests that sleep was the service's
# latency tail (hundreds of ms). Threads of one process queue on this lock instead and start
# the moment the previous writer commits; other processes still meet the busy timeout.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()
# A pooled PostgreSQL connection is pinged at checkout only when it sat idle this long.
PING_AFTER_IDLE_SECONDS = 2.0
_WRITING = "leadpilot_writing"


def _normalise(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"cannot parse database URL {url!r}",
            hint="use sqlite:///leadpilot.db or postgresql+psycopg://user:pw@host:5432/db",
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r} in LEADPILOT_DATABASE_URL",
            hint="leadpilot supports sqlite:///file.db and postgresql+psycopg://...",
        )
    return parsed


def make_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    """Return an engine for ``url`` set up for leadpilot's concurrency model."""
    parsed = _normalise(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            # The connection returned last is handed out next (the pool's default is the one
            # idle longest). Why: SQLite drops a connection's page cache when another
            # connection wrote since its last transaction, so rotating through the pool had
            # every intake batch re-read its pages: with LIFO the intake thread mostly gets
            # back the connection it just committed on, its cache warm (the intake's SQL
            # ~0.57 -> ~0.45 ms of CPU per lead, BEGIN IMMEDIATE 110 -> 63 us, under
            # benchmarks/service_latency.py).
            pool_use_lifo=True,
            # SQLAlchemy's pysqlite driver issues BEGIN itself only when told to: we take
            # control of transactions (see _sqlite_begin) to start them as IMMEDIATE.
        )
        _configure_sqlite(engine)
        _discard_failed_sqlite_connections(engine)
        _SQLITE_WRITERS[engine] = threading.RLock()
        return engine
    engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
    _ping_idle_connections(engine)
    _cache_statement_conversion()
    return engine


# Statements with more parameters than psycopg caches the conversion of (see below); the
# intake's one-statement write (``store.record``) has 56-68.
_CONVERTED_PARAMS = 128


def _cache_statement_conversion() -> None:
    """Let psycopg cache the conversion of statements with up to ``_CONVERTED_PARAMS``
    parameters (its default: 50). Why: psycopg rewrites a statement's ``%(name)s``
    placeholders to ``$n`` on every execution unless it has at most
    ``MAX_CACHED_STATEMENT_PARAMS``, a limit meant for ORMs' ever-different multi-row
    INSERTs; the intake's write has 56-68 and is compiled once (SQLAlchemy caches it), and
    re-converting it was ~15% of the server's CPU per ``POST /v1/leads`` on PostgreSQL
    (py-spy). The cache stays psycopg's bounded LRU. A psycopg without the setting is left
    as it is."""
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", _CONVERTED_PARAMS) < _CONVERTED_PARAMS:
        _queries.MAX_CACHED_STATEMENT_PARAMS = _CONVERTED_PARAMS


def _ping_idle_connections(engine: sa.Engine) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle.

    Why not ``pool_pre_ping``: it costs a round trip on every checkout, about a tenth of a
    request's round trips. The connections that die unnoticed are idle ones (server restart,
    idle timeouts, failover while parked in the pool); one handed back a moment ago is pinged
    by the request it just served. A connection dropped in between fails that one request with
    a 503 (nothing written); SQLAlchemy then invalidates the whole pool, so the next one
    reconnects.
    """

    @sa.event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkin")
    def _parked(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("idle_since", 0.0)
        if idle < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(exc)) from exc


def _discard_failed_sqlite_connections(engine: sa.Engine) -> None:
    """Treat every SQLite ``OperationalError`` (read-only file, disk full, I/O error, busy
    past the timeout) as a dead connection: SQLAlchemy then drops it and the rest of the
    pool, and the next checkout opens afresh. Why: SQLite silently opens a file it cannot
    write read-only, and such a pooled connection stayed read-only after the file was
    writable again, failing intakes until restart. Reopening costs well under a millisecond."""

    @sa.event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        if isinstance(context.original_exception, engine.dialect.loaded_dbapi.OperationalError):
            context.is_disconnect = True


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Disable pysqlite's own transaction handling so BEGIN is ours (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit that returned survives a power loss too (WAL + NORMAL only survives
        # a crash of the process); one fsync per commit, well under a millisecond on an SSD.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.info.pop("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_postgres(conn: sa.Connection | sa.Engine) -> bool:
    """True when the connection talks to PostgreSQL."""
    return conn.dialect.name == "postgresql"


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: on SQLite it takes the write lock at BEGIN (IMMEDIATE),
    so two writers never deadlock upgrading read locks; commits on success."""
    try:
        with ExitStack() as stack:
            writer = _SQLITE_WRITERS.get(engine)
            if writer is not None:
                stack.enter_context(writer)
            conn = stack.enter_context(engine.connect())
            if engine.dialect.name == "sqlite":
                conn.info["sqlite_begin"] = "IMMEDIATE"
            # info outlives the checkout: clear the flag through this reference, which
            # works even after the connection was invalidated by an error.
            info = conn.info
            info[_WRITING] = True
            stack.callback(info.pop, _WRITING, None)
            with conn.begin():
                yield conn
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"the database is unavailable: {exc.orig}",
            hint="check LEADPILOT_DATABASE_URL and that the server is running",
        ) from None


def in_write_transaction(conn: sa.Connection) -> bool:
    """True inside ``write_transaction`` (a read path may then record what it found)."""
    return bool(conn.info.get(_WRITING))


_LOCKED = "leadpilot_routing_lock"  # conn.info: the transaction's RoutingLocks, or ALL
_ALL = "all"  # conn.info marker of the exclusive form
_LOCK_WAIT = "leadpilot_lock_wait"  # conn.info: seconds the lock statement took
# The exclusive form: the global key alone.
_EXCLUSIVE = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))
# The per-pool form, one round trip: the global key (first in the array) shared, then every
# other key exclusively, in the array's order. Function Scan feeds the aggregate row by row in
# array order, so the locks are taken in that order (and waited for one at a time).
_PER_POOL = sa.text(
    "SELECT count(CASE WHEN i = 1 THEN pg_advisory_xact_lock_shared(k) "
    "ELSE pg_advisory_xact_lock(k) END) "
    "FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, i)"
)


@dataclass(frozen=True)
class RoutingLocks:
    """What a routing transaction that does not touch every pool locks: the routing keys of
    ``pools`` (``routing_lock_key``) and of ``identities`` (an intake's lead id, external id,
    email and Idempotency-Key, so two intakes that could be duplicates of each other, or
    retries of one request, still run one after the other whatever pools they reach)."""

    pools: frozenset[str]
    identities: frozenset[str] = frozenset()

    def keys(self) -> list[int]:
        """The advisory keys in the order they are taken: the global key (taken shared), then
        the pool and identity keys in ascending order (every transaction takes them in that
        one order, so two can never wait for each other in a cycle)."""
        rest = {routing_lock_key(p) for p in self.pools}
        rest |= {_hashed_key("identity", i) for i in self.identities}
        return [_ROUTING_LOCK_KEY, *sorted(rest)]


def _hashed_key(namespace: str, text: str) -> int:
    """A stable signed 64-bit advisory key for ``text`` (a collision only serialises two
    unrelated transactions: it costs time, never correctness)."""
    digest = hashlib.blake2b(f"leadpilot:{namespace}:{text}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    return key if key != _ROUTING_LOCK_KEY else key + 1


def routing_lock_key(pool: str) -> int:
    """The advisory-lock key of routing decisions in ``pool`` (see ``RoutingLocks``)."""
    return _hashed_key("pool", pool)


@contextmanager
def routing_transaction(
    engine: sa.Engine, locks: RoutingLocks | None = None
) -> Iterator[LockedConn]:
    """A write transaction holding the routing lock; commits on success.

    A decision reads candidates' counters and a pool's round-robin cursor, then writes them;
    holding a lock over that read-modify-write is what makes N replicas unable to
    over-assign. On PostgreSQL the lock has two levels:

    - ``locks=None``: the global key **exclusively**. For paths that may touch any pool
      (worker passes, events and reassignments, policy activation, KPI rollups): they run
      alone, as every routing write did before per-pool locks.
    - ``locks``: the global key **shared**, then the keys of ``locks.pools`` and
      ``locks.identities`` exclusively (``RoutingLocks.keys``). Intakes that reach disjoint
      pools run side by side; every exclusive path still excludes them all. The caller must
      name every pool whose counters the transaction reads or writes
      (``policy.lock_scope``); ``locked_pools`` tells store code what was locked.

    Lock order (always this order, so no two paths can deadlock):

    1. SQLite only: the engine's in-process writer lock (``_SQLITE_WRITERS``), so threads of
       one process queue without SQLite's sleeping busy handler;
    2. the database transaction: SQLite's write lock taken at ``BEGIN IMMEDIATE``; on
       PostgreSQL a plain ``BEGIN``;
    3. PostgreSQL only, the first statement: the global advisory key, then (shared form) the
       pool and identity keys in ascending order. SQLite has one writer at a time, so
       ``locks`` changes nothing there: every routing transaction is serial, as before;
    4. row locks taken inside: ``SELECT ... FOR UPDATE`` on a lead, ``FOR UPDATE SKIP
       LOCKED`` on due timers and webhook deliveries.

    The migration lock (another advisory key, ``store.migrations.env``) is only taken by
    ``upgrade``, never inside a routing transaction. Writes that do not change routing state
    (policies, tokens, webhook deliveries) use ``write_transaction``, which takes 1-2; roster
    writes add the global key exclusively (``exclude_routing``).
    """
    with write_transaction(engine) as conn:
        info = conn.info  # still reachable once an error invalidated the connection
        if is_postgres(conn):
            started = time.perf_counter()
            if locks is None:
                conn.execute(_EXCLUSIVE, {"key": _ROUTING_LOCK_KEY})
            else:
                conn.execute(_PER_POOL, {"keys": locks.keys()})
            info[_LOCK_WAIT] = time.perf_counter() - started
        info[_LOCKED] = locks if locks is not None else _ALL
        try:
            yield LockedConn(conn)
        finally:
            # info belongs to the pooled DBAPI connection: clear it before it goes back.
            info.pop(_LOCKED, None)
            info.pop(_LOCK_WAIT, None)


def locked_pools(conn: sa.Connection) -> frozenset[str] | None:
    """The pools a routing transaction locked, ``None`` when it holds every pool (the
    exclusive form, or SQLite, where one writer at a time holds them all)."""
    found = conn.info.get(_LOCKED)
    if found is None:
        raise RuntimeError("locked_pools() outside routing_transaction")
    if isinstance(found, RoutingLocks) and is_postgres(conn):
        return found.pools
    return None


def pool_keys_held(conn: sa.Connection) -> frozenset[str] | None:
    """The pool keys a per-pool routing transaction holds (PostgreSQL); ``None`` for any
    other transaction (the exclusive form, a plain write transaction, SQLite). Unlike
    ``locked_pools`` it never raises: counter writes ask it whatever holds them."""
    found = conn.info.get(_LOCKED)
    return found.pools if isinstance(found, RoutingLocks) else None


def lock_wait_seconds(conn: sa.Connection) -> float | None:
    """How long the routing transaction's lock statement took (PostgreSQL; ``None`` on
    SQLite, where the wait is in the in-process writer lock and ``BEGIN IMMEDIATE``)."""
    wait = conn.info.get(_LOCK_WAIT)
    return float(wait) if wait is not None else None


def exclude_routing(conn: sa.Connection) -> None:
    """Wait for every routing transaction to finish and keep new ones out until this
    transaction ends (PostgreSQL: the global key exclusively; SQLite's write transaction
    already does). Roster writes call it: which pools a rep belongs to decides which pool
    keys guard its counters, so a roster change must not commit while an intake that read
    the old roster still holds its keys."""
    if not is_postgres(conn):
        return
    held = conn.info.get(_LOCKED)
    if isinstance(held, RoutingLocks):
        # Upgrading a shared global key would deadlock against another upgrader.
        raise RuntimeError("a per-pool routing transaction cannot exclude routing")
    conn.execute(_EXCLUSIVE, {"key": _ROUTING_LOCK_KEY})


def locked(conn: sa.Connection) -> LockedConn:
    """``conn`` as a ``LockedConn``, checked at run time: for objects that hold a connection
    for reads and may write through it (``counters.DbRoutingState``). Raises ``RuntimeError``
    outside ``routing_transaction``."""
    if not conn.info.get(_LOCKED):
        raise RuntimeError(
            "routing state written without the routing lock: open the transaction with "
            "leadpilot.store.engine.routing_transaction"
        )
    return LockedConn(conn)
