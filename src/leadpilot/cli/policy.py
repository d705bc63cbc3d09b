"""``leadpilot policy``: check a policy file, and manage the versions a service routes with
(apply, activate, rollback, history, diff) through its API (``--url``) or its database
(``--db``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadpilot.cli._common import console, err_console, json_switch
from leadpilot.cli._policy_targets import TOKEN_ENV, PolicyTarget, open_target
from leadpilot.cli.db import DB_OPTION

__all__ = ["register"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group."""
    group = typer.Typer(
        help="Routing policies: check a file, apply it to a service or database, activate, "
        "roll back, list and diff versions.\n\n"
        "Versions live where the service keeps them: pass --url (or LEADPILOT_URL) to act "
        f"through a running service with the admin token in {TOKEN_ENV}, or --db (or "
        "LEADPILOT_DATABASE_URL) to act on its database directly.",
        no_args_is_help=True,
    )
    group.command("check")(check)
    group.command("apply")(apply)
    group.command("activate")(activate)
    group.command("rollback")(rollback)
    group.command("history")(history)
    group.command("diff")(diff)
    app.add_typer(group, name="policy")


def check(
    policy: Path = typer.Argument(..., help="The policy.yaml to check."),
    reps: Path = typer.Option(..., "--reps", help="Rep roster (reps.csv)."),
    history: Path | None = typer.Option(
        None, "--history", help="Recent leads: rules that never fire, coverage, volume."
    ),
    accounts: Path | None = typer.Option(None, "--accounts", help="Known accounts."),
    as_json: bool = json_switch("the findings"),
) -> None:
    """Check a policy: unknown keys and bad values (named by key path), pools with no
    eligible rep, territories nobody covers, rules that can never fire, capacity below the
    expected volume. Exit code 1 when there are errors.

    Example:  leadpilot policy check examples/policy.yaml --reps world/reps.csv
              --history world/history.csv
    """
    from leadpilot.ingest import (
        accounts_from_frame,
        leads_from_frame,
        read_accounts,
        read_history,
        read_reps,
        reps_from_frame,
    )
    from leadpilot.ingest.matching import AccountMatcher
    from leadpilot.policy import load_policy
    from leadpilot.policy.lint import lint_policy

    parsed = load_policy(policy)
    roster = reps_from_frame(read_reps(reps))
    leads = leads_from_frame(read_history(history, keep_extra=True).frame) if history else None
    matcher = AccountMatcher(accounts_from_frame(read_accounts(accounts))) if accounts else None
    findings = lint_policy(parsed, roster, leads, accounts=matcher)
    errors = sum(f.level == "error" for f in findings)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "policy_version": parsed.version or parsed.policy_hash,
                    "findings": [asdict(f) for f in findings],
                },
                indent=2,
            )
        )
    else:
        table = Table(
            title=f"policy check {policy} (version {parsed.version or parsed.policy_hash})"
        )
        for col in ("level", "key", "finding"):
            table.add_column(col)
        for f in sorted(findings, key=lambda f: ("error", "warning", "info").index(f.level)):
            table.add_row(f"[{_STYLE[f.level]}]{f.level}[/]", f.path or "-", f.message)
        console.print(table)
        warnings = sum(f.level == "warning" for f in findings)
        verdict = "[bold red]errors found[/]" if errors else "[green]no errors[/]"
        console.print(f"{verdict}: {errors} error(s), {warnings} warning(s).")
    if errors:
        raise typer.Exit(1)


URL_OPTION = typer.Option(
    None,
    "--url",
    envvar="LEADPILOT_URL",
    show_envvar=True,
    help=f"A running service (e.g. http://127.0.0.1:8000); its admin token is read from "
    f"{TOKEN_ENV}. Without it the command acts on the database (--db).",
)
JSON_OPTION = json_switch("the result")


@contextmanager
def _target(url: str | None, db: str | None) -> Iterator[PolicyTarget]:
    target = open_target(url, db)
    try:
        yield target
    finally:
        target.close()


def _print_record(record: dict[str, Any], what: str, where: str) -> None:
    state = "[green]active[/]" if record["active"] else "not active"
    console.print(
        f"{what} policy version [bold]{record['version']}[/] in {where} ({state}; "
        f"author {record['author'] or '-'}, stored {record['created_at']}).",
        highlight=False,
    )


def apply(
    policy: Path = typer.Argument(..., help="The policy.yaml to store."),
    activate_it: bool = typer.Option(
        False, "--activate", help="Also make it the active policy (the next lead uses it)."
    ),
    url: str | None = URL_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate a policy file and store it as a version (its content hash); with
    --activate it also becomes the active policy. Storing the same text again is a no-op.
    Exit code 2 when the file is invalid (the message names the key path).

    Example:  leadpilot policy apply policy.yaml --activate --db sqlite:///leadpilot.db
    """
    from leadpilot.policy import load_policy

    load_policy(policy)  # the same checks as the service's, before anything is sent
    text = policy.read_text(encoding="utf-8")
    with _target(url, db) as target:
        record, created = target.apply(text, activate=activate_it)
        where = target.where
    if as_json:
        typer.echo(json.dumps({**record, "created": created}, indent=2))
        return
    _print_record(record, "Stored new" if created else "Already stored:", where)


def _switch(
    version: str, action: str, verb: str, url: str | None, db: str | None, as_json: bool
) -> None:
    """Activate a stored version; `action` is what the history logs it as."""
    with _target(url, db) as target:
        record = target.activate(version, action=action)
        where = target.where
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    _print_record(record, verb, where)


def activate(
    version: str = typer.Argument(..., help="A stored version (see `policy history`)."),
    url: str | None = URL_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a stored version the active policy (e.g. one applied without --activate).

    Example:  leadpilot policy activate 3f2a9c1d0b7e --db sqlite:///leadpilot.db
    """
    _switch(version, "activate", "Activated", url, db, as_json)


def rollback(
    version: str = typer.Argument(..., help="An earlier version (see `policy history`)."),
    url: str | None = URL_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Activate an earlier version again; the history logs it as a rollback.

    Example:  leadpilot policy rollback 3f2a9c1d0b7e --db sqlite:///leadpilot.db
    """
    _switch(version, "rollback", "Rolled back to", url, db, as_json)


def history(
    url: str | None = URL_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the stored versions and every activation (uploads, activations, rollbacks),
    oldest first.

    Example:  leadpilot policy history --db sqlite:///leadpilot.db
    """
    with _target(url, db) as target:
        found = target.history()
        where = target.where
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    versions = Table(title=f"policy versions in {where}")
    for col in ("version", "active", "author", "stored at"):
        versions.add_column(col)
    for v in found["versions"]:
        versions.add_row(v["version"], "yes" if v["active"] else "", v["author"] or "-",
                         str(v["created_at"]))  # fmt: skip
    console.print(versions)
    log = Table(title="activations")
    for col in ("at", "action", "version", "author"):
        log.add_column(col)
    for a in found["activations"]:
        log.add_row(str(a["activated_at"]), a["action"], a["version"], a["author"] or "-")
    console.print(log)
    if not found["versions"]:
        console.print("No version stored: the default policy applies.")


def diff(
    from_version: str = typer.Argument(..., help="The older version."),
    to_version: str = typer.Argument(..., help="The newer version."),
    url: str | None = URL_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a unified diff of two stored versions' YAML text.

    Example:  leadpilot policy diff 3f2a9c1d0b7e 9b1c22e0a4f5 --db sqlite:///leadpilot.db
    """
    with _target(url, db) as target:
        found = target.diff(from_version, to_version)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found["diff"]:
        err_console.print(f"Versions {from_version} and {to_version} have the same text.")
        return
    typer.echo(found["diff"], nl=False)
