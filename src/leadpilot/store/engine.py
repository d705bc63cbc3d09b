"""Engine factory: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg 3).

Routing writes are serialised by ``routing_transaction``, the one way to obtain a
``LockedConn``; see its docstring for the locks and the order they are taken in.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NewType

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from leadpilot.errors import ConfigError, StoreError

__all__ = [
    "LockedConn",
    "in_write_transaction",
    "is_postgres",
    "locked",
    "make_engine",
    "routing_lock_key",
    "routing_transaction",
    "write_transaction",
]

# A connection inside ``routing_transaction``: its transaction holds the routing lock. Store
# functions that change routing state (leads' owners and status, the decision log, counters,
# timers) take one, so mypy rejects a path that writes them without the lock.
LockedConn = NewType("LockedConn", sa.Connection)

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Arbitrary, fixed 64-bit key of leadpilot's routing advisory lock.
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
            # SQLAlchemy's pysqlite driver issues BEGIN itself only when told to: we take
            # control of transactions (see _sqlite_begin) to start them as IMMEDIATE.
        )
        _configure_sqlite(engine)
        _discard_failed_sqlite_connections(engine)
        _SQLITE_WRITERS[engine] = threading.RLock()
        return engine
    engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
    _ping_idle_connections(engine)
    return engine


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


_ADVISORY_LOCK = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))
_LOCKED = "leadpilot_routing_lock"  # conn.info flag while a routing transaction is open


def routing_lock_key(pool: str | None) -> int:
    """The advisory-lock key of routing decisions in ``pool``.

    Every pool maps to one key today: a decision reads the counters of candidates from any
    pool (fallbacks, backups, the open-lead cap spans pools), so per-pool keys would let two
    pools' decisions race on a shared rep. The pool is in the signature so that locking per
    pool is a change to this function alone once those reads are partitioned."""
    del pool
    return _ROUTING_LOCK_KEY


@contextmanager
def routing_transaction(engine: sa.Engine, pool: str | None = None) -> Iterator[LockedConn]:
    """A write transaction holding the routing lock; commits on success.

    Why one lock: a decision reads every candidate's counters and a pool's round-robin
    cursor, then writes them; holding one lock for that read-modify-write is what makes N
    replicas unable to over-assign, at a cost of a few milliseconds of serial time per lead.

    Lock order (always this order, so no two paths can deadlock):

    1. SQLite only: the engine's in-process writer lock (``_SQLITE_WRITERS``), so threads of
       one process queue without SQLite's sleeping busy handler;
    2. the database transaction: SQLite's write lock taken at ``BEGIN IMMEDIATE``; on
       PostgreSQL a plain ``BEGIN``;
    3. PostgreSQL only: the transaction-scoped advisory lock ``routing_lock_key(pool)``,
       the first statement of the transaction (SQLite's write lock already serialises);
    4. row locks taken inside: ``SELECT ... FOR UPDATE`` on a lead, ``FOR UPDATE SKIP
       LOCKED`` on due timers and webhook deliveries.

    The migration lock (another advisory key, ``store.migrations.env``) is only taken by
    ``upgrade``, never inside a routing transaction. Writes that do not change routing state
    (reps, policies, tokens, webhook deliveries) use ``write_transaction``, which takes 1-2.
    """
    with write_transaction(engine) as conn:
        if is_postgres(conn):
            conn.execute(_ADVISORY_LOCK, {"key": routing_lock_key(pool)})
        info = conn.info  # still reachable once an error invalidated the connection
        info[_LOCKED] = True
        try:
            yield LockedConn(conn)
        finally:
            # info belongs to the pooled DBAPI connection: clear it before it goes back.
            info.pop(_LOCKED, None)


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
