"""Shadow prices: LP duals checked against marginal values computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from routing_helpers import decide

from leadpilot.policy.pricer import ShadowPricer
from leadpilot.policy.pricing import (
    DemandModel,
    later_window_days,
    solve_assignment_lp,
    typical_response_hours,
)
from leadpilot.schema import Lead

# Two lead types: X (ann 0.5, bob 0.1) and Y (ann 0.4, bob 0.35), one of each expected.
P = np.array([[0.5, 0.1], [0.4, 0.35]])
OK = np.ones((2, 2), dtype=bool)
NO_BAND = (0.0, 100.0)


@pytest.mark.parametrize(
    ("ann_capacity", "ann_price"),
    [
        # Between 0 and 1 unit, each unit of ann's capacity moves X from bob to ann: +0.4.
        (0.5, 0.4),
        # Between 1 and 2 units, the next unit moves Y from bob to ann: 0.40 - 0.35 = 0.05.
        (1.5, 0.05),
        # With 3 units ann is never short: her capacity is worth nothing.
        (3.0, 0.0),
    ],
)
def test_capacity_price_is_the_marginal_value_of_capacity(
    ann_capacity: float, ann_price: float
) -> None:
    x, price = solve_assignment_lp(
        P, OK, 1.0, np.array([ann_capacity, 10.0]), np.zeros(2), np.array([1.0, 1.0]),
        NO_BAND, 0.0,
    )  # fmt: skip
    assert price[0] == pytest.approx(ann_price, abs=1e-9)
    assert price[1] == pytest.approx(0.0, abs=1e-9)
    assert x[:, 0].sum() == pytest.approx(min(ann_capacity, 2.0))


def test_fairness_band_prices_make_the_reps_indifferent_at_the_band_edge() -> None:
    # Ann is better on every lead; ten leads, equal shares, band 0.9-1.1: ann takes 5.5.
    p = np.tile([0.3, 0.2], (10, 1))
    x, price = solve_assignment_lp(
        p, np.ones((10, 2), dtype=bool), 1.0, np.array([1e6, 1e6]), np.zeros(2),
        np.array([5.0, 5.0]), (0.9, 1.1), 1.0,
    )  # fmt: skip
    assert x[:, 0].sum() == pytest.approx(5.5)
    assert (0.3 - price[0]) == pytest.approx(0.2 - price[1])


def test_ineligible_pairs_get_nothing() -> None:
    allowed = np.array([[False, True], [True, True]])
    x, _ = solve_assignment_lp(
        P, allowed, 1.0, np.array([5.0, 5.0]), np.zeros(2), np.ones(2), NO_BAND, 0.0
    )
    assert x[0, 0] == 0.0


def test_demand_model_level_profile_and_sample() -> None:
    t0 = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
    leads = [
        Lead(f"d{d}h{h}i{i}", created_at=t0 + timedelta(days=d, hours=h))
        for d in range(5)
        for h, n in ((9, 3), (15, 1))
        for i in range(n * (d + 1))
    ]
    model = DemandModel.from_leads(leads, level_days=2, sample_size=10, seed=1)
    assert model.leads_per_day == pytest.approx((16 + 20) / 2)  # the last two days
    assert model.hour_share[9] == pytest.approx(0.75)
    assert model.hour_share[15] == pytest.approx(0.25)
    assert len(model.sample) == 10
    assert model.expected_arrivals(t0 + timedelta(hours=8, minutes=30), 1.0) == pytest.approx(
        0.5 * 0.75 * 18
    )


def test_typical_response_is_shrunk_towards_the_team() -> None:
    hist = pd.DataFrame(
        {"rep_id": ["a"] * 20 + ["b"] * 2, "time_to_contact_hours": [1.0] * 20 + [9.0] * 2}
    )
    got = typical_response_hours(hist, prior_weight=20)
    assert got["a"] == pytest.approx((1.0 * 20 + 1.0 * 20) / 40)
    assert got["b"] == pytest.approx((9.0 * 2 + 1.0 * 20) / 22)
    assert typical_response_hours(pd.DataFrame({"x": [1]})) == {}


@pytest.mark.usefixtures("without_fairness_guard")
def test_router_keeps_a_scarce_specialist_for_the_leads_only_she_converts() -> None:
    from leadpilot.policy import InMemoryState, ShadowPricer, parse_policy
    from leadpilot.policy.table_scorer import TableScorer
    from leadpilot.schema import Rep

    # ann converts Software at 0.5 (bob 0.1) and Retail at 0.3 (bob 0.25); she has room
    # for one lead today. Most leads still to come are Software.
    scorer = TableScorer({"ann": {"Software": 0.5, "Retail": 0.3},
                          "bob": {"Software": 0.1, "Retail": 0.25}})  # fmt: skip
    reps = [Rep("ann", max_leads_per_day=1), Rep("bob", max_leads_per_day=100)]
    policy = parse_policy(
        {"pools": [{"name": "all", "eligibility": {"territory": False}}],
         "fairness": {"penalty": 0.0}}
    )  # fmt: skip
    sample = tuple(Lead(f"s{i}", industry="Software" if i % 2 else "Retail") for i in range(10))
    demand = DemandModel(sample, np.full(24, 1 / 24), 24.0)
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    retail = Lead("r", industry="Retail")

    greedy = decide(retail, policy=policy, reps=reps, state=InMemoryState(), scorer=scorer,
                   now=now, rng=np.random.default_rng(0))  # fmt: skip
    assert greedy.rep_id == "ann"  # without a demand model: the argmax

    state = InMemoryState()
    priced = decide(retail, policy=policy, reps=reps, state=state, scorer=scorer, now=now,
                   rng=np.random.default_rng(0), pricer=ShadowPricer(demand))  # fmt: skip
    assert priced.rep_id == "bob"
    ann = next(c for c in priced.candidates if c.rep_id == "ann")
    # 14 expected leads, 7 Software: ann's one slot is worth 0.5 - 0.1 on a Software lead.
    assert ann.price == pytest.approx(0.4)
    assert ann.score == pytest.approx(0.3 - 0.4)


def test_quiet_days_do_not_set_the_level() -> None:
    # Mon-Fri with 20 leads a day, then a weekend with one off-hours lead each day: the
    # level is the last two business days (20), not the weekend (1).
    t0 = datetime(2026, 11, 16, 9, tzinfo=UTC)  # a Monday
    leads = [
        Lead(f"d{d}i{i}", created_at=t0 + timedelta(days=d, minutes=i))
        for d in range(7)
        for i in range(20 if d < 5 else 1)
    ]
    model = DemandModel.from_leads(leads, level_days=2, sample_size=10)
    assert model.leads_per_day == pytest.approx(20.0)
    assert model.active_day_share == pytest.approx(5 / 7)


def test_rest_of_day_updates_the_level_with_todays_arrivals() -> None:
    # Flat profile (1/24 per hour), recent level 24 a day. At noon, 36 leads have come in
    # the 12 hours since midnight: level = (0.25 * 24 + 36) / (0.25 + 0.5) = 56 a day, so
    # the next 6 hours should bring 56 / 4 = 14 leads (the plain level says 6).
    demand = DemandModel((), np.full(24, 1 / 24), 24.0)
    noon = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert demand.expected_arrivals(noon, 6.0) == pytest.approx(6.0)
    got = demand.rest_of_day(noon, 6.0, arrived=36.0, elapsed_hours=12.0)
    assert got == pytest.approx(14.0)
    # arrivals exactly at the recent pace leave the estimate unchanged
    assert demand.rest_of_day(noon, 6.0, arrived=12.0, elapsed_hours=12.0) == pytest.approx(6.0)


def test_later_window_days() -> None:
    # 20 lead days in the window; 100 leads a day; 300 routed before today: 3 days done,
    # today is the 4th, 16 to come. A full window (or beyond) has none left.
    assert later_window_days(20.0, 300.0, 100.0) == pytest.approx(16.0)
    assert later_window_days(20.0, 2_500.0, 100.0) == 0.0
    assert later_window_days(20.0, 0.0, 0.0) == 0.0


def test_planning_the_rest_of_the_window_spreads_the_catch_up() -> None:
    # Ann (0.3 on every lead) and Bob (0.2) start the day at 20 and 0 leads, band
    # 0.9-1.1, 10 leads expected today. Today alone, Bob cannot reach 0.9 x 15 = 13.5 leads:
    # the band's slack is bought at the penalty (1), so Bob's price is -1.
    p = np.tile([0.3, 0.2], (10, 1))
    ok = np.ones((10, 2), dtype=bool)
    caps, counts, band = np.array([1e6, 1e6]), np.array([20.0, 0.0]), (0.9, 1.1)
    _, price = solve_assignment_lp(p, ok, 1.0, caps, counts, np.array([15.0, 15.0]), band, 1.0)
    assert price[1] == pytest.approx(-1.0)
    # With 90 more leads in the window (targets 60 each), the band can be met over the
    # window: Ann is capped at 66, Bob's leads are no longer short, and the prices only
    # make the two indifferent at the band edge (a 0.1 difference, not the penalty).
    x, price = solve_assignment_lp(
        p, ok, 1.0, caps, counts, np.array([60.0, 60.0]), band, 1.0, 9.0, caps
    )
    assert price[0] - price[1] == pytest.approx(0.1)
    assert abs(price[1]) < 1.0 - 1e-6
    assert x.sum() == pytest.approx(10.0)


class _RowScorer:
    """p of (lead i, rep j) = i / 100 + j / 1000 (lead i named "s{i}"); counts the rows
    it scores."""

    version = "rows-v1"

    def __init__(self) -> None:
        self.rows = 0

    def score_candidates(self, lead: Lead, rep_ids: Any, **kw: Any) -> Any:
        return self.score_batch([lead], rep_ids)

    def score_batch(self, leads: Any, rep_ids: Any, **kw: Any) -> Any:
        self.rows += len(leads)
        i = np.array([int(lead.lead_id[1:]) for lead in leads], dtype=float)[:, None]
        j = np.arange(len(rep_ids), dtype=float)[None, :]
        return SimpleNamespace(p=i / 100 + j / 1000)


def test_pricers_sharing_rows_score_each_sample_lead_once_with_the_same_scores() -> None:
    leads = [Lead(f"s{i}") for i in range(6)]
    rows: dict[Any, Any] = {}
    scorer = _RowScorer()
    reps = ("a", "b")
    day1 = ShadowPricer(DemandModel(tuple(leads[:4]), np.full(24, 1 / 24), 24.0), rows=rows)
    day2 = ShadowPricer(DemandModel(tuple(leads[2:]), np.full(24, 1 / 24), 24.0), rows=rows)
    first = day1.sample_scores(scorer, reps)  # type: ignore[arg-type]
    second = day2.sample_scores(scorer, reps, rows=np.array([3, 0, 1]))  # type: ignore[arg-type]
    assert scorer.rows == 4 + 1  # day 2 reads s5, s2, s3: only s5 is new
    np.testing.assert_allclose(first, [[0.0, 0.001], [0.01, 0.011], [0.02, 0.021], [0.03, 0.031]])
    np.testing.assert_allclose(
        second, [[0.05, 0.051], [0.02, 0.021], [0.03, 0.031]], rtol=0, atol=1e-15
    )


def test_stable_sample_is_the_window_leads_with_the_smallest_hash() -> None:
    """Bottom-k sampling, checked against hashlib: the sample is the ``sample_size`` leads of
    the window whose blake2b hash of (seed, id) is smallest, in that order, so the next
    day's sample keeps every lead still in the window whose hash still ranks."""
    from hashlib import blake2b

    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    leads = [Lead(f"L{i}", created_at=t0 + timedelta(hours=3 * i)) for i in range(400)]

    def rank(lead: Lead) -> int:
        digest = blake2b(f"7:{lead.lead_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    days = 28
    today = DemandModel.from_leads(leads[:300], sample_size=40, seed=7, stable=True)
    window = [x for x in leads[:300] if x.created_at > leads[299].created_at - timedelta(days)]
    assert today.ranked
    assert [x.lead_id for x in today.sample] == [x.lead_id for x in sorted(window, key=rank)[:40]]
    later = DemandModel.from_leads(leads[:308], sample_size=40, seed=7, stable=True)
    ids = {x.lead_id for x in later.sample}
    kept = {x.lead_id for x in today.sample if x.lead_id in ids}
    new_window = {
        x.lead_id for x in leads[:308] if x.created_at > leads[307].created_at - timedelta(days)
    }
    cut = rank(later.sample[-1])
    assert kept == {x.lead_id for x in today.sample if x.lead_id in new_window and rank(x) <= cut}
    assert len(kept) >= 30  # a day's turnover is a few rows, not the sample
    # not stable: a random draw in time order (unchanged)
    drawn = DemandModel.from_leads(leads[:300], sample_size=40, seed=7)
    assert not drawn.ranked
    assert [x.created_at for x in drawn.sample] == sorted(x.created_at for x in drawn.sample)


def test_pricers_sharing_lps_refill_one_lp_and_reach_linprogs_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Successive days' pricers sharing ``lps`` over a stable sample build each pool's LP
    once and refill it; every refresh's optimum is linprog's on that day's own sample, and
    ``max_rows`` keeps leads evenly spaced in time."""
    from leadpilot.ingest import leads_from_frame, reps_from_frame
    from leadpilot.policy import InMemoryState, default_policy, pricer, router_inputs, warm_lp
    from leadpilot.policy import assignment_lp as lp_module
    from leadpilot.synth import generate_world

    world = generate_world(n_leads=1_500, n_reps=5, n_new_leads=10, seed=1)
    reps = reps_from_frame(world.reps)
    history = sorted(leads_from_frame(world.history), key=lambda x: x.created_at)
    inputs = router_inputs(default_policy(reps), reps, scorer=world.truth.as_scorer(),
                           history=history)  # fmt: skip
    pool = inputs.policy.pools[0]
    builds: list[int] = []
    real = warm_lp.WarmAssignmentLP

    def counted(*a: Any, **kw: Any) -> Any:
        builds.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(pricer, "WarmAssignmentLP", counted)
    checked: list[float] = []
    solve_warm = pricer.solve_warm

    def against_linprog(lp: Any, problem: tuple[Any, ...], *limit: Any) -> Any:
        price = solve_warm(lp, problem, *limit)
        fun: dict[str, float] = {}
        linprog = lp_module.linprog

        def spy(*a: Any, **kw: Any) -> Any:
            res = linprog(*a, **kw)
            fun["v"] = float(res.fun)
            return res

        monkeypatch.setattr(lp_module, "linprog", spy)
        lp_module.solve_assignment_lp(*problem)
        monkeypatch.setattr(lp_module, "linprog", linprog)
        assert lp.objective == pytest.approx(fun["v"], rel=1e-9, abs=1e-9)
        assert problem[0].shape[0] == 60  # max_rows
        checked.append(fun["v"])
        return price

    monkeypatch.setattr(pricer, "solve_warm", against_linprog)
    lps: dict[Any, Any] = {}
    state = InMemoryState()
    cut = len(history) - 200
    refilled = 0
    for day in range(4):
        seen = history[: cut + 50 * day]
        demand = DemandModel.from_leads(seen, stable=True)
        day_pricer = ShadowPricer(demand, lps=lps, max_rows=60)
        now = seen[-1].created_at + timedelta(hours=1)
        pricer.pool_prices(day_pricer, pool, inputs, state, now, refresh_every=1)
        (lp,) = lps.values()
        by_time = sorted(demand.sample, key=lambda x: x.created_at)  # one pool: all of it
        spread = [by_time[int(i)] for i in np.linspace(0, len(by_time) - 1, 60).astype(int)]
        assert [id(x) for x in lp.owners] == [id(x) for x in spread]
        refilled = lp.refilled
    assert len(builds) == 1
    assert len(checked) == 4
    assert refilled > 0
