"""Probability calibration on a later time slice: isotonic regression or Platt scaling.

Isotonic regression is non-parametric and needs thousands of outcomes to be stable; on
less data its steps overfit the slice, so below ``ISOTONIC_MIN_ROWS`` rows (or
``ISOTONIC_MIN_CLASS`` of the rarer class) we use Platt scaling (a 2-parameter logistic on
the model's log-odds), which cannot overfit a small slice. ``auto`` first tests whether the
slice shows miscalibration at all and leaves the model's probabilities alone if not.

Rows may be copies of one lead (the retrain's inverse-propensity weights as row counts,
:mod:`leadpilot.copies`): the map is fit on the rows (the weights are meant), but the
test and the isotonic thresholds count the evidence in leads.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from leadpilot.copies import effective_size

__all__ = ["ISOTONIC_MIN_CLASS", "ISOTONIC_MIN_ROWS", "Calibrator"]

ISOTONIC_MIN_ROWS = 5_000
ISOTONIC_MIN_CLASS = 500
_EPS = 1e-6
CHI2_2DF_95 = 5.991


class Calibrator:
    """Maps raw log-odds ``z`` to calibrated probabilities; fit / transform / JSON round trip.

    ``method="auto"`` picks isotonic on large slices and Platt otherwise (see module doc).
    Isotonic maps are stored as threshold arrays and applied with ``np.interp`` (fast, no
    scikit-learn object at scoring time).
    """

    def __init__(self, *, method: Literal["auto", "isotonic", "platt", "none"] = "auto") -> None:
        self.method = method

    def fit(
        self,
        z: NDArray[np.float64],
        y: NDArray[np.float64],
        *,
        check: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
        groups: NDArray[np.int64] | None = None,
    ) -> Calibrator:
        """Fit on log-odds ``z`` and outcomes ``y`` of the calibration slice. With ``auto``,
        ``check`` holds out-of-time log-odds and outcomes of an earlier window: a map is
        kept only if it helps there too (a seasonal dip in one slice is not persistent
        miscalibration). ``groups``: each row's lead, where rows are copies of leads."""
        # Evidence in leads: each row counts for n_eff / n of an independent outcome.
        share = 1.0 if groups is None or len(y) == 0 else effective_size(groups) / len(y)
        n_min = float(min(y.sum(), len(y) - y.sum())) * share
        method = self.method
        if method == "auto":
            if not self._miscalibrated(z, y, share) or not self._helps(z, y, check):
                method = "none"
            else:
                big = len(y) * share >= ISOTONIC_MIN_ROWS and n_min >= ISOTONIC_MIN_CLASS
                method = "isotonic" if big else "platt"
        self.method_ = method
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=_EPS, y_max=1 - _EPS)
            iso.fit(z, y)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        elif method == "platt":
            lr = LogisticRegression(C=1e4)
            lr.fit(z.reshape(-1, 1), y)
            self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif method != "none":
            raise ValueError(f"calibration must be auto, isotonic, platt or none, not {method!r}")
        return self

    @staticmethod
    def _miscalibrated(z: NDArray[np.float64], y: NDArray[np.float64], share: float) -> bool:
        """Likelihood-ratio test of Platt scaling against the identity on the slice.

        A model fit by log loss is usually calibrated already; re-mapping it on a small
        slice then only adds that slice's noise. So ``auto`` calibrates only when the slice
        shows miscalibration (2 x log-likelihood gain > 5.99, chi-square 2 df, 5% level).
        The statistic summed over rows is scaled by ``share`` (effective leads per row):
        a lead kept five times would otherwise count its outcome five times. Unscaled, a
        drift retrain's 300-row slice of about 110 leads passed the test (statistic 10.6,
        scaled 2.8) and the noise-driven map kept the newest 30% out of the fit.
        """
        lr = LogisticRegression(C=1e4).fit(z.reshape(-1, 1), y)
        p1 = np.clip(lr.predict_proba(z.reshape(-1, 1))[:, 1], _EPS, 1 - _EPS)
        p0 = np.clip(1.0 / (1.0 + np.exp(-z)), _EPS, 1 - _EPS)

        def ll(p: NDArray[np.float64]) -> float:
            return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))

        return 2.0 * (ll(p1) - ll(p0)) * share > CHI2_2DF_95

    @staticmethod
    def _helps(
        z: NDArray[np.float64],
        y: NDArray[np.float64],
        check: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    ) -> bool:
        lr = LogisticRegression(C=1e4).fit(z.reshape(-1, 1), y)
        if lr.coef_[0, 0] <= 0:
            return False  # a map that reverses the ranking is noise, never calibration
        if check is None or len(check[1]) == 0:
            return True
        zc, yc = check
        p1 = np.clip(lr.predict_proba(zc.reshape(-1, 1))[:, 1], _EPS, 1 - _EPS)
        p0 = np.clip(1.0 / (1.0 + np.exp(-zc)), _EPS, 1 - _EPS)
        ll1 = float(np.mean(yc * np.log(p1) + (1 - yc) * np.log(1 - p1)))
        ll0 = float(np.mean(yc * np.log(p0) + (1 - yc) * np.log(1 - p0)))
        return ll1 > ll0

    def transform(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated probabilities for log-odds ``z`` (any shape)."""
        if self.method_ == "isotonic":
            return np.interp(z, self.x_, self.y_)
        if self.method_ == "platt":
            return 1.0 / (1.0 + np.exp(-(self.a_ * z + self.b_)))
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, Any]:
        if self.method_ == "isotonic":
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        if self.method_ == "platt":
            return {"method": "platt", "a": self.a_, "b": self.b_}
        return {"method": "none"}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Calibrator:
        cal = cls(method=d["method"])
        cal.method_ = d["method"]
        if cal.method_ == "isotonic":
            cal.x_ = np.asarray(d["x"], dtype=np.float64)
            cal.y_ = np.asarray(d["y"], dtype=np.float64)
            if cal.x_.shape != cal.y_.shape or cal.x_.size == 0 or np.any(np.diff(cal.x_) < 0):
                raise ValueError("isotonic calibration thresholds are malformed")
        elif cal.method_ == "platt":
            cal.a_, cal.b_ = float(d["a"]), float(d["b"])
            if not (math.isfinite(cal.a_) and math.isfinite(cal.b_)):
                raise ValueError("Platt calibration parameters are not finite")
        elif cal.method_ != "none":
            raise ValueError(f"unknown calibration method {cal.method_!r}")
        return cal
