"""Stale-while-refresh shadow prices: with a solver, a due refresh is answered with the
pool's latest prices and solved off the request path; its result equals a synchronous solve."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from leadpilot.policy.pricer import SOLVER_NICENESS, solver_pool
from leadpilot.policy.pricing import DemandModel, ShadowPricer
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Lead, Rep

REPS = [Rep("ann", max_leads_per_day=1), Rep("bob", max_leads_per_day=100)]
SCORER = TableScorer({"ann": {"Software": 0.5, "Retail": 0.3},
                      "bob": {"Software": 0.1, "Retail": 0.25}})  # fmt: skip
SAMPLE = tuple(Lead(f"s{i}", industry="Software" if i % 2 else "Retail") for i in range(10))
DEMAND = DemandModel(SAMPLE, np.full(24, 1 / 24), 24.0)
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
POOL = ("all", "policy-hash", SCORER.version)


class DeferredExecutor(Executor):
    """Runs nothing until ``run_all``: the test decides when the background solve ends."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.append((future, fn, args))
        return future

    def run_all(self) -> None:
        jobs, self.jobs = self.jobs, []
        for future, fn, args in jobs:
            future.set_result(fn(*args))


class BrokenExecutor(Executor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise RuntimeError("cannot schedule new futures after shutdown")


def _all_allowed(sample: Sequence[Lead], reps: Sequence[Rep]) -> NDArray[np.bool_]:
    return np.ones((len(sample), len(reps)), dtype=bool)


def _ask(pricer: ShadowPricer, ann_left: float, bucket: int) -> dict[str, float]:
    return pricer.prices(
        key=("day", bucket),
        pool_reps=REPS,
        scorer=SCORER,
        allowed=_all_allowed,
        allowed_key=("mask",),
        remaining=np.array([ann_left, 100.0]),
        counts=np.zeros(2),
        share=np.array([0.5, 0.5]),
        now=NOW,
        horizon_hours=14.0,
        band=(0.0, 100.0),
        penalty=0.0,
        pool_key=POOL,
    )


def test_due_refresh_serves_latest_prices_then_the_background_result() -> None:
    solver = DeferredExecutor()
    pricer = ShadowPricer(DEMAND, solver=solver)
    # First prices of a pool: solved synchronously (nothing older to serve).
    first = _ask(pricer, ann_left=1.0, bucket=0)
    assert first == _ask(ShadowPricer(DEMAND), ann_left=1.0, bucket=0)
    # 14 expected leads, 7 Software: ann's one slot is worth 0.5 - 0.1 on a Software lead.
    assert first["ann"] == pytest.approx(0.4)
    assert solver.jobs == []

    # A refresh falls due (ann now has room for 10): the request gets the latest prices...
    assert _ask(pricer, ann_left=10.0, bucket=1) is first
    assert len(solver.jobs) == 1
    # ...and so does every request until it finishes, without queueing a second solve.
    assert _ask(pricer, ann_left=10.0, bucket=2) is first
    assert len(solver.jobs) == 1

    solver.run_all()
    refreshed = _ask(pricer, ann_left=10.0, bucket=1)
    # With 10 slots ann takes the 7 Software leads and 3 of the 7 Retail ones: her next
    # slot moves a Retail lead from bob to her, worth 0.30 - 0.25.
    assert refreshed["ann"] == pytest.approx(0.05)
    assert refreshed == _ask(ShadowPricer(DEMAND), ann_left=10.0, bucket=1)
    assert pricer.background_refreshes == 1
    # The next due key is answered with the refreshed prices while it solves in turn.
    assert _ask(pricer, ann_left=10.0, bucket=2) is refreshed


@pytest.fixture(scope="module")
def service_solver() -> Iterator[ProcessPoolExecutor]:
    pool = solver_pool()
    yield pool
    pool.shutdown(wait=True)


def test_the_service_solver_runs_below_the_callers_priority(
    service_solver: ProcessPoolExecutor,
) -> None:
    # os.nice(0) reads a process's niceness; 19 is the lowest priority there is.
    expected = min(os.nice(0) + SOLVER_NICENESS, 19)
    assert service_solver.submit(os.nice, 0).result() == expected
    assert SOLVER_NICENESS == 10  # as the retraining child's


def test_the_service_solver_serves_the_prices_of_a_synchronous_solve(
    service_solver: ProcessPoolExecutor,
) -> None:
    pricer = ShadowPricer(DEMAND, solver=service_solver)
    first = _ask(pricer, ann_left=1.0, bucket=0)
    assert _ask(pricer, ann_left=10.0, bucket=1) is first  # the refresh went to the process
    # One worker takes jobs in order and the refresh's done callback runs before the next
    # job's result is set: once this returns, the refreshed prices are stored.
    service_solver.submit(os.getpid).result()
    assert pricer.background_refreshes == 1
    refreshed = _ask(pricer, ann_left=10.0, bucket=1)
    assert refreshed["ann"] == pytest.approx(0.05)  # worked out in the test above
    assert refreshed == _ask(ShadowPricer(DEMAND), ann_left=10.0, bucket=1)
    assert refreshed == _ask(ShadowPricer(DEMAND, warm=False), ann_left=10.0, bucket=1)


def test_a_solver_that_cannot_take_work_means_a_synchronous_solve() -> None:
    pricer = ShadowPricer(DEMAND, solver=BrokenExecutor())
    _ask(pricer, ann_left=1.0, bucket=0)
    refreshed = _ask(pricer, ann_left=10.0, bucket=1)
    assert refreshed["ann"] == pytest.approx(0.05)  # solved now, not the stale 0.4
    assert pricer.background_refreshes == 0
    assert pricer.refreshes == 2


def test_a_rebuilt_pricer_starts_from_the_previous_latest_prices() -> None:
    old = ShadowPricer(DEMAND)
    first = _ask(old, ann_left=1.0, bucket=0)
    solver = DeferredExecutor()
    new = ShadowPricer(DEMAND, solver=solver)
    new.adopt_latest(old)
    assert _ask(new, ann_left=10.0, bucket=5) is first
    assert len(solver.jobs) == 1


def test_prices_plan_the_rest_of_the_fairness_window() -> None:
    # Ann starts the day with 20 leads, Bob with none; band 0.9-1.1, penalty 1, 14 leads
    # expected for the rest of today (24 a day, flat, 10:00 to midnight).
    def ask(window_days: float) -> dict[str, float]:
        return ShadowPricer(DEMAND).prices(
            key=("day", 0),
            pool_reps=REPS,
            scorer=SCORER,
            allowed=_all_allowed,
            allowed_key=("mask",),
            remaining=np.array([100.0, 100.0]),
            counts=np.array([20.0, 0.0]),
            share=np.array([0.5, 0.5]),
            now=NOW,
            horizon_hours=14.0,
            band=(0.9, 1.1),
            penalty=1.0,
            window_days=window_days,
            daily_caps=np.array([100.0, 100.0]),
        )

    # Today alone, Bob cannot reach 0.9 x (20 + 14) / 2 = 15.3 of the 14 leads: his
    # slack is priced at the penalty.
    assert ask(0.0)["bob"] == pytest.approx(-1.0)
    # A 5-day window: the 20 leads before today are 20/24 of a day, so 5 - 20/24 - 1 days
    # (76 leads) are still to come, Bob can catch up and his price is no longer the penalty.
    assert ask(5.0)["bob"] > -1.0 + 1e-6


def test_a_nan_score_leaves_the_latest_prices_instead_of_failing_or_solving_on_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A NaN in the LP (here a score of the demand sample) is not solved on (HiGHS would
    call a NaN objective optimal): the synchronous refresh answers with the pool's latest
    prices, or none, logs why, and stores nothing; the lead is still routed."""
    broken = TableScorer({"ann": {"Software": float("nan"), "Retail": 0.3},
                          "bob": {"Software": 0.1, "Retail": 0.25}})  # fmt: skip
    for warm in (True, False):
        pricer = ShadowPricer(DEMAND, warm=warm)
        answer = pricer.prices(
            key=("day", 0), pool_reps=REPS, scorer=broken, allowed=_all_allowed,
            allowed_key=("mask",), remaining=np.array([1.0, 100.0]), counts=np.zeros(2),
            share=np.array([0.5, 0.5]), now=NOW, horizon_hours=14.0, band=(0.0, 100.0),
            penalty=0.0, pool_key=POOL,
        )  # fmt: skip
        assert answer["ann"] == 0.0
        assert answer["bob"] == 0.0
        assert pricer.refreshes == 0  # nothing stored: the next lead tries again
    assert "shadow prices not refreshed" in caplog.text
    assert "NaN" in caplog.text
