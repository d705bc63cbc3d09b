"""The warm-started price LP (``policy/warm_lp.py``) is the assignment LP of
``assignment_lp.py``: over a day's worth of refreshes (capacity used up, counts growing, the
later-days block switched on and off) and over days whose sample rows are refilled, each warm
re-solve reaches linprog's optimal value, and where the optimal prices are unique they are
linprog's duals; decisions routed with warm prices match the cold reference within the stated
tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import assignment_lp, default_policy, router_inputs
from leadpilot.policy.batch import route_batch
from leadpilot.policy.warm_lp import WarmAssignmentLP, warm_lp_available
from leadpilot.synth import generate_world

pytestmark = pytest.mark.skipif(not warm_lp_available(), reason="SciPy without HiGHS bindings")


def _cold_value(monkeypatch: pytest.MonkeyPatch, *args: Any) -> tuple[float, Any]:
    """linprog's optimal value and prices of the same LP (``solve_assignment_lp``)."""
    seen: dict[str, float] = {}
    linprog = assignment_lp.linprog

    def spy(*a: Any, **kw: Any) -> Any:
        res = linprog(*a, **kw)
        seen["fun"] = float(res.fun)
        return res

    monkeypatch.setattr(assignment_lp, "linprog", spy)
    _x, price = assignment_lp.solve_assignment_lp(*args)
    return seen["fun"], price


@pytest.mark.parametrize("seed", [0, 1])
def test_warm_resolves_reach_the_cold_optimum(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = 40, 12
    p = rng.uniform(0.02, 0.4, (m, n))
    allowed = rng.random((m, n)) < 0.7
    warm = WarmAssignmentLP(p, allowed, 1.0)
    counts = rng.integers(0, 30, n).astype(float)
    share = np.full(n, 1 / n)
    remaining = rng.integers(5, 25, n).astype(float)
    for step in range(10):
        weight = 200 / m * rng.uniform(0.5, 1.5)
        future = 0.0 if step % 3 == 0 else 600 / m
        future_cap = np.full(n, 60.0) if future else None
        target = (counts.sum() + weight * m + future * m) * share
        args = (p, allowed, weight, remaining, counts, target, (0.8, 1.2), 1.0, future, future_cap)
        value, _cold = _cold_value(monkeypatch, *args)
        price = warm.solve(weight, remaining, counts, target, (0.8, 1.2), future, future_cap)
        assert warm.objective == pytest.approx(value, rel=1e-9, abs=1e-9)
        fresh = WarmAssignmentLP(p, allowed, 1.0)
        fresh.solve(weight, remaining, counts, target, (0.8, 1.2), future, future_cap)
        assert fresh.objective == pytest.approx(value, rel=1e-9, abs=1e-9)
        # Integer counts and capacities make this LP degenerate: its optimal prices need
        # not be unique, so they are checked against linprog's where they are (below).
        assert np.all(price >= -1.0 - 1e-9)
        assert np.all(price <= 2.0 + 1e-9)
        # a day going on: leads taken from the reps with room, counts growing
        taken = np.minimum(remaining, rng.integers(0, 3, n))
        remaining -= taken
        counts += taken
    assert warm.solves == 10


def _day(rng: np.random.Generator, n: int, rows: int) -> tuple[Any, ...]:
    """A refresh's right-hand sides, all continuous (so the LP is not degenerate)."""
    weight = 110 / rows * rng.uniform(0.2, 1.0)
    remaining = rng.uniform(0.5, 12.0, n)
    counts = rng.uniform(0.0, 80.0, n)
    future = 0.0 if rng.random() < 0.3 else 300 / rows * rng.uniform(0.5, 1.5)
    future_cap = rng.uniform(20.0, 80.0, n) if future else None
    target = (counts.sum() + weight * rows + future * rows) * rng.dirichlet(np.full(n, 20.0))
    return weight, remaining, counts, target, (0.8, 1.2), future, future_cap


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_refilled_rows_give_linprogs_prices_day_after_day(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """A rolling sample (each day some leads leave the window and others enter, sometimes
    fewer rows than slots): the refilled LP's warm re-solves reach linprog's optimum on that
    day's sample and their prices are linprog's duals to 1e-7."""
    rng = np.random.default_rng(seed)
    n, slots = 9, 60
    pool = 400  # leads over all days, each with its scores and mask row
    p_all = rng.uniform(0.02, 0.5, (pool, n))
    ok_all = rng.random((pool, n)) < 0.8
    ok_all[np.arange(pool), rng.integers(0, n, pool)] = True  # every lead has a rep
    rank = rng.random(pool)
    lp: WarmAssignmentLP | None = None
    rebuilt = refilled = 0
    for day in range(12):
        window = np.arange(day * 20, day * 20 + 150)
        size = slots if day % 4 else slots - 7  # a smaller sample leaves slots vacant
        rows = window[np.argsort(rank[window])[:size]]
        p, ok = p_all[rows], ok_all[rows]
        keys = [int(r) for r in rows]
        if lp is None or not lp.refill(keys, p, ok):
            lp, rebuilt = WarmAssignmentLP(p, ok, 0.7, keys=keys, slots=slots), rebuilt + 1
        for _refresh in range(3):
            rhs = _day(rng, n, len(rows))
            price = lp.solve(*rhs)
            weight, remaining, counts, target, band, future, future_cap = rhs
            args = (p, ok, weight, remaining, counts, target, band, 0.7, future, future_cap)
            value, cold = _cold_value(monkeypatch, *args)
            assert lp.objective == pytest.approx(value, rel=1e-9, abs=1e-9)
            assert np.allclose(price, cold, atol=1e-7, rtol=0)
        refilled = lp.refilled
    assert rebuilt == 1
    assert refilled > 0


def test_refill_keeps_each_kept_rows_slot_and_fills_the_freed_ones() -> None:
    p = np.arange(12, dtype=float).reshape(4, 3) / 20
    ok = np.ones((4, 3), dtype=bool)
    lp = WarmAssignmentLP(p, ok, 1.0, keys=["a", "b", "c", "d"], slots=5)
    assert lp.refill(["d", "b", "c", "a"], p[[3, 1, 2, 0]], ok)  # the same rows: no change
    assert lp.refilled == 0
    new_p = np.array([[0.9, 0.1, 0.1], [0.2, 0.8, 0.3]])
    assert lp.refill(["b", "e", "d", "f"], np.vstack([p[1], new_p[0], p[3], new_p[1]]), ok)
    assert lp.refilled == 2
    assert lp._keys == ["e", "b", "f", "d", None]  # a and c's slots taken, the fifth vacant
    assert not lp.refill(["a", "b", "c", "d", "e", "f"], np.zeros((6, 3)), np.ones((6, 3)) > 0)
    assert lp._keys == ["e", "b", "f", "d", None]  # more rows than slots: unchanged
    with pytest.raises(ValueError, match="unique"):
        lp.refill(["a", "a"], p[:2], ok[:2])


@pytest.mark.slow
def test_decisions_with_warm_prices_match_the_cold_reference() -> None:
    """Warm and cold solves reach the same optimum, but a degenerate LP has more than one
    set of optimal prices; the stated tolerance: at least 90% of the leads go to the same
    rep, and the oracle's expected conversions differ by under 2% (measured: 100% the same
    rep in this world)."""
    world = generate_world(n_leads=3_000, n_reps=12, n_new_leads=300, seed=3)
    reps = reps_from_frame(world.reps)
    history = leads_from_frame(world.history)
    leads = leads_from_frame(world.new_leads)
    oracle = world.truth.as_scorer()
    inputs = router_inputs(default_policy(reps), reps, scorer=oracle, history=history)
    warm = route_batch(leads, inputs, history=history, refresh_every=5)
    cold = route_batch(leads, inputs, history=history, refresh_every=5, warm_prices=False)
    same = np.mean([a.rep_id == b.rep_id for a, b in zip(warm, cold, strict=True)])
    assert same >= 0.9
    by_id = {lead.lead_id: lead for lead in leads}

    def expected(decisions: list[Any]) -> float:
        return sum(
            float(oracle.score_candidates(by_id[d.lead_id], [d.rep_id]).p[0])
            for d in decisions
            if d.rep_id is not None
        )

    assert expected(warm) == pytest.approx(expected(cold), rel=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capped_resolves_give_feasible_duals_and_the_next_full_solve_the_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """A re-solve capped at a few dual simplex iterations (``iteration_limit``) returns
    duals the LP could have: every multiplier of a <= row non-negative and each pair's
    reduced cost non-negative (the lead row's dual covers ``p - price`` of every rep the
    lead may go to), a dual objective no higher than the optimum (weak duality); the first
    solve and a re-solve without a cap run to linprog's optimum and prices, capped
    re-solves in between or not."""
    rng = np.random.default_rng(seed)
    n, m = 9, 60
    p = rng.uniform(0.02, 0.5, (m, n))
    ok = rng.random((m, n)) < 0.8
    ok[np.arange(m), rng.integers(0, n, m)] = True
    lp = WarmAssignmentLP(p, ok, 0.7)
    capped = 0
    for refresh in range(12):
        rhs = _day(rng, n, m)
        weight, remaining, counts, target, band, future, future_cap = rhs
        args = (p, ok, weight, remaining, counts, target, band, 0.7, future, future_cap)
        value, cold = _cold_value(monkeypatch, *args)
        limit = 3 if refresh % 3 else None  # every third re-solve to the optimum
        price = lp.solve(*rhs, iteration_limit=limit)
        if limit is None or refresh == 0:  # the first solve is never capped
            assert not lp.incomplete
            assert lp.objective == pytest.approx(value, rel=1e-9, abs=1e-9)
            assert np.allclose(price, cold, atol=1e-7, rtol=0)
            continue
        capped += lp.incomplete
        # the duals of the <= rows (HiGHS' row duals are <= 0 for a minimum): all >= 0
        y = -np.asarray(lp._highs.getSolution().row_dual)
        assert np.all(y >= -1e-9)
        lead_today = y[:m]
        cap, over, under = y[2 * m : 2 * m + n], y[2 * m + 2 * n : 2 * m + 3 * n], y[-n:]
        assert np.allclose(price, cap + over - under, atol=1e-12)
        # reduced cost of today's pair (s, r): -p + lead_s + cap_r + over_r - under_r >= 0
        reduced = -p + lead_today[:, None] + price[None, :]
        assert np.all(reduced[ok] >= -1e-7)
        # the slacks' reduced costs: penalty - over >= 0, penalty - under >= 0
        assert np.all(over <= 0.7 + 1e-9)
        assert np.all(under <= 0.7 + 1e-9)
        # weak duality: the dual objective is a lower bound of the minimum
        rows = np.concatenate([
            np.full(m, weight), np.full(m, future), remaining,
            future_cap if future and future_cap is not None else np.zeros(n),
            band[1] * target - counts, counts - band[0] * target,
        ])  # fmt: skip
        assert -float(y @ rows) <= value + 1e-7
    assert capped > 0  # some re-solves did stop at the cap


def test_the_service_solver_re_solves_a_pools_lp_warm_with_linprogs_prices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The background solver (``pricer.solve_in_solver``) keeps one warm LP per (scores,
    mask, penalty): a pool's refreshes within a day re-solve it, each to linprog's optimum
    and duals (continuous right-hand sides: unique prices); other scores, another mask or
    another penalty get their own LP; the least recently used of ``_SOLVER_LPS_KEPT`` go."""
    from leadpilot.policy import pricer

    monkeypatch.setattr(pricer, "_SOLVER_LPS", {})
    rng = np.random.default_rng(7)
    n, rows = 8, 30
    p = rng.uniform(0.02, 0.5, (rows, n))
    ok = rng.random((rows, n)) < 0.8
    ok[np.arange(rows), rng.integers(0, n, rows)] = True
    for _refresh in range(5):
        weight, remaining, counts, target, band, future, future_cap = _day(rng, n, rows)
        problem = (p, ok, weight, remaining, counts, target, band, 0.7, future, future_cap)
        price = pricer.solve_in_solver(problem)
        value, cold = _cold_value(monkeypatch, *problem)
        assert np.allclose(price, cold, atol=1e-7, rtol=0)
    (lp,) = pricer._SOLVER_LPS.values()
    assert lp.solves == 5  # one LP, re-solved warm
    assert lp.objective == pytest.approx(value, rel=1e-9, abs=1e-9)

    # other scores (another pool, a new model), another mask (reps 0-3 may take nothing),
    # another penalty: each is solved on an LP of its own, to linprog's prices
    no_early_reps = ok.copy()
    no_early_reps[:, :4] = False
    no_early_reps[:, 4] = True  # every lead still has a rep
    others = [
        (p * 0.5, *problem[1:]),
        (p, no_early_reps, *problem[2:]),
        (*problem[:7], 0.05, *problem[8:]),
    ]
    for other in others:
        price = pricer.solve_in_solver(other)
        assert np.allclose(price, _cold_value(monkeypatch, *other)[1], atol=1e-7, rtol=0)
    assert len(pricer._SOLVER_LPS) == 4
    assert lp.solves == 5

    # the least recently used go first: the pool's LP (the oldest), used again, stays
    # when one more LP than there is room for comes; the first of the others goes
    pricer.solve_in_solver(problem)
    for k in range(pricer._SOLVER_LPS_KEPT - 3):
        pricer.solve_in_solver((p + 0.001 * (k + 1), *problem[1:]))
    assert len(pricer._SOLVER_LPS) == pricer._SOLVER_LPS_KEPT
    assert any(kept is lp for kept in pricer._SOLVER_LPS.values())
    assert lp.solves == 6

    # a non-finite input is refused, as linprog refuses it (not solved with a stale bound)
    for bad in (
        (p, ok, weight, np.where(np.arange(n) == 2, np.nan, remaining), *problem[4:]),
        (np.where(p > 0.4, np.nan, p), *problem[1:]),
    ):
        with pytest.raises(ValueError, match="non-finite"):
            pricer.solve_in_solver(bad)


def test_the_service_solver_is_safe_from_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads re-solving one pool's LP at once (an executor of threads) each get the
    optimum's prices (one HiGHS instance solved by two threads at once crashed the process)."""
    from concurrent.futures import ThreadPoolExecutor

    from leadpilot.policy import pricer

    monkeypatch.setattr(pricer, "_SOLVER_LPS", {})
    rng = np.random.default_rng(11)
    n, rows = 6, 20
    p = rng.uniform(0.02, 0.5, (rows, n))
    ok = np.ones((rows, n), dtype=bool)
    problems = []
    for _ in range(40):
        weight, remaining, counts, target, band, future, future_cap = _day(rng, n, rows)
        problems.append((p, ok, weight, remaining, counts, target, band, 0.7, future, future_cap))
    with ThreadPoolExecutor(2) as pool:
        prices = list(pool.map(pricer.solve_in_solver, problems))
    for problem, price in zip(problems[:5], prices[:5], strict=True):
        assert np.allclose(price, _cold_value(monkeypatch, *problem)[1], atol=1e-7, rtol=0)
    assert len(pricer._SOLVER_LPS) == 1
