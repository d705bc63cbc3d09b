"""The conversion model: calibrated P(convert | lead, rep) with its confidence.

``ConversionModel`` (fit / predict_proba / score_candidates / explain / save / load) is the
public entry point; the submodules hold features, baselines, calibration, evaluation,
confidence, explanations and artifacts.
"""

from __future__ import annotations

from leadpilot.model.confidence import TopRepConfidence
from leadpilot.model.estimator import TARGETS, ConversionModel
from leadpilot.model.guards import LeakageWarning

__all__ = ["TARGETS", "ConversionModel", "LeakageWarning", "TopRepConfidence"]
