"""``weighted_round_robin``: smooth weighted rotation (shares follow the pool's weights)."""

from __future__ import annotations

from leadpilot.policy.registry import Registries
from leadpilot.policy.strategies.round_robin import RoundRobin

__all__ = ["register"]


def register(registries: Registries) -> None:
    """Add ``weighted_round_robin``: the rotation with weighted credits."""
    registries.strategies.register(
        RoundRobin(
            name="weighted_round_robin",
            explanation="next in weighted rotation",
            order=30,
            weighted=True,
        )
    )
