"""``leadpilot dedupe``: duplicate lead clusters, every merge explained, and the duplicate rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from leadpilot.cli._common import console, json_switch
from leadpilot.errors import ConfigError
from leadpilot.outputs import prepare_output_file

# pandas, recordlinkage and rapidfuzz load inside the command: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from leadpilot.ingest.dedupe import DedupeResult

__all__ = [
    "DUPLICATE_RATE_TARGET",
    "clusters_frame",
    "demo_section",
    "kpi_verdict",
    "links_summary",
    "register",
    "render_links",
    "render_report",
    "report_dict",
]

# The seeds' KPI table: "Duplicate rate: duplicate leads / total <= 2-3%, fix intake sources".
DUPLICATE_RATE_TARGET = 0.03

# One string per paragraph: Typer's rich help keeps single newlines as line breaks.
_HELP = (
    "Find duplicate leads: the same email or CRM id, then fuzzy identity matches.\n\n"
    "Exact keys first (email, case and spaces ignored; external id), then probabilistic "
    "record linkage on the email's mailbox, person name, phone and company (Fellegi-Sunter; "
    "weights learnt from the file when it is large enough). Two colleagues at one company "
    "are never merged. Reports the duplicate rate against the 2-3% target.\n\n"
    "With --accounts, each lead is also linked to its account (company domain, then exact "
    "or fuzzy company name), as ownership holds do."
)
_EPILOG = (
    "Examples:\n\n"
    "  leadpilot dedupe history.csv\n\n"
    "  leadpilot dedupe export.csv --format salesforce --threshold 0.9 --out clusters.csv\n\n"
    "  leadpilot dedupe history.csv --json > duplicates.json\n\n"
    "  leadpilot dedupe new_leads.csv --accounts accounts.csv --links-out links.csv\n\n"
    "  leadpilot dedupe new_leads.csv --against history.csv --out repeats.csv"
)


def register(app: typer.Typer) -> None:
    """Add the ``dedupe`` command to the CLI."""
    app.command("dedupe", help=_HELP, epilog=_EPILOG)(dedupe_command)


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
    accounts: Path | None = typer.Option(
        None,
        "--accounts",
        "-a",
        help="Also link each lead to a known account (by domain, then company name).",
    ),
    links_out: Path | None = typer.Option(
        None, "--links-out", help="With --accounts: write every lead's account link to this CSV."
    ),
    against: Path | None = typer.Option(
        None,
        "--against",
        help="Leads seen before (e.g. history.csv): list the leads of FILE that repeat one "
        "of them or an earlier lead of FILE, as intake would (no second routing).",
    ),
    as_json: bool = json_switch("the report"),
    show: int = typer.Option(20, "--show", min=0, help="Clusters to list in the table."),
) -> None:
    """Run ``leadpilot dedupe`` (help text in ``_HELP``)."""
    from leadpilot.csv_safe import write_safe_csv
    from leadpilot.ingest import accounts_from_frame, read_accounts
    from leadpilot.ingest.dedupe import find_duplicates
    from leadpilot.ingest.matching import link_accounts

    if links_out is not None and accounts is None:
        raise ConfigError("--links-out needs --accounts", hint="add --accounts accounts.csv")
    for option, path in (("--out", out), ("--links-out", links_out)):
        if path is not None:
            prepare_output_file(path, option=option)
    frame = _read_leads(file, format)
    links = (
        link_accounts(frame, accounts_from_frame(read_accounts(accounts)))
        if accounts is not None
        else None
    )
    if links_out is not None and links is not None:
        write_safe_csv(links, links_out)
    if against is not None:
        _repeats_command(frame, _read_leads(against, None), file, against, threshold, out,
                         links=links, as_json=as_json, show=show)  # fmt: skip
        return
    result = find_duplicates(frame, threshold=threshold)
    if out is not None:
        write_safe_csv(clusters_frame(result), out)
    if as_json:
        report = report_dict(result)
        if links is not None:
            report["account_links"] = links_summary(links)
        typer.echo(json.dumps(report, indent=2))
        return
    render_report(console, result, show=show, title=f"Duplicates in {file.name}")
    if out is not None:
        console.print(f"Wrote {result.n_records - _singletons(result)} clustered records to {out}")
    _print_links(links, links_out)


def _print_links(links: pd.DataFrame | None, links_out: Path | None) -> None:
    if links is not None:
        render_links(console, links)
        if links_out is not None:
            console.print(f"Wrote {len(links):,} account links to {links_out}")


def _repeats_command(
    incoming: pd.DataFrame,
    known: pd.DataFrame,
    file: Path,
    against: Path,
    threshold: float,
    out: Path | None,
    *,
    links: pd.DataFrame | None,
    as_json: bool,
    show: int,
) -> None:
    from leadpilot.csv_safe import write_safe_csv
    from leadpilot.ingest.dedupe import find_repeats

    repeats = find_repeats(known, incoming, threshold=threshold)
    if out is not None:
        write_safe_csv(repeats, out)
    n, k = len(incoming), len(repeats)
    low, high = _wilson(k, n)
    if as_json:
        report = {
            "incoming": n,
            "repeats": k,
            "repeat_rate": k / n if n else 0.0,
            "repeat_rate_ci95": [low, high],
            "kpi_target": DUPLICATE_RATE_TARGET,
            "kpi_verdict": _verdict(low, high),
            "rows": repeats.to_dict(orient="records"),
        }
        if links is not None:
            report["account_links"] = links_summary(links)
        typer.echo(json.dumps(report, indent=2))
        return
    console.print(
        f"[bold]{k:,}[/] of [bold]{n:,}[/] leads in {file.name} repeat a lead of "
        f"{against.name} or an earlier one: rate [bold]{_pct(k / n if n else 0.0)}[/] "
        f"(95% interval {_pct(low)}-{_pct(high)}); {_verdict(low, high)}."
    )
    if k and show:
        table = Table(title="Repeat submissions (intake returns the first lead's decision)")
        for column in ("lead", "first lead", "why"):
            table.add_column(column)
        for row in repeats.head(show).itertuples(index=False):
            why = f"{row.method} {row.score:.1f} - {row.explanation}"
            table.add_row(Text(str(row.lead_id)), Text(str(row.first_lead_id)), Text(why))
        console.print(table)
    if out is not None:
        console.print(f"Wrote {k:,} repeats to {out}")
    _print_links(links, None)


def _wilson(k: int, n: int) -> tuple[float, float]:
    from leadpilot.ingest.quality import wilson_interval

    estimate = wilson_interval(k, n)
    return (estimate.low, estimate.high) if estimate is not None else (0.0, 1.0)


def links_summary(links: pd.DataFrame) -> dict[str, int]:
    """Leads per link method (``domain``, ``company_exact``, ``company_fuzzy``, ``none``)."""
    counts = links["method"].fillna("none").value_counts()
    return {m: int(counts.get(m, 0)) for m in ("domain", "company_exact", "company_fuzzy", "none")}


def render_links(out: Console, links: pd.DataFrame, *, examples: int = 3) -> None:
    """Print how many leads link to a known account, by method, with example reasons."""
    summary = links_summary(links)
    n = max(1, len(links))
    table = Table(title="Lead-to-account links")
    table.add_column("method")
    table.add_column("leads", justify="right")
    table.add_column("share", justify="right")
    table.add_column("example")
    for method, count in summary.items():
        sample = links.loc[links["method"] == method, "explanation"].head(examples).tolist()
        table.add_row(method, f"{count:,}", f"{count / n:.1%}", Text("\n".join(sample)))
    out.print(table)


def _read_leads(file: Path, format: str | None) -> pd.DataFrame:
    # keep_extra: name / phone columns of the export (x_first_name, x_phone...) help linkage
    from leadpilot.ingest import read_history

    return read_history(file, format=format, keep_extra=True).frame


def _singletons(result: DedupeResult) -> int:
    return result.n_records - sum(len(c) for c in result.clusters)


def kpi_verdict(result: DedupeResult, target: float = DUPLICATE_RATE_TARGET) -> str:
    """Say whether the duplicate rate meets the target, using its 95% interval."""
    return _verdict(*result.duplicate_rate_interval(), target=target)


def _verdict(low: float, high: float, target: float = DUPLICATE_RATE_TARGET) -> str:
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
        "notes": list(result.notes),
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
    import pandas as pd

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
        f"[bold]{result.n_records:,}[/] {_plural(result.n_records, 'record')}, "
        f"[bold]{len(result.clusters):,}[/] duplicate {_plural(len(result.clusters), 'cluster')}, "
        f"[bold]{result.n_duplicates:,}[/] {_plural(result.n_duplicates, 'duplicate')}: "
        "duplicate rate "
        f"[bold]{_pct(result.duplicate_rate)}[/] (95% interval {_pct(low)}-{_pct(high)})"
    )
    verdict = kpi_verdict(result)
    colour = "green" if verdict.startswith("within") else "red" if "above" in verdict else "yellow"
    out.print(f"KPI (duplicate leads / total <= 2-3%): [{colour}]{verdict}[/]")
    if result.model is not None:
        how = "learnt from this file (EM)" if result.model.estimator == "em" else "fixed defaults"
        out.print(f"[dim]Probabilistic match weights: {how}.[/]")
    for note in result.notes:
        out.print(Text(f"Note: {note}.", style="yellow"))
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


def _pct(x: float) -> str:
    """A rate as a percentage, with two decimals below 1% so small bounds do not read 0.0%."""
    return f"{x:.2%}" if 0 < x < 0.01 else f"{x:.1%}"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def demo_section(out: Console, workdir: Path) -> None:
    """For ``leadpilot demo``: dedupe the synthetic ``history.csv`` in ``workdir``, find the
    new leads that repeat a known one, and link ``new_leads.csv`` to ``accounts.csv``; each
    step runs only if its files exist, and is checked against ``truth.json`` when present."""
    from leadpilot.ingest import accounts_from_frame, read_accounts
    from leadpilot.ingest.dedupe import find_duplicates, find_repeats
    from leadpilot.ingest.matching import link_accounts
    from leadpilot.synth import load_truth

    out.rule("Duplicate leads at intake")
    history, new_leads = workdir / "history.csv", workdir / "new_leads.csv"
    accounts, truth_path = workdir / "accounts.csv", workdir / "truth.json"
    truth = load_truth(truth_path).duplicates if truth_path.exists() else None
    if not history.exists():
        return
    frame = _read_leads(history, None)
    result = find_duplicates(frame)
    render_report(out, result, show=3, title=f"Duplicates in {history.name}")
    if truth is not None:
        known = set(truth) & set(frame["lead_id"])
        found = {rid for ids in result.clusters for rid in ids[1:]}
        out.print(
            f"Ground truth of the synthetic world: {len(known):,} repeat submissions; "
            f"found {len(found & known):,} of them, plus {len(found - known):,} others."
        )
    if not new_leads.exists():
        return
    incoming = _read_leads(new_leads, None)
    repeats = find_repeats(frame, incoming)
    line = (
        f"New leads that repeat a known lead (intake would not route them again): "
        f"{len(repeats):,} of {len(incoming):,}"
    )
    if truth is not None:
        expected = set(truth) & set(incoming["lead_id"])
        line += f"; ground truth {len(expected):,}, found {len(expected & set(repeats.lead_id)):,}"
    out.print(line + ".")
    if accounts.exists():
        links = link_accounts(incoming, accounts_from_frame(read_accounts(accounts)))
        render_links(out, links, examples=1)
