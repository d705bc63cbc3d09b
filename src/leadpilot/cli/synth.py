"""``leadpilot synth``: write a synthetic world with known ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from leadpilot.cli._common import console, json_switch

if TYPE_CHECKING:
    from rich.console import Console

    from leadpilot.synth import World
    from leadpilot.synth.yardsticks import Yardsticks

__all__ = ["demo_section", "print_world_summary", "print_yardsticks", "register"]


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command."""
    app.command("synth")(synth)


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the world into."),
    leads: int | None = typer.Option(
        None,
        "--leads",
        min=100,
        help="History rows (past leads); default 20,000 (12,000 for --kind thin).",
    ),
    reps: int = typer.Option(20, "--reps", min=2, help="Sales reps on the roster."),
    new_leads: int = typer.Option(
        2_000, "--new-leads", min=1, help="New leads to route (over 20 business days)."
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Random seed; the same seed gives the same files."
    ),
    months: int = typer.Option(
        18, "--months", min=1, max=120, help="Months of history (from 2025-01-06)."
    ),
    kind: str = typer.Option(
        "additive",
        "--kind",
        help="Rep structure of the truth: additive (rep x industry and size cells), "
        "interactions (rep-specific curves and combinations of attributes), drift (as "
        "interactions, skills change mid-history), thin (as interactions, 12,000 leads).",
    ),
    as_json: bool = json_switch("a summary"),
) -> None:
    """Write a synthetic CRM world whose true conversion model is known.

    Writes history.csv, reps.csv, accounts.csv, new_leads.csv and truth.json.

    Then shows the true expected conversions of the new leads under round-robin,
    greedy argmax and the best capacity-feasible assignment.

    Example:  leadpilot synth --out world/ --leads 20000 --reps 20 --seed 7
              leadpilot synth --out world/ --kind interactions --seed 7
    """
    from leadpilot.synth import generate_world, write_world
    from leadpilot.synth.yardsticks import world_yardsticks

    started = time.perf_counter()
    with console.status("Generating the world...", spinner="dots"):
        world = generate_world(
            n_leads=leads,
            n_reps=reps,
            n_new_leads=new_leads,
            seed=seed,
            months=months,
            kind=kind,
        )
    generated = time.perf_counter() - started
    with console.status("Writing the files...", spinner="dots"):
        paths = write_world(world, out)
    with console.status("Solving the offline assignments...", spinner="dots"):
        yard = world_yardsticks(world)
    if as_json:
        typer.echo(json.dumps(_summary_json(world, yard, paths, generated), indent=2))
        return
    console.print(f"Generated in {generated:.1f} s (seed {seed}). Wrote:")
    for path in paths:
        console.print(f"  {path}  ({path.stat().st_size / 1e6:.1f} MB)")
    print_world_summary(console, world)
    print_yardsticks(console, yard)


def print_world_summary(console: Console, world: World) -> None:
    """A table of what the world holds: sizes, date range, outcome rates, duplicates."""
    h = world.history
    conv = h["converted"]
    table = Table(title="Synthetic world", show_header=False)
    table.add_column("What")
    table.add_column("Value", justify="right")
    table.add_row("Kind of world", world.truth.kind)
    if world.truth.rep_effects:
        table.add_row("Non-additive rep effects (truth)", f"{len(world.truth.rep_effects)}")
    table.add_row("History leads", f"{len(h):,}")
    table.add_row(
        "History period",
        f"{h['created_at'].min():%Y-%m-%d} to {h['created_at'].max():%Y-%m-%d}",
    )
    table.add_row("Conversion rate (known outcomes)", f"{conv.mean():.1%}")
    table.add_row("Closed-won rate (known outcomes)", f"{h['closed_won'].mean():.1%}")
    table.add_row("Outcomes still open", f"{conv.isna().sum():,}")
    table.add_row("Duplicate submissions (truth)", f"{len(world.truth.duplicates):,}")
    active = world.reps["active"].astype(bool)
    table.add_row("Reps (active)", f"{len(world.reps)} ({int(active.sum())})")
    table.add_row("Accounts (strategic)", f"{len(world.accounts)} "
                  f"({int((world.accounts['tier'] == 'strategic').sum())})")  # fmt: skip
    n_days = len(set(world.new_lead_days().tolist()))
    cap = int(world.daily_capacity().sum())
    table.add_row("New leads", f"{len(world.new_leads):,} over {n_days} business days")
    table.add_row("Daily capacity / daily volume", f"{cap * n_days / len(world.new_leads):.2f}")
    console.print(table)


def print_yardsticks(console: Console, yard: Yardsticks) -> None:
    """The true expected conversions of round-robin, greedy argmax and the optimum."""
    from leadpilot.synth.yardsticks import FAIRNESS_BAND

    table = Table(title=f"True expected conversions on the {yard.n_leads:,} new leads")
    table.add_column("Assignment")
    table.add_column("Expected conversions", justify="right")
    table.add_column("vs round-robin", justify="right")
    table.add_row("Round-robin (strict rotation)", f"{yard.round_robin:,.1f}", "-")
    table.add_row("Greedy argmax under caps", f"{yard.greedy:,.1f}", f"{yard.greedy_lift:+.1%}")
    if yard.fair_optimal is not None and yard.fair_optimal_lift is not None:
        low, high = FAIRNESS_BAND
        table.add_row(
            f"Best with fairness {low}-{high} (LP)",
            f"{yard.fair_optimal:,.1f}",
            f"{yard.fair_optimal_lift:+.1%}",
        )
    table.add_row(
        "Best capacity-feasible (LP)", f"{yard.optimal:,.1f}", f"{yard.optimal_lift:+.1%}"
    )
    console.print(table)
    console.print(
        "[dim]All active reps eligible, each at their typical response time and "
        "max_leads_per_day; fairness = each rep's leads within 0.8-1.2x the pool average "
        "over the window; probabilities from truth.json.[/]"
    )


def demo_section(
    console: Console, workdir: Path, *, seed: int = 0, kind: str = "additive"
) -> World:
    """For ``leadpilot demo``: write a world of ``kind`` (default size) to ``workdir``, print
    its summary and the yardsticks, and return it (the later demo steps use its files)."""
    from leadpilot.synth import generate_world, write_world
    from leadpilot.synth.yardsticks import world_yardsticks

    world = generate_world(seed=seed, kind=kind)
    write_world(world, workdir)
    console.print(f"Synthetic world written to {workdir}")
    print_world_summary(console, world)
    print_yardsticks(console, world_yardsticks(world))
    return world


def _summary_json(
    world: World, yard: Yardsticks, paths: list[Path], seconds: float
) -> dict[str, object]:
    return {
        "files": [str(p) for p in paths],
        "kind": world.truth.kind,
        "rep_effects": len(world.truth.rep_effects),
        "generate_seconds": round(seconds, 3),
        "history_rows": len(world.history),
        "new_leads": len(world.new_leads),
        "reps": len(world.reps),
        "accounts": len(world.accounts),
        "conversion_rate": float(world.history["converted"].mean()),
        "expected_conversions": {
            "round_robin": yard.round_robin,
            "greedy": yard.greedy,
            "optimal": yard.optimal,
            "fair_optimal": yard.fair_optimal,
        },
        "optimal_lift": yard.optimal_lift,
        "greedy_lift": yard.greedy_lift,
        "fair_optimal_lift": yard.fair_optimal_lift,
    }
