"""Conversion models the service has scored with: version, path, when, which is active."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import models
from leadpilot.store.types import utcnow

__all__ = ["active_model_row", "register_model"]


def register_model(conn: sa.Connection, *, version: str, path: str) -> None:
    """Record ``version`` (loaded from ``path``) as the active model."""
    conn.execute(models.update().where(models.c.active).values(active=False))
    updated = conn.execute(
        models.update().where(models.c.version == version).values(active=True, path=path)
    ).rowcount
    if not updated:
        conn.execute(
            models.insert().values(version=version, path=path, created_at=utcnow(), active=True)
        )


def active_model_row(conn: sa.Connection) -> Any:
    """The active model's row, or ``None``."""
    return conn.execute(sa.select(models).where(models.c.active)).first()
