"""Measuring routing: offline yardsticks (best, round-robin, greedy assignments) and lift."""

from __future__ import annotations

from leadpilot.evaluate.offline import (
    Assignment,
    best_assignment,
    greedy_assignment,
    round_robin_assignment,
)

__all__ = ["Assignment", "best_assignment", "greedy_assignment", "round_robin_assignment"]
