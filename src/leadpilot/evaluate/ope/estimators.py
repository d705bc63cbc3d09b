"""Off-policy estimators of a candidate policy's conversion rate, with bootstrap intervals.

Every estimator is a ratio of per-lead sums, ``sum(numer) / sum(denom)`` (``denom`` = 1 for
all but self-normalised IPS), so one bootstrap over leads serves them all. The layout follows
Open Bandit Pipeline: one base class, ``estimate_policy_value`` and ``estimate_interval``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope.data import NDF, ReplayData

__all__ = [
    "ESTIMATORS",
    "DirectMethod",
    "DoublyRobust",
    "Interval",
    "InverseProbabilityWeighting",
    "OffPolicyEstimator",
    "SelfNormalizedIPS",
    "lift_interval",
    "one_hot",
]


@dataclass(frozen=True)
class Interval:
    """An estimated rate (expected conversions per lead) and its bootstrap interval."""

    rate: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """``{rate, ci_low, ci_high}``."""
        return {"rate": self.rate, "ci_low": self.ci_low, "ci_high": self.ci_high}


class OffPolicyEstimator(ABC):
    """Base class: subclasses give the per-lead terms of their ratio."""

    name: str = ""
    needs_reward_model: bool = False

    def _check(self, data: ReplayData) -> None:
        if self.needs_reward_model and data.reward_model is None:
            raise DataValidationError(
                f"the {self.name} estimator needs a reward model (P(convert | lead, rep))",
                hint="pass --model with a trained model, or use ips / snips",
            )

    @abstractmethod
    def _terms(self, data: ReplayData) -> tuple[NDF, NDF | None]:
        """(numerator terms, denominator terms or None for n_leads), each ``(n_leads,)``."""

    def estimate_policy_value(self, data: ReplayData) -> float:
        """Estimated expected conversions per lead under the candidate policy."""
        self._check(data)
        numer, denom = self._terms(data)
        return float(numer.sum() / (len(numer) if denom is None else denom.sum()))

    def estimate_interval(
        self,
        data: ReplayData,
        *,
        alpha: float = 0.05,
        n_bootstrap: int = 1000,
        random_state: int = 0,
    ) -> Interval:
        """The estimate and its ``1 - alpha`` percentile-bootstrap interval over leads."""
        if not 0 < alpha < 1 or n_bootstrap < 10:
            raise DataValidationError(
                f"alpha={alpha} and n_bootstrap={n_bootstrap} are not usable",
                hint="alpha in (0, 1), e.g. 0.05; n_bootstrap of at least 10, e.g. 1000",
            )
        self._check(data)
        numer, denom = self._terms(data)
        n = len(numer)
        rng = np.random.default_rng(random_state)
        draws = np.empty(n_bootstrap)
        # Index draws per replicate keep memory at O(n) (an (n_bootstrap, n) count matrix
        # would take ~300 MB for 36,000 leads).
        for b in range(n_bootstrap):
            idx = rng.integers(0, n, n)
            total = n if denom is None else denom[idx].sum()
            draws[b] = numer[idx].sum() / total if total > 0 else np.nan
        point = float(numer.sum() / (n if denom is None else denom.sum()))
        low, high = _quantiles(draws, alpha)
        return Interval(point, float(low), float(high))


def _quantiles(draws: NDF, alpha: float) -> tuple[float, float]:
    """The percentile interval of the finite draws (NaN, NaN when none is finite)."""
    ok = draws[np.isfinite(draws)]
    if len(ok) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _policy_reward(data: ReplayData) -> NDF:
    """q(x_i, pi) = sum_a pi(a | x_i) q(x_i, a), shape ``(n_leads,)``."""
    assert data.reward_model is not None
    return np.asarray((data.action_dist * data.reward_model).sum(axis=1), dtype=np.float64)


class DirectMethod(OffPolicyEstimator):
    """The outcome model's expected conversions of the candidate's choices (no weights)."""

    name = "dm"
    needs_reward_model = True

    def _terms(self, data: ReplayData) -> tuple[NDF, NDF | None]:
        return _policy_reward(data), None


class InverseProbabilityWeighting(OffPolicyEstimator):
    """Logged outcomes weighted by pi(a | x) / pscore: unbiased with exact propensities."""

    name = "ips"

    def _terms(self, data: ReplayData) -> tuple[NDF, NDF | None]:
        return data.weights * data.reward, None


class SelfNormalizedIPS(OffPolicyEstimator):
    """IPS divided by the sum of the weights instead of n: lower variance, small bias."""

    name = "snips"

    def _terms(self, data: ReplayData) -> tuple[NDF, NDF | None]:
        w = data.weights
        return w * data.reward, w


class DoublyRobust(OffPolicyEstimator):
    """The direct method plus the weighted residual of the logged outcome: consistent when
    either the outcome model or the propensities are right."""

    name = "dr"
    needs_reward_model = True

    def _terms(self, data: ReplayData) -> tuple[NDF, NDF | None]:
        assert data.reward_model is not None
        logged = data.reward_model[np.arange(data.n_leads), data.action]
        return _policy_reward(data) + data.weights * (data.reward - logged), None


# The registry: reports and the CLI list estimators from here, in this order.
ESTIMATORS: dict[str, type[OffPolicyEstimator]] = {
    cls.name: cls
    for cls in (DirectMethod, InverseProbabilityWeighting, SelfNormalizedIPS, DoublyRobust)
}


def lift_interval(
    estimator: OffPolicyEstimator,
    data: ReplayData,
    baseline: ReplayData | None = None,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> Interval:
    """Relative lift of ``data``'s candidate over ``baseline``'s (another candidate on the same
    leads, same estimator) or, when ``baseline`` is None, over the logged outcomes; the
    interval resamples leads once for both sides, so their shared noise cancels."""
    estimator._check(data)
    num_a, den_a = estimator._terms(data)
    if baseline is None:
        num_b, den_b = data.reward, None
    else:
        if baseline.n_leads != data.n_leads:
            raise DataValidationError(
                f"baseline has {baseline.n_leads} leads, the candidate {data.n_leads}",
                hint="evaluate both policies on the same replayed leads",
            )
        num_b, den_b = estimator._terms(baseline)
    n = data.n_leads

    def ratio(idx: NDArray[np.int64] | slice) -> float:
        # A resample whose weights are all zero (SNIPS) or whose baseline converts nothing
        # has no ratio: NaN, left out of the quantiles.
        da = n if den_a is None else float(den_a[idx].sum())
        db = n if den_b is None else float(den_b[idx].sum())
        b = float(num_b[idx].sum()) / db if db > 0 else 0.0
        if da <= 0 or b <= 0:
            return float("nan")
        return float(num_a[idx].sum()) / da / b - 1.0

    rng = np.random.default_rng(random_state)
    draws = np.array([ratio(rng.integers(0, n, n)) for _ in range(n_bootstrap)])
    low, high = _quantiles(draws, alpha)
    return Interval(ratio(slice(None)), float(low), float(high))


def one_hot(positions: NDArray[np.int64], n_reps: int) -> NDF:
    """A deterministic policy's ``action_dist`` from rep positions (-1 = nobody)."""
    out = np.zeros((len(positions), n_reps))
    ok = positions >= 0
    out[np.flatnonzero(ok), positions[ok]] = 1.0
    return out
