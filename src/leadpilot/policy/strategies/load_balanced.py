"""``load_balanced``: the eligible rep with the fewest open leads."""

from __future__ import annotations

from dataclasses import dataclass

from leadpilot.policy.availability import local_day
from leadpilot.policy.choice import Choice, ChoiceContext, one_rep
from leadpilot.policy.registry import Registries
from leadpilot.policy.strategies.rotation import load_balanced_pick

__all__ = ["LoadBalanced", "register"]


@dataclass(frozen=True, slots=True)
class LoadBalanced:
    """Fewest open leads; ties: fewest today, then rotation order."""

    name: str = "load_balanced"
    explanation: str = "fewest open leads"
    order: int = 40
    needs_scorer: bool = False
    weighted: bool = False
    priced: bool = False

    def choose(self, ctx: ChoiceContext) -> Choice:
        """The least loaded eligible rep."""
        opens = [ctx.state.open_count(r, ctx.now) for r in ctx.ids]
        daily = [ctx.state.daily_count(r.rep_id, local_day(r, ctx.now)) for r in ctx.eligible]
        rep = load_balanced_pick(ctx.ids, opens, daily, ctx.credits)
        return one_rep(ctx, rep, self.name.upper())

    def record(self, ctx: ChoiceContext, rep_id: str) -> dict[str, float]:
        """Nothing beyond the rotation credits."""
        return {}


def register(registries: Registries) -> None:
    """Add ``load_balanced``."""
    registries.strategies.register(LoadBalanced())
