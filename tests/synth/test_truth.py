"""GroundTruth: probabilities by hand, shapes, time decay, the oracle scorer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.schema import Lead, Scorer
from leadpilot.synth import World


def _decay(t: dict, engagement: float) -> float:
    return max(0.0, t["contact_decay"] + t["contact_decay_per_10"] * (engagement - 50) / 10)


def _by_hand(world: World, row: pd.Series, rep_id: str, hours: float) -> float:
    t = world.truth.to_dict()
    rep = next(r for r in t["reps"] if r["rep_id"] == rep_id)
    logit = (
        t["intercept"]
        + t["source_effects"][row["source"]]
        + t["region_effects"][row["region"]]
        + t["industry_effects"][row["industry"]]
        + t["size_band_effects"][row["size_band"]]
        + t["product_effects"][row["product"]]
        + t["engagement_per_10"] * (row["engagement_score"] - 50) / 10
        + (t["free_mail_effect"] if row["domain"] is None else 0.0)
        + rep["skill"]
        + rep["industry_affinity"][row["industry"]]
        + rep["size_affinity"][row["size_band"]]
        - _decay(t, row["engagement_score"]) * math.log1p(hours)
    )
    return 1 / (1 + math.exp(-logit))


def test_true_probability_matches_a_hand_computation(world: World) -> None:
    leads = world.new_leads.iloc[:5]
    reps = world.active_rep_ids[:4]
    hours = world.truth.expected_response_hours(reps)
    p = world.truth.true_probability(leads, reps)
    assert p.shape == (5, 4)
    for i in range(5):
        for j, rep in enumerate(reps):
            assert p[i, j] == pytest.approx(
                _by_hand(world, leads.iloc[i], rep, hours[j]), rel=1e-12
            )


def test_time_to_contact_shapes_and_decay(world: World) -> None:
    leads = world.new_leads.iloc[:3]
    reps = world.active_rep_ids[:2]
    truth = world.truth
    fast = truth.true_probability(leads, reps, 0.0)
    slow = truth.true_probability(leads, reps, 24.0)
    assert np.all(slow < fast)
    # Odds shrink by (1 + t) ** -decay, and faster for engaged leads.
    odds = lambda q: q / (1 - q)  # noqa: E731
    t = truth.to_dict()
    decay = np.array([_decay(t, e) for e in leads["engagement_score"]])
    assert np.allclose(odds(slow) / odds(fast), (25.0**-decay)[:, None])
    hot = leads.iloc[[0]].assign(engagement_score=90.0)
    cold = leads.iloc[[0]].assign(engagement_score=10.0)
    p = truth.true_probability
    ratio = [odds(p(x, reps, 24.0)) / odds(p(x, reps, 0.0)) for x in (hot, cold)]
    assert np.all(ratio[0] < ratio[1])
    per_lead = truth.true_probability(leads, reps, np.array([0.0, 24.0, 0.0]))
    assert np.allclose(per_lead[1], slow[1])
    assert np.allclose(per_lead[0], fast[0])
    grid = truth.true_probability(leads, reps, np.array([[0.0, 24.0]]))
    assert np.allclose(grid[:, 0], fast[:, 0])
    assert np.allclose(grid[:, 1], slow[:, 1])
    with pytest.raises(DataValidationError, match="2 values for 3 leads"):
        truth.true_probability(leads, reps, np.array([1.0, 2.0]))
    with pytest.raises(DataValidationError, match="negative"):
        truth.true_probability(leads, reps, -1.0)


def test_closed_won_is_below_conversion(world: World) -> None:
    leads = world.new_leads.iloc[:50]
    reps = world.active_rep_ids
    conv = world.truth.true_probability(leads, reps)
    won = world.truth.true_probability(leads, reps, target="closed_won")
    assert np.all(won < conv)
    assert np.all(won > 0.1 * conv)


def test_unknown_values_are_neutral_and_unknown_reps_rejected(world: World) -> None:
    lead = world.new_leads.iloc[[0]].copy()
    reps = world.active_rep_ids[:3]
    base = world.truth.true_probability(lead, reps)
    lead["source"] = "Carrier pigeon"
    t = world.truth
    shifted = t.true_probability(lead, reps)
    delta = t.source_effects[world.new_leads.iloc[0]["source"]]
    odds = lambda q: q / (1 - q)  # noqa: E731
    assert np.allclose(odds(base) / odds(shifted), math.exp(delta))
    with pytest.raises(DataValidationError, match="'rep-zz' is not part of this synthetic world"):
        t.true_probability(lead, ["rep-zz"])


def test_size_band_derived_from_company_size_when_missing(world: World) -> None:
    leads = world.new_leads.iloc[:20].copy()
    reps = world.active_rep_ids
    expected = world.truth.true_probability(leads, reps)
    leads["size_band"] = None
    assert np.allclose(world.truth.true_probability(leads, reps), expected)


def test_assigned_probability_is_the_diagonal(world: World) -> None:
    h = world.history.iloc[:30]
    full = world.truth.true_probability(
        h, list(world.truth.rep_ids), h["time_to_contact_hours"].to_numpy()
    )
    col = [world.truth.rep_ids.index(r) for r in h["rep_id"]]
    got = world.truth.true_probability_assigned(
        h, time_to_contact_hours=h["time_to_contact_hours"].to_numpy()
    )
    assert np.allclose(got, full[np.arange(30), col])


def test_oracle_scorer_agrees_with_true_probability(world: World) -> None:
    scorer = world.truth.as_scorer()
    assert isinstance(scorer, Scorer)
    assert scorer.version == "ground-truth"
    reps = world.active_rep_ids
    frame = world.new_leads.iloc[:10]
    expected = world.truth.true_probability(frame, reps)
    for i, row in enumerate(frame.to_dict("records")):
        lead = Lead(**{k: row[k] for k in Lead.__dataclass_fields__ if k in row})
        scores = scorer.score_candidates(lead, reps)
        assert scores.confidence == 1.0
        assert np.allclose(scores.p, expected[i], rtol=1e-12)
    hours = np.full(len(reps), 2.0)
    fixed = scorer.score_candidates(lead, reps, expected_response_hours=hours)
    assert np.allclose(fixed.p, world.truth.true_probability(frame.iloc[[9]], reps, 2.0)[0])
