"""The built-in strategies, one module each, registered like any plugin (see
:mod:`leadpilot.policy.registry`); :mod:`.rotation` holds the rotation arithmetic."""

from leadpilot.policy.strategies.rotation import (
    argmax_distribution,
    load_balanced_pick,
    rotation_pick,
    rotation_update,
)

__all__ = ["argmax_distribution", "load_balanced_pick", "rotation_pick", "rotation_update"]
