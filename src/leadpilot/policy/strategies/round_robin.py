"""``round_robin``: the eligible rep with the oldest turn in the pool's rotation."""

from __future__ import annotations

from dataclasses import dataclass

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
        weights = ctx.pool.weights
        rep = rotation_pick(ctx.ids, ctx.credits, weighted=ctx.weighted, weights=weights)
        return one_rep(ctx, rep, self.name.upper())

    def record(self, ctx: ChoiceContext, rep_id: str) -> dict[str, float]:
        """Nothing beyond the rotation credits."""
        return {}


def register(registries: Registries) -> None:
    """Add ``round_robin``."""
    registries.strategies.register(RoundRobin())
