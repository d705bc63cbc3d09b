"""Round-robin versus the default predictive policy on a synthetic world, scored by its
ground truth next to the offline yardsticks (greedy argmax and the best feasible
assignment): the figures of ``leadpilot demo`` and ``benchmarks/router_benchmark.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from leadpilot.evaluate.offline import best_assignment, greedy_assignment
from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import Policy, default_policy, router_inputs, with_strategy
from leadpilot.policy.batch import BATCH_REFRESH_EVERY, route_batch
from leadpilot.policy.fairness import fair_shares, fairness_index
from leadpilot.schema import Decision, Scorer

__all__ = ["compare_strategies", "score_decisions"]


def compare_strategies(
    world: Any,
    scorer: Scorer | None = None,
    *,
    refresh_every: int | None = BATCH_REFRESH_EVERY,
    min_confidence: float | None = None,
) -> dict[str, Any]:
    """Route a synthetic world's new leads with round-robin and with the default predictive
    policy (the world's oracle unless ``scorer`` is given) and score both with the ground
    truth. Returns, per arm (``round_robin``, ``predictive``, ``greedy``, ``best``), the
    true expected conversions and, for the routed arms, fairness, over-cap rep-days and the
    decisions; ``share_of_best_lift`` for predictive and greedy. ``refresh_every``: the batch
    router's price cadence (``None``: the policy's, as the service refreshes).
    ``min_confidence`` adds the arm ``guarded``: predictive with that threshold, below which
    a lead goes to the fallback (round-robin)."""
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    scorer = scorer if scorer is not None else world.truth.as_scorer()
    # The offline yardsticks fill each day's capacity whatever the reps' shifts, so both
    # arms route 24/7 too: the comparison measures the choice of rep, not shift coverage.
    policy = _around_the_clock(default_policy(reps))
    active = world.active_rep_ids
    cap = world.daily_capacity(active)
    p = world.truth.true_probability(world.new_leads, active)
    day = world.new_lead_days()
    results: dict[str, Any] = {}
    arms = {
        "round_robin": (with_strategy(policy, "round_robin"), None),
        "predictive": (policy, scorer),
    }
    if min_confidence is not None:
        guarded = policy.predictive.model_copy(update={"min_confidence": min_confidence})
        arms["guarded"] = (policy.model_copy(update={"predictive": guarded}), scorer)
    for name, (pol, sc) in arms.items():
        inputs = router_inputs(pol, reps, scorer=sc, history=history)
        decisions = route_batch(leads, inputs, history=history, refresh_every=refresh_every)
        results[name] = score_decisions(world, decisions, active, cap)
        results[name]["decisions"] = decisions
    results["greedy"] = {"expected": greedy_assignment(p, day, cap).expected_conversions}
    results["best"] = {"expected": best_assignment(p, day, cap).expected_conversions}
    gap = results["best"]["expected"] - results["round_robin"]["expected"]
    for arm in ("predictive", "greedy"):
        results[arm]["share_of_best_lift"] = (
            (results[arm]["expected"] - results["round_robin"]["expected"]) / gap if gap else 0.0
        )
    return results


def _around_the_clock(policy: Policy) -> Policy:
    lanes = [lane.model_copy(update={"working_hours": False}) for lane in policy.lanes]
    return policy.model_copy(update={"lanes": lanes})


def score_decisions(
    world: Any, decisions: list[Decision], active: Sequence[str], cap: NDArray[np.int64]
) -> dict[str, Any]:
    """The ground truth's expected conversions of ``decisions``, unassigned leads, the
    fairness index range (plain and capacity-weighted) over the ``active`` reps and the
    rep-days over ``cap`` (each active rep's daily cap)."""
    ids = [d.rep_id for d in decisions]
    frame = world.new_leads.set_index("lead_id").loc[[d.lead_id for d in decisions]]
    p = world.truth.true_probability_assigned(frame.reset_index(), ids)
    counts = Counter(i for i in ids if i is not None)
    # capacity-weighted index: leads per rep over a share proportional to daily capacity
    fi_cap = fairness_index(
        np.array([counts.get(r, 0) for r in active], dtype=float), fair_shares(cap.astype(float))
    )
    per_day = Counter((d.rep_id, d.rep_local_day) for d in decisions if d.rep_id is not None)
    caps = dict(zip(active, cap.tolist(), strict=True))
    over = sum(1 for (rep, _day), n in per_day.items() if n > caps.get(rep, 0))
    plain = fairness_index(
        np.array([counts.get(r, 0) for r in active], dtype=float), fair_shares(np.ones(len(active)))
    )
    return {
        "expected": float(np.nansum(p)),
        "unassigned": sum(i is None for i in ids),
        # the KPI: leads per rep / pool average
        "fairness": (float(plain.min()), float(plain.max())),
        "fairness_capacity": (float(fi_cap.min()), float(fi_cap.max())),
        "over_cap_rep_days": over,
    }
