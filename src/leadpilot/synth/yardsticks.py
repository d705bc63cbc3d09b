"""True expected conversions of the offline yardsticks on a world's new leads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.offline import best_assignment, greedy_assignment, round_robin_assignment
from leadpilot.synth.history import contact_delays
from leadpilot.synth.world import World

__all__ = ["FAIRNESS_BAND", "Yardsticks", "expected_conversions", "world_yardsticks"]

# The band of the router issue: each rep's leads / pool average within 0.8-1.2.
FAIRNESS_BAND = (0.8, 1.2)


@dataclass(frozen=True)
class Yardsticks:
    """Expected conversions on the new leads under each assignment (all active reps
    eligible, each rep's ``max_leads_per_day``, each rep's typical response time).
    ``fair_optimal`` is the best assignment that also keeps every rep within
    ``FAIRNESS_BAND`` of the pool average (``None`` if the caps make that impossible)."""

    n_leads: int
    optimal: float
    round_robin: float
    greedy: float
    fair_optimal: float | None = None

    @property
    def optimal_lift(self) -> float:
        """(optimal - round_robin) / round_robin."""
        return self.optimal / self.round_robin - 1.0

    @property
    def greedy_lift(self) -> float:
        """(greedy - round_robin) / round_robin."""
        return self.greedy / self.round_robin - 1.0

    @property
    def fair_optimal_lift(self) -> float | None:
        """(fair_optimal - round_robin) / round_robin, if a fair assignment exists."""
        return None if self.fair_optimal is None else self.fair_optimal / self.round_robin - 1.0

    @property
    def greedy_share_of_optimal_lift(self) -> float:
        """How much of the optimal lift over round-robin greedy argmax achieves."""
        return (self.greedy - self.round_robin) / (self.optimal - self.round_robin)


def world_yardsticks(world: World, *, fairness: bool = True) -> Yardsticks:
    """Route the world's new leads three (or four, with ``fairness``) ways and score each
    with the ground truth."""
    reps = world.active_rep_ids
    p = world.truth.true_probability(world.new_leads, reps)
    day = world.new_lead_days()
    cap = world.daily_capacity(reps)
    fair: float | None = None
    if fairness:
        try:
            fair = best_assignment(p, day, cap, fairness=FAIRNESS_BAND).expected_conversions
        except DataValidationError:
            fair = None
    return Yardsticks(
        n_leads=len(world.new_leads),
        optimal=best_assignment(p, day, cap).expected_conversions,
        round_robin=round_robin_assignment(p, day, cap).expected_conversions,
        greedy=greedy_assignment(p, day, cap).expected_conversions,
        fair_optimal=fair,
    )


def expected_conversions(
    world: World,
    leads: pd.DataFrame,
    rep_ids: Sequence[str | None],
    *,
    draws: int = 16,
    seed: int = 12345,
) -> NDArray[np.float64]:
    """True P(convert) of each of ``leads`` (history rows, with ``created_at``) handled by
    ``rep_ids`` (``None`` = nobody: 0), shape ``(n_leads,)``: averaged over ``draws`` draws of
    the rep's contact delay (waiting for the rep's working hours, then the rep's own delay),
    the same draw the history's outcomes were made with. This is the value off-policy
    estimates of a replayed policy are judged against."""
    has = np.array([r is not None for r in rep_ids], dtype=bool)
    out = np.zeros(len(leads))
    if not has.any():
        return out
    sub = leads.loc[has].reset_index(drop=True)
    ids = [r for r in rep_ids if r is not None]
    pos = world.truth.rep_positions(ids)
    team = SimpleNamespace(roster=world.reps, truths=world.truth.reps)
    rng = np.random.default_rng(seed)
    total = np.zeros(len(sub))
    for _ in range(draws):
        hours = contact_delays(rng, sub["created_at"], pos, team)  # type: ignore[arg-type]
        total += world.truth.true_probability_assigned(sub, ids, hours)
    out[has] = total / draws
    return out
