"""Run the Alembic migrations programmatically (``leadpilot db upgrade`` and the service)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from leadpilot.errors import StoreError

__all__ = ["alembic_config", "check_current", "current_revision", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: sa.Engine | None = None) -> Config:
    """An Alembic config pointing at leadpilot's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; returns the revision it ends at."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"cannot migrate the database: {exc.orig}",
            hint="check LEADPILOT_DATABASE_URL and that the server is running",
        ) from None
    return current_revision(engine)


def head_revision() -> str | None:
    """The newest migration shipped with this version of leadpilot."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_current(engine: sa.Engine) -> None:
    """Raise ``StoreError`` unless the database is migrated to the head revision."""
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"the database is unreachable: {exc.orig}",
            hint="check LEADPILOT_DATABASE_URL and that the server is running",
        ) from None
    head = head_revision()
    if current != head:
        raise StoreError(
            f"the database is at migration {current or 'none'}, this leadpilot needs {head}",
            hint="run: leadpilot db upgrade",
        )
