"""The model card's plain-words summary of rep-specific structure, and the attribute pairs
the rep-aware trees combine (read from the trees' own splits)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from leadpilot.model.card import rep_structure_lines, structure_summary
from leadpilot.model.rep_trees import RepTrees, combined_attributes


def _effect(rep: str, feature: str, best: float, worst: float) -> dict[str, object]:
    return {"rep": rep, "feature": feature, "best_points": best, "worst_points": worst}


def test_summary_groups_effects_by_kind_with_reps_and_largest_edge() -> None:
    effects = [
        _effect("rep-01", "log_company_size", 4.0, -2.5),
        _effect("rep-02", "size_band", 1.0, -6.2),  # company size too, however it is seen
        _effect("rep-01", "engagement_score", 3.1, -3.0),
        _effect("rep-03", "log_company_size", 0.5, -0.4),
    ]
    combos = [{"attributes": ("industry", "source"), "reps": ["rep-04", "rep-05"], "gain": 9.0}]
    text = structure_summary(effects, combos)
    # company size: rep-01, rep-02, rep-03 (3 reps), largest |points| 6.2; engagement: 1 rep
    assert (
        "company size (3 reps, up to 6.2 points); engagement score (1 rep, up to 3.1 points)"
        in (text)
    )
    assert "industry with lead source (2 reps)" in text
    lines = rep_structure_lines(
        [{**e, "best": "a", "worst": "b", "spread_log_odds": 1.0} for e in effects], True, combos
    )
    assert text in lines


def test_combined_attributes_reads_a_split_below_another() -> None:
    # y needs both a and b (an AND): the trees split on one, then on the other below it;
    # c is noise the trees should not combine with anything as much.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4_000, 3))
    y = ((X[:, 0] > 0) & (X[:, 1] > 0)).astype(float)
    params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "min_data_in_leaf": 50}
    booster = lgb.train(params, lgb.Dataset(X, y, feature_name=["a", "b", "c"]), 5)
    trees = RepTrees(rep_column=2, boosters={7: booster}, feature_names=["a", "b", "c"])
    top = combined_attributes(trees)
    assert top[0]["attributes"] == ("a", "b")
    assert top[0]["reps"] == [7]
    assert all(c["gain"] <= top[0]["gain"] for c in top)
