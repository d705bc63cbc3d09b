"""The router's confidence (issue 14): the probability that the predictive choice converts
better than the rep the fallback strategy would have picked, from the scorer's own draws,
compared on p (not price-adjusted scores). Checked against a hand computation with scipy's
normal CDF, and through the router: a low one hands the lead to the fallback's rep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from routing_helpers import decide
from scipy.stats import norm

from leadpilot.policy import InMemoryState, parse_policy
from leadpilot.policy.confidence import beats, choice_confidence, summarise_confidence
from leadpilot.schema import CandidateScores, Lead, Rep

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_beats_is_the_normal_probability_of_a_positive_difference() -> None:
    draws = np.array([[0.30, 0.20, 0.10], [0.26, 0.24, 0.12], [0.34, 0.18, 0.08]])
    p = np.array([0.30, 0.21, 0.10])
    got = beats(draws, p, 0)
    d01 = draws[:, 0] - draws[:, 1]
    d02 = draws[:, 0] - draws[:, 2]
    assert got[0] == 1.0
    assert got[1] == pytest.approx(norm.cdf(0.09 / d01.std(ddof=1)))
    assert got[2] == pytest.approx(norm.cdf(0.20 / d02.std(ddof=1)))


def test_without_draws_the_answer_is_certain() -> None:
    p = np.array([0.2, 0.3, 0.2])
    assert list(beats(None, p, 0)) == [1.0, 0.0, 0.5]


def test_ties_average_the_confidence_of_each_tied_choice() -> None:
    draws = np.array([[0.3, 0.3, 0.1], [0.2, 0.4, 0.1], [0.4, 0.2, 0.2]])
    p = draws.mean(axis=0)
    dist = np.array([0.5, 0.5, 0.0])
    expected = 0.5 * beats(draws, p, 0)[2] + 0.5 * beats(draws, p, 1)[2]
    assert choice_confidence(draws, p, dist, 2) == pytest.approx(expected)
    # the fallback picks a tied rep: half the mass is on that very rep (confidence 1)
    assert choice_confidence(draws, p, dist, 0) == pytest.approx(0.5 + 0.5 * beats(draws, p, 1)[0])


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, (5, 4), elements=st.floats(0.01, 0.99)))
def test_two_reps_confidences_against_each_other_sum_to_one(draws: NDArray[np.float64]) -> None:
    p = draws.mean(axis=0)
    for i in range(4):
        row = beats(draws, p, i)
        assert np.all((row >= 0) & (row <= 1))
        for j in range(4):
            if i != j and (draws[:, i] - draws[:, j]).std(ddof=1) > 1e-12:
                assert row[j] + beats(draws, p, j)[i] == pytest.approx(1.0)


def test_summary_counts_the_share_below_each_threshold() -> None:
    summary = summarise_confidence(np.array([0.55, 0.65, 0.85, 0.99, 1.0]))
    shares = summary["fallback_share"]
    assert isinstance(shares, dict)
    assert shares["0.6"] == pytest.approx(0.2)
    assert shares["0.9"] == pytest.approx(0.6)
    assert shares["0.5"] == 0.0


class _Bagged:
    """A scorer with three bags: ann's edge over bob is small and noisy, cat is clearly worst."""

    version = "bagged-1"
    draws: ClassVar[dict[str, list[float]]] = {
        "ann": [0.30, 0.20, 0.28],
        "bob": [0.22, 0.26, 0.21],
        "cat": [0.05, 0.04, 0.06],
    }

    def score_candidates(
        self, lead: Lead, rep_ids: Sequence[str], *, expected_response_hours: object = None
    ) -> CandidateScores:
        P = np.array([self.draws[r] for r in rep_ids]).T
        return CandidateScores(p=P.mean(axis=0), confidence=1.0, draws=P)


def _decide(min_confidence: float, state: InMemoryState) -> object:
    policy = parse_policy(
        {
            "pools": [{"name": "all", "strategy": "predictive", "fallback": "round_robin"}],
            "predictive": {"min_confidence": min_confidence, "shadow_prices": False},
            "fairness": {"penalty": 0.0},  # no band prices: the choice is argmax p
        }
    )
    reps = [Rep("ann"), Rep("bob"), Rep("cat")]
    return decide(
        Lead("l1"),
        policy=policy,
        reps=reps,
        state=state,
        scorer=_Bagged(),
        now=NOW,
        rng=np.random.default_rng(0),
    )


def test_confidence_is_against_the_fallbacks_pick_and_a_low_one_falls_back() -> None:
    P = np.array([_Bagged.draws[r] for r in ("ann", "bob", "cat")]).T
    p = P.mean(axis=0)
    # round-robin's first pick is ann, the predictive choice too: nothing at stake
    state = InMemoryState()
    first = _decide(0.9, state)
    assert first.rep_id == "ann"  # type: ignore[attr-defined]
    assert first.confidence == 1.0  # type: ignore[attr-defined]
    state.commit(first)  # type: ignore[arg-type]
    # now round-robin would pick bob: P(ann beats bob) is modest, so 0.9 falls back to bob
    second = _decide(0.9, state)
    expected = norm.cdf((p[0] - p[1]) / (P[:, 0] - P[:, 1]).std(ddof=1))
    assert 0.5 < expected < 0.9
    assert second.confidence == pytest.approx(expected)  # type: ignore[attr-defined]
    assert second.rep_id == "bob"  # type: ignore[attr-defined]
    assert "LOW_CONFIDENCE_FALLBACK" in second.reasons  # type: ignore[attr-defined]
    # a lower threshold lets the model's choice stand
    kept = _decide(0.5, state)
    assert kept.rep_id == "ann"  # type: ignore[attr-defined]
    assert kept.confidence == pytest.approx(expected)  # type: ignore[attr-defined]
