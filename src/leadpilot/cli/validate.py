"""``leadpilot validate``: read a history export and print its data-quality summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from leadpilot.cli._common import console as default_console
from leadpilot.cli._common import json_switch
from leadpilot.errors import ConfigError

# pandas loads inside the commands: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    from leadpilot.ingest.history import IngestResult
    from leadpilot.ingest.quality import QualityReport

__all__ = ["demo_section", "print_quality", "register", "validate_file"]

_VERDICT_STYLE = {"ready": "green", "usable": "yellow", "not enough": "red"}


def _fmt_date(report: QualityReport) -> str:
    if report.date_from is None or report.date_to is None:
        return "[dim]no dates (file order stands for time)[/]"
    return f"{report.date_from:%Y-%m-%d} to {report.date_to:%Y-%m-%d}"


def print_quality(
    console: Console,
    report: QualityReport,
    *,
    result: IngestResult | None = None,
    max_reps: int = 15,
) -> None:
    """Print the data-quality summary and the verdict as Rich tables (the demo calls this)."""
    summary = Table(title="Data quality", show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    if report.format:
        summary.add_row("Format", report.format)
    read = f"{report.n_read:,} read, " if report.n_read is not None else ""
    rejected = f", [red]{report.n_rejected:,} rejected[/]" if report.n_rejected else ""
    summary.add_row("Rows", f"{read}{report.rows:,} kept{rejected}")
    summary.add_row("Date range", _fmt_date(report))
    if report.months_of_history is not None:
        summary.add_row("Months of history", f"{report.months_of_history:.1f}")
    if report.outcome is not None:
        summary.add_row(f"Outcome rate ({report.outcome_column})", str(report.outcome))
    else:
        summary.add_row("Outcome rate", "[red]no outcome column[/]")
    # Only a file that records deal outcomes gets a won line (never made up from nothing);
    # a win rate is won / opportunities, and won / leads is labelled as such.
    if report.won is not None and report.won != report.outcome:
        summary.add_row("Won / leads (closed_won)", str(report.won))
    if report.win_rate is not None:
        summary.add_row("Win rate (won / opportunities)", str(report.win_rate))
    if report.outcome_coverage is not None:
        summary.add_row("Outcome known (settled leads)", f"{report.outcome_coverage:.1%}")
    dup_style = "red" if report.duplicate_lead_ids else "green"
    summary.add_row("Duplicate lead ids", f"[{dup_style}]{report.duplicate_lead_ids:,}[/]")
    if report.median_time_to_contact_hours is not None:
        summary.add_row("Median time to contact", f"{report.median_time_to_contact_hours:.1f} h")
    summary.add_row("Reps", f"{len(report.reps):,}")
    console.print(summary)

    if result is not None and result.mapping:
        renamed = {t: h for t, h in result.mapping.items() if h != t}
        if renamed:
            mapping = Table(title="Columns used", title_justify="left")
            mapping.add_column("source column")
            mapping.add_column("canonical")
            for target, header in renamed.items():
                mapping.add_row(header, target)
            console.print(mapping)
        same = len(result.mapping) - len(renamed)
        if same:
            console.print(f"[dim]{same} column(s) already have canonical names.[/]")
        if result.unmapped:
            shown = ", ".join(result.unmapped[:12]) + (", ..." if len(result.unmapped) > 12 else "")
            console.print(
                f"[dim]Not used ({len(result.unmapped)}; kept as x_ columns with "
                f"keep_extra=True): {shown}[/]",
                highlight=False,
            )

    missing = Table(title="Missing values", title_justify="left")
    missing.add_column("column")
    missing.add_column("missing", justify="right")
    missing.add_column("share", justify="right")
    absent = []
    for column, count in report.missing.items():
        if report.rows and count == report.rows:
            absent.append(column)
        elif count:
            missing.add_row(column, f"{count:,}", f"{count / report.rows:.1%}")
    if missing.row_count:
        console.print(missing)
    if absent:
        console.print(f"[dim]Not in this file: {', '.join(absent)}[/]")

    if report.reps:
        reps = Table(title="Reps and their leads", title_justify="left")
        reps.add_column("rep")
        reps.add_column("leads", justify="right")
        reps.add_column("known outcomes", justify="right")
        reps.add_column("conversion (95% CI)", justify="right")
        for rep in report.reps[:max_reps]:
            rate = (
                f"{rep.rate.rate:.1%} ({rep.rate.low:.1%}-{rep.rate.high:.1%})" if rep.rate else "-"
            )
            reps.add_row(rep.rep_id, f"{rep.leads:,}", f"{rep.outcomes:,}", rate)
        if len(report.reps) > max_reps:
            reps.caption = f"... and {len(report.reps) - max_reps} more reps"
        console.print(reps)

    for warning in report.warnings:
        console.print(f"[yellow]![/] {warning}", highlight=False)
    style = _VERDICT_STYLE.get(report.verdict, "white")
    body = "\n".join(f"- {reason}" for reason in report.reasons)
    console.print(
        Panel(
            body,
            title=f"Enough history to learn routing from? [bold]{report.verdict}[/]",
            border_style=style,
            title_align="left",
        )
    )


_MESSY_EXPORT = (
    "Lead_ID;Lead_Source;Industry;Company_Size;Assigned_Rep;Time_to_Contact_Hours;"
    "Converted_to_Opp;Closed_Won\r\n"
    "L-1001;Webinar;Logiciel;51-200;Zoé;1,5;Oui;Non\r\n"
    "L-1002;Salon;Santé;1000+;José;26;No;No\r\n"
    "L-1003;Referral;SaaS;10,001+;Zoé;0,25;Yes;Yes\r\n"
    "L-1002;Salon;Santé;1000+;José;26;No;No\r\n"
    'L-1004;=HYPERLINK("http://x");Fintech;1 to 10;Ana;-3;No;No\r\n'
    "L-1005;Web;Retail;11-50;Ana;4;Maybe;No\r\n"
)


def demo_section(console: Console, workdir: Path) -> IngestResult:
    """Demo step "bad input loses nothing": a messy export (semicolons, Windows-1252,
    decimal commas, French Oui/Non, a duplicate id, a negative delay, a "Maybe", a formula)
    read with ``on_error="skip"``; prints what was rejected and where the rows went."""
    from leadpilot.ingest.history import read_history

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "messy_export.csv"
    path.write_bytes(_MESSY_EXPORT.encode("cp1252"))
    result = read_history(path, on_error="skip")
    console.print(
        f"Read {path.name} ([bold]{result.format}[/], {result.n_read} rows, "
        f"semicolon-separated, Windows-1252): {len(result.frame)} kept, "
        f"{result.n_rejected_rows} rejected.",
        highlight=False,
    )
    table = Table(title="Rejected values", title_justify="left")
    for name in ("row", "column", "value", "reason"):
        table.add_column(name)
    for reject in result.rejects:
        table.add_row(str(reject.row), reject.column, reject.value, reject.reason)
    console.print(table)
    console.print(
        f"Every rejected row is in {result.rejects_path}, unchanged, with a reject_reason "
        "column: fix it there and read it again.",
        highlight=False,
    )
    return result


def validate_file(
    path: Path,
    *,
    format: str | None = None,
    on_error: str = "raise",
    rejects_path: Path | None = None,
    dayfirst: bool | None = None,
    timezone: str = "UTC",
    console: Console | None = None,
) -> tuple[IngestResult, QualityReport]:
    """Read ``path`` (with a spinner on a terminal) and compute its quality report."""
    from leadpilot.ingest.history import read_history
    from leadpilot.ingest.quality import quality_report

    if on_error not in ("raise", "skip"):
        raise ConfigError(
            f"--on-error must be raise or skip, not {on_error!r}",
            hint="use --on-error skip to import the readable rows and write a rejects file",
        )
    out = console or default_console
    with out.status(f"Reading {path.name}...", spinner="dots"):
        result = read_history(
            path,
            format=format,
            on_error=on_error,  # type: ignore[arg-type]
            rejects_path=rejects_path,
            dayfirst=dayfirst,
            timezone=timezone,
        )
        report = quality_report(result.frame, ingest=result)
    return result, report


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command."""

    @app.command("validate")
    def validate(
        file: Path = typer.Argument(
            ..., help="CSV or .xlsx export (or the maven-crm / olist folder)."
        ),
        format: str | None = typer.Option(
            None,
            "--format",
            "-f",
            help="Column preset (default: detected from the headers; a wrong name lists them).",
        ),
        on_error: str = typer.Option(
            "raise",
            "--on-error",
            help="raise: stop at unreadable values. skip: import the rest, write a rejects file.",
        ),
        rejects: Path | None = typer.Option(
            None, "--rejects", help="Where to write rejected rows (default: <name>.rejects.csv)."
        ),
        dayfirst: bool | None = typer.Option(
            None,
            "--dayfirst/--monthfirst",
            help="Order of numeric dates like 03/04/2024 (default: decided from the data).",
        ),
        timezone: str = typer.Option(
            "UTC", "--timezone", help="IANA zone of times written without one (e.g. Europe/Paris)."
        ),
        as_json: bool = json_switch("the report"),
    ) -> None:
        """Check a history export and say whether it is enough to learn routing from.

        Example:  leadpilot validate leads.csv --on-error skip
        """
        result, report = validate_file(
            file,
            format=format,
            on_error=on_error,
            rejects_path=rejects,
            dayfirst=dayfirst,
            timezone=timezone,
            console=Console(stderr=True) if as_json else None,
        )
        if as_json:
            data = report.to_dict()
            data["mapping"] = result.mapping
            data["unmapped"] = list(result.unmapped)
            data["rejects_path"] = str(result.rejects_path) if result.rejects_path else None
            data["rejects"] = [
                {"row": r.row, "column": r.column, "value": r.value, "reason": r.reason}
                for r in result.rejects[:100]
            ]
            typer.echo(json.dumps(data, indent=2, default=str))
            return
        print_quality(default_console, report, result=result)
        if result.rejects_path is not None:
            default_console.print(
                f"[yellow]{result.n_rejected_rows:,} row(s) rejected[/], written unchanged with "
                f"a reject_reason column to {result.rejects_path}",
                highlight=False,
            )
