"""The conversion model: calibrated P(convert | lead, rep) with its confidence.

``ConversionModel`` (fit / predict_proba / score_candidates / explain / save / load) is the
public entry point; ``fit`` keeps what ``training.train`` learned as a ``FittedConversion``
record, and ``evaluation.evaluate`` measures the training procedure out of time. The other
submodules hold features, scoring, baselines, calibration, metrics, confidence, explanations
and artifacts.
"""

from __future__ import annotations

from leadpilot.model.confidence import TopRepConfidence
from leadpilot.model.estimator import TARGETS, ConversionModel
from leadpilot.model.fitted import FittedConversion
from leadpilot.model.guards import LeakageWarning

__all__ = ["TARGETS", "ConversionModel", "FittedConversion", "LeakageWarning", "TopRepConfidence"]
