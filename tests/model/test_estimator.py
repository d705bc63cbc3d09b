"""ConversionModel: scoring contract, agreement of its two scoring paths, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worlds import ToyWorld

from leadpilot.errors import ModelError
from leadpilot.model import ConversionModel
from leadpilot.model.evaluation import EvaluationReport, evaluate
from leadpilot.schema import CandidateScores, Lead, Scorer

LEAD = Lead(
    lead_id="n1",
    industry="Software",
    source="Web",
    size_band="11-50",
    region="EMEA",
    engagement_score=60.0,
    company_size=40.0,
)


def test_is_a_scorer_with_probabilities_and_confidence(
    fitted: ConversionModel, world: ToyWorld
) -> None:
    assert isinstance(fitted, Scorer)
    s = fitted.score_candidates(LEAD, world.rep_ids)
    assert isinstance(s, CandidateScores)
    assert s.p.shape == (len(world.rep_ids),)
    assert np.all((s.p > 0) & (s.p < 1))
    assert 0.0 <= s.confidence <= 1.0
    assert s.sufficiency is not None
    assert np.all(s.sufficiency > 0.9)


def test_score_candidates_matches_predict_proba(fitted: ConversionModel, world: ToyWorld) -> None:
    hours = np.linspace(0.5, 12, len(world.rep_ids))
    s = fitted.score_candidates(LEAD, world.rep_ids, expected_response_hours=hours)
    pairs = pd.DataFrame(
        [
            {
                "industry": "Software",
                "source": "Web",
                "size_band": "11-50",
                "region": "EMEA",
                "engagement_score": 60.0,
                "company_size": 40.0,
                "rep_id": r,
                "time_to_contact_hours": h,
            }
            for r, h in zip(world.rep_ids, hours, strict=True)
        ]
    )
    # The average-rep row of predict_proba uses each pair's own response time, the batch
    # path the candidates' mean: tiny differences only.
    np.testing.assert_allclose(fitted.predict_proba(pairs), s.p, atol=5e-3)


def _every_pair(leads: pd.DataFrame, rep_ids: list[str]) -> pd.DataFrame:
    """The frame of every (lead, rep) pair, lead-major, without the leads' response times:
    what ``predict_proba_all`` stands for."""
    pairs = leads.loc[leads.index.repeat(len(rep_ids))].reset_index(drop=True)
    pairs["rep_id"] = np.tile(np.asarray(rep_ids, dtype=object), len(leads))
    return pairs.drop(columns=["time_to_contact_hours", "first_contact_at"], errors="ignore")


@pytest.mark.parametrize("variant", ["history", "odd leads", "no country, no created_at"])
def test_predict_proba_all_is_predict_proba_of_every_pair(
    fitted: ConversionModel, world: ToyWorld, variant: str
) -> None:
    """Bit for bit the same probabilities as ``predict_proba`` of the frame of every pair
    (the slow path simulate's outcome models took), with the reps in any order, a rep the
    model never saw, categories it never saw, missing dates and missing columns."""
    leads = world.history.sample(300, random_state=1).copy()
    reps = [world.rep_ids[i] for i in (5, 0, 11, 3)] + ["rep-new"]
    if variant == "odd leads":
        leads.loc[leads.index[:40], "industry"] = "Aerospace"
        leads.loc[leads.index[40:80], "region"] = None
        leads.loc[leads.index[80:120], "created_at"] = pd.NaT
        leads.loc[leads.index[120:160], "engagement_score"] = np.nan
    if variant == "no country, no created_at":
        leads = leads.drop(columns=[c for c in ("country", "created_at") if c in leads])
    got = fitted.predict_proba_all(leads, reps)
    want = fitted.predict_proba(_every_pair(leads, reps)).reshape(len(leads), len(reps))
    assert got.shape == (300, 5)
    np.testing.assert_array_equal(got, want)
    assert np.all((got > 0) & (got < 1))
    assert len(np.unique(got[:, 0])) > 10  # the leads' scores differ


def test_ranking_follows_the_true_rep_effects(fitted: ConversionModel, world: ToyWorld) -> None:
    s = fitted.score_candidates(LEAD, world.rep_ids)
    frame = pd.DataFrame([{"industry": "Software", "source": "Web", "engagement_score": 60.0}])
    truth = world.true_probability(frame, world.rep_ids)[0]
    from scipy.stats import spearmanr

    # ~110 Software leads per rep: sampling noise alone keeps Spearman near 0.7 here;
    # a model without the rep x industry signal scores about 0 +- 0.3.
    assert spearmanr(s.p, truth).statistic > 0.5


def test_unknown_rep_and_categories_score_as_average(
    fitted: ConversionModel, world: ToyWorld
) -> None:
    odd = Lead(lead_id="n2", industry="Aerospace", source="Carrier pigeon", region="Mars")
    s = fitted.score_candidates(odd, [*world.rep_ids, "rep-new"])
    assert np.all(np.isfinite(s.p))
    assert s.sufficiency is not None
    assert s.sufficiency[-1] == 0.0
    # An unknown rep gets exactly the average-rep score: between the best and worst rep.
    assert s.p[:-1].min() <= s.p[-1] <= s.p[:-1].max()


def test_save_load_round_trip(fitted: ConversionModel, world: ToyWorld, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    loaded = ConversionModel.load(tmp_path / "m")
    assert loaded.version == fitted.version
    a = fitted.score_candidates(LEAD, world.rep_ids)
    b = loaded.score_candidates(LEAD, world.rep_ids)
    np.testing.assert_array_equal(a.p, b.p)
    assert a.confidence == b.confidence
    assert not list((tmp_path / "m").glob("*.pkl"))


def test_load_refuses_edited_or_incomplete_models(fitted: ConversionModel, tmp_path: Path) -> None:
    d = tmp_path / "m"
    fitted.save(d)
    doc = json.loads((d / "model.json").read_text())
    doc["feature_names"] = doc["feature_names"][:-1]
    (d / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="feature list does not match"):
        ConversionModel.load(d)
    fitted.save(d)
    (d / "trees_0.txt").unlink()
    with pytest.raises(ModelError, match=r"trees_0\.txt is missing"):
        ConversionModel.load(d)
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        ConversionModel.load(tmp_path / "nothing")


def test_unfitted_model_says_what_to_do(world: ToyWorld) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        ConversionModel().score_candidates(LEAD, world.rep_ids)


def test_rep_with_five_leads_is_shrunk_and_flagged(world: ToyWorld) -> None:
    history = world.history.copy()
    newbie = history.index[-2000:][:5]
    history.loc[newbie, "rep_id"] = "rep-rookie"
    history.loc[newbie, "converted"] = True  # 5 of 5: a raw rate of 100%
    model = ConversionModel(**FAST).fit(history, world.reps)
    s = model.score_candidates(LEAD, [*world.rep_ids, "rep-rookie"])
    assert s.sufficiency is not None
    assert s.sufficiency[-1] == pytest.approx(5 / 15)
    assert s.p[-1] < s.p[:-1].max()
    reasons = model.explain(LEAD, "rep-rookie")
    assert any("only 5 leads" in r for r in reasons)


def test_explain_names_the_track_record(fitted: ConversionModel, world: ToyWorld) -> None:
    s = fitted.score_candidates(LEAD, world.rep_ids)
    best, worst = world.rep_ids[int(np.argmax(s.p))], world.rep_ids[int(np.argmin(s.p))]
    reasons = fitted.explain(LEAD, best, versus=worst)
    assert 1 <= len(reasons) <= 4
    assert any("Software leads" in r for r in reasons)
    assert "raises" in reasons[0]
    imp = fitted.feature_importance()
    assert imp["share"].sum() == pytest.approx(1.0)
    assert set(imp["feature"].head(5)) & {"rep_x_industry_rate", "rep_x_industry_lift", "rep_id"}


def test_bad_parameters_list_allowed_values(world: ToyWorld) -> None:
    with pytest.raises(ModelError, match="'target' parameter of ConversionModel must be") as e:
        ConversionModel(target="revenue").fit(world.history)
    assert "'converted'" in str(e.value)
    assert "'closed_won'" in str(e.value)
    assert "Got 'revenue' instead" in str(e.value)
    assert e.value.hint is not None
    assert "'converted'" in e.value.hint  # the default
    with pytest.raises(ModelError, match=r"'n_bags' parameter .* must be an int in the range"):
        ConversionModel(n_bags=1).fit(world.history)
    with pytest.raises(ModelError, match=r"'interactions' parameter .* Got \['colour'\]"):
        ConversionModel(interactions=("industry", "colour")).fit(world.history)


def test_history_without_dates_uses_file_order(world: ToyWorld) -> None:
    h = world.history.assign(created_at=pd.NaT)
    model = ConversionModel(**FAST).fit(h, world.reps)
    win = model.fitted_.training_window
    assert win["time_column"] == "file order"
    assert win["test"]["last"] == f"row {int(h['source_row'].iloc[-1])}"
    assert win["train"]["first"] == "row 2"


def test_recent_fast_conversions_are_not_learned_from(world: ToyWorld) -> None:
    h = world.history.sort_values("created_at").reset_index(drop=True)
    tail = h.index[-500:]
    open_ = tail[~h.loc[tail, "converted"].to_numpy(dtype=bool)]
    h.loc[open_, "converted"] = pd.NA  # the recent non-conversions are still open
    model = ConversionModel(**FAST).fit(h, world.reps)
    y = h["converted"]
    last_negative = int(np.flatnonzero((y == False).fillna(False).to_numpy())[-1])  # noqa: E712
    expected = int(y.iloc[last_negative + 1 :].fillna(False).sum())
    assert expected > 50
    win = model.fitted_.training_window
    assert win["unsettled_outcomes_ignored"] == expected
    assert win["labelled_rows"] == int(y.notna().sum()) - expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.permutations(list(range(12))))
def test_scores_follow_the_reps_not_their_order(
    fitted: ConversionModel, world: ToyWorld, order: list[int]
) -> None:
    reps = world.rep_ids
    base = fitted.score_candidates(LEAD, reps)
    shuffled = fitted.score_candidates(LEAD, [reps[i] for i in order])
    np.testing.assert_allclose(shuffled.p, base.p[order], rtol=1e-12)
    assert shuffled.sufficiency is not None
    assert base.sufficiency is not None
    np.testing.assert_allclose(shuffled.sufficiency, base.sufficiency[order])
    assert shuffled.confidence == pytest.approx(base.confidence, abs=1e-9)


def test_saved_model_learns_from_the_test_slice_too(
    fitted: ConversionModel, report: EvaluationReport
) -> None:
    win = fitted.fitted_.training_window
    assert win["refit_on_calibration_slice"]
    # evaluated without the test slice, then refit on every settled lead
    assert win["final_fit_rows"] == win["labelled_rows"]
    assert win["train"]["rows"] + win["calibration"]["rows"] < win["final_fit_rows"]
    assert report.training_window["final_fit_rows"] == (
        win["train"]["rows"] + win["calibration"]["rows"]
    )
    from leadpilot.model.card import render_card

    assert "refit on all" in render_card(fitted, report)


def test_evaluate_measures_the_model_fit_without_the_test_slice(
    world: ToyWorld, report: EvaluationReport
) -> None:
    """The evaluation's test predictions are exactly those of the model that ``fit`` makes
    with ``refit_all=False`` (fit on the leads before the test slice), scored on the test
    leads with their features as of each lead: a second path to the same numbers."""
    from leadpilot.model.scoring import calibrated_history
    from leadpilot.model.training import prepare_history

    held_out = ConversionModel(**{**FAST, "n_bags": 3, "refit_all": False})
    held_out.fit(world.history, world.reps)
    win = held_out.fitted_.training_window
    assert win["final_fit_rows"] == win["train"]["rows"] + win["calibration"]["rows"]
    data = prepare_history(held_out.training_params(), world.history, world.reps)
    p = calibrated_history(held_out.fitted_, data.X[data.test], data.rep_n[data.test])
    np.testing.assert_array_equal(report.test_predictions["model"].to_numpy(), p)
    assert list(report.test_predictions["lead_id"]) == list(data.frame["lead_id"].iloc[data.test])
    # and the AUC is scikit-learn's on those predictions
    from sklearn.metrics import roc_auc_score

    y = data.y[data.test]
    assert report.metrics["model"]["auc"] == pytest.approx(roc_auc_score(y, p))


def test_evaluate_leaves_the_model_as_it_was(fitted: ConversionModel, world: ToyWorld) -> None:
    before = fitted.fitted_
    evaluate(fitted, world.history.iloc[:1_500], world.reps)
    assert fitted.fitted_ is before
