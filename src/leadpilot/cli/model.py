"""``leadpilot model``: the registry of model versions (list, show, promote, rollback)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from leadpilot.cli._common import console, json_on_stdout, json_switch
from leadpilot.cli.db import DB_OPTION, database_url

__all__ = ["register"]

_STATUS_STYLE = {"champion": "bold green", "candidate": "cyan", "rejected": "red", "retired": "dim"}


def _headline(metrics: dict[str, Any] | None) -> str:
    m = (metrics or {}).get("challenger") or (metrics or {}).get("model") or {}
    auc = m.get("auc")
    return f"{auc:.3f}" if isinstance(auc, float) else "-"


def register(app: typer.Typer) -> None:
    """Add the ``model`` command group."""
    model_app = typer.Typer(
        help="The model registry: every version, which one routes, promote and roll back.",
        no_args_is_help=True,
    )

    @model_app.command("list")
    def list_cmd(
        db: str | None = DB_OPTION,
        as_json: bool = json_switch("the versions with their trails (as GET /v1/models)"),
    ) -> None:
        """List every registered model version, newest first, with its status.

        Example: leadpilot model list
        """
        from leadpilot.lifecycle.listing import registry_listing
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current
        from leadpilot.store.models import list_versions

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with engine.connect() as conn:
                if as_json:
                    listing = registry_listing(conn)
                rows = list_versions(conn)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps(listing, indent=1, default=str))
            return
        if not rows:
            console.print("No model versions yet: run `leadpilot retrain` to train the first.")
            return
        table = Table(title="Model versions (newest first)", title_justify="left")
        for col in ("version", "status", "registered", "trained by", "held-out AUC"):
            table.add_column(col, no_wrap=True)
        table.add_column("why")
        for r in rows:
            style = _STATUS_STYLE.get(r.status or "", "")
            table.add_row(
                r.version,
                f"[{style}]{r.status}[/]" if style else str(r.status),
                r.created_at.strftime("%Y-%m-%d"),
                r.trained_by or "-",
                _headline(r.metrics),
                (r.reason or "")[:90],
            )
        console.print(table)

    @model_app.command("show")
    def show_cmd(
        version: str = typer.Argument(..., help="A version from `leadpilot model list`."),
        db: str | None = DB_OPTION,
        as_json: bool = json_switch("the version, its trail and the policies it served"),
    ) -> None:
        """Everything the registry knows about one version: training window, data
        fingerprint, metrics, calibration, features, checksums, the policy versions it
        decided under, and every promotion or rejection with its reason.

        Example: leadpilot model show cm-0123456789ab
        """
        from leadpilot.errors import ConfigError
        from leadpilot.lifecycle.listing import version_json
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current
        from leadpilot.store.models import events_of, get_version, policy_versions_served

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with engine.connect() as conn:
                row = get_version(conn, version)
                if row is None:
                    raise ConfigError(
                        f"no model version {version!r} in the registry",
                        hint="`leadpilot model list` shows the registered versions",
                    )
                trail = [version_json(e) for e in events_of(conn, version)]
                served = policy_versions_served(conn, version)
        finally:
            engine.dispose()
        doc = {
            **version_json(row),
            "events": trail,
            "policy_versions": [{"policy_version": p, "decisions": n} for p, n in served],
        }
        if as_json:
            typer.echo(json.dumps(doc, indent=1, default=str))
            return
        console.print(f"[bold]{row.version}[/] ({row.status}), files in {row.path}")
        console.print(
            f"Trained by {row.trained_by or '-'}; data fingerprint {row.data_fingerprint}"
        )
        win = row.training_window or {}
        for part in ("train", "calibration", "test"):
            if part in win:
                console.print(f"  {part}: {win[part]}", highlight=False)
        console.print(f"Why: {row.reason or '-'}", highlight=False)
        if served:
            console.print(
                "Decided under policy versions: "
                + ", ".join(f"{p or 'default'} ({n:,} decisions)" for p, n in served)
            )
        table = Table(title="Trail", title_justify="left")
        for col in ("when", "action", "by", "why"):
            table.add_column(col)
        for e in trail:
            table.add_row(e["at"][:19], e["action"], e["actor"], e["reason"])
        console.print(table)

    @model_app.command("promote")
    def promote_cmd(
        version: str = typer.Argument(..., help="The version to route with."),
        reason: str = typer.Option("promoted by hand", "--reason", help="Why (kept in the trail)."),
        db: str | None = DB_OPTION,
        as_json: bool = json_switch("the change"),
    ) -> None:
        """Make VERSION the champion: every replica routes with it within one worker poll.
        Its files are checked against their recorded checksums first.

        Example: leadpilot model promote cm-0123456789ab --reason "reviewed the card"
        """
        from leadpilot.lifecycle.registry import promote
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with json_on_stdout(as_json):
                replaced = promote(engine, version, actor="leadpilot model promote", reason=reason)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps({"champion": version, "replaced": replaced}))
            return
        console.print(
            f"{version} is the champion"
            + (
                f" (was {replaced})."
                if replaced
                else " (it already was)."
                if replaced is None
                else "."
            )
        )

    @model_app.command("rollback")
    def rollback_cmd(
        reason: str = typer.Option("rolled back by hand", "--reason", help="Why."),
        db: str | None = DB_OPTION,
        as_json: bool = json_switch("the change"),
    ) -> None:
        """Route with the previous champion again (the one the current champion replaced).

        Example: leadpilot model rollback --reason "conversion dropped after the promotion"
        """
        from leadpilot.lifecycle.registry import rollback
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current

        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            old, new = rollback(engine, actor="leadpilot model rollback", reason=reason)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps({"champion": new, "replaced": old}))
            return
        console.print(f"Rolled back: {new} is the champion again ({old} retired).")

    app.add_typer(model_app, name="model")
