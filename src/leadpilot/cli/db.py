"""``leadpilot db``: create or migrate the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from leadpilot.cli._common import console
from leadpilot.errors import StoreError

# SQLAlchemy, Alembic and pydantic load inside the commands: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    import sqlalchemy as sa

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="LEADPILOT_DATABASE_URL",
    help="Database URL (default sqlite:///leadpilot.db in the working folder).",
    show_envvar=True,
)


def database_url(db: str | None) -> str:
    """The URL from ``--db``/``LEADPILOT_DATABASE_URL``, else the settings' default."""
    from leadpilot.settings import load_settings

    return db or load_settings().database_url


_T = TypeVar("_T")


def _reach(url: str, action: Callable[[sa.Engine], _T]) -> _T:
    """Run ``action`` on an engine for ``url``; an unreachable database is a ``StoreError``
    (exit 2 with a hint), not an unexpected error."""
    import sqlalchemy as sa

    from leadpilot.store.engine import make_engine

    engine = make_engine(url)
    try:
        return action(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"cannot reach the database: {exc.orig}",
            hint="check --db / LEADPILOT_DATABASE_URL (folder exists? server running?)",
        ) from None
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group."""
    db_app = typer.Typer(help="Create and migrate leadpilot's database.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade_cmd(db: str | None = DB_OPTION) -> None:
        """Create the tables or migrate them to this version of leadpilot.

        Example: leadpilot db upgrade --db postgresql+psycopg://app:secret@db:5432/leadpilot
        """
        from leadpilot.store.migrate import current_revision, upgrade

        before, after = _reach(
            database_url(db), lambda engine: (current_revision(engine), upgrade(engine))
        )
        if before == after:
            console.print(f"Database already at migration [bold]{after}[/] (head).")
        else:
            console.print(f"Database migrated from {before or 'empty'} to [bold]{after}[/].")

    @db_app.command("status")
    def status_cmd(db: str | None = DB_OPTION) -> None:
        """Show the database's migration and the newest one this leadpilot ships.

        Example: leadpilot db status
        """
        from leadpilot.store.migrate import current_revision, head_revision

        current = _reach(database_url(db), current_revision)
        head = head_revision()
        state = "up to date" if current == head else "needs: leadpilot db upgrade"
        console.print(f"database: {current or 'empty'}  head: {head}  ({state})")

    app.add_typer(db_app, name="db")
