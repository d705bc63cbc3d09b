"""Exclusive background jobs across replicas: ``exclusive(engine, name)``.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection kept
for the job, so a replica that dies releases it with its connection. SQLite (one file, maybe
several processes): a row of ``leases`` with an expiry, taken in a write transaction, so a
crashed holder blocks the job for ``ttl`` at most.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa

from leadpilot.store.engine import is_postgres, write_transaction
from leadpilot.store.tables import leases
from leadpilot.store.types import utcnow

__all__ = ["exclusive", "lease_key", "this_holder"]

_TRY = sa.select(sa.func.pg_try_advisory_lock(sa.bindparam("key", type_=sa.BigInteger)))
_UNLOCK = sa.select(sa.func.pg_advisory_unlock(sa.bindparam("key", type_=sa.BigInteger)))


def lease_key(name: str) -> int:
    """The advisory-lock key of a job name (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"leadpilot:lease:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def this_holder() -> str:
    """Who holds a lease: host, process and one id per taking (never reentrant)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@contextmanager
def exclusive(
    engine: sa.Engine,
    name: str,
    *,
    ttl: timedelta = timedelta(hours=2),
    now: datetime | None = None,
) -> Iterator[bool]:
    """Yield whether this caller holds job ``name`` (never waits: a replica that finds it
    taken skips the job); released on exit."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.execute(_TRY, {"key": lease_key(name)}).scalar_one())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(_UNLOCK, {"key": lease_key(name)})
                    conn.commit()
        return
    holder = this_holder()
    got = _take(engine, name, holder, ttl, now or utcnow())
    try:
        yield got
    finally:
        if got:
            with write_transaction(engine) as conn:
                conn.execute(
                    leases.delete().where(leases.c.name == name, leases.c.holder == holder)
                )


def _take(engine: sa.Engine, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    with write_transaction(engine) as conn:
        assert not is_postgres(conn)
        row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        if row is None:
            conn.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl))
            return True
        if row.expires_at > now and row.holder != holder:
            return False
        conn.execute(
            leases.update().where(leases.c.name == name).values(holder=holder, expires_at=now + ttl)
        )
        return True
