"""``leadpilot token``: API tokens for the service (stored hashed, shown once)."""

from __future__ import annotations

import json

import typer

from leadpilot.cli._common import console, json_switch
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import ConfigError

# The store's roles, spelled here so that `--help` needs no SQLAlchemy (a test keeps them equal).
ROLES: tuple[str, ...] = ("admin", "writer", "reader")


def register(app: typer.Typer) -> None:
    """Add the ``token`` command group."""
    token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

    @token_app.command("create")
    def create_cmd(
        role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
        name: str = typer.Option("api", "--name", help="A label to recognise the token by."),
        db: str | None = DB_OPTION,
        as_json: bool = json_switch("the new token"),
    ) -> None:
        """Create a token; it is printed once and only its hash is stored.

        Readers may read; writers may also post leads and events and edit reps; admins may
        also upload and roll back policies.

        Example: leadpilot token create --role writer --name hubspot-webhook
        """
        from leadpilot.store.engine import make_engine, write_transaction
        from leadpilot.store.migrate import check_current
        from leadpilot.store.tokens import create_token

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with write_transaction(engine) as conn:
                token, info = create_token(conn, role=role, name=name)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(
                json.dumps({"id": info.id, "name": info.name, "role": info.role, "token": token})
            )
            return
        console.print(f"Created {info.role} token #{info.id} ({info.name}). It is shown only once:")
        typer.echo(token)

    @token_app.command("revoke")
    def revoke_cmd(
        token_id: int = typer.Argument(..., help="The token's id (#n printed at creation)."),
        db: str | None = DB_OPTION,
    ) -> None:
        """Revoke a token by id.

        Example: leadpilot token revoke 3
        """
        from leadpilot.store.engine import make_engine, write_transaction
        from leadpilot.store.tokens import revoke_token

        engine = make_engine(database_url(db))
        try:
            with write_transaction(engine) as conn:
                done = revoke_token(conn, token_id)
        finally:
            engine.dispose()
        if not done:
            raise ConfigError(
                f"no live token #{token_id} (never created, or already revoked)",
                hint="use the #n printed by `leadpilot token create`",
            )
        console.print(f"Token #{token_id} revoked.")

    @token_app.command("list")
    def list_cmd(
        db: str | None = DB_OPTION,
        include_revoked: bool = typer.Option(
            False, "--all", help="Also list revoked tokens (with when they were revoked)."
        ),
        as_json: bool = json_switch("the tokens"),
    ) -> None:
        """List the tokens: id, name, role, when created and when last used (recorded at
        most once a minute by the service). Secrets are never shown: only their hashes are
        stored.

        Example: leadpilot token list
        """
        from rich.table import Table

        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current
        from leadpilot.store.tokens import list_tokens

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with engine.connect() as conn:
                rows = list_tokens(conn, include_revoked=include_revoked)
        finally:
            engine.dispose()

        def when(value: object) -> str | None:
            return value.isoformat(timespec="seconds") if value is not None else None  # type: ignore[attr-defined]

        records = [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_at": when(r.created_at),
                "last_used_at": when(r.last_used_at),
                "revoked_at": when(r.revoked_at),
            }
            for r in rows
        ]
        if as_json:
            typer.echo(json.dumps(records, indent=2))
            return
        table = Table(title="API tokens" + (" (revoked included)" if include_revoked else ""))
        columns = ["id", "name", "role", "created_at", "last_used_at"]
        if include_revoked:
            columns.append("revoked_at")
        for col in columns:
            table.add_column(col.replace("_at", "").replace("_", " "))
        for rec in records:
            table.add_row(
                *[
                    str(rec[c] if rec[c] is not None else "never" if c == "last_used_at" else "-")
                    for c in columns
                ]
            )
        console.print(table)
        if not records:
            console.print("No live token: create one with leadpilot token create --role admin.")

    app.add_typer(token_app, name="token")
