"""The policy's ``objective``: what one more lead assigned to a rep is worth to the router.

``conversions`` (the default) scores a rep by P(convert | lead, rep). The value objectives
multiply it by the value model's E(value | lead, rep) (``RouterInputs.value_model``):
``pipeline_value`` by the expected deal size of the opportunity, ``won_revenue`` by
P(win | opportunity) x deal size. The shadow prices (capacity, fairness band) are then in
the same unit, currency: the LP plans ``p x value`` and the fairness band's penalty (stated
in expected conversions) is multiplied by the value model's typical value, so the band
weighs as much against the value objective as against conversions.

A value objective without a value model routes by conversions, with the reason
``NO_VALUE_MODEL`` in the decision (never silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.inputs import RouterInputs
from leadpilot.schema import Lead

__all__ = ["ObjectiveValues", "candidate_values", "objective_scale", "uses_values"]


@dataclass(frozen=True, slots=True)
class ObjectiveValues:
    """The value of each candidate (``None``: the conversions objective) and the reason
    code the decision carries next to ``PREDICTIVE`` (``None`` for conversions)."""

    value: NDArray[np.float64] | None
    reason: str | None


def uses_values(inputs: RouterInputs) -> bool:
    """Whether routing under ``inputs`` multiplies P(convert) by a value."""
    return inputs.policy.objective != "conversions" and inputs.value_model is not None


def candidate_values(inputs: RouterInputs, lead: Lead, ids: Sequence[str]) -> ObjectiveValues:
    """E(value | lead, rep) for each rep of ``ids`` under the policy's objective."""
    objective = inputs.policy.objective
    if objective == "conversions":
        return ObjectiveValues(None, None)
    if inputs.value_model is None:
        return ObjectiveValues(None, "NO_VALUE_MODEL")
    estimates = inputs.value_model.values(lead, list(ids), objective)
    return ObjectiveValues(np.asarray(estimates.mean, dtype=float), f"OBJECTIVE:{objective}")


def objective_scale(inputs: RouterInputs) -> float:
    """What one expected conversion is worth in the objective's unit (1 for conversions):
    the factor on the fairness band's penalty."""
    if not uses_values(inputs):
        return 1.0
    assert inputs.value_model is not None
    return float(inputs.value_model.typical_value(inputs.policy.objective))
