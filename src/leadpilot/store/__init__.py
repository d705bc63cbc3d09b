"""The durable store: engine factory, tables, migrations and small repositories."""

from __future__ import annotations

from leadpilot.store.engine import is_postgres, make_engine, routing_lock, write_transaction
from leadpilot.store.migrate import current_revision, head_revision, upgrade

__all__ = [
    "current_revision",
    "head_revision",
    "is_postgres",
    "make_engine",
    "routing_lock",
    "upgrade",
    "write_transaction",
]
