"""``leadpilot policy check``: lint a routing policy against the roster and recent leads."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from leadpilot.cli._common import console

__all__ = ["register"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group."""
    group = typer.Typer(help="Routing policies: check one before you use it.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group, name="policy")


def check(
    policy: Path = typer.Argument(..., help="The policy.yaml to check."),
    reps: Path = typer.Option(..., "--reps", help="Rep roster (reps.csv)."),
    history: Path | None = typer.Option(
        None, "--history", help="Recent leads: rules that never fire, coverage, volume."
    ),
    accounts: Path | None = typer.Option(None, "--accounts", help="Known accounts."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
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
        console.print_json(
            json.dumps(
                {
                    "policy_version": parsed.version or parsed.policy_hash,
                    "findings": [asdict(f) for f in findings],
                }
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
