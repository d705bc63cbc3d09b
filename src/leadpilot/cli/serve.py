"""``leadpilot serve``: the routing service (FastAPI on uvicorn) with its SLA worker."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from leadpilot.cli._common import console
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
        db: str | None = DB_OPTION,
        model: Path | None = typer.Option(
            None, "--model", envvar="LEADPILOT_MODEL_DIR", help="Conversion model directory."
        ),
        migrate: bool = typer.Option(
            True, "--migrate/--no-migrate", help="Run database migrations before starting."
        ),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    ) -> None:
        """Serve the routing API (OpenAPI at /docs) and run SLA timers in the background.

        With no options it uses a SQLite file leadpilot.db in the working folder, so it works
        with no set-up. Several replicas may share one PostgreSQL database.

        Example: leadpilot serve --db postgresql+psycopg://app:pw@db:5432/leadpilot --workers 4
        """
        import uvicorn

        from leadpilot.settings import load_settings
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import upgrade

        url = database_url(db)
        if workers > 1 and url.startswith("sqlite"):
            raise ConfigError(
                "--workers > 1 needs PostgreSQL: SQLite allows one writer at a time",
                hint="use --workers 1 with SQLite, or --db postgresql+psycopg://...",
            )
        os.environ["LEADPILOT_DATABASE_URL"] = url
        if model is not None:
            os.environ["LEADPILOT_MODEL_DIR"] = str(model)
        load_settings()  # fail here, with a clear message, not inside every worker
        if migrate:
            engine = make_engine(url)
            try:
                upgrade(engine)
            finally:
                engine.dispose()
        # One key for the console's session cookies shared by every worker process (each
        # would otherwise draw its own, and a session would work on one worker in N).
        os.environ.setdefault("LEADPILOT_SESSION_SECRET", secrets.token_urlsafe(32))
        console.print(
            f"leadpilot serving on http://{host}:{port} (dashboard at /, API docs at /docs)"
        )
        uvicorn.run(
            "leadpilot.service.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )


def demo_service(
    console: Console, world_dir: Path, model_dir: Path | None = None, *, keep_serving: bool = False
) -> None:
    """The service step of ``leadpilot demo`` (see ``leadpilot.cli._serve_demo``);
    ``keep_serving`` leaves the dashboard up until Ctrl-C."""
    from leadpilot.cli._serve_demo import demo_service as run

    run(console, world_dir, model_dir, keep_serving=keep_serving)
