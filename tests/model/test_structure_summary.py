"""The model card's plain-words summary of the kinds of rep-specific structure found."""

from __future__ import annotations

from leadpilot.model.card import rep_structure_lines, structure_summary


def _effect(rep: str, feature: str, best: float, worst: float) -> dict[str, object]:
    return {"rep": rep, "feature": feature, "best_points": best, "worst_points": worst}


def test_summary_groups_effects_by_kind_with_reps_and_largest_edge() -> None:
    effects = [
        _effect("rep-01", "log_company_size", 4.0, -2.5),
        _effect("rep-02", "size_band", 1.0, -6.2),  # company size too, however it is seen
        _effect("rep-01", "engagement_score", 3.1, -3.0),
        _effect("rep-03", "log_company_size", 0.5, -0.4),
        _effect("rep-04", "source", 2.0, -0.5),
        _effect("rep-05", "source", 0.7, -3.3),
    ]
    text = structure_summary(effects)
    # by hand: company size has rep-01, rep-02, rep-03 and its largest |points| is 6.2;
    # lead source rep-04, rep-05 (3.3); engagement rep-01 alone (3.1); most reps first
    assert text.endswith(
        "depending on company size (3 reps, up to 6.2 points); lead source (2 reps, up to "
        "3.3 points); engagement score (1 rep, up to 3.1 points)."
    )
    rows = [{**e, "best": "a", "worst": "b", "spread_log_odds": 1.0} for e in effects]
    assert text in rep_structure_lines(rows, True)
    assert not any("In short" in line for line in rep_structure_lines([], True))
