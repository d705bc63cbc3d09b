"""The ``targets:`` section of the policy file: what the weekly review holds the team to.

targets:
  sla_attainment: 0.90                # share of routed leads touched within their lane's SLA
  speed_to_first_touch_minutes: 60    # median minutes from routing to first touch
  reps_outside_fairness_band: 0       # reps whose fairness index leaves fairness.band

The reassignment and duplicate rates are held to their alert rules' targets
(``alerts.reassignment_rate.target``, ``alerts.duplicate_rate.target``), so one number
serves both the alert and the review.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ReviewTargets"]


class ReviewTargets(BaseModel):
    """Targets of the weekly review's KPIs (``leadpilot report weekly``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sla_attainment: float = 0.90
    speed_to_first_touch_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    reps_outside_fairness_band: int = Field(default=0, ge=0)

    @field_validator("sla_attainment")
    @classmethod
    def _a_share(cls, value: float) -> float:
        # Why a custom message: "90" (a percent) is the likely mistake, and pydantic's
        # "less than or equal to 1" does not say what to write instead.
        if not 0 < value <= 1:
            hint = f" (for {value:g}% write {value / 100:g})" if 1 < value <= 100 else ""
            raise ValueError(
                f"must be a share of leads between 0 and 1, e.g. 0.9 for 90%{hint}; got {value!r}"
            )
        return value
