"""The batch router (``route_batch``) decides exactly as ``route`` called lead by lead: the
same decisions, field for field, when the prices are refreshed the same way; its
vectorised scores are the scorer's own, bit for bit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import (
    DemandModel,
    InMemoryState,
    ShadowPricer,
    default_policy,
    refresh_prices,
    route,
    router_inputs,
)
from leadpilot.policy import pricer as pricer_module
from leadpilot.policy.batch import BATCH_LP_ITERATIONS, route_batch
from leadpilot.policy.batch_scores import PrecomputedScorer
from leadpilot.policy.inputs import RouterInputs
from leadpilot.schema import Decision, Lead
from leadpilot.synth import generate_world


def lead_by_lead(
    leads: Sequence[Lead],
    inputs: RouterInputs,
    history: Sequence[Lead],
    seed: int = 0,
    refresh_every: int | None = None,
) -> list[Decision]:
    """The reference: ``route`` one lead at a time with the scorer's own
    ``score_candidates`` and a synchronous price refresh before each lead (the loop
    ``route_batch`` ran before the batch router), on the batch router's stable demand
    sample with each pool's LP refilled from day to day."""
    order = sorted(range(len(leads)), key=lambda i: (leads[i].created_at, i))
    state = InMemoryState(open_lead_ttl=timedelta(days=1))
    rng = np.random.default_rng(seed)
    seen = [h for h in history if h.created_at is not None]
    pricer, day, out = None, None, []
    lps: dict[Any, Any] = {}  # each pool's price LP, refilled day after day
    for i in order:
        lead = leads[i]
        now = lead.created_at
        assert now is not None
        if inputs.scorer is not None and seen and now.date() != day:
            demand = DemandModel.from_leads(seen, seed=seed, stable=True)
            # re-solves within a day capped as route_batch caps them (an incremental update)
            pricer = ShadowPricer(demand, lps=lps, lp_iterations=BATCH_LP_ITERATIONS)
            day = now.date()
        inputs = refresh_prices(lead, inputs, state, now, pricer, refresh_every=refresh_every)
        decision = route(lead, inputs, state, now, rng)
        state.commit(decision)
        out.append(decision)
        seen.append(lead)
    return out


class CountingScorer:
    """Counts the scorer's one-lead calls (the batch router should need few)."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.one_lead_calls = 0
        self.batch_calls = 0

    @property
    def version(self) -> str:
        return str(self.base.version)

    def score_candidates(self, lead: Lead, rep_ids: Any, **kw: Any) -> Any:
        self.one_lead_calls += 1
        return self.base.score_candidates(lead, rep_ids, **kw)

    def score_batch(self, leads: Any, rep_ids: Any, **kw: Any) -> Any:
        self.batch_calls += 1
        return self.base.score_batch(leads, rep_ids, **kw)


@pytest.fixture(scope="module")
def world() -> Any:
    return generate_world(n_leads=4_000, n_reps=12, n_new_leads=150, seed=2)


@pytest.fixture(scope="module")
def model(world: Any) -> Any:
    from leadpilot.model import ConversionModel

    # a small fast parameter set: the test is batch == one lead at a time, not model quality
    return ConversionModel(n_bags=2, n_estimators=40, early_stopping_rounds=10).fit(
        world.history, world.reps
    )


@pytest.fixture(scope="module")
def model_reference(world: Any, model: Any) -> tuple[RouterInputs, list[Decision]]:
    reps = reps_from_frame(world.reps)
    history = leads_from_frame(world.history)
    inputs = router_inputs(default_policy(reps), reps, scorer=model, history=history)
    return inputs, lead_by_lead(leads_from_frame(world.new_leads), inputs, history)


# The two equality tests on the 150-lead world are acceptance tests (~40 s of CPU together);
# test_batch_router_properties.py checks the same equality on random worlds in the fast loop.
@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [37, 4096])
def test_batch_router_decides_as_route_lead_by_lead_with_the_trained_model(
    world: Any, model: Any, model_reference: Any, batch_size: int
) -> None:
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    inputs, expected = model_reference
    counting = CountingScorer(model)
    got = route_batch(
        leads,
        inputs.with_scorer(counting),
        history=history,
        batch_size=batch_size,
        prime=batch_size == 37,  # priming (off by default) must not change a decision
    )
    assert got == expected  # every field: rep, reasons, candidates' p and prices, propensity
    assert any(d.strategy == "predictive" for d in got)
    # scored in batches: one call per batch (and one per day's demand sample), and one-lead
    # calls only for what a batch cannot hold exactly (reps with a queue backlog)
    batches = -(-len(leads) // batch_size)
    assert counting.batch_calls >= batches
    assert counting.one_lead_calls < len(leads) / 2


@pytest.mark.slow
def test_batch_router_decides_as_route_with_the_oracle(world: Any) -> None:
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    inputs = router_inputs(
        default_policy(reps), reps, scorer=world.truth.as_scorer(), history=history
    )
    assert route_batch(leads, inputs, history=history, batch_size=64) == lead_by_lead(
        leads, inputs, history
    )


def test_batch_cadence_is_route_with_prices_refreshed_at_that_cadence(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch router's default cadence changes only when prices are re-solved: with
    ``refresh_prices`` at the same cadence, ``route`` lead by lead gives the same decisions,
    and fewer solves than the service's cadence."""
    reps = reps_from_frame(world.reps)
    # 90 of the 150 leads (CPU): still two batches of 64 and three refreshes every 25
    leads = leads_from_frame(world.new_leads)[:90]
    history = leads_from_frame(world.history)
    inputs = router_inputs(
        default_policy(reps), reps, scorer=world.truth.as_scorer(), history=history
    )
    solves: list[int] = []
    solve = pricer_module.solve_assignment_lp

    def counted(*args: Any, **kwargs: Any) -> Any:
        solves.append(1)
        return solve(*args, **kwargs)

    monkeypatch.setattr(pricer_module, "solve_assignment_lp", counted)
    warm = pricer_module.solve_warm

    def counted_warm(*args: Any, **kwargs: Any) -> Any:
        solves.append(1)
        return warm(*args, **kwargs)

    monkeypatch.setattr(pricer_module, "solve_warm", counted_warm)
    got = route_batch(leads, inputs, history=history, batch_size=64, refresh_every=25)
    batch_solves = len(solves)
    assert got == lead_by_lead(leads, inputs, history, refresh_every=25)
    solves.clear()
    service = route_batch(leads, inputs, history=history)
    assert batch_solves < len(solves)
    assert [d.rep_id for d in got] != [d.rep_id for d in service]  # the cadence matters


def test_model_batch_scores_are_the_one_lead_scores_bit_for_bit(world: Any, model: Any) -> None:
    leads = leads_from_frame(world.new_leads)[:60]
    ids = list(world.active_rep_ids)
    rng = np.random.default_rng(0)
    for hours in (None, rng.uniform(0.1, 30.0, len(ids))):
        batch = model.score_batch(leads, ids, expected_response_hours=hours)
        full = np.vstack(
            [model.score_candidates(x, ids, expected_response_hours=hours).p for x in leads]
        )
        assert np.array_equal(batch.p, full)
        for row, lead in enumerate(leads):
            k = int(rng.integers(1, len(ids) + 1))
            cols = sorted(int(c) for c in rng.choice(len(ids), size=k, replace=False))
            sub_hours = None if hours is None else hours[cols]
            one = model.score_candidates(
                lead, [ids[c] for c in cols], expected_response_hours=sub_hours
            )
            got = batch.candidates(row, cols)
            assert np.array_equal(got.p, one.p)
            assert got.confidence == one.confidence
            assert np.array_equal(got.sufficiency, one.sufficiency)


def test_model_batch_scores_at_moved_hours_are_the_one_lead_scores_bit_for_bit(
    world: Any, model: Any
) -> None:
    """``candidates_at``: some reps' response hours moved since the batch was scored (a
    queue backlog), a random subset of the roster: the one-lead scores, bit for bit, while
    scoring only the moved pairs and the average rep."""
    leads = leads_from_frame(world.new_leads)[:40]
    ids = list(world.active_rep_ids)
    rng = np.random.default_rng(3)
    typical = rng.uniform(0.5, 30.0, len(ids))
    for batch_hours in (typical, None):
        batch = model.score_batch(leads, ids, expected_response_hours=batch_hours)
        for row, lead in enumerate(leads):
            k = int(rng.integers(1, len(ids) + 1))
            cols = sorted(int(c) for c in rng.choice(len(ids), size=k, replace=False))
            base = typical if batch_hours is not None else np.full(len(ids), 7.0)
            hours = base[cols].copy()
            moved = rng.random(k) < 0.3  # backlogs: some reps' hours grow
            hours[moved] += rng.integers(1, 4, int(moved.sum())) * 0.75
            for asked in (hours, None):
                one = model.score_candidates(
                    lead, [ids[c] for c in cols], expected_response_hours=asked
                )
                got = batch.candidates_at(row, cols, asked)
                assert np.array_equal(got.p, one.p)
                assert got.confidence == one.confidence
                assert np.array_equal(got.sufficiency, one.sufficiency)
                assert np.array_equal(got.draws, one.draws)
    # the whole roster at the batch's own hours scores no row of its own
    batch = model.score_batch(leads, ids, expected_response_hours=typical)
    batch.candidates_at(0, list(range(len(ids))), typical)
    assert batch.average_rows_scored == 0


def test_precomputed_scorer_hands_other_questions_to_the_scorer(world: Any) -> None:
    oracle = world.truth.as_scorer()
    leads = leads_from_frame(world.new_leads)[:5]
    ids = list(world.active_rep_ids)
    hours = np.full(len(ids), 2.0)
    scorer = PrecomputedScorer(oracle, leads, ids, hours)
    scorer.score_candidates(leads[0], ids[:3], expected_response_hours=hours[:3])
    assert (scorer.hits, scorer.misses) == (1, 0)
    backlog = hours[:3] + np.array([0.0, 0.5, 0.0])  # a rep with a queue: scored live
    live = scorer.score_candidates(leads[0], ids[:3], expected_response_hours=backlog)
    assert np.array_equal(
        live.p, oracle.score_candidates(leads[0], ids[:3], expected_response_hours=backlog).p
    )
    with pytest.raises(DataValidationError, match="nobody"):  # the oracle's own answer
        scorer.score_candidates(leads[0], [*ids[:2], "nobody"], expected_response_hours=hours[:3])
    other = Lead("elsewhere", created_at=leads[0].created_at)  # not in the batch
    scorer.score_candidates(other, ids[:3], expected_response_hours=hours[:3])
    scorer.score_candidates(leads[0], ids[:3])  # no hours where the batch has them
    assert (scorer.hits, scorer.misses) == (1, 4)


def test_primed_average_rows_are_those_scored_one_lead_at_a_time(world: Any, model: Any) -> None:
    """``prime_averages`` scores the average-rep rows of many (lead, subset) pairs in one
    call; ``candidates`` then answers bit for bit as without priming, scoring no row of its
    own for a primed pair (and its own row for a pair that was not primed)."""
    leads = leads_from_frame(world.new_leads)[:40]
    ids = list(world.active_rep_ids)
    hours = np.random.default_rng(1).uniform(0.5, 30.0, len(ids))
    plain = model.score_batch(leads, ids, expected_response_hours=hours)
    primed = model.score_batch(leads, ids, expected_response_hours=hours)
    rng = np.random.default_rng(2)
    wanted = [
        (row, sorted(int(c) for c in rng.choice(len(ids), size=int(rng.integers(1, len(ids))),
                                                replace=False)))
        for row in range(len(leads))
    ]  # fmt: skip
    assert primed.prime_averages(wanted) == len(wanted)
    for row, cols in wanted:
        a, b = plain.candidates(row, cols), primed.candidates(row, cols)
        assert np.array_equal(a.p, b.p)
        assert a.confidence == b.confidence
    assert plain.average_rows_scored == len(wanted)
    assert primed.average_rows_scored == 0
    primed.candidates(0, [0, 1])  # not primed: scored on its own
    assert primed.average_rows_scored == 1


def test_a_busy_pool_is_repriced_by_yesterdays_volume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``refreshes_per_day``: a pool that took N leads on the last UTC day before with leads
    (Friday for a Monday) re-solves every max(refresh_every, N // refreshes_per_day)
    assignments; ``route`` lead by lead with prices refreshed at that step (worked out here
    from the decisions, a second count) gives the same decisions, with fewer solves than
    every ``refresh_every``."""
    world = generate_world(n_leads=3_000, n_reps=6, n_new_leads=500, seed=4)
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    inputs = router_inputs(
        default_policy(reps), reps, scorer=world.truth.as_scorer(), history=history
    )
    every, per_day = 4, 3
    # the reference: the step from the assignments in the one pool on the last UTC day
    # before with leads
    order = sorted(range(len(leads)), key=lambda i: (leads[i].created_at, i))
    state = InMemoryState(open_lead_ttl=timedelta(days=1))
    rng = np.random.default_rng(0)
    seen = [h for h in history if h.created_at is not None]
    pricer, day, expected = None, None, []
    per_utc_day: dict[Any, int] = {}
    steps = set()
    after_gap = set()  # steps read across days without leads (a weekend)
    lead_days: list[Any] = []
    lps: dict[Any, Any] = {}
    for i in order:
        lead = leads[i]
        now = lead.created_at
        assert now is not None
        if seen and now.date() != day:
            demand = DemandModel.from_leads(seen, seed=0, stable=True)
            # re-solves within a day capped as route_batch caps them (an incremental update)
            pricer = ShadowPricer(demand, lps=lps, lp_iterations=BATCH_LP_ITERATIONS)
            day = now.date()
        if not lead_days or lead_days[-1] != now.date():
            lead_days.append(now.date())
        before = lead_days[-2] if len(lead_days) > 1 else None
        step = max(every, per_utc_day.get(before, 0) // per_day)
        steps.add(step)
        if before is not None and before != now.date() - timedelta(days=1):
            after_gap.add(step)
        inputs = refresh_prices(lead, inputs, state, now, pricer, refresh_every=step)
        decision = route(lead, inputs, state, now, rng)
        state.commit(decision)
        expected.append(decision)
        seen.append(lead)
        if decision.rep_id is not None and decision.pool is not None:
            per_utc_day[now.date()] = per_utc_day.get(now.date(), 0) + 1
    assert max(steps) > every, "the world has days busy enough to stretch the step"
    assert max(after_gap) > every, "... and a busy day before a gap"

    solves: list[int] = []
    warm = pricer_module.solve_warm

    def counted_warm(*args: Any, **kwargs: Any) -> Any:
        solves.append(1)
        return warm(*args, **kwargs)

    monkeypatch.setattr(pricer_module, "solve_warm", counted_warm)
    got = route_batch(
        leads, inputs, history=history, refresh_every=every, refreshes_per_day=per_day
    )
    busy_solves = len(solves)
    assert got == expected
    solves.clear()
    flat = route_batch(leads, inputs, history=history, refresh_every=every, refreshes_per_day=0)
    assert busy_solves < len(solves)
    assert flat == route_batch(leads, inputs, history=history, refresh_every=every,
                               refreshes_per_day=None)  # fmt: skip


def test_average_rows_scored_ahead_are_the_one_lead_scores_bit_for_bit(
    world: Any, model: Any
) -> None:
    """``candidates_at`` lead after lead with the same candidates for runs of leads (as the
    router between two caps reached): the average rep at their mean time is scored for the
    next leads at once (``AHEAD``), each the one-lead scores' bits, in fewer calls."""
    from leadpilot.model.scoring import AHEAD

    leads = leads_from_frame(world.new_leads)[:45]
    ids = list(world.active_rep_ids)
    rng = np.random.default_rng(11)
    typical = rng.uniform(0.5, 30.0, len(ids))
    batch = model.score_batch(leads, ids, expected_response_hours=typical)
    speculate = batch._speculate
    calls: list[int] = []

    def counted(row: int, mean: float) -> Any:
        calls.append(row)
        return speculate(row, mean)

    batch._speculate = counted
    cols: list[int] = []
    for row, lead in enumerate(leads):
        if row % 6 == 0 or not cols:  # a cap reached: other candidates, another mean
            k = int(rng.integers(1, len(ids)))
            cols = sorted(int(c) for c in rng.choice(len(ids), size=k, replace=False))
        hours = typical[cols].copy()
        if row % 4 == 3:  # a backlog: one rep's time moved (its pair re-scored too)
            hours[0] += 1.5
        one = model.score_candidates(lead, [ids[c] for c in cols], expected_response_hours=hours)
        got = batch.candidates_at(row, cols, hours)
        assert np.array_equal(got.p, one.p)
        assert got.confidence == one.confidence
        assert np.array_equal(got.draws, one.draws)
    assert AHEAD > 1
    assert 0 < len(calls) < len(leads) * 0.75  # most leads found their row scored ahead


def test_route_batch_leaves_the_garbage_collector_as_it_found_it(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """route_batch keeps what exists and what it made out of the collector's scans while it
    runs (``gc.freeze``, every few decisions too) and gives them back at the end; a caller's
    own freeze (the service's, this suite's: tests/conftest.py) is left alone. The decisions
    do not depend on it."""
    import gc

    import leadpilot.policy.batch as batch_module

    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    inputs = router_inputs(
        default_policy(reps), reps, scorer=world.truth.as_scorer(), history=history
    )
    want = route_batch(leads, inputs, history=history)  # under the suite's freeze
    suite_froze = gc.get_freeze_count() > 0
    gc.unfreeze()  # a process that froze nothing (restored below)
    try:
        monkeypatch.setattr(batch_module, "FREEZE_EVERY", 7)  # several freezes in the loop
        frozen_within: list[int] = []
        observe = batch_module.FastLane.observe

        def counting(self: Any, decision: Any) -> None:
            frozen_within.append(gc.get_freeze_count())
            observe(self, decision)

        monkeypatch.setattr(batch_module.FastLane, "observe", counting)
        assert route_batch(leads, inputs, history=history) == want
        assert gc.get_freeze_count() == 0
        assert frozen_within[0] > 0  # the objects made before the loop, out of the scans
        assert frozen_within[20] > frozen_within[6]  # and the decisions, every 7
        gc.freeze()  # a caller's freeze: left as it is
        before = gc.get_freeze_count()
        frozen_within.clear()
        assert route_batch(leads, inputs, history=history) == want
        # nothing frozen or given back by route_batch (frozen objects freed by their
        # refcounts leave the count, so it may only fall, by a few)
        assert before - 100 < gc.get_freeze_count() <= before
        assert before - 100 < min(frozen_within) <= max(frozen_within) <= before
    finally:
        gc.unfreeze()
        if suite_froze:
            gc.freeze()
