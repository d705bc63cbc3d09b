"""Objectives end to end on a synthetic world whose deal sizes vary with rep and segment:
policy -> decisions -> the truth's figures."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.model.value import fit_value_model
from leadpilot.policy.strategies import predictive
from leadpilot.synth import generate_world
from leadpilot.synth.objectives import compare_objectives, true_outcomes
from leadpilot.synth.values import true_deal_value


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(n_leads=4_000, n_reps=6, n_new_leads=240, seed=3,
                          deal_values="rep_segment")  # fmt: skip


def test_default_worlds_are_unchanged_by_the_value_option() -> None:
    a = generate_world(n_leads=600, n_reps=4, n_new_leads=20, seed=2)
    b = generate_world(n_leads=600, n_reps=4, n_new_leads=20, seed=2, deal_values="rep_segment")
    assert a.truth.value_effects == {}
    same = a.history.drop(columns="deal_value").equals(b.history.drop(columns="deal_value"))
    assert same  # only the deal sizes differ
    assert set(b.truth.value_effects) == set(b.truth.rep_ids)


def test_deal_sizes_follow_the_rep_and_segment_truth(world) -> None:  # type: ignore[no-untyped-def]
    h = world.history[world.history["deal_value"].notna()]
    size = h["company_size"].to_numpy(dtype=float)
    expected = np.array(
        [true_deal_value(size[i : i + 1], [r], world.truth.value_effects)[0, 0]
         for i, r in enumerate(h["rep_id"])]
    )  # fmt: skip
    ratio = h["deal_value"].to_numpy() / expected
    # log-normal noise with sd 0.5 around the truth's mean: the mean ratio is 1
    assert ratio.mean() == pytest.approx(1.0, abs=0.08)


def test_true_outcomes_by_hand(world) -> None:  # type: ignore[no-untyped-def]
    from leadpilot.schema import Decision

    lead = world.new_leads.iloc[0]
    rep = world.active_rep_ids[0]
    d = Decision(lead_id=lead["lead_id"], rep_id=rep, pool="all", lane="standard",
                 strategy="predictive", reasons=(), decided_at=lead["created_at"])  # fmt: skip
    out = true_outcomes(world, [d])
    frame = world.new_leads.iloc[[0]]
    p = world.truth.true_probability(frame, [rep])[0, 0]
    won = world.truth.true_probability(frame, [rep], target="closed_won")[0, 0]
    deal = true_deal_value(frame["company_size"].to_numpy(float), [rep], world.truth.value_effects)
    assert out["conversions"] == pytest.approx(p)
    assert out["pipeline_value"] == pytest.approx(p * deal[0, 0])
    assert out["won_revenue"] == pytest.approx(won * deal[0, 0])


@pytest.mark.slow
def test_value_objectives_trade_conversions_for_value_against_the_truth(world) -> None:  # type: ignore[no-untyped-def]
    arms = compare_objectives(world, objectives=("conversions", "pipeline_value", "won_revenue"))
    conv, pipe, won = arms["conversions"], arms["pipeline_value"], arms["won_revenue"]
    # The truth's expected figures (deterministic for this seed). With the hard fairness
    # guard timed on a low count of today's leads (fairness.today_low): pipeline value +6.5%
    # (1,188,489 vs 1,115,866), won revenue +10.9% (442,992 vs 399,421), for 49.9 vs 54.2
    # conversions; the guard moves 2 of the 240 leads in the value arms and none in the
    # conversions arm (timed on the projected count, with less room counted on later days:
    # +5.5% and +6.6%, 12-15 leads moved per arm), and every rep stays inside 0.9-1.1; the
    # thresholds leave 1.5 / 2.9 points of slack.
    assert pipe.pipeline_value > conv.pipeline_value * 1.05
    assert won.won_revenue > conv.won_revenue * 1.08
    assert conv.conversions > pipe.conversions
    for arm in arms.values():
        assert arm.over_cap_rep_days == 0
        assert 0.9 <= arm.fairness[0] <= arm.fairness[1] <= 1.1
        assert {d.rep_id for d in arm.decisions} <= set(world.active_rep_ids)
    assert any("FAIRNESS_GUARD" in d.reasons for d in pipe.decisions + won.decisions)
    # the decisions carry the value they were chosen for
    assert all(d.expected_value is not None for d in pipe.decisions if d.p_convert is not None)
    assert all(d.expected_value is None for d in conv.decisions)


@pytest.mark.slow
def test_the_value_objectives_gain_as_much_with_prices_alone(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # without the guard the prices alone route (as at 8665b7e, the same figures): pipeline
    # value +6.3% (1,185,596 vs 1,115,866), won revenue +11.0% (443,319 vs 399,421); with the
    # guard timed on a low count (the test above) the gain is about the same, +6.5% / +10.9%
    # (timed on the projected count it narrowed it to +5.5% / +6.6%)
    monkeypatch.setattr(predictive, "FAIRNESS_GUARD", False)
    arms = compare_objectives(world, objectives=("conversions", "pipeline_value", "won_revenue"))
    conv, pipe, won = arms["conversions"], arms["pipeline_value"], arms["won_revenue"]
    assert pipe.pipeline_value > conv.pipeline_value * 1.05
    assert won.won_revenue > conv.won_revenue * 1.08
    assert all("FAIRNESS_GUARD" not in d.reasons for a in arms.values() for d in a.decisions)


@pytest.mark.slow
def test_the_learnt_value_model_gains_pipeline_value_too(world) -> None:  # type: ignore[no-untyped-def]
    arms = compare_objectives(world, value_model=fit_value_model(world.history))
    # ~500 deals of history: the learnt values gain less than the truth's (+3.0% here)
    assert arms["pipeline_value"].pipeline_value > arms["conversions"].pipeline_value
