"""The ``retrain:`` section of the policy file: when the service retrains the model.

retrain:
  every_days: 30        # scheduled (default: monthly)
  on_drift: true        # also when a model_drift or calibration_drift alert opens
  window_months: 18     # leads to learn from
  outcome_days: 30      # a routed lead counts as not converted only after this long
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetrainSettings"]


class RetrainSettings(BaseModel):
    """When and on what the background worker retrains (one replica at a time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    every_days: float = Field(default=30.0, gt=0)
    on_drift: bool = True
    # A drift alert retrains at most this often (an alert can stay open for days).
    min_days_between: float = Field(default=1.0, ge=0)
    window_months: int = Field(default=18, ge=1, le=120)
    outcome_days: float = Field(default=30.0, ge=0)
