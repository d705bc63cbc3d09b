"""``leadpilot dedupe``: duplicate lead clusters, every merge explained, and the duplicate rate."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leadpilot.cli._common import console
from leadpilot.csv_safe import write_safe_csv
from leadpilot.ingest.dedupe import DedupeResult, find_duplicates

__all__ = ["DUPLICATE_RATE_TARGET", "demo_section", "kpi_verdict", "register", "report_dict"]

# The seeds' KPI table: "Duplicate rate: duplicate leads / total <= 2-3%, fix intake sources".
DUPLICATE_RATE_TARGET = 0.03

_EPILOG = (
    "Examples:\n\n"
    "  leadpilot dedupe history.csv\n\n"
    "  leadpilot dedupe export.csv --format salesforce --threshold 0.9 --out clusters.csv\n\n"
    "  leadpilot dedupe history.csv --json > duplicates.json"
)


def register(app: typer.Typer) -> None:
    """Add the ``dedupe`` command to the CLI."""
    app.command("dedupe", epilog=_EPILOG)(dedupe_command)


def dedupe_command(
    file: Path = typer.Argument(..., help="Leads/history export (CSV, .xlsx or preset folder)."),
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="Column preset (canonical, salesforce, hubspot...); "
        "detected from the headers when left out.",
    ),
    threshold: float = typer.Option(
        0.5,
        "--threshold",
        "-t",
        min=0.0,
        max=1.0,
        help="Merge two leads when P(duplicate) >= this (0-1]. 0.9 is stricter.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write clustered records with their merge reason to this CSV."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    show: int = typer.Option(20, "--show", min=0, help="Clusters to list in the table."),
) -> None:
    """Find duplicate leads: the same email or CRM id, then fuzzy identity matches.

    Exact keys first (email, case and spaces ignored; external id), then probabilistic
    record linkage on the email's local part, person name, phone and company (Fellegi-Sunter
    with weights learnt from the file). Two colleagues at one company are never merged.
    """
    frame = _read_leads(file, format)
    result = find_duplicates(frame, threshold=threshold)
    if out is not None:
        write_safe_csv(clusters_frame(result), out)
    if as_json:
        typer.echo(json.dumps(report_dict(result), indent=2))
        return
    render_report(console, result, show=show, title=f"Duplicates in {file.name}")
    if out is not None:
        console.print(f"Wrote {result.n_records - _singletons(result)} clustered records to {out}")


def _read_leads(file: Path, format: str | None) -> pd.DataFrame:
    # read_history lands with the intake work; imported by name until both are on main.
    read_history: Any = importlib.import_module("leadpilot.ingest.history").read_history
    frame: pd.DataFrame = read_history(file, format=format, keep_extra=True).frame
    return frame


def _singletons(result: DedupeResult) -> int:
    return result.n_records - sum(len(c) for c in result.clusters)


def kpi_verdict(result: DedupeResult, target: float = DUPLICATE_RATE_TARGET) -> str:
    """Say whether the duplicate rate meets the target, using its 95% interval."""
    low, high = result.duplicate_rate_interval()
    if high <= target:
        return f"within the {target:.0%} target"
    if low > target:
        return f"above the {target:.0%} target: fix the intake sources that create duplicates"
    return f"cannot tell yet whether it is within the {target:.0%} target (interval spans it)"


def report_dict(result: DedupeResult) -> dict[str, Any]:
    """The report as JSON-ready data: totals, rate with its interval, clusters with merges."""
    low, high = result.duplicate_rate_interval()
    merges: dict[str, list[dict[str, Any]]] = {}
    for a, b, method, score, why in _pair_rows(result):
        merges.setdefault(a, []).append(
            {"a": a, "b": b, "method": method, "score": round(score, 2), "explanation": why}
        )
    clusters = []
    for k, ids in enumerate(result.clusters, start=1):
        members = set(ids)
        cluster_merges = [m for rid in ids for m in merges.get(rid, []) if m["b"] in members]
        clusters.append({"cluster": k, "records": ids, "keep": ids[0], "merges": cluster_merges})
    model = result.model
    return {
        "records": result.n_records,
        "clusters": len(result.clusters),
        "duplicates": result.n_duplicates,
        "duplicate_rate": result.duplicate_rate,
        "duplicate_rate_ci95": [low, high],
        "kpi_target": DUPLICATE_RATE_TARGET,
        "kpi_verdict": kpi_verdict(result),
        "model": None
        if model is None
        else {"estimator": model.estimator, "m": model.m, "u": model.u, "prior": model.prior},
        "duplicate_clusters": clusters,
    }


def _pair_rows(result: DedupeResult) -> list[tuple[str, str, str, float, str]]:
    p = result.pairs
    return [
        (str(a), str(b), str(m), float(s), str(e))
        for a, b, m, s, e in zip(
            p["a"].tolist(),
            p["b"].tolist(),
            p["method"].tolist(),
            p["score"].tolist(),
            p["explanation"].tolist(),
            strict=True,
        )
    ]


def clusters_frame(result: DedupeResult) -> pd.DataFrame:
    """One row per clustered record: ``cluster, record_id, keep, matched_with, method, score,
    explanation`` (the record's strongest merge; empty for the kept record if it has none)."""
    best: dict[str, tuple[str, str, float, str]] = {}
    for a, b, method, score, why in _pair_rows(result):
        for me, other in ((a, b), (b, a)):
            if me not in best or score > best[me][2]:
                best[me] = (other, method, score, why)
    rows = []
    for k, ids in enumerate(result.clusters, start=1):
        for i, rid in enumerate(ids):
            other, method, score, why = best.get(rid, ("", "", float("nan"), ""))
            rows.append((k, rid, i == 0, other, method, round(score, 2), why))
    columns = ["cluster", "record_id", "keep", "matched_with", "method", "score", "explanation"]
    return pd.DataFrame(rows, columns=columns)


def render_report(
    out: Console, result: DedupeResult, *, show: int = 20, title: str = "Duplicates"
) -> None:
    """Print the summary line, the KPI verdict and a table of the first ``show`` clusters."""
    low, high = result.duplicate_rate_interval()
    out.print(
        f"[bold]{result.n_records:,}[/] records, [bold]{len(result.clusters):,}[/] duplicate "
        f"clusters, [bold]{result.n_duplicates:,}[/] duplicates: duplicate rate "
        f"[bold]{result.duplicate_rate:.1%}[/] (95% interval {low:.1%}-{high:.1%})"
    )
    verdict = kpi_verdict(result)
    colour = "green" if verdict.startswith("within") else "red" if "above" in verdict else "yellow"
    out.print(f"KPI (duplicate leads / total <= 2-3%): [{colour}]{verdict}[/]")
    if result.model is not None:
        how = "learnt from this file (EM)" if result.model.estimator == "em" else "fixed defaults"
        out.print(f"[dim]Probabilistic match weights: {how}.[/]")
    if not result.clusters or show == 0:
        return
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("records (first kept)")
    table.add_column("why merged")
    frame = clusters_frame(result)
    for k, ids in enumerate(result.clusters[:show], start=1):
        members = frame[(frame.cluster == k) & frame.method.ne("")]
        reasons = "\n".join(
            f"{r.record_id} ~ {r.matched_with}: {r.method} {r.score:.1f} - {r.explanation}"
            for r in members.itertuples(index=False)
            if not r.keep or len(members) == 1
        )
        # Text, not markup: ids and explanations quote user data that may contain "[...]"
        table.add_row(str(k), Text(", ".join(ids)), Text(reasons))
    out.print(table)
    if len(result.clusters) > show:
        out.print(f"[dim]{len(result.clusters) - show} more clusters: use --show or --out.[/]")


def demo_section(out: Console, workdir: Path) -> None:
    """For ``leadpilot demo``: dedupe the synthetic ``history.csv`` in ``workdir``."""
    history = workdir / "history.csv"
    result = find_duplicates(_read_leads(history, None))
    out.rule("Duplicate leads at intake")
    render_report(out, result, show=5, title=f"Duplicates in {history.name}")
