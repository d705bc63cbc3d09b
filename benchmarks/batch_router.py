"""Batch router throughput: CPU time per lead of ``route_batch`` with a trained model.

A synthetic world (``--history`` past leads, ``--reps`` reps, ``--leads`` new leads); a
``ConversionModel`` trained on its history; the new leads routed in arrival order with the
default policy (predictive, shadow prices re-solved every ``--refresh-every`` assignments of
a pool's day and at each new day, fairness band; around the clock, as the router benchmark),
live capacity counters. Reported: CPU time
per lead (the training is not counted), leads per CPU-second, the LP solves, the fairness
range and over-cap rep-days; next to the floor measured in the same run: the vectorised model
call alone (every new lead scored against every rep, ``score_batch``).

    OMP_NUM_THREADS=1 python benchmarks/batch_router.py --leads 10000 --reps 100 [--profile]
    [--no-fast-lane]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from typing import Any

from _figures import record

from leadpilot.evaluate.compare import score_decisions
from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import default_policy, router_inputs
from leadpilot.policy import pricer as pricer_module
from leadpilot.policy.batch import (
    BATCH_LP_ITERATIONS,
    BATCH_REFRESH_EVERY,
    BATCH_REFRESHES_PER_DAY,
    BATCH_SIZE,
    route_batch,
)
from leadpilot.synth import generate_world

TARGET_MS = 0.2  # >= 5,000 leads/s (issue 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--refresh-every", type=int, default=BATCH_REFRESH_EVERY)
    parser.add_argument(
        "--refreshes-per-day",
        type=int,
        default=BATCH_REFRESHES_PER_DAY,
        help="a busy pool re-solves every (yesterday's assignments / this) assignments when "
        "that exceeds --refresh-every (0: every --refresh-every whatever the volume)",
    )
    parser.add_argument(
        "--lp-iterations",
        type=int,
        default=BATCH_LP_ITERATIONS,
        help="cap a pool's price re-solves within a day at this many dual simplex iterations "
        "(an incremental dual update; route_batch(lp_iterations=...)); 0: to the optimum",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print the top of a profile")
    parser.add_argument(
        "--no-fast-lane",
        action="store_true",
        help="route every lead with route (route_batch(fast_lane=False)): the reference the "
        "fast lane's CPU is compared with (the same decisions)",
    )
    parser.add_argument(
        "--agreement",
        type=int,
        default=0,
        metavar="N",
        help="also route the first N leads with prices solved cold (linprog, no warm start) "
        "and report how many go to the same rep and the oracle's expected conversions",
    )
    args = parser.parse_args()
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]

    world = generate_world(
        n_leads=args.history, n_reps=args.reps, n_new_leads=args.leads, seed=args.seed
    )
    started = time.process_time()
    model = ConversionModel().fit(world.history, world.reps)
    print(f"trained on {args.history:,} leads in {time.process_time() - started:.1f} s CPU")
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    # Around the clock, as the router benchmark: fairness then measures the router's choices,
    # not the reps' shifts (reps in far timezones get fewer of the day's leads otherwise).
    policy = default_policy(reps)
    lanes = [lane.model_copy(update={"working_hours": False}) for lane in policy.lanes]
    policy = policy.model_copy(update={"lanes": lanes})
    inputs = router_inputs(policy, reps, scorer=model, history=history)

    active = [r.rep_id for r in reps if r.active]
    started = time.process_time()
    for i in range(0, len(leads), BATCH_SIZE):
        model.score_batch(leads[i : i + BATCH_SIZE], active)
    floor_ms = (time.process_time() - started) * 1000 / len(leads)

    solves = [0]
    solve = pricer_module.solve_assignment_lp

    def counted(*a: object, **kw: object) -> object:
        solves[0] += 1
        return solve(*a, **kw)  # type: ignore[arg-type]

    warm = pricer_module.solve_warm

    # each warm solve's CPU and dual simplex iterations, by kind: a day's first solve (its
    # rows refilled) or a re-solve within the day
    lp_spent: dict[str, list[tuple[float, int]]] = {"day-first": [], "within-day": []}

    def counted_warm(*a: object, **kw: object) -> object:
        solves[0] += 1
        lp: Any = a[0]
        kind = "day-first" if lp._rows_changed or lp.solves == 0 else "within-day"
        cpu0, iterations0 = time.process_time(), lp.iterations
        out = warm(*a, **kw)  # type: ignore[arg-type]
        lp_spent[kind].append((time.process_time() - cpu0, lp.iterations - iterations0))
        return out

    pricer_module.solve_assignment_lp = counted  # type: ignore[assignment]
    pricer_module.solve_warm = counted_warm  # type: ignore[assignment]
    # CPU time, not wall time: on a shared machine a wall-clock profile charges other
    # processes' time to whatever was running.
    profile = cProfile.Profile(time.process_time) if args.profile else None
    started_wall, started = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    decisions = route_batch(
        leads,
        inputs,
        history=history,
        refresh_every=args.refresh_every,
        refreshes_per_day=args.refreshes_per_day,
        fast_lane=not args.no_fast_lane,
        lp_iterations=args.lp_iterations or None,
    )
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - started
    wall = time.perf_counter() - started_wall
    pricer_module.solve_assignment_lp = solve
    pricer_module.solve_warm = warm
    ms = cpu * 1000 / len(leads)
    cap = world.daily_capacity(active)
    quality = score_decisions(world, decisions, active, cap)
    fi = quality["fairness"]
    print(
        f"{len(leads):,} leads x {len(reps)} reps: {cpu:.1f} s CPU ({wall:.1f} s wall), "
        f"{ms:.3f} ms CPU per lead = {1000 / ms:,.0f} leads per CPU-second; floor (the "
        f"vectorised model call alone) {floor_ms:.3f} ms per lead; {solves[0]} LP solves; "
        f"fairness {fi[0]:.2f}-{fi[1]:.2f}; {quality['over_cap_rep_days']} over-cap rep-days; "
        f"{quality['unassigned']} unassigned; the truth's expected conversions "
        f"{quality['expected']:,.1f}"
    )
    for kind, spent in lp_spent.items():
        if spent:
            lp_cpu = sum(c for c, _ in spent)
            print(
                f"price LP, {kind} warm solves: {len(spent)}, {lp_cpu:.2f} s CPU "
                f"({lp_cpu * 1000 / len(spent):.1f} ms each, "
                f"{sum(i for _, i in spent) / len(spent):.0f} dual simplex iterations each)"
            )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    if args.agreement:
        _agreement(world, leads[: args.agreement], inputs, history, args.refresh_every)
    record(
        f"batch router CPU per lead, {len(leads):,} leads x {len(reps)} reps, trained model "
        f"(prices every {args.refresh_every} assignments, busy pools "
        f"{args.refreshes_per_day} times a day)"
        + (", route for every lead" if args.no_fast_lane else ""),
        ms,
        "ms",
        floor=floor_ms,
        floor_what="the vectorised model call alone",
        target=f"<= {TARGET_MS} ms (>= 5,000 leads/s)",
        met=ms <= TARGET_MS,
        work={"leads": len(leads)},
        cpu_s=cpu,
        note=f"{1000 / ms:,.0f} leads per CPU-second, {solves[0]} LP solves, fairness "
        f"{fi[0]:.2f}-{fi[1]:.2f}, {quality['over_cap_rep_days']} over-cap rep-days"
        + (
            f", re-solves within a day capped at {args.lp_iterations} iterations"
            if args.lp_iterations
            else ""
        ),
    )


def _agreement(world: Any, leads: list[Any], inputs: Any, history: Any, every: int) -> None:
    """Warm-started prices against prices solved from scratch on the same leads."""
    warm = route_batch(leads, inputs, history=history, refresh_every=every)
    started = time.process_time()
    cold = route_batch(leads, inputs, history=history, refresh_every=every, warm_prices=False)
    cold_ms = (time.process_time() - started) * 1000 / len(leads)
    same = sum(a.rep_id == b.rep_id for a, b in zip(warm, cold, strict=True)) / len(leads)
    oracle = world.truth.as_scorer()
    by_id = {lead.lead_id: lead for lead in leads}

    def expected(decisions: list[Any]) -> float:
        return sum(
            float(oracle.score_candidates(by_id[d.lead_id], [d.rep_id]).p[0])
            for d in decisions
            if d.rep_id is not None
        )

    ew, ec = expected(warm), expected(cold)
    print(
        f"warm vs cold prices on the first {len(leads):,} leads: {same:.1%} to the same rep; "
        f"oracle's expected conversions {ew:.1f} warm vs {ec:.1f} cold "
        f"({(ew - ec) / ec:+.2%}); cold: {cold_ms:.3f} ms CPU per lead"
    )


if __name__ == "__main__":
    main()
