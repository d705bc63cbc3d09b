"""``leadpilot analyze``: the routing-effectiveness audit as HTML, Markdown and JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from leadpilot.cli._common import LLM_MODEL_OPTION, json_out_option, json_switch, llm_url_option
from leadpilot.cli._common import console as default_console
from leadpilot.errors import ConfigError
from leadpilot.outputs import prepare_output_file
from leadpilot.schema import TARGETS

# The audit's modules (pandas, scipy) load inside the commands: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    import pandas as pd

    from leadpilot.analyze.core import Analysis
    from leadpilot.analyze.sections import ReportSections

__all__ = ["demo_section", "print_analysis", "print_verdict", "register", "run_analysis"]


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0%}" if abs(x) >= 0.1 or x == 0 else f"{x:.1%}"


def _rate_table(rows: Sequence[Mapping[str, Any]], key: str, title: str, limit: int = 15) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(key.capitalize())
    for col in ("Leads", "Converted", "Rate", "95% interval"):
        table.add_column(col, justify="right")
    has_won = bool(rows) and "win_rate" in rows[0]
    if has_won:
        table.add_column("Win rate", justify="right")
    for r in rows[:limit]:
        cells = [
            str(r[key]),
            f"{r['leads']:,}",
            f"{r['converted']:,}",
            _pct(r["rate"]),
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}",
        ]
        if has_won:
            cells.append(_pct(r["win_rate"]))
        table.add_row(*cells)
    if len(rows) > limit:
        table.caption = f"{len(rows) - limit} more in the report"
    return table


def _spreads(model: Mapping[str, Any]) -> str:
    """'0.45 (industry), 0.10 (size band)': each dimension's spread, or the one spread."""
    sds = model.get("interaction_sds") or {}
    if not sds:
        return f"{model['interaction_sd']:.2f}"
    return ", ".join(f"{sd:.2f} ({d.replace('_', ' ')})" for d, sd in sds.items())


def print_verdict(console: Console, doc: ReportSections) -> None:
    """The verdict panel: supported or not, the projected lift and the 15% question."""
    v = doc.verdict
    ok = v.supports_predictive_routing
    head = (
        "[bold green]Predictive routing is supported by this history[/]"
        if ok
        else "[bold red]This history does not support predictive routing[/]"
    )
    lift = v.projected_lift
    projected = (
        f"{lift.value:+.1%} (95% interval {lift.ci_low:+.1%} to {lift.ci_high:+.1%})"
        if lift.value is not None and lift.ci_low is not None and lift.ci_high is not None
        else "not computable"
    )
    model = doc.recommendations.model
    basis = (
        "\n[dim]From the conversion model (rep, industry, size band, source, rep x segment; "
        f"segment-strength spread in log-odds: {_spreads(model)}) and a "
        "capacity-respecting plan.[/]"
        if model and lift.value is not None  # no basis line under "not computable"
        else ""
    )
    body = (
        f"{head}\n{v.reason}\n\n[bold]Projected lift vs round-robin:[/] {projected}{basis}\n"
        f"[bold]15%+?[/] {v.statement_15pct}"
    )
    console.print(Panel(body, title="Verdict", border_style="green" if ok else "red"))


def print_analysis(console: Console, doc: ReportSections) -> None:
    """Print the key tables, the recommendations, the actions and the verdict."""
    if doc.conversion_by_rep:
        console.print(_rate_table(doc.conversion_by_rep, "rep", "Conversion by rep"))
    if doc.conversion_by_source:
        console.print(_rate_table(doc.conversion_by_source, "source", "Conversion by source"))
    if doc.best_matches:
        matches = Table(title="Best rep x segment matches (FDR 10%)", title_justify="left")
        for col in ("Rep", "Segment", "Leads", "Shrunk rate", "Segment avg", "Lift", "q"):
            matches.add_column(col, justify="left" if col in {"Rep", "Segment"} else "right")
        for m in doc.best_matches[:10]:
            matches.add_row(
                m["rep"],
                m["segment"],
                str(m["leads"]),
                _pct(m["shrunk_rate"]),
                _pct(m["segment_rate"]),
                f"{m['lift']:+.0%}",
                f"{m['q_value']:.3f}",
            )
        console.print(matches)
    elif doc.conversion_by_rep:
        console.print("[dim]No rep beats a segment's average by more than chance.[/]")
    ttc = doc.time_to_contact
    if ttc.get("available"):
        speed = Table(title="Time to first contact", title_justify="left")
        for col in ("Range", "Leads", "Rate", "95% interval"):
            speed.add_column(col, justify="left" if col == "Range" else "right")
        for b in ttc["bins"]:
            speed.add_row(
                b["range"],
                f"{b['leads']:,}",
                _pct(b["rate"]),
                f"{_pct(b['ci_low'])}–{_pct(b['ci_high'])}" if b["leads"] else "–",
            )
        console.print(speed)
    rules = doc.recommendations.rules
    if rules:
        console.print("[bold]Routing rules[/]")
        for i, r in enumerate(rules[:5], start=1):
            console.print(f" {i}. {r['text']}", highlight=False)
    console.print("[bold]Actions[/]")
    for a in doc.actions:
        console.print(f" {a['priority']}. [bold]{a['title']}.[/] {a['detail']}", highlight=False)
    print_verdict(console, doc)


def run_analysis(
    console: Console, frame: pd.DataFrame, reps: pd.DataFrame | None, out_dir: Path
) -> Path:
    """Demo hook: audit ``frame``, write ``analysis.html`` (and ``.json``, ``.md``) into
    ``out_dir``, print the verdict, and return the HTML report's path."""
    from leadpilot.analyze.core import analyze
    from leadpilot.analyze.report_html import write_html
    from leadpilot.analyze.report_md import write_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    with console.status("Auditing the routing history..."):
        analysis = analyze(frame, reps=reps)
    html = write_html(analysis, out_dir / "analysis.html", source_name="synthetic history")
    (out_dir / "analysis.json").write_text(analysis.to_json(), encoding="utf-8")
    write_markdown(analysis, out_dir / "analysis.md")
    print_verdict(console, analysis.sections)
    console.print(f"Routing audit report: [bold]{html}[/]", highlight=False)
    return html


def demo_section(console: Console, workdir: Path) -> Path:
    """Demo step: audit ``workdir/history.csv`` (with ``reps.csv`` when present) through the
    intake, print the verdict and return the HTML report written to ``workdir``."""
    from leadpilot.ingest import read_history, read_reps

    result = read_history(workdir / "history.csv")
    roster_path = workdir / "reps.csv"
    roster = read_reps(roster_path) if roster_path.exists() else None
    return run_analysis(console, result.frame, roster, workdir)


def _narrative(analysis: Analysis, url: str | None, model: str | None) -> dict[str, str] | None:
    from leadpilot.llm_narrative import narrative_requested

    if not narrative_requested(url, model) or url is None or model is None:
        return None
    from leadpilot.analyze.narrative import request_narrative

    return request_narrative(analysis.to_dict(), url=url, model=model)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command."""

    @app.command("analyze")
    def analyze_command(
        data: Path = typer.Argument(..., help="History export (CSV/.xlsx, or the maven folder)."),
        format: str | None = typer.Option(
            None,
            "--format",
            "-f",
            help="Column preset (default: detected from the headers; a wrong name lists them).",
        ),
        reps: Path | None = typer.Option(
            None, "--reps", help="Rep roster (reps.csv): capacities from max_leads_per_day."
        ),
        out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML report path."),
        as_json: bool = json_switch("the audit"),
        json_out: Path | None = json_out_option("the audit"),
        markdown: Path | None = typer.Option(
            None, "--markdown", help="Also write a Markdown report here."
        ),
        min_leads: int = typer.Option(
            20,
            "--min-leads",
            min=1,
            help="Smallest rep x segment cell tested or used in rules (rarer segment "
            "values are pooled).",
        ),
        target: str = typer.Option(
            "converted", "--target", help=f"Outcome to audit: {' or '.join(TARGETS)}."
        ),
        on_error: str = typer.Option(
            "raise", "--on-error", help="raise: stop at unreadable values. skip: leave them out."
        ),
        seed: int = typer.Option(
            0, "--seed", min=0, help="Seed of the bootstrap (same seed, same numbers)."
        ),
        llm_url: str | None = llm_url_option(),
        llm_model: str | None = LLM_MODEL_OPTION,
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the verdict."),
    ) -> None:
        """Audit a routing history: conversion by rep and source, who wins which segments,
        speed-to-lead, capacity-respecting routing rules with projected lift, and a verdict.

        Example:  leadpilot analyze history.csv --reps reps.csv --out report.html
                  --json-out audit.json
        """
        from leadpilot.analyze.core import analyze
        from leadpilot.analyze.report_html import write_html
        from leadpilot.analyze.report_md import write_markdown
        from leadpilot.ingest import read_history, read_reps

        if target not in TARGETS:
            raise ConfigError(
                f"unknown --target {target!r}", hint=f"use one of: {', '.join(TARGETS)}"
            )
        to_stdout = as_json
        for option, path in (("--out", out), ("--json-out", json_out), ("--markdown", markdown)):
            if path is not None:
                prepare_output_file(path, option=option)
        # with --json the JSON owns stdout; tables and progress go to stderr
        console = Console(stderr=True) if to_stdout else default_console
        with console.status("Reading the history..."):
            result = read_history(data, format=format, on_error=on_error)  # type: ignore[arg-type]
            roster = read_reps(reps) if reps is not None else None
        with console.status("Auditing the routing history..."):
            analysis = analyze(
                result.frame,
                reps=roster,
                target=target,
                min_leads=min_leads,
                seed=seed,
                ingest=result,
            )
        narrative = _narrative(analysis, llm_url, llm_model)
        if narrative is not None:
            from leadpilot.llm_narrative import narrative_section

            analysis.sections.narrative = narrative_section(narrative)
        doc = analysis.sections
        if quiet:
            print_verdict(console, doc)
        else:
            print_analysis(console, doc)
        write_html(analysis, out, source_name=data.name, narrative=narrative)
        written = [str(out)]
        if to_stdout:
            typer.echo(analysis.to_json())
        if json_out is not None:
            json_out.write_text(analysis.to_json(), encoding="utf-8")
            written.append(str(json_out))
        if markdown is not None:
            write_markdown(analysis, markdown, narrative=narrative)
            written.append(str(markdown))
        console.print(f"Written: {', '.join(written)}", highlight=False)
