"""Off-policy estimators against hand computations; bootstrap against the normal approximation."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope import (
    ESTIMATORS,
    DirectMethod,
    DoublyRobust,
    DoublyRobustShrinkage,
    Interval,
    InverseProbabilityWeighting,
    ReplayData,
    SelfNormalizedDoublyRobust,
    SelfNormalizedIPS,
    SwitchDoublyRobust,
    bootstrap_counts,
    estimate_intervals,
    leads_for_precision,
    lift_interval,
    one_hot,
    shrunk_weights,
)
from leadpilot.evaluate.ope.estimators import _LepskiRule


def _data() -> ReplayData:
    # 4 leads, 2 reps. The candidate picks rep 0, 0, 1, 1; the history picked 0, 1, 0, 1.
    return ReplayData(
        action=np.array([0, 1, 0, 1]),
        reward=np.array([1.0, 0.0, 0.0, 0.0]),
        pscore=np.array([0.5, 0.25, 0.8, 0.25]),
        action_dist=one_hot(np.array([0, 0, 1, 1]), 2),
        reward_model=np.array([[0.3, 0.1], [0.2, 0.4], [0.5, 0.6], [0.1, 0.2]]),
    )


def test_weights_by_hand() -> None:
    # pi(a_i | x_i) = 1, 0, 0, 1 over pscores 0.5, 0.25, 0.8, 0.25
    assert _data().weights.tolist() == [2.0, 0.0, 0.0, 4.0]


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (DirectMethod(), (0.3 + 0.2 + 0.6 + 0.2) / 4),  # q at the candidate's reps
        (InverseProbabilityWeighting(), (2 * 1.0) / 4),  # only lead 0 matched and converted
        (SelfNormalizedIPS(), 2.0 / (2 + 4)),  # same numerator over the sum of the weights
        # q(x, pi) + w (r - q(x, a)): 0.3 + 2(1 - 0.3), 0.2, 0.6, 0.2 + 4(0 - 0.2)
        (DoublyRobust(), (1.7 + 0.2 + 0.6 - 0.6) / 4),
        # SNDR: DM 0.325 plus sum w (r - q(x, a)) = 2(0.7) + 4(-0.2) = 0.6 over sum w = 6
        (SelfNormalizedDoublyRobust(), 0.325 + 0.6 / 6),
    ],
)
def test_estimates_by_hand(estimator: object, expected: float) -> None:
    assert estimator.estimate_policy_value(_data()) == pytest.approx(expected)  # type: ignore[attr-defined]


def test_registry_lists_the_estimators_in_report_order() -> None:
    assert list(ESTIMATORS) == ["dm", "ips", "snips", "dr", "switch_dr", "sndr", "dr_os"]


def test_stochastic_candidate_uses_its_probabilities() -> None:
    # Candidate splits 50/50: pi(a_i) = 0.5 for every lead, so w = 0.5 / pscore.
    data = ReplayData(
        action=np.array([0, 1]),
        reward=np.array([1.0, 1.0]),
        pscore=np.array([0.5, 0.25]),
        action_dist=np.full((2, 2), 0.5),
        reward_model=np.array([[0.2, 0.4], [0.6, 0.8]]),
    )
    assert InverseProbabilityWeighting().estimate_policy_value(data) == pytest.approx(
        (1.0 + 2.0) / 2
    )
    assert DirectMethod().estimate_policy_value(data) == pytest.approx((0.3 + 0.7) / 2)


def test_unassigned_leads_count_as_no_conversion() -> None:
    data = ReplayData(
        action=np.array([0, 0]),
        reward=np.array([1.0, 1.0]),
        pscore=np.array([1.0, 1.0]),
        action_dist=one_hot(np.array([0, -1]), 2),
        reward_model=np.array([[0.4, 0.1], [0.4, 0.1]]),
    )
    assert InverseProbabilityWeighting().estimate_policy_value(data) == pytest.approx(0.5)
    assert DirectMethod().estimate_policy_value(data) == pytest.approx(0.2)
    # SNIPS: sum(w r) / sum(w) = 1 / 1 is the rate of the assigned half; times the share 1/2
    assert SelfNormalizedIPS().estimate_policy_value(data) == pytest.approx(0.5)


def test_exact_propensities_make_ips_unbiased_on_a_simulated_log() -> None:
    # A logging policy with known probabilities and a candidate whose true value is known:
    # the estimates must land within their own bootstrap intervals of it.
    rng = np.random.default_rng(7)
    n, k = 40_000, 3
    true_p = np.array([0.1, 0.3, 0.2])
    logging = np.array([0.6, 0.1, 0.3])
    action = rng.choice(k, n, p=logging)
    reward = (rng.random(n) < true_p[action]).astype(float)
    data = ReplayData(
        action=action,
        reward=reward,
        pscore=logging[action],
        action_dist=one_hot(np.ones(n, dtype=np.int64), k),  # always rep 1: truth 0.3
        reward_model=np.tile([0.12, 0.25, 0.2], (n, 1)),  # a wrong model: DM is biased
    )
    for name, resamples in (("ips", 300), ("snips", 300), ("dr", 300), ("sndr", 100),
                            ("dr_os", 100)):  # fmt: skip
        iv = ESTIMATORS[name]().estimate_interval(data, n_bootstrap=resamples)
        assert iv.ci_low < 0.3 < iv.ci_high, name
    assert DirectMethod().estimate_policy_value(data) == pytest.approx(0.25)


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    reward = (rng.random(n) < 0.3).astype(float)
    data = ReplayData(
        action=np.zeros(n, dtype=np.int64),
        reward=reward,
        pscore=np.ones(n),
        action_dist=one_hot(np.zeros(n, dtype=np.int64), 2),
    )
    iv = InverseProbabilityWeighting().estimate_interval(data, n_bootstrap=2000)
    half = 1.96 * reward.std() / np.sqrt(n)
    assert iv.rate == pytest.approx(reward.mean())
    assert iv.ci_low == pytest.approx(reward.mean() - half, abs=0.15 * half)
    assert iv.ci_high == pytest.approx(reward.mean() + half, abs=0.15 * half)


def test_interval_is_deterministic_under_a_seed() -> None:
    a = DoublyRobust().estimate_interval(_data(), n_bootstrap=50, random_state=4)
    b = DoublyRobust().estimate_interval(_data(), n_bootstrap=50, random_state=4)
    assert a == b
    assert a.ci_low <= a.rate <= a.ci_high


def _bad(**change: object) -> dict[str, object]:
    base = _data()
    fields = {
        "action": base.action,
        "reward": base.reward,
        "pscore": base.pscore,
        "action_dist": base.action_dist,
        "reward_model": base.reward_model,
    }
    fields.update(change)
    return fields


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"action_dist": np.ones(4)}, "action_dist has shape"),
        ({"reward": np.ones(3)}, "reward has shape"),
        ({"pscore": np.array([0.5, 0.0, 0.8, 0.25])}, r"pscore must lie in \(0, 1\]"),
        ({"action": np.array([0, 1, 2, 1])}, "outside 0..1"),
        ({"action_dist": np.full((4, 2), 0.6)}, "summing to at most 1"),
        ({"reward_model": np.ones((4, 3))}, "reward_model has shape"),
        ({"reward": np.array([1.0, 2.0, 0.0, 0.0])}, r"reward must lie in \[0, 1\]"),
    ],
)
def test_invalid_input_is_rejected_with_a_reason(change: dict[str, object], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        ReplayData(**_bad(**change))  # type: ignore[arg-type]


def test_dm_and_dr_need_a_reward_model() -> None:
    data = ReplayData(**_bad(reward_model=None))  # type: ignore[arg-type]
    for est in (DirectMethod(), DoublyRobust()):
        with pytest.raises(DataValidationError, match="needs a reward model"):
            est.estimate_policy_value(data)


def test_bad_bootstrap_settings_are_rejected() -> None:
    with pytest.raises(DataValidationError, match="alpha"):
        InverseProbabilityWeighting().estimate_interval(_data(), alpha=1.5)


def test_lift_over_the_logged_outcomes_and_over_another_candidate_by_hand() -> None:
    data = _data()  # IPS 0.5; logged outcomes average 0.25
    iv = lift_interval(InverseProbabilityWeighting(), data, n_bootstrap=50)
    assert iv.rate == pytest.approx(0.5 / 0.25 - 1)
    other = ReplayData(**_bad(action_dist=one_hot(np.array([0, 1, 0, 1]), 2)))
    iv = lift_interval(DirectMethod(), data, other, n_bootstrap=50)
    # DM of the other candidate: q at reps 0, 1, 0, 1 = 0.3 + 0.4 + 0.5 + 0.2
    assert iv.rate == pytest.approx(1.3 / 1.4 - 1)


def test_switch_rule_by_hand() -> None:
    # _data(): weights 2, 0, 0, 4; q(x, pi) = 0.3, 0.2, 0.6, 0.2; r - q(x, a) = 0.7, -0.4,
    # -0.5, -0.2. Threshold inf is DR, 3 drops lead 3's correction, 0 is DM.
    base = np.array([0.3, 0.2, 0.6, 0.2])
    res = np.array([0.7, -0.4, -0.5, -0.2])
    w = np.array([2.0, 0.0, 0.0, 4.0])
    for tau, expected in ((np.inf, 0.475), (3.0, 0.675), (0.0, 0.325)):
        factor = np.where(w <= tau, w, 0.0)
        assert _LepskiRule(base, res, (factor,), (tau,)).value() == pytest.approx(expected)
    # Lepski: every candidate's interval overlaps DR's wide one, so the last (DM) is taken.
    factors = tuple(np.where(w <= t, w, 0.0) for t in (np.inf, 3.0, 0.0))
    rule = _LepskiRule(base, res, factors, (np.inf, 3.0, 0.0))
    assert rule.value() == pytest.approx(0.325)
    assert rule.chosen == [0.0]


def test_shrunk_weights_by_hand() -> None:
    # lambda w / (w^2 + lambda) with lambda = 4: w = 2 -> 8 / 8 = 1; w = 4 -> 16 / 20 = 0.8
    w = np.array([2.0, 0.0, 0.0, 4.0])
    assert shrunk_weights(w, 4.0).tolist() == pytest.approx([1.0, 0.0, 0.0, 0.8])
    assert shrunk_weights(w, np.inf).tolist() == w.tolist()  # plain DR
    assert shrunk_weights(w, 0.0).tolist() == [0.0] * 4  # the direct method
    # DRos at lambda = 4 on _data(): (0.3 + 1(0.7) + 0.2 + 0.6 + 0.2 + 0.8(-0.2)) / 4
    base = np.array([0.3, 0.2, 0.6, 0.2])
    res = np.array([0.7, -0.4, -0.5, -0.2])
    rule = _LepskiRule(base, res, (shrunk_weights(w, 4.0),), (4.0,))
    assert rule.value() == pytest.approx(1.84 / 4)


def _random_log(n: int, seed: int, share: float = 1.0) -> ReplayData:
    rng = np.random.default_rng(seed)
    k = 5
    logging = rng.dirichlet(np.ones(k), n)
    action = np.array([rng.choice(k, p=row) for row in logging])
    q = rng.uniform(0.05, 0.4, (n, k))
    reward = (rng.random(n) < q[np.arange(n), action]).astype(float)
    pick = rng.integers(0, k, n)
    pick[rng.random(n) >= share] = -1  # the candidate leaves these leads with nobody
    model = np.clip(q + rng.normal(0, 0.05, (n, k)), 0.01, 0.99)
    return ReplayData(action, reward, logging[np.arange(n), action], one_hot(pick, k), model)


def test_sndr_matches_zr_obp_formula_for_a_full_candidate() -> None:
    # zr-obp's SelfNormalizedDoublyRobust: mean(q(x, pi) + w (r - q(x, a)) / mean(w)); the
    # same number when the candidate assigns every lead (mean share 1).
    data = _random_log(2_000, seed=11)
    assert data.reward_model is not None
    w = data.weights
    q_pi = (data.action_dist * data.reward_model).sum(axis=1)
    q_a = data.reward_model[np.arange(data.n_leads), data.action]
    obp = float(np.mean(q_pi + w * (data.reward - q_a) / w.mean()))
    assert SelfNormalizedDoublyRobust().estimate_policy_value(data) == pytest.approx(obp)


def test_sndr_scales_back_by_the_assigned_share() -> None:
    # Lead 0 assigned (w = 1 / 0.5 = 2, r - q = 0.6), lead 1 left with nobody: DM = 0.4 / 2;
    # correction = (2 x 0.6) / 2 x mean share 1/2 = 0.3.
    data = ReplayData(
        action=np.array([0, 0]),
        reward=np.array([1.0, 1.0]),
        pscore=np.array([0.5, 0.5]),
        action_dist=one_hot(np.array([0, -1]), 2),
        reward_model=np.array([[0.4, 0.1], [0.4, 0.1]]),
    )
    assert SelfNormalizedDoublyRobust().estimate_policy_value(data) == pytest.approx(0.2 + 0.3)
    none = ReplayData(**{**data.__dict__, "action": np.array([1, 1])})  # nothing matched
    assert SelfNormalizedDoublyRobust().estimate_policy_value(none) == pytest.approx(0.2)


def test_dr_os_at_a_fixed_lambda_matches_zr_obp_formula() -> None:
    # zr-obp's DoublyRobustWithShrinkage(lambda_): mean(q(x, pi) + lambda w / (w^2 + lambda)
    # (r - q(x, a))), recomputed here from the raw arrays at every lambda of DRos's grid.
    data = _random_log(3_000, seed=12, share=0.8)
    assert data.reward_model is not None
    w = data.weights
    q_pi = (data.action_dist * data.reward_model).sum(axis=1)
    q_a = data.reward_model[np.arange(data.n_leads), data.action]
    rule = DoublyRobustShrinkage()._terms(data)
    assert isinstance(rule, _LepskiRule)
    assert rule.params[0] == np.inf
    assert rule.params[-1] == 0.0
    for lam, factor in zip(rule.params, rule.factors, strict=True):
        # lambda = 0 is 0 / 0 at w = 0 in the formula: the direct method, no correction
        shrunk = w if np.isinf(lam) else (lam * w / (w**2 + lam) if lam > 0 else 0 * w)
        obp = float(np.mean(q_pi + shrunk * (data.reward - q_a)))
        single = _LepskiRule(rule.policy_reward, rule.residual, (factor,), (lam,))
        assert single.value() == pytest.approx(obp)
    # lambda = inf is plain DR
    assert _LepskiRule(rule.policy_reward, rule.residual, rule.factors[:1], (np.inf,)).value() == (
        pytest.approx(DoublyRobust().estimate_policy_value(data))
    )


def _logged(n: int, model: float, seed: int = 5) -> tuple[ReplayData, float]:
    # 20 reps logged uniformly at random; the candidate always picks rep 0 (truth 0.3).
    rng = np.random.default_rng(seed)
    k = 20
    true_p = np.linspace(0.1, 0.3, k)[::-1]
    action = rng.integers(0, k, n)
    reward = (rng.random(n) < true_p[action]).astype(float)
    q = np.tile(true_p, (n, 1))
    q[:, 0] = model
    return ReplayData(action, reward, np.full(n, 1 / k), one_hot(np.zeros(n, np.int64), k), q), 0.3


def test_switch_dr_leans_on_a_right_model_and_not_on_a_wrong_one() -> None:
    # A right model: DM's value lies inside DR's wide interval, so SWITCH-DR takes it (with
    # a threshold below the largest weight), and lands on the truth.
    data, truth = _logged(20_000, model=0.3)
    est = SwitchDoublyRobust()
    assert est.threshold(data) < 20
    assert est.estimate_policy_value(data) == pytest.approx(truth)
    # A badly wrong model (0.6 for a truth of 0.3): DM falls outside DR's interval, so the
    # rule keeps every correction (plain DR) and the estimate stays near the truth.
    data, truth = _logged(20_000, model=0.6)
    assert est.threshold(data) >= data.weights.max()
    iv = est.estimate_interval(data, n_bootstrap=200)
    assert iv.ci_low < truth < iv.ci_high
    assert iv.rate == pytest.approx(DoublyRobust().estimate_policy_value(data))


def test_dr_os_leans_on_a_right_model_and_not_on_a_wrong_one() -> None:
    data, truth = _logged(20_000, model=0.3)
    est = DoublyRobustShrinkage()
    assert est.shrinkage(data) < 20**2  # some shrinkage of the largest weights (20)
    assert est.estimate_policy_value(data) == pytest.approx(truth, rel=0.02)
    data, truth = _logged(20_000, model=0.6)
    assert est.shrinkage(data) == np.inf  # DM outside DR's interval: plain DR
    iv = est.estimate_interval(data, n_bootstrap=200)
    assert iv.ci_low < truth < iv.ci_high
    assert iv.rate == pytest.approx(DoublyRobust().estimate_policy_value(data))


def test_leads_for_precision_by_hand() -> None:
    # +-0.05 around 0.2 is +-25%: (25 / 10)^2 = 6.25 times the leads for +-10%
    iv = Interval(0.2, 0.15, 0.25)
    assert iv.relative_half_width == pytest.approx(0.25)
    assert leads_for_precision(iv, 1000) == 6250
    assert leads_for_precision(Interval(0.0, -0.1, 0.1), 1000) is None


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("share", [1.0, 0.7])
def test_vectorised_bootstrap_equals_each_resample_evaluated_by_index(
    name: str, share: float
) -> None:
    # The bootstrap evaluates estimators from resample counts x per-lead columns; the
    # reference is value(idx) on the same resamples drawn as index arrays.
    data = _random_log(400, seed=13, share=share)
    terms = ESTIMATORS[name]()._terms(data)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, data.n_leads, (60, data.n_leads))
    counts = np.stack([np.bincount(i, minlength=data.n_leads) for i in idx]).astype(float)
    got = terms.from_sums(counts @ terms.columns(), data.n_leads)
    expected = [terms.value(i) for i in idx]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)


def test_bootstrap_counts_draw_n_leads_per_replicate_and_repeat_under_a_seed() -> None:
    blocks = list(bootstrap_counts(7, 1_000_001, random_state=3))[:1]  # only the first block
    assert blocks[0].sum(axis=1).tolist() == [7.0] * len(blocks[0])
    small = np.vstack(list(bootstrap_counts(50, 30, random_state=9)))
    again = np.vstack(list(bootstrap_counts(50, 30, random_state=9)))
    assert small.shape == (30, 50)
    assert (small == again).all()
    # every lead drawn with probability 1/n: the mean count over many replicates is ~1
    many = np.vstack(list(bootstrap_counts(20, 5_000, random_state=1)))
    assert many.mean(axis=0) == pytest.approx(np.ones(20), abs=0.05)


def test_one_pass_gives_the_separate_intervals() -> None:
    data = _random_log(1_500, seed=14, share=0.9)
    other = _random_log(1_500, seed=15, share=1.0)
    other = ReplayData(data.action, data.reward, data.pscore, other.action_dist, data.reward_model)
    estimators = {k: cls() for k, cls in ESTIMATORS.items()}
    estimates, lifts, lifts_base = estimate_intervals(
        estimators, data, other, n_bootstrap=120, random_state=6
    )

    def same(a: Interval, b: Interval) -> bool:  # equal up to the matrix product's rounding
        return list(a.as_dict().values()) == pytest.approx(list(b.as_dict().values()), rel=1e-12)

    for k, est in estimators.items():
        assert same(estimates[k], est.estimate_interval(data, n_bootstrap=120, random_state=6))
        assert same(lifts[k], lift_interval(est, data, n_bootstrap=120, random_state=6))
        assert same(lifts_base[k], lift_interval(est, data, other, n_bootstrap=120, random_state=6))
