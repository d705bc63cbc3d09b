"""``leadpilot retrain``: a challenger from the store's fresh outcomes against the champion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from leadpilot.cli._common import console, json_on_stdout, json_switch
from leadpilot.cli.db import DB_OPTION, database_url

if TYPE_CHECKING:
    from rich.console import Console

    from leadpilot.lifecycle.retrain import RetrainResult

__all__ = ["print_result", "register"]

_ACTION_STYLE = {
    "first_champion": "green",
    "promoted": "green",
    "forced": "yellow",
    "rejected": "red",
    "unchanged": "dim",
}


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _ci(d: dict[str, Any], key: str, fmt: str) -> str:
    return (
        f"{_f(d.get(key), fmt)} ({_f(d.get(key + '_low'), fmt)} to {_f(d.get(key + '_high'), fmt)})"
    )


def print_result(out: Console, result: RetrainResult) -> None:
    """The champion / challenger table and the verdict."""
    comp = result.comparison
    if comp is not None:
        champ, chall, diff, dr = (
            comp["champion"],
            comp["challenger"],
            comp["differences"],
            comp["dr"],
        )
        table = Table(
            title=f"Champion vs challenger on the latest {comp['n_holdout']:,} settled leads "
            f"({comp['holdout_from'][:10]} to {comp['holdout_to'][:10]}), which neither "
            "learned from"
            if not comp.get("holdout_note")
            else "Champion vs challenger",
            title_justify="left",
        )
        for col in ("", f"champion {result.champion_before}", f"challenger {result.challenger}",
                    "challenger - champion (95% CI)"):  # fmt: skip
            table.add_column(col, justify="right")
        table.add_row("AUC (higher is better)", _f(champ["auc"], ".3f"), _f(chall["auc"], ".3f"),
                      _ci(diff, "auc", "+.3f"))  # fmt: skip
        table.add_row("log loss (lower)", _f(champ["log_loss"], ".4f"),
                      _f(chall["log_loss"], ".4f"), _ci(diff, "log_loss", "+.4f"))  # fmt: skip
        table.add_row("calibration error (lower)", _f(champ["ece"], ".4f"), _f(chall["ece"], ".4f"),
                      _f(diff["ece"], "+.4f"))  # fmt: skip
        table.add_row(
            "routing value, doubly robust",
            f"{dr['champion']['rate']:.1%} ({dr['champion']['low']:.1%}-"
            f"{dr['champion']['high']:.1%})",
            f"{dr['challenger']['rate']:.1%} ({dr['challenger']['low']:.1%}-"
            f"{dr['challenger']['high']:.1%})",
            _ci(diff, "dr_value", "+.1%"),
        )
        table.caption = (
            "Routing value: estimated conversion if each held-out lead had gone to the rep "
            "the model scores highest (no capacity limits)."
        )
        out.print(table)
    elif result.first_evaluation is not None:
        m = result.first_evaluation.get("model", {})
        out.print(
            f"First model: out-of-time AUC {_f(m.get('auc'), '.3f')}, log loss "
            f"{_f(m.get('log_loss'), '.4f')}, calibration error {_f(m.get('ece'), '.4f')}.",
            highlight=False,
        )
    style = _ACTION_STYLE.get(result.action, "")
    out.print(
        f"[bold {style}]{result.action.replace('_', ' ')}[/]: {result.reason}", highlight=False
    )
    t = result.training
    out.print(
        f"[dim]Training set {t['since'][:10]} to {t['until'][:10]}: {t['history_rows']:,} history "
        f"leads, {t['routed_rows']:,} routed ({t['open_rows']:,} still inside their outcome "
        f"window, left out; {t['weighted_rows']:,} chosen by the model, weighted by their "
        f"logged propensity); fingerprint {t['fingerprint']}. {result.cpu_seconds:.1f} s CPU.[/]",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``retrain`` command."""

    @app.command("retrain")
    def retrain_cmd(
        db: str | None = DB_OPTION,
        window: str = typer.Option(
            "18m", "--window", help="Leads to learn from: 90d, 12w, 18m, 2y."
        ),
        outcome_days: float = typer.Option(
            30.0,
            "--outcome-days",
            min=0.0,
            help="A routed lead with no meeting, opportunity or win counts as not converted only "
            "this many days after it arrived (before that it is open and left out).",
        ),
        force: bool = typer.Option(
            False,
            "--force",
            help="Promote the challenger even if it is worse (recorded as forced).",
        ),
        store: Path | None = typer.Option(
            None,
            "--store",
            help="Model folder (default LEADPILOT_MODEL_STORE or ./leadpilot-models).",
        ),
        as_json: bool = json_switch("the comparison and the decision"),
    ) -> None:
        """Train a challenger on the store's leads and outcomes, compare it with the champion
        on the same latest held-out leads, and promote it unless it is worse beyond noise.
        The first run on an empty registry makes the first champion from the loaded history.

        Example: leadpilot retrain --window 18m
        """
        from datetime import timedelta

        from leadpilot.errors import StoreError
        from leadpilot.lifecycle.retrain import RetrainOptions, retrain
        from leadpilot.lifecycle.trainset import parse_window
        from leadpilot.settings import load_settings
        from leadpilot.store.engine import make_engine
        from leadpilot.store.leases import exclusive
        from leadpilot.store.migrate import check_current

        options = RetrainOptions(
            window=parse_window(window),
            outcome_window=timedelta(days=outcome_days),
            force=force,
            trained_by="leadpilot retrain --force" if force else "leadpilot retrain",
        )
        folder = store or load_settings().model_store
        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with json_on_stdout(as_json), exclusive(engine, "retrain") as mine:
                if not mine:
                    raise StoreError(
                        "another retrain is running on this database",
                        hint="wait for it to finish (`leadpilot model list` shows its result)",
                    )
                with console.status("training the challenger and comparing it with the champion"):
                    result = retrain(engine, folder, options)
                if not as_json:
                    print_result(console, result)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=1))
