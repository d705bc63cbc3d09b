"""``leadpilot train`` and ``leadpilot evaluate``: learn P(convert | lead, rep) from a history
export, compare it with simple baselines on the latest leads, and save it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadpilot.cli._common import console as default_console
from leadpilot.cli._common import json_switch
from leadpilot.errors import ConfigError
from leadpilot.outputs import prepare_output_folder
from leadpilot.schema import TARGETS

# LightGBM and scikit-learn load inside the commands: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    import pandas as pd

    from leadpilot.model import ConversionModel
    from leadpilot.model.evaluation import EvaluationReport

__all__ = ["print_metrics", "register", "train_and_print"]


def _f(x: Any, fmt: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return format(x, fmt)


def print_metrics(
    console: Console,
    results: dict[str, dict[str, Any]],
    comparisons: dict[str, dict[str, Any]],
    *,
    title: str = "Test metrics on the latest leads (model vs baselines)",
) -> None:
    """Rich table: one row per model, AUC with the bootstrap interval of the model's edge."""
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    table.add_column("AUC", justify="right")
    table.add_column("model's AUC edge (95% CI)", justify="right")
    table.add_column("log loss", justify="right")
    table.add_column("Brier", justify="right")
    table.add_column("calibration error", justify="right")
    for name, m in results.items():
        comp = comparisons.get(name)
        edge = ""
        if comp and comp.get("auc_diff") is not None:
            sure = comp["auc_diff_low"] is not None and comp["auc_diff_low"] > 0
            style = "green" if sure else "yellow"
            edge = (
                f"[{style}]{comp['auc_diff']:+.3f} ({comp['auc_diff_low']:+.3f} to "
                f"{comp['auc_diff_high']:+.3f})[/]"
            )
        bold = name == "model"
        table.add_row(
            f"[bold]{name}[/]" if bold else name,
            _f(m.get("auc")),
            edge,
            _f(m.get("log_loss"), ".4f"),
            _f(m.get("brier"), ".4f"),
            _f(m.get("ece"), ".4f"),
        )
    table.caption = (
        "AUC ranks (0.5 = chance); log loss, Brier and calibration error: lower is better. "
        "Edge = model AUC minus this baseline's, bootstrap over test leads."
    )
    console.print(table)


CONFIDENCE_SAMPLE = 400


def confidence_on_test_slice(
    model: ConversionModel, history: pd.DataFrame, report: EvaluationReport
) -> dict[str, Any] | None:
    """The router's confidence on (up to ``CONFIDENCE_SAMPLE`` of) the test slice's leads:
    P(the model's top rep converts the lead better than the rep round-robin would pick),
    every rep of the history being round-robin's pick with equal chance. Its quantiles and
    the share of leads each ``min_confidence`` would send to the fallback go into the card."""
    import numpy as np

    from leadpilot.ingest.roster import leads_from_frame
    from leadpilot.policy.confidence import against_round_robin, summarise_confidence

    preds = report.test_predictions
    if "lead_id" not in preds or "lead_id" not in history or "rep_id" not in history:
        return None
    rep_ids = sorted(str(r) for r in history["rep_id"].dropna().unique())
    ids = set(preds["lead_id"].astype(str).tail(CONFIDENCE_SAMPLE))
    test = history[history["lead_id"].astype(str).isin(ids)]
    if len(rep_ids) < 2 or test.empty:
        return None
    # Python datetimes hold microseconds: drop the nanoseconds before converting to leads
    stamps = test.select_dtypes(include=["datetime", "datetimetz"]).columns
    test = test.assign(**{c: test[c].dt.floor("us") for c in stamps})
    batch = model.score_batch(leads_from_frame(test), rep_ids)
    cols = list(range(len(rep_ids)))
    values = []
    for row in range(len(test)):
        scores = batch.candidates(row, cols)
        values.append(against_round_robin(scores.draws, np.asarray(scores.p, dtype=float)))
    summary = summarise_confidence(np.concatenate(values))
    return {**summary, "leads": len(test), "reps": len(rep_ids), "fallback": "round-robin"}


def train_and_print(
    console: Console,
    history: pd.DataFrame,
    reps: pd.DataFrame | None,
    out_dir: Path,
    *,
    target: str = "converted",
    model: ConversionModel | None = None,
) -> tuple[ConversionModel, EvaluationReport]:
    """Train and evaluate out of time with a progress bar, save to ``out_dir`` with the
    model card, print the metrics table; returns the fitted model and its evaluation (the
    demo calls this)."""
    from leadpilot.model import ConversionModel, LeakageWarning
    from leadpilot.model.card import write_reports
    from leadpilot.model.evaluation import fit_and_evaluate
    from leadpilot.model.value_artifacts import fit_and_save_value

    model = model or ConversionModel(target=target)
    with (
        Progress(
            TextColumn("[bold blue]{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", LeakageWarning)
        task = bar.add_task("training", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        report = fit_and_evaluate(model, history, reps, progress=progress)
    for w in caught:
        if issubclass(w.category, LeakageWarning):
            console.print(f"[yellow]Warning:[/] {w.message}", highlight=False)
    model.save(out_dir)
    _value, value_note = fit_and_save_value(history, out_dir)
    confidence = confidence_on_test_slice(model, history, report)
    card, metrics_path = write_reports(model, report, out_dir, confidence=confidence)
    results = dict(report.metrics)
    if report.calibration_method == "none":
        results.pop("model (uncalibrated)", None)  # the same numbers as "model"
    print_metrics(console, results, report.comparisons)
    block = model.fitted_.routing_block
    if block:
        from rich.panel import Panel

        console.print(
            Panel(
                f"{block}.\nThis model must not route: `route`, `route-batch` and the service "
                "fall back to the policy's rules for it unless given --force-model "
                "(LEADPILOT_FORCE_MODEL=1 for the service).",
                title="WARNING: the model is worse than a baseline",
                border_style="bold red",
            ),
            highlight=False,
        )
    console.print(_split_sentence(model), highlight=False)
    console.print(value_note, highlight=False)
    console.print(
        f"Model [bold]{model.version}[/] saved to {out_dir} (model card: {card.name}, "
        f"metrics: {metrics_path.name}).",
        highlight=False,
    )
    return model, report


def _split_sentence(model: ConversionModel) -> str:
    win = model.fitted_.training_window
    method = model.fitted_.calibrator.method_
    n_tr, n_ca, n_te = (win[k]["rows"] for k in ("train", "calibration", "test"))
    if method == "none" and win.get("refit_on_calibration_slice"):
        head = (
            f"The model's probabilities needed no correction on the {n_ca:,} leads after the "
            f"first {n_tr:,}, so it was refit on all {n_tr + n_ca:,}"
        )
    elif method == "none":
        head = f"Learned from {n_tr:,} leads; the next {n_ca:,} needed no calibration"
    else:
        head = f"Learned from {n_tr:,} leads, calibrated ({method}) on the next {n_ca:,}"
    text = f"{head}; tested on the latest {n_te:,} (ordered by {win['time_column']})."
    if win.get("unsettled_outcomes_ignored"):
        text += (
            f" {win['unsettled_outcomes_ignored']:,} outcomes of the most recent leads were set "
            "aside: most of those leads are still open, so the known ones over-state conversion."
        )
    return text


def _read(path: Path, fmt: str | None) -> pd.DataFrame:
    from leadpilot.ingest import read_history

    return read_history(path, format=fmt).frame


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the CLI."""

    @app.command("train")
    def train(
        history: Path = typer.Argument(..., help="History export (CSV/.xlsx, or a folder)."),
        out: Path = typer.Option(..., "--out", help="Folder to write the model into."),
        format: str | None = typer.Option(None, "--format", help="Preset name (default: detect)."),
        reps: Path | None = typer.Option(None, "--reps", help="Rep roster CSV (optional)."),
        target: str = typer.Option(
            "converted", "--target", help="Outcome to predict: converted or closed_won."
        ),
        bags: int = typer.Option(8, "--bags", help="Ensemble size (confidence comes from it)."),
        allow_leaky: list[str] = typer.Option(
            [],
            "--allow-leaky",
            help="Learn from this column although it gives the outcome away (repeatable; "
            "the model card records it). Without it, train refuses a leaky rep column and "
            "drops a leaky feature column.",
        ),
        as_json: bool = json_switch("the metrics (metrics.json)"),
    ) -> None:
        """Train the conversion model, compare it with baselines on the latest 20% of leads,
        and save it with a model card.

        Example: leadpilot train history.csv --reps reps.csv --out models/current
        """
        from leadpilot.model import ConversionModel
        from leadpilot.model.card import metrics_document

        if target not in TARGETS:
            raise ConfigError(
                f"--target {target!r} is not supported", hint=f"use one of: {', '.join(TARGETS)}"
            )
        prepare_output_folder(out, option="--out")
        frame = _read(history, format)
        unknown = [c for c in allow_leaky if c not in frame.columns]
        if unknown:
            raise ConfigError(
                f"--allow-leaky names no column of this history: {', '.join(unknown)}",
                hint="name the canonical column the leak guard reported (e.g. rep_id)",
            )
        roster = None
        if reps is not None:
            from leadpilot.ingest import read_reps

            roster = read_reps(reps)
        console = Console(stderr=True) if as_json else default_console
        model, report = train_and_print(
            console,
            frame,
            roster,
            out,
            model=ConversionModel(target=target, n_bags=bags, allow_leaky=tuple(allow_leaky)),
        )
        if as_json:
            typer.echo(json.dumps(metrics_document(model, report), indent=1))

    @app.command("evaluate")
    def evaluate(
        model_dir: Path = typer.Argument(..., help="Folder written by `leadpilot train`."),
        history: Path = typer.Argument(..., help="Held-out history export (later leads)."),
        format: str | None = typer.Option(None, "--format", help="Preset name (default: detect)."),
        as_json: bool = json_switch("the metrics"),
    ) -> None:
        """Score a held-out history with a saved model: AUC, log loss, Brier and calibration
        error, against the rate baselines, per rep and per segment.

        Example: leadpilot evaluate models/current next_quarter.csv
        """
        from leadpilot.model import ConversionModel
        from leadpilot.model.assess import assess
        from leadpilot.model.metrics import jsonable

        model = ConversionModel.load(model_dir)
        result = assess(model, _read(history, format))
        if as_json:
            typer.echo(json.dumps(jsonable(result), indent=1))
            return
        print_metrics(
            default_console,
            result["metrics"],
            result["comparisons"],
            title=f"Model {model.version} on {history.name}",
        )
        unknown = result["unknown_reps"]
        if unknown["reps"]:
            names = ", ".join(unknown["reps"][:8]) + (" ..." if len(unknown["reps"]) > 8 else "")
            default_console.print(
                f"[yellow]Warning:[/] {len(unknown['reps'])} rep(s) of this file are unknown to "
                f"the model ({names}); their {unknown['leads']:,} leads "
                f"({unknown['share']:.0%}) are scored as an average rep's.",
                highlight=False,
            )
        rel = Table(title="Reliability: predicted vs observed", title_justify="left")
        for col in ("predicted", "leads", "mean predicted", "observed (95% CI)"):
            rel.add_column(col, justify="right")
        for r in result["reliability"]:
            rel.add_row(
                f"{r['bin_low']:.1f}-{r['bin_high']:.1f}",
                f"{r['n']:,}",
                f"{r['predicted']:.3f}",
                f"{r['observed']:.3f} ({r['observed_low']:.3f}-{r['observed_high']:.3f})",
            )
        default_console.print(rel)
        reps = result["by_group"].get("rep_id", [])
        if reps:
            per_rep = Table(title="Per rep (at least 30 leads)", title_justify="left")
            for col in ("rep", "leads", "observed", "mean predicted", "AUC"):
                per_rep.add_column(col, justify="right" if col != "rep" else "left")
            for r in reps[:25]:
                per_rep.add_row(
                    str(r["group"]),
                    f"{r['n']:,.0f}",
                    _f(r["rate"]),
                    _f(r["mean_p"]),
                    _f(r["auc"]),
                )
            default_console.print(per_rep)


def demo_section(
    console: Console, workdir: Path, *, world: Any = None, seed: int = 0
) -> ConversionModel:
    """The demo's model step: train on a synthetic world's history (``world`` from
    ``leadpilot.synth.generate_world``, drawn here when omitted), print the metrics table
    and the reasons behind one recommendation; the model goes to ``workdir/model``."""
    from leadpilot.ingest import leads_from_frame

    if world is None:
        from leadpilot.synth import generate_world

        world = generate_world(seed=seed)
    model, _ = train_and_print(console, world.history, world.reps, workdir / "model")
    lead = leads_from_frame(world.new_leads.head(1))[0]
    reps = list(world.active_rep_ids)
    detail = model.confidence_detail(lead, reps)
    best = reps[detail.top_index]
    console.print(
        f"\nNew lead {lead.lead_id} ({lead.industry}, {lead.size_band}, {lead.source}): best "
        f"rep {best} at {detail.p_top:.1%} vs the pool's {detail.p_pool:.1%} "
        f"(difference {detail.difference:+.1%}, 95% interval {detail.low:+.1%} to "
        f"{detail.high:+.1%}; P(really better) = {detail.probability:.0%}).",
        highlight=False,
    )
    for reason in model.explain(lead, best):
        console.print(f"  - {reason}", highlight=False)
    return model
