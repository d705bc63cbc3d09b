"""How far each holdout design misstates the lift of predictive routing, on a world whose
truth is known.

The same leads are routed in arrival order by leadpilot's batch router, with the world's true
conversion probabilities as the scorer and every rep's daily cap scaled by ``cap_scale``
(below 1: tighter than the roster), once per design:

- ``all predictive`` (no holdout) and ``all holdout`` (every lead to the fallback,
  round-robin): the true lift is the difference of their expected conversions per lead;
- ``per-lead 50%``: each lead randomized; the estimate is treated minus holdout, leads as
  units (what ``leadpilot report lift`` reports for a per-lead holdout);
- ``switchback daily`` and ``switchback hourly`` (50% of blocks OFF; hourly blocks with a
  10-minute washout): ON blocks minus OFF blocks, blocks as units.

Outcomes are each assignment's expected conversions (``expected_conversions``: the true
probability averaged over the rep's contact delays), not coin flips, so the gap between an
estimate and the truth is the design's bias plus randomization noise, not outcome noise.
Treated and holdout leads share the reps' daily caps and the fairness band, so per-lead
randomization lets the arms interfere; whole blocks of time do not share a day's capacity.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.evaluate.contrast import contrast
from leadpilot.ingest.roster import leads_from_frame
from leadpilot.policy.batch import route_batch
from leadpilot.policy.inputs import router_inputs
from leadpilot.policy.policy_file import Policy, default_policy
from leadpilot.schema import Decision, Rep

__all__ = ["DESIGNS", "DesignComparison", "compare_designs"]

DESIGNS: dict[str, dict[str, Any]] = {
    "all predictive": {"holdout": 0.0},
    "all holdout": {"holdout": 1.0},
    "per-lead 50%": {"holdout": 0.5},
    "switchback daily": {
        "holdout": 0.5,
        "holdout_design": "switchback",
        "switchback": {"block_minutes": 1440, "washout_minutes": 0},
    },
    "switchback hourly": {
        "holdout": 0.5,
        "holdout_design": "switchback",
        "switchback": {"block_minutes": 60, "washout_minutes": 10},
    },
}
RANDOMIZED = tuple(n for n, d in DESIGNS.items() if d["holdout"] not in (0.0, 1.0))

Values = Callable[[pd.DataFrame, list[str | None]], np.ndarray]


@dataclass(frozen=True)
class DesignComparison:
    """Per routing seed: the true lift and each randomized design's (estimate, ci_low,
    ci_high), in conversions per lead; ``unassigned``: share of leads nobody could take
    under all-predictive routing."""

    cap_scale: float
    leads: int
    truth: list[float]
    estimates: dict[str, list[tuple[float, float, float]]]
    unassigned: float

    def summary(self) -> dict[str, dict[str, float]]:
        """Per design: mean estimate, its standard error over seeds, the mean truth, the
        ratio estimate / truth and how many seeds' intervals cover the truth."""
        truth = float(np.mean(self.truth))
        out = {}
        for name, rows in self.estimates.items():
            est = np.array([r[0] for r in rows])
            se = float(est.std(ddof=1) / math.sqrt(len(est))) if len(est) > 1 else math.nan
            covers = sum(lo <= t <= hi for (_, lo, hi), t in zip(rows, self.truth, strict=True))
            out[name] = {
                "estimate": float(est.mean()),
                "se": se,
                "truth": truth,
                "ratio": float(est.mean() / truth) if truth else math.nan,
                "covers": covers,
                "seeds": len(rows),
            }
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "cap_scale": self.cap_scale,
            "leads": self.leads,
            "true_lift": self.truth,
            "unassigned_all_predictive": self.unassigned,
            "designs": self.summary(),
        }


def _policy(base: Policy, settings: dict[str, Any], seed: int, fairness: float | None) -> Policy:
    predictive = base.predictive.model_dump()
    predictive.update(settings, shadow_prices=False)
    if "switchback" in settings:
        predictive["switchback"] = {**settings["switchback"], "seed": seed}
    document = {**base.model_dump(), "predictive": predictive}
    if fairness is not None:
        document["fairness"] = {**document["fairness"], "penalty": fairness}
    return Policy.model_validate(document)


def _estimate(decisions: Sequence[Decision], value: np.ndarray) -> tuple[float, float, float]:
    """(treated minus control, ci_low, ci_high) from the decisions' arm tags."""
    sums: dict[tuple[bool, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for d, v in zip(decisions, value, strict=True):
        arm = next((c for c in d.reasons if c.startswith("SWITCHBACK_")), None)
        if arm is not None:
            if "WASHOUT" in d.reasons:
                continue
            treated, unit = arm.startswith("SWITCHBACK_ON"), arm.partition(":")[2]
        elif d.rep_id is not None and d.candidates:
            treated, unit = "HOLDOUT" not in d.reasons, d.lead_id
        else:
            continue  # nobody could take the lead: no arm was drawn
        acc = sums[(treated, unit)]
        acc[0] += v
        acc[1] += 1
    arms: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for (treated, _), (y, n) in sums.items():
        arms[treated][0].append(y)
        arms[treated][1].append(n)
    c = contrast(*arms[True], *arms[False])
    low = c.ci_low if c.ci_low is not None else math.nan
    high = c.ci_high if c.ci_high is not None else math.nan
    return c.difference, low, high


def compare_designs(
    leads: pd.DataFrame,
    reps: Sequence[Rep],
    scorer: Any,
    values: Values,
    *,
    history: pd.DataFrame | None = None,
    cap_scale: float = 0.8,
    replications: int = 3,
    fairness_penalty: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> DesignComparison:
    """Route ``leads`` (canonical frame, arrival order) through every design of ``DESIGNS``
    ``replications`` times (routing seeds 0, 1, ..., which also draw the switchback blocks),
    with ``scorer`` (the truth) and each rep's daily cap times ``cap_scale``; ``values(leads,
    rep_ids)`` gives each lead's expected conversions under an assignment (the truth)."""
    say = progress or (lambda _msg: None)
    scaled = [
        dataclasses.replace(
            r,
            max_leads_per_day=max(1, round((r.max_leads_per_day or 0) * cap_scale)),
            max_open_leads=None,
        )
        for r in reps
    ]
    routed = leads_from_frame(leads)
    past = leads_from_frame(history) if history is not None else []
    base = default_policy(scaled)
    ids = list(leads["lead_id"])
    truths: list[float] = []
    estimates: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    unassigned: list[float] = []
    for seed in range(replications):
        means = {}
        for name, settings in DESIGNS.items():
            say(f"holdout designs: seed {seed + 1}/{replications}, {name}")
            policy = _policy(base, settings, seed, fairness_penalty)
            inputs = router_inputs(policy, scaled, scorer=scorer, history=past)
            decisions = route_batch(routed, inputs, history=past, seed=seed)
            rep_of = {d.lead_id: d.rep_id for d in decisions}
            value = values(leads, [rep_of[i] for i in ids])
            means[name] = float(np.mean(value))
            if name == "all predictive":
                unassigned.append(float(np.mean([d.rep_id is None for d in decisions])))
            if name in RANDOMIZED:
                value_of = dict(zip(ids, value, strict=True))
                per_decision = np.array([value_of[d.lead_id] for d in decisions])
                estimates[name].append(_estimate(decisions, per_decision))
        truths.append(means["all predictive"] - means["all holdout"])
    return DesignComparison(
        cap_scale=cap_scale,
        leads=len(leads),
        truth=truths,
        estimates=dict(estimates),
        unassigned=float(np.mean(unassigned)),
    )
