"""The ``alerts:`` section of the policy file: which alert rules run and their thresholds.

Every rule is on by default with the thresholds below; a policy changes only what it names::

    alerts:
      conversion_drop: {recent_days: 14, alpha: 0.005}
      duplicate_rate: {target: 0.02}
      model_drift: {enabled: false}

The rules themselves live in ``leadpilot.service.alerting`` (they read the store); this
module only validates their settings, so ``policy check`` and uploads reject a bad value by
its key path (``alerts.fairness.band``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DRIFT_COLUMNS",
    "AlertRuleSettings",
    "AlertsSettings",
    "CalibrationDriftSettings",
    "ConversionDropSettings",
    "DeliveryFailureSettings",
    "FairnessAlertSettings",
    "ModelDriftSettings",
    "NoLeadsSettings",
    "RateTargetSettings",
    "SlaBreachSettings",
    "UnusualAssignmentSettings",
]

Severity = Literal["info", "warning", "critical"]


class AlertRuleSettings(BaseModel):
    """What every rule has: whether it runs, and how loud its alerts are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity = "warning"


class SlaBreachSettings(AlertRuleSettings):
    """Routed leads past their SLA deadline with no first touch, per lane."""

    severity: Severity = "critical"
    min_leads: int = Field(default=1, ge=1)


class ConversionDropSettings(AlertRuleSettings):
    """Conversion of the recent window against the baseline window before it (one-sided
    Fisher exact test). Both windows end ``lag_days`` ago so recent leads had time to
    convert; each needs ``min_leads`` routed leads."""

    outcome: Literal["meeting", "opportunity", "won"] = "meeting"
    recent_days: int = Field(default=7, ge=1)
    baseline_days: int = Field(default=28, ge=1)
    lag_days: int = Field(default=3, ge=0)
    min_leads: int = Field(default=50, ge=1)
    alpha: float = Field(default=0.01, gt=0, lt=1)


class FairnessAlertSettings(AlertRuleSettings):
    """A rep's fairness index (leads / pool average) outside ``band`` and significantly so
    (two-sided binomial test of the rep's count against an equal share). ``band`` and
    ``window_days`` default to the policy's ``fairness`` settings."""

    band: tuple[float, float] | None = None
    window_days: int | None = Field(default=None, ge=1)
    min_pool_leads: int = Field(default=40, ge=1)
    alpha: float = Field(default=0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _band_brackets_one(self) -> FairnessAlertSettings:
        if self.band is not None and not (0 <= self.band[0] <= 1 <= self.band[1]):
            raise ValueError(f"band must satisfy 0 <= low <= 1 <= high, got {list(self.band)}")
        return self


class RateTargetSettings(AlertRuleSettings):
    """A rate over ``window_days`` whose Wilson 95% interval lies wholly above ``target``."""

    target: float = Field(default=0.05, gt=0, lt=1)
    window_days: int = Field(default=7, ge=1)
    min_leads: int = Field(default=50, ge=1)


class UnusualAssignmentSettings(AlertRuleSettings):
    """A rep receiving far more leads than forecast over the last ``window_hours``: the
    forecast is the pool's leads in the window times the rep's share (capacity share when
    the pool's reps have daily capacities, else the rep's share of the pool over the
    ``baseline_days`` before, else an equal share); alert when the Poisson upper tail
    P(X >= observed) is below ``alpha`` and observed >= ``min_ratio`` x forecast."""

    window_hours: int = Field(default=24, ge=1)
    baseline_days: int = Field(default=14, ge=1)
    min_ratio: float = Field(default=2.0, ge=1)
    min_leads: int = Field(default=5, ge=1)
    alpha: float = Field(default=0.001, gt=0, lt=1)


# Decision columns a drift feature may name (else ``fields.<name>``, a lead field).
DRIFT_COLUMNS: tuple[str, ...] = (
    "p_convert",
    "fit_score",
    "intent_score",
    "confidence",
    "grade",
    "lane",
)


class ModelDriftSettings(AlertRuleSettings):
    """Population stability index of each feature between a baseline and the recent window
    of stored decisions: decision columns (``p_convert``, ``fit_score``, ``intent_score``,
    ``confidence``, ``grade``, ``lane``) or lead fields (``fields.<name>``)."""

    features: list[str] = Field(
        default_factory=lambda: ["p_convert", "fit_score", "intent_score"], min_length=1
    )
    threshold: float = Field(default=0.2, gt=0)
    recent_days: int = Field(default=7, ge=1)
    baseline_days: int = Field(default=14, ge=1)
    min_decisions: int = Field(default=200, ge=10)
    bins: int = Field(default=10, ge=2, le=50)

    @model_validator(mode="after")
    def _known_features(self) -> ModelDriftSettings:
        for name in self.features:
            if name not in DRIFT_COLUMNS and not (
                name.startswith("fields.") and len(name) > len("fields.")
            ):
                raise ValueError(
                    f"unknown feature {name!r}; use one of {', '.join(DRIFT_COLUMNS)} or "
                    "fields.<lead field>"
                )
        return self


class CalibrationDriftSettings(AlertRuleSettings):
    """Calibration in the large of the model's ``p_convert`` on routed leads received
    ``window_days`` before ``lag_days`` ago (time for the outcome to happen): observed
    conversions O against the predicted sum E, z = (O - E) / sqrt(sum p(1 - p)); alert when
    the two-sided p-value of z is below ``alpha``. ``outcome`` is what the model predicts."""

    outcome: Literal["meeting", "opportunity", "won"] = "won"
    window_days: int = Field(default=28, ge=1)
    lag_days: int = Field(default=30, ge=0)
    min_leads: int = Field(default=200, ge=10)
    alpha: float = Field(default=0.01, gt=0, lt=1)


class DeliveryFailureSettings(AlertRuleSettings):
    """Webhook deliveries (notifications, CRM callbacks) that gave up in the last
    ``window_hours``, or are still retrying after ``min_attempts`` failed attempts."""

    window_hours: int = Field(default=24, ge=1)
    min_attempts: int = Field(default=2, ge=1)


class NoLeadsSettings(AlertRuleSettings):
    """No lead routed for longer than expected during working hours (when at least one rep
    is on shift): with the routed-lead rate per working hour of the last ``baseline_days``,
    alert when P(no lead in the quiet working time) = exp(-rate x time) < ``alpha`` and the
    quiet working time is at least ``min_quiet_minutes``."""

    baseline_days: int = Field(default=14, ge=1)
    min_quiet_minutes: int = Field(default=60, ge=1)
    alpha: float = Field(default=0.001, gt=0, lt=1)
    min_baseline_leads: int = Field(default=20, ge=1)


class AlertsSettings(BaseModel):
    """Every alert rule's settings, and how often the worker evaluates them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_seconds: int = Field(default=60, ge=1)
    sla_breach: SlaBreachSettings = Field(default_factory=SlaBreachSettings)
    conversion_drop: ConversionDropSettings = Field(default_factory=ConversionDropSettings)
    fairness: FairnessAlertSettings = Field(default_factory=FairnessAlertSettings)
    reassignment_rate: RateTargetSettings = Field(
        default_factory=lambda: RateTargetSettings(target=0.05)
    )
    duplicate_rate: RateTargetSettings = Field(
        default_factory=lambda: RateTargetSettings(target=0.03)
    )
    unusual_assignment: UnusualAssignmentSettings = Field(default_factory=UnusualAssignmentSettings)
    model_drift: ModelDriftSettings = Field(default_factory=ModelDriftSettings)
    calibration_drift: CalibrationDriftSettings = Field(default_factory=CalibrationDriftSettings)
    delivery_failures: DeliveryFailureSettings = Field(default_factory=DeliveryFailureSettings)
    crm_failures: DeliveryFailureSettings = Field(default_factory=DeliveryFailureSettings)
    no_leads: NoLeadsSettings = Field(default_factory=NoLeadsSettings)
    rep_skipped: AlertRuleSettings = Field(default_factory=AlertRuleSettings)
