"""Does the audit find the routing opportunity when it is there, and only then?

Synthetic worlds (``leadpilot synth``'s generator, several seeds) at several history sizes, in
the canonical export and the seed prompt's own format (Lead_ID, Lead_Source, Industry,
Company_Size, Assigned_Rep, Time_to_Contact_Hours, Converted_to_Opp, Closed_Won: no dates,
file order = time), plus null worlds where the truth has no rep x segment effect at all
(outcomes redrawn with every affinity set to zero). For each run: the audit's projected lift
and 95% interval, the true lift of the plan it recommends (the truth's rates over the
history's segment mix, same capacities) and the true best lift (the capacity-feasible plan
under the true rates), and the verdict.

Targets (issue 14): on worlds whose true best lift is >= 15%, "supported" at 5,000 rows in at
least 4 of 5 seeds; on null worlds "supported" at most once in 20; the interval covers the
plan's true lift in >= 80% of the runs.

    python benchmarks/audit_power.py                       # the README table (~15 min, 1 core)
    python benchmarks/audit_power.py --sizes 5000 --seeds 3 --null-seeds 0 --formats seed-prompt
    # split over processes, then one table from their runs:
    python benchmarks/audit_power.py --first-seed 6 --seeds 5 --csv b.csv ...
    python benchmarks/audit_power.py --from-csv a.csv b.csv

Coverage is printed per size with its Wilson 95% interval: with 10 runs, 8/10 covered is
consistent with a true coverage anywhere from 49% to 94%.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from leadpilot.analyze import analyze
from leadpilot.analyze.coding import UNKNOWN
from leadpilot.analyze.rates import wilson_interval
from leadpilot.analyze.recommend import Plan, solve_plan
from leadpilot.ingest import read_history, read_reps
from leadpilot.synth import World, generate_world, write_world
from leadpilot.synth.truth import GroundTruth

SEED_PROMPT = {
    "lead_id": "Lead_ID",
    "source": "Lead_Source",
    "industry": "Industry",
    "company_size": "Company_Size",
    "rep_id": "Assigned_Rep",
    "time_to_contact_hours": "Time_to_Contact_Hours",
    "converted": "Converted_to_Opp",
    "closed_won": "Closed_Won",
}


def _null_world(world: World, seed: int) -> World:
    """The same leads, reps and assignments with outcomes redrawn from a truth in which no rep
    has any industry or size-band affinity (reps still differ in overall skill)."""
    reps = tuple(
        dataclasses.replace(r, industry_affinity={}, size_affinity={}) for r in world.truth.reps
    )
    truth: GroundTruth = dataclasses.replace(world.truth, reps=reps)
    h = world.history.copy()
    p = truth.true_probability_assigned(h, time_to_contact_hours=h["time_to_contact_hours"])
    rng = np.random.default_rng(10_000 + seed)
    known = h["converted"].notna().to_numpy()
    y = rng.random(len(h)) < p
    h["converted"] = pd.array(np.where(known, y, pd.NA), dtype="boolean")
    h["closed_won"] = pd.array(np.where(known, y & (rng.random(len(h)) < 0.4), pd.NA), "boolean")
    return dataclasses.replace(world, history=h, truth=truth)


def _write(world: World, fmt: str, out: Path) -> tuple[Path, Path]:
    write_world(world, out)
    history = out / "history.csv"
    if fmt == "seed-prompt":
        frame = pd.read_csv(history, dtype=str, keep_default_na=False)
        frame = frame[list(SEED_PROMPT)].rename(columns=SEED_PROMPT)
        for col in ("Converted_to_Opp", "Closed_Won"):
            frame[col] = frame[col].map({"true": "Yes", "false": "No"}).fillna("")
        history = out / "seed_prompt.csv"
        frame.to_csv(history, index=False)
    return history, out / "reps.csv"


def _truth(world: World, frame: pd.DataFrame, plan: Plan) -> tuple[float, float]:
    """(true lift of the plan, true best lift) over the history mix the plan was built on."""
    known = frame["converted"].notna() & frame["rep_id"].notna()
    leads = world.history.set_index("lead_id").loc[frame.loc[known, "lead_id"]].reset_index()
    p = world.truth.true_probability(leads, plan.reps)
    parts = [s.split(" / ") for s in plan.segments]
    labels = []
    for d_i, dim in enumerate(("industry", "size_band")):
        seen = {part[d_i] for part in parts}
        col = leads[dim].astype("object").where(leads[dim].notna(), UNKNOWN).astype(str)
        labels.append(col.where(col.isin(seen), "(other)"))
    seg = (labels[0] + " / " + labels[1]).to_numpy()
    rate = np.stack(
        [
            p[seg == s].mean(axis=0) if (seg == s).any() else np.zeros(len(plan.reps))
            for s in plan.segments
        ],
        axis=1,
    )
    base = float((rate * plan.round_robin).sum())
    best = solve_plan(rate, plan.volume, plan.capacity)
    return float((rate * plan.plan).sum()) / base - 1, float((rate * best).sum()) / base - 1


def run(size: int, seed: int, fmt: str, null: bool, reps: int) -> dict[str, object]:
    world = generate_world(n_leads=size, n_reps=reps, n_new_leads=100, seed=seed)
    if null:
        world = _null_world(world, seed)
    with tempfile.TemporaryDirectory() as tmp:
        history, roster_path = _write(world, fmt, Path(tmp))
        result = read_history(history)
        roster = read_reps(roster_path) if fmt == "canonical" else None
        t0 = time.process_time()
        analysis = analyze(result.frame, reps=roster, seed=seed)
        seconds = time.process_time() - t0
    plan = analysis.plan
    assert plan is not None
    frame = result.frame.assign(lead_id=result.frame["lead_id"].astype(str))
    plan_truth, best_truth = _truth(world, frame, plan)
    v = analysis.sections.verdict
    lift = v.projected_lift
    covered = (
        lift.ci_low is not None
        and lift.ci_high is not None
        and (lift.ci_low <= plan_truth <= lift.ci_high)
    )
    return {
        "world": "null" if null else "affinity",
        "format": fmt,
        "rows": size,
        "seed": seed,
        "projected": lift.value,
        "ci_low": lift.ci_low,
        "ci_high": lift.ci_high,
        "plan_truth": plan_truth,
        "best_truth": best_truth,
        "covered": covered,
        "p_within": v.tests[0]["p_value"] if v.tests else None,
        "supported": v.supports_predictive_routing,
        "cpu_seconds": seconds,
    }


def _pct(x: object) -> str:
    return "–" if x is None else f"{float(x):+.1%}"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 12000, 36000])
    parser.add_argument("--seeds", type=int, default=5, help="affinity worlds per size/format")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds run from this one")
    parser.add_argument("--null-seeds", type=int, default=20, help="null worlds (5,000 rows)")
    parser.add_argument("--null-rows", type=int, default=5000)
    parser.add_argument("--formats", nargs="+", default=["canonical", "seed-prompt"])
    parser.add_argument("--reps", type=int, default=18)
    parser.add_argument("--csv", type=Path, default=None, help="also write every run here")
    parser.add_argument(
        "--from-csv", type=Path, nargs="+", default=None, help="only print the table of these runs"
    )
    args = parser.parse_args()

    if args.from_csv:
        # keep_default_na=False: the world called "null" must not be read as a missing value
        table = pd.concat(
            [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in args.from_csv],
            ignore_index=True,
        )
        report(table)
        return
    runs = []
    for fmt in args.formats:
        for size in args.sizes:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                runs.append(run(size, seed, fmt, False, args.reps))
                print(runs[-1], flush=True)
    for i in range(args.first_seed - 1, args.first_seed - 1 + args.null_seeds):
        fmt = args.formats[i % len(args.formats)]
        runs.append(run(args.null_rows, 100 + i, fmt, True, args.reps))
        print(runs[-1], flush=True)
    table = pd.DataFrame(runs)
    if args.csv:
        table.to_csv(args.csv, index=False)
    report(table)


def _coverage(g: pd.DataFrame) -> str:
    k, n = int(g["covered"].sum()), len(g)
    lo, hi = wilson_interval(k, n)
    return f"{k}/{n} ({lo[0]:.0%}-{hi[0]:.0%})"


def report(table: pd.DataFrame) -> None:
    """The README table and the issue's targets, from a table of runs."""
    print()
    print(
        "| World | Format | Rows | Runs | True best lift (median) | Plan's true lift (median) "
        "| Projected (median) | Median 95% interval width | Covered (Wilson 95%) | Supported |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (world, fmt, rows), g in table.groupby(["world", "format", "rows"], sort=True):
        width = (g["ci_high"] - g["ci_low"]).median()
        print(
            f"| {world} | {fmt} | {rows:,} | {len(g)} | {_pct(g['best_truth'].median())} | "
            f"{_pct(g['plan_truth'].median())} | {_pct(g['projected'].median())} | "
            f"{width:.1%} | {_coverage(g)} | "
            f"{int(g['supported'].sum())}/{len(g)} |"
        )
    learnable = table[(table["world"] == "affinity") & (table["best_truth"] >= 0.15)]
    at5k = learnable[learnable["rows"] == 5000]
    null = table[table["world"] == "null"]
    print()
    print(
        f"learnable (true best >= 15%) at 5,000 rows supported: "
        f"{int(at5k['supported'].sum())}/{len(at5k)}"
    )
    print(f"null worlds supported: {int(null['supported'].sum())}/{len(null)}")
    print(f"coverage of the plan's true lift, all runs: {_coverage(table)}")
    for rows, g in table.groupby("rows"):
        print(f"  at {rows:,} rows: {_coverage(g)}")
    affinity = table[table["world"] == "affinity"]
    for rows, g in affinity.groupby("rows"):
        print(f"  affinity worlds at {rows:,} rows: {_coverage(g)}")
    if "cpu_seconds" in table.columns:
        print(
            f"audit CPU: {table['cpu_seconds'].sum():.0f} s for {len(table)} audits "
            f"(median {table['cpu_seconds'].median():.1f} s)"
        )


if __name__ == "__main__":
    main()
