"""The audit's projected revenue impact: by hand, and end to end on a synthetic world."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leadpilot.analyze import analyze, render_markdown
from leadpilot.analyze.revenue import MIN_VALUED_DEALS, revenue_impact


def _deals(values: dict[int, float], n: int = 100) -> tuple[np.ndarray, ...]:
    rep = np.repeat(list(values), n)
    value = np.repeat(list(values.values()), n).astype(float)
    return rep, np.zeros(len(rep), dtype=np.intp), np.ones(len(rep)), value


def test_revenue_impact_by_hand() -> None:
    # ann's deals are always 1,000, bob's 3,000; ann converts at 0.5, bob at 0.2. The plan
    # gives ann all 10 leads (5 conversions x 1,000 = 5,000 of pipeline); round-robin splits
    # them (2.5 x 1,000 + 1 x 3,000 = 5,500): the conversion plan costs 500 of pipeline.
    rep, seg, y, value = _deals({0: 1000.0, 1: 3000.0})
    draws = np.broadcast_to(np.array([[0.5], [0.2]]), (200, 2, 1)).copy()
    out = revenue_impact(
        rep, seg, y, value, draws, np.array([[10.0], [0.0]]), np.array([[5.0], [5.0]]),
        rng=np.random.default_rng(0), months=2.0,
    )  # fmt: skip
    assert out is not None
    assert (out.plan, out.round_robin) == (pytest.approx(5000.0), pytest.approx(5500.0))
    assert out.value == pytest.approx(-500.0)
    assert out.per_month == pytest.approx(-250.0)
    assert out.ci_low == pytest.approx(-500.0, abs=1.0)
    assert out.ci_high == pytest.approx(-500.0, abs=1.0)
    assert out.deals == 200


def test_too_few_deal_values_give_no_figure() -> None:
    rep, seg, y, value = _deals({0: 1000.0}, n=MIN_VALUED_DEALS - 1)
    draws = np.full((10, 1, 1), 0.5)
    plan = np.array([[1.0]])
    assert (
        revenue_impact(rep, seg, y, value, draws, plan, plan, rng=np.random.default_rng(0)) is None
    )


@pytest.mark.slow
def test_the_audit_reports_revenue_next_to_the_lift_on_a_synthetic_world() -> None:
    from leadpilot.synth import generate_world

    world = generate_world(n_leads=6_000, n_reps=6, n_new_leads=10, seed=2,
                           deal_values="rep_segment")  # fmt: skip
    analysis = analyze(world.history, reps=world.reps, seed=0)
    rec = json.loads(analysis.to_json())["recommendations"]
    revenue = rec["projected_revenue"]
    assert revenue["ci_low"] <= revenue["value"] <= revenue["ci_high"]
    h = world.history
    on_roster = h["rep_id"].isin(world.active_rep_ids)  # the plan's reps
    assert revenue["deals"] == int(
        (h["converted"].fillna(False) & h["deal_value"].notna() & on_roster).sum()
    )
    assert "Projected revenue impact of the same plan" in render_markdown(analysis)
    # without deal values the audit says nothing about revenue
    bare = analyze(world.history.assign(deal_value=np.nan), reps=world.reps, seed=0)
    assert "projected_revenue" not in json.loads(bare.to_json())["recommendations"]
    # ... and its other figures are unchanged by the revenue computation
    assert json.loads(bare.to_json())["verdict"] == json.loads(analysis.to_json())["verdict"]
