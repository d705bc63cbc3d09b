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


def test_summary_and_card_name_combinations_and_changed_skills() -> None:
    single = {**_effect("rep-01", "source", 2.0, -1.0), "best": "Referral", "worst": "Event"}
    single["spread_log_odds"] = 0.4
    combo = {
        "rep": "rep-04",
        "kind": "combination",
        "features": ["industry", "source"],
        "levels": ["Software", "Referral"],
        "log_odds": 0.61,
        "points": 9.04,
        "joint_log_odds": 0.4,
        "joint_points": 5.96,
        "rows": 31,
    }
    change = {
        "rep": "rep-07",
        "kind": "change",
        "mean_log_odds": 0.2,
        "mean_points": 2.94,
        "feature": "engagement_score",
        "level": "61 to 90",
        "log_odds": 0.3,
        "points": -4.46,
        "rows": 400,
    }
    effects = [single, combo, change]
    text = structure_summary(effects)
    # the single-attribute part counts only the attribute row; the combination's 5.96 and
    # the change's |-4.46| round to the figures below
    assert text == (
        "**In short:** in the largest effects below, reps do better or worse than the team "
        "model predicts depending on lead source (1 rep, up to 2.0 points). 1 rep also has "
        "an edge that only shows in a combination of two attributes (up to 6.0 points beyond "
        "what each gives alone). 1 rep's edge changed over the history (up to 4.5 points); "
        "the model scores it as it is now."
    )
    card = "\n".join(rep_structure_lines(effects, True))
    assert "| rep-01 | lead source | Referral | +2.0 pts | Event | -1.0 pts | 0.40 |" in card
    assert "| rep-04 |" not in card
    assert "| rep-07 |" not in card
    assert (
        "- rep-04 does better on Software and Referral: +9.0 points (+6.0 from the "
        "combination; 31 leads)" in card
    )
    assert "- rep-07: +2.9 points on average, -4.5 points on engagement score 61 to 90" in card
