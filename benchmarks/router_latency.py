"""Router latency: one lead in-process (policy + scoring 100 reps + choosing).

A synthetic world with 100 reps; its ground truth scores every rep for each lead (an oracle,
as fast as a table lookup: the trained model's own scoring time is benchmarked by the model).
Each of the new leads is routed with the default policy (predictive, shadow prices refreshed
every 10 assignments, fairness band), committing each decision to an in-memory state.

    python benchmarks/router_latency.py [--leads 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import (
    DemandModel,
    InMemoryState,
    ShadowPricer,
    default_policy,
    refresh_prices,
    route,
    router_inputs,
)
from leadpilot.synth import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    world = generate_world(n_leads=20_000, n_reps=args.reps, n_new_leads=args.leads, seed=3)
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    scorer = world.truth.as_scorer()
    policy = default_policy(reps)
    history = leads_from_frame(world.history)
    base = router_inputs(policy, reps, scorer=scorer, history=history)
    pricer = ShadowPricer(DemandModel.from_leads(history, seed=0))
    for label, use_pricer in (("with shadow prices", True), ("fairness prices only", False)):
        state = InMemoryState()
        rng = np.random.default_rng(0)
        times = []
        inputs = base
        for lead in leads:
            assert lead.created_at is not None
            started = time.perf_counter()
            # A decision's time includes its synchronous price refresh, as in route-batch.
            now = lead.created_at
            inputs = refresh_prices(lead, inputs, state, now, pricer if use_pricer else None)
            decision = route(lead, inputs, state, now, rng)
            times.append(time.perf_counter() - started)
            state.commit(decision)
        ms = np.array(times) * 1000
        print(
            f"{label}: {len(ms)} leads x {len(reps)} reps: median {np.median(ms):.2f} ms, "
            f"p90 {np.percentile(ms, 90):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
            f"mean {ms.mean():.2f} ms (LP refreshes: {pricer.refreshes if use_pricer else 0})"
        )


if __name__ == "__main__":
    main()
