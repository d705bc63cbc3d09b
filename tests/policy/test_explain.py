"""Explanations: plain words for every reason, the contrast with the runner-up, why-not."""

from __future__ import annotations

from datetime import UTC, datetime

from leadpilot.policy.explain import explain, why_not
from leadpilot.schema import Candidate, Decision

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def _decision(**kw: object) -> Decision:
    base: dict[str, object] = {
        "lead_id": "L1",
        "rep_id": "ann",
        "pool": "all",
        "lane": "standard",
        "strategy": "predictive",
        "reasons": ("LANE:standard", "POOL:all", "PREDICTIVE"),
        "decided_at": NOW,
        "candidates": (
            Candidate("ann", p_convert=0.20, price=0.01, score=0.19),
            Candidate("bob", p_convert=0.30, price=0.15, score=0.15),
        ),
        "exclusions": {"cat": "AT_DAILY_CAP"},
        "p_convert": 0.20,
        "propensity": 1.0,
    }
    base.update(kw)
    return Decision(**base)  # type: ignore[arg-type]


def test_contrast_names_the_capacity_price_when_the_runner_up_converts_better() -> None:
    text = explain(_decision(), factors=lambda rep, other: [f"{rep} knows Retail (+3 pts)"])
    assert "ann: p 0.200 - price 0.010 = 0.190;  bob: p 0.300 - price 0.150 = 0.150" in text
    assert "bob converts better but their capacity is worth more" in text
    assert "model, ann vs bob: ann knows Retail (+3 pts)" in text
    assert "PREDICTIVE: best predicted conversion after capacity and fairness prices" in text


def test_a_lower_score_chosen_by_exploration_says_so() -> None:
    d = _decision(
        reasons=("LANE:standard", "POOL:all", "EXPLORE"),
        candidates=(Candidate("ann", 0.1, 0.0, 0.1), Candidate("bob", 0.3, 0.0, 0.3)),
    )
    assert "ann scored lower but was chosen because of EXPLORE." in explain(d)


def test_why_not_covers_excluded_outscored_and_shadow() -> None:
    d = _decision()
    assert why_not(d, "cat") == "cat already has the maximum leads for today (AT_DAILY_CAP)."
    # both reps' p, price and score, and why in words: bob converts better by 0.100 but his
    # price exceeds ann's by 0.140 (0.150 - 0.010)
    assert why_not(d, "bob") == (
        "bob was eligible but ann got the lead. ann: p 0.200 - price 0.010 = score 0.190; "
        "bob: p 0.300 - price 0.150 = score 0.150. bob converts better (by 0.100), but bob's "
        "capacity is worth more for later leads: its price (0.150, what bob's remaining "
        "capacity is expected to win on the leads still to come, or the fairness band's "
        "charge) exceeds ann's (0.010) by 0.140, more than the conversion edge, so ann scores "
        "higher."
    )
    # a rep outside the decision's top candidates: the caller scores it
    assert why_not(d, "eve", other=Candidate("eve", 0.12, 0.0, 0.12)).endswith(
        "ann converts better (by 0.080, more than ann's higher price takes back)."
    )
    assert why_not(d, "ann") == "ann got the lead."
    shadow = _decision(shadow_rep_id="dan", candidates=())
    assert "shadow mode" in why_not(shadow, "dan")


def test_no_rep_decision_reads_as_queued() -> None:
    d = _decision(
        rep_id=None, candidates=(), reasons=("LANE:hot", "NO_ELIGIBLE_REP", "ALL_AT_CAPACITY")
    )
    text = explain(d)
    assert text.startswith("Lead L1: not assigned.")
    assert "it waits in the queue" in text
    assert "every eligible rep is at a capacity cap" in text
