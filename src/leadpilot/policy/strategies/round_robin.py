"""``round_robin``: the eligible rep with the oldest turn in the pool's rotation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadpilot.policy.choice import Choice, ChoiceContext, one_rep
from leadpilot.policy.registry import Registries
from leadpilot.policy.strategies.rotation import rotation_pick

__all__ = ["RoundRobin", "register"]


@dataclass(frozen=True, slots=True)
class RoundRobin:
    """Plain (``weighted=False``) or weighted rotation over the eligible reps."""

    name: str = "round_robin"
    explanation: str = "next in rotation"
    order: int = 20
    needs_scorer: bool = False
    weighted: bool = False
    priced: bool = False

    def choose(self, ctx: ChoiceContext) -> Choice:
        """The next rep in rotation (weighted when the pool's rotation is)."""
        k = None if ctx.weighted else _tally_pick(ctx)
        if k is not None:  # one_rep's choice of the k-th eligible rep (the ids are unique)
            dist = np.zeros(len(ctx.ids))
            dist[k] = 1.0
            return Choice(dist, self.name.upper())
        weights = ctx.pool.weights
        rep = rotation_pick(ctx.ids, ctx.credits, weighted=ctx.weighted, weights=weights)
        return one_rep(ctx, rep, self.name.upper())

    def record(self, ctx: ChoiceContext, rep_id: str) -> dict[str, float]:
        """Nothing beyond the rotation credits."""
        return {}


def _tally_pick(ctx: ChoiceContext) -> int | None:
    """The place among the eligible reps of ``rotation_pick``'s (plain) rep, read from the
    credits the state's tally keeps for the pool at the eligible reps' roster positions
    (the same values as ``ctx.credits`` gives them; the tally's roster has unique ids);
    ``None`` without them (then ``rotation_pick`` reads ``ctx.credits``)."""
    checker = ctx.checker
    at = checker.positions(ctx.eligible)
    if at is None or len(at) != len(ctx.ids) or not len(at):
        return None
    tally = checker.tally()
    credits = tally.credits(ctx.pool.name) if tally is not None else None
    if credits is None or ctx.state.rotation(ctx.pool.name) is not ctx.credits:
        return None
    values = credits[at]
    if np.isnan(values).any():  # rotation_pick's loop decides
        return None
    return int(np.argmin(values))  # the first of the least, as rotation_pick


def register(registries: Registries) -> None:
    """Add ``round_robin``."""
    registries.strategies.register(RoundRobin())
