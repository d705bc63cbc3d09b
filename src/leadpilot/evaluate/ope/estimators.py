"""Off-policy estimators of a candidate policy's conversion rate, with bootstrap intervals.

Every estimator is a function of a few per-lead sums (``sum(numer) / sum(denom)``, or for the
Lepski-tuned variants each candidate's sum and sum of squares), so the bootstrap is one matrix
of resample counts (replicates x leads) times the per-lead columns: one pass over the
resamples serves every estimator, its lift over the logged outcomes and over a baseline
policy. The layout follows Open Bandit Pipeline: one base class, ``estimate_policy_value``
and ``estimate_interval``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope.data import NDF, ReplayData

__all__ = [
    "ESTIMATORS",
    "DirectMethod",
    "DoublyRobust",
    "DoublyRobustShrinkage",
    "Interval",
    "InverseProbabilityWeighting",
    "OffPolicyEstimator",
    "SelfNormalizedDoublyRobust",
    "SelfNormalizedIPS",
    "SwitchDoublyRobust",
    "bootstrap_counts",
    "bootstrap_values",
    "estimate_intervals",
    "leads_for_precision",
    "lift_interval",
    "one_hot",
    "shrunk_weights",
]


class Value(Protocol):
    """What an estimator evaluates on a set of leads (all, or one bootstrap resample).

    ``value(idx)`` evaluates it on the leads ``idx``; for the bootstrap, ``columns()`` gives
    per-lead vectors ``(n_leads, m)`` whose sums over a resample determine the value, and
    ``from_sums(sums, n)`` turns those sums ``(n_replicates, m)`` over resamples of ``n``
    leads into the values ``(n_replicates,)``."""

    def value(self, idx: NDArray[np.int64] | slice = slice(None)) -> float: ...

    def columns(self) -> NDF: ...

    def from_sums(self, sums: NDF, n: int) -> NDF: ...


@dataclass(frozen=True)
class Terms:
    """Per-lead terms, each ``(n_leads,)``: the estimate over leads ``idx`` is
    ``sum(numer) / sum(denom)`` (``denom`` None: the number of leads), times ``mean(scale)``
    when given."""

    numer: NDF
    denom: NDF | None = None
    scale: NDF | None = None

    def value(self, idx: NDArray[np.int64] | slice = slice(None)) -> float:
        """The estimate on the leads ``idx`` (NaN when its denominator is 0)."""
        num = self.numer[idx]
        den = float(len(num)) if self.denom is None else float(self.denom[idx].sum())
        if den <= 0:
            return float("nan")
        out = float(num.sum()) / den
        return out * float(self.scale[idx].mean()) if self.scale is not None else out

    def columns(self) -> NDF:
        """``numer`` and, when given, ``denom`` and ``scale`` as columns."""
        parts = [self.numer] + [c for c in (self.denom, self.scale) if c is not None]
        return np.column_stack(parts).astype(np.float64, copy=False)

    def from_sums(self, sums: NDF, n: int) -> NDF:
        """The value on each resample from its column sums (NaN when the denominator is 0)."""
        den = sums[:, 1] if self.denom is not None else np.full(len(sums), float(n))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(den > 0, sums[:, 0] / np.where(den > 0, den, 1.0), np.nan)
        if self.scale is not None:
            out = out * sums[:, -1] / n
        return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class Interval:
    """An estimated rate (expected conversions per lead) and its bootstrap interval."""

    rate: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """``{rate, ci_low, ci_high}``."""
        return {"rate": self.rate, "ci_low": self.ci_low, "ci_high": self.ci_high}

    @property
    def relative_half_width(self) -> float:
        """Half the interval's width over the estimate (inf when the estimate is <= 0)."""
        if not self.rate > 0:
            return float("inf")
        return (self.ci_high - self.ci_low) / 2 / self.rate


def leads_for_precision(interval: Interval, n_leads: int, target: float = 0.10) -> int | None:
    """About how many leads like these the estimate needs for its 95% interval to reach
    +-``target`` of itself (the half-width shrinks as 1 / sqrt(leads)); ``None`` when the
    interval is not finite."""
    rel = interval.relative_half_width
    if not np.isfinite(rel):
        return None
    return int(np.ceil(n_leads * (rel / target) ** 2))


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
    def _terms(self, data: ReplayData) -> Value:
        """The per-lead terms of the estimate (or a rule that evaluates it on resamples)."""

    def estimate_policy_value(self, data: ReplayData) -> float:
        """Estimated expected conversions per lead under the candidate policy."""
        self._check(data)
        return self._terms(data).value()

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
        terms = self._terms(data)
        draws = bootstrap_values([terms], data.n_leads, n_bootstrap, random_state)[:, 0]
        low, high = _quantiles(draws, alpha)
        return Interval(terms.value(), float(low), float(high))


# Resample counts are built and used this many cells at a time (8 bytes each): the whole
# (n_bootstrap, n_leads) matrix would take ~140 MB for 500 x 36,000 leads.
BOOTSTRAP_CHUNK_CELLS = 2_000_000


def bootstrap_counts(
    n: int, n_bootstrap: int, random_state: int = 0
) -> Iterator[NDArray[np.float64]]:
    """The nonparametric bootstrap over ``n`` leads as count matrices: row ``b`` holds how
    often each lead is drawn in replicate ``b`` (``n`` draws with replacement), yielded a
    block of replicates at a time. The same ``random_state`` gives the same replicates, so
    every estimator (and both sides of a lift) sees the same resamples."""
    rng = np.random.default_rng(random_state)
    per_chunk = max(1, BOOTSTRAP_CHUNK_CELLS // max(n, 1))
    for start in range(0, n_bootstrap, per_chunk):
        b = min(per_chunk, n_bootstrap - start)
        idx = rng.integers(0, n, (b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap_values(
    values: Sequence[Value], n: int, n_bootstrap: int, random_state: int = 0
) -> NDF:
    """Each of ``values`` on every bootstrap replicate, shape ``(n_bootstrap, len(values))``:
    one matrix product of the resample counts with the values' per-lead columns."""
    cols = [np.asarray(v.columns(), dtype=np.float64).reshape(n, -1) for v in values]
    stops = np.cumsum([c.shape[1] for c in cols])
    matrix = np.hstack(cols) if cols else np.zeros((n, 0))
    out = np.empty((n_bootstrap, len(values)))
    row = 0
    for counts in bootstrap_counts(n, n_bootstrap, random_state):
        sums = counts @ matrix
        for j, (value, stop) in enumerate(zip(values, stops, strict=True)):
            out[row : row + len(counts), j] = value.from_sums(
                sums[:, stop - cols[j].shape[1] : stop], n
            )
        row += len(counts)
    return out


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

    def _terms(self, data: ReplayData) -> Terms:
        return Terms(_policy_reward(data))


class InverseProbabilityWeighting(OffPolicyEstimator):
    """Logged outcomes weighted by pi(a | x) / pscore: unbiased with exact propensities."""

    name = "ips"

    def _terms(self, data: ReplayData) -> Terms:
        return Terms(data.weights * data.reward)


class SelfNormalizedIPS(OffPolicyEstimator):
    """IPS divided by the sum of the weights instead of n: lower variance, small bias. The
    weights average the candidate's assigned share (a lead it leaves with nobody converts
    nothing), so the ratio is scaled back by that share."""

    name = "snips"

    def _terms(self, data: ReplayData) -> Terms:
        w = data.weights
        return Terms(w * data.reward, w, data.action_dist.sum(axis=1))


class DoublyRobust(OffPolicyEstimator):
    """The direct method plus the weighted residual of the logged outcome: consistent when
    either the outcome model or the propensities are right."""

    name = "dr"
    needs_reward_model = True

    def _terms(self, data: ReplayData) -> Terms:
        assert data.reward_model is not None
        logged = data.reward_model[np.arange(data.n_leads), data.action]
        return Terms(_policy_reward(data) + data.weights * (data.reward - logged))


class SelfNormalizedDoublyRobust(OffPolicyEstimator):
    """SNDR: DR whose weighted residuals are divided by the sum of the weights instead of
    the number of leads (as zr-obp's ``SelfNormalizedDoublyRobust``), scaled back by the
    candidate's mean assigned share as SNIPS is. Bounded by the residuals' range whatever
    the weights, at the price of a small bias; consistent like DR. With no matched lead
    there is nothing to correct: the direct method's value."""

    name = "sndr"
    needs_reward_model = True

    def _terms(self, data: ReplayData) -> Value:
        assert data.reward_model is not None
        logged = data.reward_model[np.arange(data.n_leads), data.action]
        w = data.weights
        return _SelfNormalizedRule(
            _policy_reward(data), w * (data.reward - logged), w, data.action_dist.sum(axis=1)
        )


@dataclass(frozen=True)
class _SelfNormalizedRule:
    policy_reward: NDF  # q(x_i, pi)
    correction: NDF  # w_i (r_i - q(x_i, a_i))
    weights: NDF
    share: NDF  # the candidate's assigned share per lead (1 unless it leaves the lead)

    def value(self, idx: NDArray[np.int64] | slice = slice(None)) -> float:
        base = float(self.policy_reward[idx].mean())
        total = float(self.weights[idx].sum())
        if total <= 0:
            return base
        return base + float(self.correction[idx].sum()) / total * float(self.share[idx].mean())

    def columns(self) -> NDF:
        return np.column_stack([self.policy_reward, self.correction, self.weights, self.share])

    def from_sums(self, sums: NDF, n: int) -> NDF:
        base, correction, total, share = sums.T
        with np.errstate(divide="ignore", invalid="ignore"):
            corrected = base / n + correction / np.where(total > 0, total, 1.0) * share / n
        return np.asarray(np.where(total > 0, corrected, base / n), dtype=np.float64)


# Weight quantiles tried as SWITCH-DR thresholds (and, squared, as DRos's shrinkage
# strengths), between DR (no threshold) and DM (0).
SWITCH_QUANTILES = (0.99, 0.95, 0.9, 0.75, 0.5, 0.25)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class _LepskiRule:
    """A family of DR variants ``q(x, pi) + factor_c * (r - q(x, a))``, one weight-like
    ``factor_c`` per candidate parameter (ordered from the least biased, plain DR, to the
    most, DM), the parameter chosen on the leads it is evaluated on."""

    policy_reward: NDF  # q(x_i, pi)
    residual: NDF  # r_i - q(x_i, a_i)
    factors: tuple[NDF, ...]
    params: tuple[float, ...]
    chosen: list[float] = field(default_factory=list)  # the last parameter chosen

    def value(self, idx: NDArray[np.int64] | slice = slice(None)) -> float:
        base, res = self.policy_reward[idx], self.residual[idx]
        n = len(base)
        if n < 2:
            return float(base.mean() + (self.factors[0][idx] * res).mean()) if n else float("nan")
        values: list[float] = []
        halves: list[float] = []
        pick = 0
        for i, factor in enumerate(self.factors):
            x = base + factor[idx] * res
            values.append(float(x.mean()))
            halves.append(Z95 * float(x.std(ddof=1)) / np.sqrt(n))
            # Lepski's rule (as SLOPE): a lower-variance candidate is taken only while its
            # 95% interval overlaps every higher-variance (less biased) candidate's.
            if any(abs(values[i] - values[j]) > halves[i] + halves[j] for j in range(i)):
                break
            pick = i
        self.chosen[:] = [self.params[pick]]
        return values[pick]

    def columns(self) -> NDF:
        """Each candidate's per-lead term and its square (its mean and spread on a
        resample come from their sums)."""
        terms = [self.policy_reward + f * self.residual for f in self.factors]
        return np.column_stack([c for x in terms for c in (x, x * x)])

    def from_sums(self, sums: NDF, n: int) -> NDF:
        """``value`` on each resample, the rule applied to all resamples at once."""
        means = sums[:, 0::2] / n
        if n < 2:
            return np.asarray(means[:, 0], dtype=np.float64)
        var = np.maximum(sums[:, 1::2] - n * means**2, 0.0) / (n - 1)
        halves = Z95 * np.sqrt(var) / np.sqrt(n)
        # conflict[b, i]: candidate i's interval misses a less biased candidate j < i's
        gap = np.abs(means[:, :, None] - means[:, None, :])
        apart = gap > halves[:, :, None] + halves[:, None, :]
        conflict = np.tril(apart, k=-1).any(axis=2)
        # Lepski stops at the first conflict: the pick is the last candidate before it
        pick = np.cumprod(~conflict, axis=1).sum(axis=1) - 1
        return np.asarray(means[np.arange(len(sums)), pick], dtype=np.float64)


def _weight_grid(w: NDF) -> NDF:
    positive = w[w > 0]
    return np.quantile(positive, SWITCH_QUANTILES) if len(positive) else np.array([])


class _TunedDoublyRobust(OffPolicyEstimator):
    """Shared by SWITCH-DR and DRos: a Lepski-tuned family of modified weights."""

    needs_reward_model = True

    @staticmethod
    @abstractmethod
    def _family(w: NDF) -> tuple[tuple[float, ...], tuple[NDF, ...]]:
        """The candidate parameters, least biased first, and each one's modified weights."""

    def _terms(self, data: ReplayData) -> Value:
        assert data.reward_model is not None
        logged = data.reward_model[np.arange(data.n_leads), data.action]
        params, factors = self._family(data.weights)
        return _LepskiRule(_policy_reward(data), data.reward - logged, factors, params)

    def _chosen(self, data: ReplayData) -> float:
        self._check(data)
        rule = self._terms(data)
        assert isinstance(rule, _LepskiRule)
        rule.value()
        return rule.chosen[0]


class SwitchDoublyRobust(_TunedDoublyRobust):
    """SWITCH-DR (Wang, Agarwal and Dudik 2017): doubly robust on the leads whose weight is
    at most a threshold, the direct method alone on the rest. The threshold is chosen from
    the data by Lepski's rule over weight quantiles (as SLOPE, Su et al. 2020): the smallest
    threshold whose estimate stays within the intervals of every larger one. It trades DR's
    variance for the outcome model's bias where the weights are largest; the bootstrap
    re-chooses the threshold in every resample, so the interval carries that choice's
    variance, but not the model's bias."""

    name = "switch_dr"

    @staticmethod
    def _family(w: NDF) -> tuple[tuple[float, ...], tuple[NDF, ...]]:
        taus = (float("inf"), *(float(t) for t in _weight_grid(w)), 0.0)
        return taus, tuple(np.where(w <= tau, w, 0.0) for tau in taus)

    def threshold(self, data: ReplayData) -> float:
        """The weight threshold chosen on all of ``data``'s leads (inf: plain DR)."""
        return self._chosen(data)


class DoublyRobustShrinkage(_TunedDoublyRobust):
    """DRos (Su, Dimakopoulou, Krishnamurthy and Dudik 2020, "optimistic shrinkage"): DR with
    each weight w replaced by lambda w / (w^2 + lambda), which leaves small weights nearly
    whole and shrinks large ones towards 0 (a weight of sqrt(lambda) is halved): lambda =
    inf is plain DR, 0 the direct method. lambda is chosen as SWITCH-DR's threshold is, by
    Lepski's rule (SLOPE, zr-obp's default tuning) over the squared weight quantiles, and
    re-chosen in every bootstrap resample."""

    name = "dr_os"

    @staticmethod
    def _family(w: NDF) -> tuple[tuple[float, ...], tuple[NDF, ...]]:
        lambdas = (float("inf"), *(float(t) ** 2 for t in _weight_grid(w)), 0.0)
        return lambdas, tuple(shrunk_weights(w, lam) for lam in lambdas)

    def shrinkage(self, data: ReplayData) -> float:
        """The lambda chosen on all of ``data``'s leads (inf: plain DR)."""
        return self._chosen(data)


def shrunk_weights(w: NDF, lam: float) -> NDF:
    """DRos's weights lambda w / (w^2 + lambda) (w itself for lambda = inf, 0 for 0)."""
    if np.isinf(lam):
        return np.asarray(w, dtype=np.float64)
    if lam <= 0:
        return np.zeros_like(w, dtype=np.float64)
    return np.asarray(lam * w / (w**2 + lam), dtype=np.float64)


# The registry: reports and the CLI list estimators from here, in this order.
ESTIMATORS: dict[str, type[OffPolicyEstimator]] = {
    cls.name: cls
    for cls in (
        DirectMethod,
        InverseProbabilityWeighting,
        SelfNormalizedIPS,
        DoublyRobust,
        SwitchDoublyRobust,
        SelfNormalizedDoublyRobust,
        DoublyRobustShrinkage,
    )
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
    terms_a = estimator._terms(data)
    terms_b: Value
    if baseline is None:
        terms_b = Terms(data.reward)
    else:
        if baseline.n_leads != data.n_leads:
            raise DataValidationError(
                f"baseline has {baseline.n_leads} leads, the candidate {data.n_leads}",
                hint="evaluate both policies on the same replayed leads",
            )
        terms_b = estimator._terms(baseline)
    both = bootstrap_values([terms_a, terms_b], data.n_leads, n_bootstrap, random_state)
    draws = _ratio(both[:, 0], both[:, 1])
    low, high = _quantiles(draws, alpha)
    point = _ratio(np.array([terms_a.value()]), np.array([terms_b.value()]))[0]
    return Interval(float(point), float(low), float(high))


def _ratio(a: NDF, b: NDF) -> NDF:
    # A resample whose weights are all zero (SNIPS) or whose baseline converts nothing has
    # no ratio: NaN, left out of the quantiles.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(b > 0, a / np.where(b > 0, b, 1.0) - 1.0, np.nan))


def estimate_intervals(
    estimators: Mapping[str, OffPolicyEstimator],
    data: ReplayData,
    baseline: ReplayData | None = None,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> tuple[dict[str, Interval], dict[str, Interval], dict[str, Interval]]:
    """For each estimator at once: ``estimate_interval``, ``lift_interval`` over the logged
    outcomes, and (when ``baseline`` is given) over ``baseline``, all from one bootstrap
    pass; the same intervals as the separate calls with the same ``random_state``."""
    if not 0 < alpha < 1 or n_bootstrap < 10:
        raise DataValidationError(
            f"alpha={alpha} and n_bootstrap={n_bootstrap} are not usable",
            hint="alpha in (0, 1), e.g. 0.05; n_bootstrap of at least 10, e.g. 1000",
        )
    if baseline is not None and baseline.n_leads != data.n_leads:
        raise DataValidationError(
            f"baseline has {baseline.n_leads} leads, the candidate {data.n_leads}",
            hint="evaluate both policies on the same replayed leads",
        )
    names = list(estimators)
    for est in estimators.values():
        est._check(data)
    values: list[Value] = [estimators[k]._terms(data) for k in names] + [Terms(data.reward)]
    if baseline is not None:
        values += [estimators[k]._terms(baseline) for k in names]
    draws = bootstrap_values(values, data.n_leads, n_bootstrap, random_state)
    points = np.array([v.value() for v in values])
    m = len(names)

    def interval(point: float, d: NDF) -> Interval:
        low, high = _quantiles(d, alpha)
        return Interval(float(point), float(low), float(high))

    def lift(i: int, j: int) -> Interval:
        point = _ratio(points[i : i + 1], points[j : j + 1])[0]
        return interval(point, _ratio(draws[:, i], draws[:, j]))

    estimates = {k: interval(points[i], draws[:, i]) for i, k in enumerate(names)}
    lifts = {k: lift(i, m) for i, k in enumerate(names)}
    lifts_base = {} if baseline is None else {k: lift(i, m + 1 + i) for i, k in enumerate(names)}
    return estimates, lifts, lifts_base


def one_hot(positions: NDArray[np.int64], n_reps: int) -> NDF:
    """A deterministic policy's ``action_dist`` from rep positions (-1 = nobody)."""
    out = np.zeros((len(positions), n_reps))
    ok = positions >= 0
    out[np.flatnonzero(ok), positions[ok]] = 1.0
    return out
