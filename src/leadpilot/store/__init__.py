"""The durable store: engine factory, tables, migrations and small repositories."""

from __future__ import annotations

from leadpilot.store.engine import (
    LockedConn,
    is_postgres,
    make_engine,
    routing_transaction,
    write_transaction,
)
from leadpilot.store.migrate import current_revision, head_revision, upgrade

__all__ = [
    "LockedConn",
    "current_revision",
    "head_revision",
    "is_postgres",
    "make_engine",
    "routing_transaction",
    "upgrade",
    "write_transaction",
]
