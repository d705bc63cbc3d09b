"""Routing objectives compared on a synthetic world, scored by its ground truth: the same
policy with ``objective: conversions`` and with a value objective routes the world's new
leads, and each arm's true expected conversions, pipeline value and won revenue are summed.
The figures of ``leadpilot demo`` and ``benchmarks/objectives.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from leadpilot.evaluate.compare import score_decisions
from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import Policy, default_policy, router_inputs
from leadpilot.policy.batch import BATCH_REFRESH_EVERY, route_batch
from leadpilot.schema import Decision, Scorer, ValueModel
from leadpilot.synth.values import TrueValues, assigned_value_effect, true_deal_value
from leadpilot.synth.world import World

__all__ = ["ArmResult", "compare_objectives", "true_outcomes"]


@dataclass(frozen=True, slots=True)
class ArmResult:
    """One objective's routing of the new leads, scored by the truth (expected values)."""

    objective: str
    conversions: float
    pipeline_value: float
    won_revenue: float
    fairness: tuple[float, float]
    over_cap_rep_days: int
    decisions: tuple[Decision, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (without the decisions)."""
        return {
            "objective": self.objective,
            "conversions": self.conversions,
            "pipeline_value": self.pipeline_value,
            "won_revenue": self.won_revenue,
            "fairness": list(self.fairness),
            "over_cap_rep_days": self.over_cap_rep_days,
        }


def true_outcomes(world: World, decisions: Sequence[Decision]) -> dict[str, float]:
    """The truth's expected conversions, pipeline value (P(convert) x E(deal)) and won
    revenue (P(won) x E(deal)) of ``decisions`` (each rep at its typical response time)."""
    frame = world.new_leads.set_index("lead_id").loc[[d.lead_id for d in decisions]]
    frame = frame.reset_index()
    ids = [d.rep_id for d in decisions]
    truth = world.truth
    p = truth.true_probability_assigned(frame, ids)
    won = truth.true_probability_assigned(frame, ids, target="closed_won")
    size = frame["company_size"].to_numpy(dtype=np.float64, na_value=np.nan)
    base = true_deal_value(size, ["(no rep)"], {})[:, 0]
    deal = base * np.exp(assigned_value_effect(size, ids, truth))
    return {
        "conversions": float(np.nansum(p)),
        "pipeline_value": float(np.nansum(p * deal)),
        "won_revenue": float(np.nansum(won * deal)),
    }


def compare_objectives(
    world: World,
    *,
    objectives: Sequence[str] = ("conversions", "pipeline_value"),
    scorer: Scorer | None = None,
    value_model: ValueModel | None = None,
    policy: Policy | None = None,
    seed: int = 0,
    refresh_every: int | None = BATCH_REFRESH_EVERY,
) -> dict[str, ArmResult]:
    """Route ``world.new_leads`` once per objective (the batch router, 24/7 lanes as in
    :func:`leadpilot.evaluate.compare.compare_strategies`) and score each arm with the
    truth. ``scorer``/``value_model``: the world's oracles unless given (e.g. the trained
    conversion model and :func:`leadpilot.model.value.fit_value_model`)."""
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    scorer = scorer if scorer is not None else world.truth.as_scorer()
    value_model = value_model if value_model is not None else TrueValues(world.truth)
    base = policy if policy is not None else default_policy(reps)
    lanes = [lane.model_copy(update={"working_hours": False}) for lane in base.lanes]
    active = world.active_rep_ids
    cap = world.daily_capacity(active)
    out: dict[str, ArmResult] = {}
    for objective in objectives:
        pol = base.model_copy(update={"lanes": lanes, "objective": objective})
        pol = Policy.model_validate(pol.model_dump(by_alias=True))  # fresh hash
        inputs = router_inputs(pol, reps, scorer=scorer, history=history, value_model=value_model)
        decisions = route_batch(
            leads, inputs, history=history, seed=seed, refresh_every=refresh_every
        )
        scored = score_decisions(world, decisions, active, cap)
        truth = true_outcomes(world, decisions)
        out[objective] = ArmResult(
            objective=objective,
            conversions=truth["conversions"],
            pipeline_value=truth["pipeline_value"],
            won_revenue=truth["won_revenue"],
            fairness=scored["fairness"],
            over_cap_rep_days=int(scored["over_cap_rep_days"]),
            decisions=tuple(decisions),
        )
    return out
