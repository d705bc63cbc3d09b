"""The deal-value model against hand computations and a synthetic world's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.ingest import leads_from_frame
from leadpilot.model.value import MIN_DEALS, fit_value_model
from leadpilot.schema import HISTORY_COLUMNS, Lead, ValueModel
from leadpilot.synth import generate_world
from leadpilot.synth.values import TrueValues


def _history(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in HISTORY_COLUMNS:
        if col not in frame:
            frame[col] = None
    frame["converted"] = frame["converted"].astype("boolean")
    frame["closed_won"] = frame["closed_won"].astype("boolean")
    return frame


def test_two_reps_with_fixed_deal_sizes_are_recovered() -> None:
    # ann's deals are always 1,000 and bob's always 4,000 (same companies): with no noise the
    # fitted E(deal) is the deal itself, shrunk by the prior only a hair with 200 deals each.
    rows = [
        {"lead_id": f"{rep}{i}", "rep_id": rep, "converted": True, "company_size": 50.0,
         "deal_value": value, "closed_won": i % 4 == 0}
        for rep, value in (("ann", 1000.0), ("bob", 4000.0)) for i in range(200)
    ]  # fmt: skip
    model = fit_value_model(_history(rows))
    assert isinstance(model, ValueModel)
    est = model.values(Lead("x", company_size=50.0), ["ann", "bob"], "pipeline_value")
    assert est.mean == pytest.approx([1000.0, 4000.0], rel=0.02)
    assert np.all(est.low <= est.mean)
    assert np.all(est.mean <= est.high)
    # won revenue: a quarter of each rep's opportunities were won
    won = model.values(Lead("x", company_size=50.0), ["ann", "bob"], "won_revenue")
    assert won.mean == pytest.approx([250.0, 1000.0], rel=0.05)
    assert model.typical_value("pipeline_value") == pytest.approx(2500.0)
    # a rep the history never saw gets the average level with a wider interval
    unknown = model.values(Lead("x", company_size=50.0), ["cat"], "pipeline_value")
    assert 1000.0 < unknown.mean[0] < 4000.0
    assert unknown.high[0] / unknown.low[0] > est.high[0] / est.low[0]


def test_too_few_deals_is_a_clear_error() -> None:
    rows = [{"lead_id": f"l{i}", "rep_id": "ann", "converted": True, "deal_value": 100.0}
            for i in range(MIN_DEALS - 1)]  # fmt: skip
    with pytest.raises(DataValidationError, match="deal_value"):
        fit_value_model(_history(rows))


def test_won_revenue_without_closed_outcomes_is_a_clear_error() -> None:
    rows = [{"lead_id": f"l{i}", "rep_id": "ann", "converted": True, "deal_value": 100.0}
            for i in range(MIN_DEALS)]  # fmt: skip
    model = fit_value_model(_history(rows))
    with pytest.raises(DataValidationError, match="closed_won"):
        model.values(Lead("x"), ["ann"], "won_revenue")


@pytest.mark.slow
def test_learnt_values_match_the_synthetic_truth_and_their_intervals_cover_it() -> None:
    world = generate_world(n_leads=12_000, n_reps=8, n_new_leads=200, seed=4,
                           deal_values="rep_segment")  # fmt: skip
    model = fit_value_model(world.history)
    leads = leads_from_frame(world.new_leads)
    ids = world.active_rep_ids
    truth = TrueValues(world.truth)
    for objective, min_corr in (("pipeline_value", 0.95), ("won_revenue", 0.9)):
        est = model.value_batch(leads, ids, objective)
        true = truth.value_batch(leads, ids, objective)
        assert np.corrcoef(np.log(est).ravel(), np.log(true).ravel())[0, 1] > min_corr
        assert np.median(est / true) == pytest.approx(1.0, abs=0.1)
    covered = []
    for lead in leads[:100]:
        est = model.values(lead, ids, "pipeline_value")
        true = truth.value_batch([lead], ids, "pipeline_value")[0]
        covered.append(((est.low <= true) & (true <= est.high)).mean())
    assert 0.85 <= float(np.mean(covered)) <= 1.0
