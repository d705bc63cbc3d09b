"""``leadpilot demo``: the guided tour a newcomer takes, one step per capability."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.panel import Panel

from leadpilot.cli._common import console

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "run_tour"]


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(
        Path("leadpilot-demo"), "--dir", help="Folder the tour writes its files into."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic world."),
    kind: str = typer.Option(
        "additive",
        "--kind",
        help="Kind of synthetic world, as in `leadpilot synth --kind`: additive, "
        "interactions, drift or thin.",
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Tour your own export instead (CSV/XLSX file, or the maven-crm folder): "
        "data quality and conversion by rep.",
    ),
    format: str | None = typer.Option(
        None, "--format", help="Preset of --data (auto-detected when omitted)."
    ),
    crm_stub: bool = typer.Option(
        False,
        "--crm-stub",
        help="Instead of the tour: the HubSpot / Salesforce round trip (webhook in, route, "
        "owner written back, rep notified, Accept) against a local stub of the CRMs.",
    ),
    serve: bool | None = typer.Option(
        None,
        "--serve/--no-serve",
        help="End by serving the dashboard until Ctrl-C (default: only when run from a "
        "terminal, so scripts and CI never block).",
    ),
) -> None:
    """Take the tour: build a synthetic CRM world with known truth, then run every
    capability of leadpilot on it, step by step, explaining what each shows.

    Example:  leadpilot demo            (writes ./leadpilot-demo/)
    Example:  leadpilot demo --data ../shared/data/maven-crm-sales-opportunities
    Example:  leadpilot demo --crm-stub    (the CRM round trip, against a local stub)
    Example:  leadpilot demo --kind interactions   (reps differ in ways that are not additive)
    """
    from leadpilot.synth.kinds import check_kind

    check_kind(kind)  # an unknown kind fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    if crm_stub:
        from leadpilot.cli.crm_demo import run_crm_demo

        run_crm_demo(console, out)
        return
    if data is not None:
        tour_own_data(console, data, format, out)
        return
    keep_serving = serve if serve is not None else sys.stdin.isatty()
    run_tour(console, out, seed=seed, keep_serving=keep_serving, kind=kind)


def tour_own_data(out: Console, data: Path, format: str | None, workdir: Path) -> None:
    """The tour on a user's export: intake, the quality summary, then the routing audit."""
    from leadpilot.cli import analyze as analyze_cli
    from leadpilot.cli.validate import print_quality
    from leadpilot.ingest import quality_report, read_history, read_reps

    _step(out, 1, "Read your export", "Every intake preset maps onto the canonical columns.")
    result = read_history(data, format=format)
    out.print(f"Read {data} as [bold]{result.format}[/] ({len(result.frame):,} rows).")
    _step(out, 2, "Data quality and conversion by rep", "Is there enough history to learn from?")
    print_quality(out, quality_report(result.frame, ingest=result), result=result)
    if result.frame["converted"].notna().any() or result.frame["closed_won"].notna().any():
        _step(out, 3, "The routing audit", "Would predictive routing pay off on this history?")
        reps = read_reps(data, format=result.format) if result.format == "maven-crm" else None
        analyze_cli.run_analysis(out, result.frame, reps, workdir)


def run_tour(
    out: Console,
    workdir: Path,
    *,
    seed: int = 0,
    keep_serving: bool = False,
    kind: str = "additive",
) -> None:
    """Run every step of the tour on a synthetic world of ``kind`` written to ``workdir``;
    ``keep_serving`` leaves the last step's service up (the dashboard) until Ctrl-C."""
    from leadpilot.cli import analyze as analyze_cli
    from leadpilot.cli import dedupe as dedupe_cli
    from leadpilot.cli import report_demo
    from leadpilot.cli import route as route_cli
    from leadpilot.cli import serve as serve_cli
    from leadpilot.cli import simulate as simulate_cli
    from leadpilot.cli import synth as synth_cli
    from leadpilot.cli import train as train_cli
    from leadpilot.cli import validate as validate_cli
    from leadpilot.cli._objectives_demo import demo_section as objectives_section
    from leadpilot.cli.validate import print_quality
    from leadpilot.ingest import quality_report, read_history

    started = time.perf_counter()
    steps: list[tuple[str, str, Callable[[], object]]] = []
    world_box: dict[str, object] = {}
    model_box: dict[str, Any] = {}

    def make_world() -> None:
        world_box["world"] = synth_cli.demo_section(out, workdir, seed=seed, kind=kind)

    def load_and_check() -> None:
        result = read_history(workdir / "history.csv")
        out.print(
            f"Read history.csv through the intake: format [bold]{result.format}[/], "
            f"{len(result.frame):,} rows."
        )
        print_quality(out, quality_report(result.frame, ingest=result), result=result)

    steps.append(
        (
            "A synthetic CRM world with known ground truth",
            "Reps differ in skill and, more, in which industries and company sizes they win"
            + (
                ""
                if kind == "additive"
                else f" (a world of kind {kind}: also rep-specific curves and combinations of "
                "attributes, see `leadpilot synth --help`)"
            )
            + "; because the true conversion probabilities are known, every later number can be "
            "checked against the truth.",
            make_world,
        )
    )
    steps.append(
        (
            "Intake and data quality",
            "The same checks run on any CRM export (`leadpilot validate FILE`).",
            load_and_check,
        )
    )
    steps.append(
        (
            "Bad input loses nothing",
            "A messy export (semicolons, Windows-1252, broken values): readable rows are kept, "
            "every rejected row goes unchanged to a rejects file with its reason.",
            lambda: validate_cli.demo_section(out, workdir),
        )
    )
    steps.append(
        (
            "Duplicate leads at intake",
            "Exact keys, then probabilistic record linkage; every merge is explained "
            "(`leadpilot dedupe FILE`).",
            lambda: dedupe_cli.demo_section(out, workdir),
        )
    )
    steps.append(
        (
            "The routing audit",
            "Who converts what, does speed to lead matter, and would predictive routing pay "
            "off here? Honest intervals, shrinkage, and a verdict (`leadpilot analyze FILE`).",
            lambda: analyze_cli.demo_section(out, workdir),
        )
    )

    def train() -> None:
        model_box["model"] = train_cli.demo_section(out, workdir, world=world_box["world"])
        model_box["model_dir"] = workdir / "model"

    steps.append(
        (
            "Learning who converts what",
            "A calibrated model of P(convert | lead, rep), evaluated on the latest 20% of the "
            "history (a temporal split) against simpler baselines (`leadpilot train`).",
            train,
        )
    )
    steps.append(
        (
            "Routing the new leads: round-robin vs predictive",
            "Each new lead is routed in arrival order under daily caps and the fairness band, "
            "by the trained model; the ground truth scores every policy (`leadpilot "
            "route-batch`).",
            lambda: route_cli.demo_section(
                out, workdir, world_box["world"], scorer=model_box.get("model")
            ),
        )
    )
    steps.append(
        (
            "Proving it on history: off-policy estimates",
            "Before going live, replay past leads through each policy and estimate what it "
            "would have converted, five ways, with intervals and an overlap check; here the "
            "truth is known, so every estimate can be judged (`leadpilot simulate`).",
            lambda: simulate_cli.demo_section(out, workdir, world_box["world"]),
        )
    )

    def lifecycle() -> None:
        from leadpilot.cli._lifecycle_demo import demo_section

        demo_section(out, workdir, world_box["world"], workdir / "model")

    steps.append(
        (
            "Keeping the model fresh: retrain, champion vs challenger, the weekly review",
            "Outcomes of a simulated week arrive; `leadpilot retrain` trains a challenger on "
            "them and promotes it only if it is not worse than the champion on leads neither "
            "saw; `leadpilot report weekly` reviews the week.",
            lifecycle,
        )
    )
    steps.append(
        (
            "Proving it live: the shadow report and the holdout lift",
            "In shadow mode the router only recommends; live, a randomized holdout (per lead, "
            "or switchback blocks of time) measures the lift with an interval (`leadpilot "
            "report shadow`, `leadpilot report lift`).",
            lambda: report_demo.demo_section(out, workdir),
        )
    )
    steps.append(
        (
            "Conversions or pipeline value?",
            "The policy's objective says what the router maximises: expected conversions, or "
            "expected pipeline value (P(convert) x the deal size learnt from history). Here "
            "deal size depends on the rep and the segment, and the truth scores both.",
            lambda: objectives_section(out, workdir, seed=seed),
        )
    )
    steps.append(
        (
            "The live service: SLA timers and reassignment",
            "`leadpilot serve` on SQLite: leads arrive over HTTP, reps touch most of them, "
            "and the hot leads nobody touched within the SLA move to someone who will.",
            lambda: serve_cli.demo_service(
                out, workdir, model_box.get("model_dir"), keep_serving=keep_serving
            ),
        )
    )
    for number, (title, why, action) in enumerate(steps, start=1):
        _step(out, number, title, why)
        action()
    out.print(
        Panel(
            f"Tour finished in {time.perf_counter() - started:.0f} s. Files are in {workdir}/.\n"
            "Next: run any command with --help, e.g. `leadpilot validate --help`.",
            title="Done",
            border_style="green",
        )
    )


def _step(out: Console, number: int, title: str, why: str) -> None:
    out.print()
    out.rule(f"[bold]Step {number}. {title}")
    out.print(f"[dim]{why}[/]")
