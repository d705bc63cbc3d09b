"""The demo step "Conversions or pipeline value?": one world, two objectives, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

__all__ = ["demo_section"]

# Small enough to keep the tour fast (about 2 s of CPU), big enough for ~800 deals to learn
# deal sizes from.
N_LEADS, N_REPS, N_NEW_LEADS = 6_000, 8, 300


def demo_section(out: Any, workdir: Path, *, seed: int = 0) -> dict[str, Any]:
    """Route one synthetic world's new leads with ``objective: conversions`` and with
    ``objective: pipeline_value`` (deal values learnt from the world's history, P(convert)
    from its truth) and print both arms' true conversions, pipeline value and won revenue
    side by side. Returns the figures."""
    from leadpilot.model.value import fit_value_model
    from leadpilot.synth import generate_world
    from leadpilot.synth.objectives import compare_objectives

    with out.status("Drawing a world where deal size depends on the rep...", spinner="dots"):
        world = generate_world(
            n_leads=N_LEADS,
            n_reps=N_REPS,
            n_new_leads=N_NEW_LEADS,
            seed=seed,
            deal_values="rep_segment",
        )
        values = fit_value_model(world.history)
    with out.status("Routing the new leads under each objective...", spinner="dots"):
        arms = compare_objectives(world, value_model=values, seed=seed)
    conv, pipe = arms["conversions"], arms["pipeline_value"]
    table = Table(title=f"{N_NEW_LEADS} new leads, {N_REPS} reps: the truth's expected outcomes")
    for col in ("objective", "conversions", "pipeline value", "won revenue", "fairness"):
        table.add_column(col, justify="left" if col == "objective" else "right")
    for arm in (conv, pipe):
        table.add_row(
            arm.objective,
            f"{arm.conversions:.1f}",
            f"{arm.pipeline_value:,.0f}",
            f"{arm.won_revenue:,.0f}",
            f"{arm.fairness[0]:.2f}-{arm.fairness[1]:.2f}",
        )
    out.print(table)
    d_value = pipe.pipeline_value / conv.pipeline_value - 1
    d_conv = pipe.conversions / conv.conversions - 1
    out.print(
        f"objective: pipeline_value gives {d_value:+.0%} pipeline value for {d_conv:+.0%} "
        f"conversions on this world. The deal values come from a model learnt from "
        f"{values.n_deals:,} past deals (log deal size by lead, rep and rep x segment, with "
        "95% intervals); the difference between the objectives across seeds, with its "
        "interval, is in the README (benchmarks/objectives.py)."
    )
    (workdir / "policy-pipeline-value.yaml").write_text(
        "# The default policy, maximising expected pipeline value instead of conversions.\n"
        "objective: pipeline_value\n"
        "pools:\n  - name: all\n    eligibility: {territory: false}\n",
        encoding="utf-8",
    )
    out.print(
        f"Try it: leadpilot route-batch {workdir}/new_leads.csv --reps {workdir}/reps.csv "
        f"--policy {workdir}/policy-pipeline-value.yaml --history {workdir}/history.csv "
        f"--truth {workdir}/truth.json --out decisions-value.csv"
    )
    return {name: arm.as_dict() for name, arm in arms.items()}
