"""The policy's objective: conversions, pipeline value, won revenue, checked by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from leadpilot.errors import PolicyError
from leadpilot.policy import InMemoryState, ShadowPricer, parse_policy, route, router_inputs
from leadpilot.policy.batch import decisions_frame
from leadpilot.policy.pricing import DemandModel
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Lead, Rep, ValueEstimates, ValueModel

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
# ann converts Software at 0.5 and Retail at 0.3; bob 0.1 and 0.25.
SCORER = TableScorer({"ann": {"Software": 0.5, "Retail": 0.3},
                      "bob": {"Software": 0.1, "Retail": 0.25}})  # fmt: skip
REPS = [Rep("ann", max_leads_per_day=1), Rep("bob", max_leads_per_day=100)]


class TableValues:
    """E(value) by rep and industry (a hand-written ValueModel)."""

    version = "values-1"

    def __init__(self, table: Mapping[str, Mapping[str, float]], typical: float = 1.0) -> None:
        self.table = table
        self.typical = typical

    def values(self, lead: Lead, rep_ids: Sequence[str], objective: str) -> ValueEstimates:
        mean = self.value_batch([lead], rep_ids, objective)[0]
        return ValueEstimates(mean, mean * 0.9, mean * 1.1)

    def value_batch(self, leads, rep_ids, objective):  # type: ignore[no-untyped-def]
        deal = np.array([[self.table[r][lead.industry] for r in rep_ids] for lead in leads])
        if objective == "won_revenue":  # E(won revenue | opportunity) = P(win) x E(deal)
            return deal * np.array([WIN_RATE[r] for r in rep_ids])
        return deal

    def typical_value(self, objective: str) -> float:
        return self.typical


# ann's deals are 1,000 in both industries; bob's 3,000 in Software and 2,000 in Retail.
# ann wins 80% of her opportunities, bob 30%.
WIN_RATE = {"ann": 0.8, "bob": 0.3}
VALUES = TableValues({"ann": {"Software": 1000.0, "Retail": 1000.0},
                      "bob": {"Software": 3000.0, "Retail": 2000.0}})  # fmt: skip


def _policy(objective: str | None = None, **extra: object):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "pools": [{"name": "all", "eligibility": {"territory": False}}],
        "fairness": {"penalty": 0.0},
        **extra,
    }
    if objective is not None:
        data["objective"] = objective
    return parse_policy(data)


def test_the_value_model_protocol_is_met_by_the_table() -> None:
    assert isinstance(VALUES, ValueModel)


def test_objective_defaults_to_conversions_and_keeps_the_policy_version() -> None:
    assert _policy().objective == "conversions"
    assert _policy().policy_hash == _policy("conversions").policy_hash
    assert _policy("pipeline_value").policy_hash != _policy().policy_hash


def test_an_unknown_objective_names_the_key_and_the_allowed_values() -> None:
    with pytest.raises(PolicyError) as info:
        _policy("revenue")
    assert "objective" in str(info.value)
    assert "pipeline_value" in str(info.value)


@pytest.mark.parametrize(
    ("objective", "rep", "value", "score"),
    [
        # Retail: ann 0.30 > bob 0.25 conversions ...
        ("conversions", "ann", None, 0.30),
        # ... but bob's 0.25 x 2,000 = 500 beats ann's 0.30 x 1,000 = 300 of pipeline ...
        ("pipeline_value", "bob", 2000.0, 500.0),
        # ... and ann's 0.30 x 0.8 x 1,000 = 240 beats bob's 0.25 x 0.3 x 2,000 = 150 of
        # won revenue (her value 0.8 x 1,000 = 800).
        ("won_revenue", "ann", 800.0, 240.0),
    ],
)
def test_greedy_choice_under_each_objective(
    objective: str, rep: str, value: float | None, score: float
) -> None:
    inputs = router_inputs(_policy(objective), REPS, scorer=SCORER, value_model=VALUES)
    lead = Lead("r", industry="Retail")
    d = route(lead, inputs, InMemoryState(), NOW, np.random.default_rng(0))
    assert d.rep_id == rep
    assert d.expected_value == value
    assert d.candidates[0].score == pytest.approx(score)
    if objective == "pipeline_value":
        assert "OBJECTIVE:pipeline_value" in d.reasons
        other = next(c for c in d.candidates if c.rep_id == "ann")
        assert (other.value, other.score) == (1000.0, pytest.approx(300.0))
    if objective == "won_revenue":
        assert "OBJECTIVE:won_revenue" in d.reasons
        other = next(c for c in d.candidates if c.rep_id == "bob")
        assert (other.value, other.score) == (pytest.approx(600.0), pytest.approx(150.0))
    row = decisions_frame([d]).iloc[0]
    assert (row["expected_value"] is None or np.isnan(row["expected_value"])) == (value is None)


def test_a_value_objective_without_a_value_model_routes_by_conversions_and_says_so() -> None:
    inputs = router_inputs(_policy("pipeline_value"), REPS, scorer=SCORER)
    d = route(Lead("r", industry="Retail"), inputs, InMemoryState(), NOW, np.random.default_rng(0))
    assert d.rep_id == "ann"
    assert "NO_VALUE_MODEL" in d.reasons


@pytest.mark.usefixtures("without_fairness_guard")
def test_shadow_price_is_the_marginal_pipeline_value_of_capacity() -> None:
    # ann has one slot; half the expected leads are Software. Under pipeline value, Retail
    # goes to bob anyway (500 vs 300) and ann's slot moves one Software lead from bob
    # (0.1 x 3,000 = 300) to her (0.5 x 1,000 = 500): it is worth 200.
    sample = tuple(Lead(f"s{i}", industry="Software" if i % 2 else "Retail") for i in range(10))
    demand = DemandModel(sample, np.full(24, 1 / 24), 24.0)
    state = InMemoryState()
    inputs = router_inputs(_policy("pipeline_value"), REPS, scorer=SCORER, value_model=VALUES)
    from leadpilot.policy import refresh_prices

    lead = Lead("w", industry="Retail")
    inputs = refresh_prices(lead, inputs, state, NOW, ShadowPricer(demand))
    d = route(lead, inputs, state, NOW, np.random.default_rng(0))
    ann = next(c for c in d.candidates if c.rep_id == "ann")
    bob = next(c for c in d.candidates if c.rep_id == "bob")
    assert ann.price == pytest.approx(200.0)
    assert bob.price == pytest.approx(0.0)
    assert (d.rep_id, ann.score, bob.score) == ("bob", pytest.approx(100.0), pytest.approx(500.0))


@pytest.mark.usefixtures("without_fairness_guard")
def test_won_revenue_end_to_end_by_hand() -> None:
    # policy (objective: won_revenue) -> shadow prices -> decision -> the decision log's
    # figures. ann has one slot today and ~14 leads are expected before midnight, half
    # Software. In won revenue a Software lead is worth 0.5 x 0.8 x 1,000 = 400 with ann
    # and 0.1 x 0.3 x 3,000 = 90 with bob, a Retail lead 240 with ann and 150 with bob:
    # ann's slot goes to a Software lead and is worth 400 - 90 = 310 (in pipeline value it
    # was worth 200). A Retail lead then scores 240 - 310 = -70 with ann, 150 with bob.
    from leadpilot.policy import refresh_prices
    from leadpilot.policy.explain import explain

    sample = tuple(Lead(f"s{i}", industry="Software" if i % 2 else "Retail") for i in range(10))
    demand = DemandModel(sample, np.full(24, 1 / 24), 24.0)
    state = InMemoryState()
    inputs = router_inputs(_policy("won_revenue"), REPS, scorer=SCORER, value_model=VALUES)
    lead = Lead("w", industry="Retail")
    inputs = refresh_prices(lead, inputs, state, NOW, ShadowPricer(demand))
    d = route(lead, inputs, state, NOW, np.random.default_rng(0))
    ann = next(c for c in d.candidates if c.rep_id == "ann")
    bob = next(c for c in d.candidates if c.rep_id == "bob")
    assert (ann.price, bob.price) == (pytest.approx(310.0), pytest.approx(0.0))
    assert (ann.score, bob.score) == (pytest.approx(-70.0), pytest.approx(150.0))
    assert d.rep_id == "bob"
    assert "OBJECTIVE:won_revenue" in d.reasons
    # the logged figures: bob's P(convert) 0.25 and his won revenue if converted,
    # 0.3 x 2,000 = 600: 150 expected won revenue for this lead
    row = decisions_frame([d]).iloc[0]
    assert (row["p_convert"], row["expected_value"]) == (0.25, pytest.approx(600.0))
    assert row["p_convert"] * row["expected_value"] == pytest.approx(150.0)
    assert row["runner_up"] == "ann"
    assert "expected won revenue if converted 600" in explain(d)


@pytest.mark.parametrize("scale", [1.0, 2500.0])
def test_a_constant_value_scales_prices_and_keeps_every_decision(scale: float) -> None:
    # With every deal worth the same c, the LP's objective and the band's penalty are both
    # multiplied by c: its duals are c times the conversion prices, and the choices agree.
    from leadpilot.policy import refresh_prices

    flat = TableValues(
        {r: {"Software": scale, "Retail": scale} for r in ("ann", "bob")}, typical=scale
    )
    sample = tuple(Lead(f"s{i}", industry="Software" if i % 3 else "Retail") for i in range(12))
    demand = DemandModel(sample, np.full(24, 1 / 24), 24.0)
    extra = {"fairness": {"penalty": 0.05, "band": (0.8, 1.2)}}
    out = {}
    for objective in ("conversions", "pipeline_value"):
        policy = _policy(objective, **extra)
        state, rng, pricer = InMemoryState(), np.random.default_rng(3), ShadowPricer(demand)
        picks, prices = [], []
        for i in range(8):
            lead = Lead(f"l{i}", industry="Software" if i % 2 else "Retail")
            inputs = router_inputs(policy, REPS, scorer=SCORER, value_model=flat)
            inputs = refresh_prices(lead, inputs, state, NOW, pricer)
            d = route(lead, inputs, state, NOW, rng)
            state.commit(d)
            picks.append(d.rep_id)
            priced = {c.rep_id: c.price for c in d.candidates}
            prices.append([priced.get(r, np.nan) for r in ("ann", "bob")])
        out[objective] = picks, np.array(prices, dtype=float)
    assert out["conversions"][0] == out["pipeline_value"][0]
    np.testing.assert_allclose(
        out["pipeline_value"][1], scale * out["conversions"][1], rtol=1e-6, atol=1e-6
    )
    assert np.nanmax(np.abs(out["conversions"][1])) > 0  # the prices are not all zero
