"""``least_recently_assigned``: the eligible rep whose last assignment in the pool is the
oldest gets the lead; reps never assigned come first; ties go by the pool's rotation.

The time of each rep's last assignment through the pool is kept with the pool's credits
under ``"@last:<rep_id>"`` (written for every assignment made in a pool that uses this
strategy or falls back to it, whichever strategy made it), so it needs nothing new from the
routing state. Unlike ``round_robin``, whose order is the pool's rotation (weighted credits
in a weighted pool), this order is wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadpilot.policy.choice import Choice, ChoiceContext, one_rep
from leadpilot.policy.registry import Registries
from leadpilot.policy.strategies.rotation import rotation_pick

__all__ = ["LAST_KEY", "LeastRecentlyAssigned", "register"]

LAST_KEY = "@last:"


@dataclass(frozen=True, slots=True)
class LeastRecentlyAssigned:
    """Oldest last assignment in the pool first."""

    name: str = "least_recently_assigned"
    explanation: str = "the longest without a lead from this pool"
    order: int = 50
    needs_scorer: bool = False
    weighted: bool = False
    priced: bool = False

    def choose(self, ctx: ChoiceContext) -> Choice:
        """The eligible rep with the oldest (or no) last assignment; ties by rotation."""
        last = [ctx.credits.get(LAST_KEY + rep, -np.inf) for rep in ctx.ids]
        oldest = min(last)
        tied = [rep for rep, t in zip(ctx.ids, last, strict=True) if t == oldest]
        rep = rotation_pick(tied, ctx.credits, weighted=ctx.weighted, weights=ctx.pool.weights)
        return one_rep(ctx, rep, self.name.upper())

    def record(self, ctx: ChoiceContext, rep_id: str) -> dict[str, float]:
        """The time of this assignment (POSIX seconds) as the rep's last."""
        return {LAST_KEY + rep_id: ctx.now.timestamp()}


def register(registries: Registries) -> None:
    """Add ``least_recently_assigned``."""
    registries.strategies.register(LeastRecentlyAssigned())
