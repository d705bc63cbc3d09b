"""Off-policy evaluation: estimate a candidate policy's conversions from logged history.

``ReplayData`` holds the logged leads and the candidate's choices; the estimators in
``ESTIMATORS`` (dm, ips, snips, dr, switch_dr, sndr, dr_os) share ``estimate_policy_value`` /
``estimate_interval``;
``overlap_diagnostics`` says whether the history can tell; ``LoggingPolicyModel`` estimates
the logging propensities when the history did not record them.
"""

from __future__ import annotations

from leadpilot.evaluate.ope.data import ReplayData
from leadpilot.evaluate.ope.estimators import (
    ESTIMATORS,
    DirectMethod,
    DoublyRobust,
    DoublyRobustShrinkage,
    Interval,
    InverseProbabilityWeighting,
    OffPolicyEstimator,
    SelfNormalizedDoublyRobust,
    SelfNormalizedIPS,
    SwitchDoublyRobust,
    bootstrap_counts,
    bootstrap_values,
    estimate_intervals,
    leads_for_precision,
    lift_interval,
    one_hot,
    shrunk_weights,
)
from leadpilot.evaluate.ope.overlap import (
    OVERLAP_THRESHOLDS,
    OverlapDiagnostics,
    overlap_diagnostics,
)
from leadpilot.evaluate.ope.propensity import LoggingPolicyModel, clip_propensity

__all__ = [
    "ESTIMATORS",
    "OVERLAP_THRESHOLDS",
    "DirectMethod",
    "DoublyRobust",
    "DoublyRobustShrinkage",
    "Interval",
    "InverseProbabilityWeighting",
    "LoggingPolicyModel",
    "OffPolicyEstimator",
    "OverlapDiagnostics",
    "ReplayData",
    "SelfNormalizedDoublyRobust",
    "SelfNormalizedIPS",
    "SwitchDoublyRobust",
    "bootstrap_counts",
    "bootstrap_values",
    "clip_propensity",
    "estimate_intervals",
    "leads_for_precision",
    "lift_interval",
    "one_hot",
    "overlap_diagnostics",
    "shrunk_weights",
]
