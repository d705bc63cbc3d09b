"""Routing many leads as if they arrived live: ``created_at`` order, each decision made with
only the leads before it, capacity counted per rep-local calendar day."""

from __future__ import annotations

import bisect
import gc
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.errors import DataValidationError
from leadpilot.policy.batch_fast import FastLane
from leadpilot.policy.batch_scores import PrecomputedScorer, batch_hours, can_batch
from leadpilot.policy.demand import DemandModel
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.policy_file import Pool
from leadpilot.policy.pricer import ShadowPricer, pool_prices
from leadpilot.policy.router import planned_candidates, route, route_repriced
from leadpilot.policy.state import InMemoryState
from leadpilot.schema import Decision, Lead

__all__ = [
    "BATCH_LP_ITERATIONS",
    "BATCH_REFRESHES_PER_DAY",
    "BATCH_REFRESH_EVERY",
    "BATCH_SIZE",
    "DECISION_COLUMNS",
    "decisions_frame",
    "route_batch",
]

# Leads scored per vectorised model call. Small: the call's (leads x (reps + 1)) feature rows
# and margins then stay in the CPU's caches (64 leads x 101 reps: ~5 MB) instead of ~150 MB
# allocated and written through memory per call at 2,048 leads; the scores are the same bits
# (each row is scored on its own). Measured with the trained model at 100 reps (8,192 leads,
# score_batch alone, loaded host): 0.147 ms CPU per lead at 2,048 leads per call, 0.075-0.10
# at 64, 0.069 at 96, 0.12 at 128.
BATCH_SIZE = 64
# The batch router's price cadence: a pool's prices are re-solved every this many of its
# assignments of the day and at each new day (see README "Batch router" for the measurement).
BATCH_REFRESH_EVERY = 25
# ... or, on a busy pool, about this many times a day: every (the pool's assignments the day
# before / this) assignments when that is more than ``refresh_every`` (see ``route_batch``).
BATCH_REFRESHES_PER_DAY = 40
# Leads whose candidates are guessed at once for priming (see ``_prime``): guesses are made
# with the state before them, and caps reached since make them wrong, so they are short.
PRIME_EVERY = 32
# Sample leads in a pool's price LP (at most; ShadowPricer's max_rows): see README "Batch router".
BATCH_LP_ROWS: int | None = None
# Dual simplex iterations of a pool's price re-solve within a day (an incremental dual
# update from the last solve's prices; a day's first solve runs to the optimum; None: every
# re-solve to the optimum). Measured (2026-12-04, code 0da1907 + this change): simulate's
# 36,028-lead replay (20 reps, predictive) 1,448 solves, LP CPU 46.7 -> 28.1 s (1,151
# re-solves capped; 613,437 -> 346,177 iterations); the 5-seed router benchmark with the
# model 68.6% -> 68.5% of the best lift (worst 66.1 -> 66.5%), with the oracle 85.7% ->
# 85.7% (worst 82.8 -> 82.4%), fairness 0.90-1.09; at 100,000 x 100 a re-solve takes ~55
# iterations, so the cap rarely binds there. At 30 iterations: 68.2%, fairness down to 0.89.
BATCH_LP_ITERATIONS: int | None = 100
# Decisions after which route_batch moves what its loop made so far out of the garbage
# collector's scans (``gc.freeze``, as the objects made before the loop): the decisions are
# kept to the end, and the collector's full collections walked them again and again as they
# piled up (at 100,000 x 100, 8 full collections, 1.2 s of 44 s).
FREEZE_EVERY = 4096
# DemandModel.from_leads' default window (days of leads its sample and profile read).
SAMPLE_DAYS = 28

DECISION_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "rep_id",
    "pool",
    "lane",
    "strategy",
    "reasons",
    "p_convert",
    "confidence",
    "propensity",
    "model_version",
    "policy_version",
    "decided_at",
    "sla_deadline",
    "mode",
    "shadow_rep_id",
    "grade",
    "fit_score",
    "intent_score",
    "runner_up",
    "expected_value",
)


def route_batch(
    leads: Sequence[Lead],
    inputs: RouterInputs,
    *,
    history: Sequence[Lead] = (),
    seed: int = 0,
    open_lead_days: float = 1.0,
    state: InMemoryState | None = None,
    batch_size: int = BATCH_SIZE,
    refresh_every: int | None = None,
    warm_prices: bool = True,
    prime: bool = False,
    refreshes_per_day: int | None = BATCH_REFRESHES_PER_DAY,
    lp_rows: int | None = BATCH_LP_ROWS,
    fast_lane: bool = True,
    lp_iterations: int | None = BATCH_LP_ITERATIONS,
) -> list[Decision]:
    """Route ``leads`` in ``created_at`` order (file order breaks ties), each at its own
    arrival time, under ``inputs`` (see :func:`leadpilot.policy.inputs.router_inputs`).
    Shadow prices use the expected lead mix of ``history`` plus the leads routed so far,
    re-estimated at each new UTC day (so a decision never sees a later lead), and are
    refreshed synchronously before each lead that reads them. A lead counts as open for
    ``open_lead_days`` after assignment (there are no close events in a batch). Returns
    decisions in arrival order.

    The batch router: each run of ``batch_size`` leads is scored against the whole roster in
    one vectorised model call when the scorer has one (``schema.BatchScorer``), then routed
    one at a time by ``route`` with the live state, so the decisions are those of ``route``
    called lead by lead (:class:`~leadpilot.policy.batch_scores.PrecomputedScorer` answers
    only what the batch holds exactly). ``refresh_every``: assignments of a pool between
    price refreshes in place of the policy's ``predictive.refresh_every`` (``None``: the
    policy's, as the service refreshes). ``refreshes_per_day`` (with ``refresh_every``): a
    pool whose assignments of the previous UTC day with leads (the Friday before a Monday),
    divided by it, exceed ``refresh_every`` is re-solved every that many assignments instead
    (a busy pool's prices move less per assignment: 5,000 leads a day over 100 reps re-solve
    every 125 assignments, not 25; ``None`` or 0: every ``refresh_every``, whatever the
    volume). ``warm_prices``: re-solve
    each pool's price LP warm from its last basis (:mod:`leadpilot.policy.warm_lp`);
    ``False`` solves every refresh from scratch (the reference the warm prices are tested
    against). ``prime``: guess the
    candidates of each run of ``PRIME_EVERY`` leads up front so the model's per-lead extra row
    (its average rep for the eligible subset) is scored in one call (see :func:`_prime`;
    decisions are the same). Off by default: measured, the guesses rarely hold (every
    assignment can put a rep at an open-lead or daily cap), so it cost a second screen per
    lead for few saved rows. ``lp_rows``: at most that many demand-sample leads in a pool's
    price LP (``None``: the whole sample; fewer is cheaper and costs lift, see README "The
    price LP across days"). ``fast_lane``: decide the common lead on array state
    (:mod:`leadpilot.policy.batch_fast`, the same decisions); ``False``: ``route`` for every
    lead (the reference the fast lane is tested against). ``lp_iterations``: a pool's warm
    re-solves within a day stop after that many dual simplex iterations, their prices the
    duals reached (an incremental dual update, see ``WarmAssignmentLP.solve``; ``None``:
    every re-solve to the optimum)."""
    missing = [lead.lead_id for lead in leads if lead.created_at is None]
    if missing:
        raise DataValidationError(
            f"{len(missing)} lead(s) have no created_at (first: {missing[0]})",
            hint="route-batch replays arrival order: every lead needs created_at.",
        )
    if batch_size < 1:
        raise DataValidationError(
            f"batch_size={batch_size} must be at least 1", hint="e.g. 2048 leads per batch"
        )
    order = sorted(range(len(leads)), key=lambda i: (leads[i].created_at, i))
    state = state or InMemoryState(open_lead_ttl=timedelta(days=open_lead_days))
    rng = np.random.default_rng(seed)
    mix = _LeadMix([h for h in history if h.created_at is not None], seed)
    pricer: ShadowPricer | None = None
    pricer_day = None
    # the demand sample's score and mask rows, kept across the days' pricers (see ShadowPricer)
    pricer_rows: dict[tuple[object, ...], dict[int, tuple[Lead, Any]]] = {}
    # ... and each pool's price LP, refilled with the day's sample (see ShadowPricer)
    pricer_lps: dict[tuple[object, ...], Any] = {}
    # assignments per pool on the current UTC day and the last one before it with leads (the
    # busy-pool cadence: a weekend without leads leaves Monday with Friday's volume; with
    # none, Mondays re-solved every 25 assignments: at 100,000 leads x 100 reps 1,614 LP
    # solves, 995 with Friday's volume, the same fairness and expected conversions)
    today: dict[str, int] = {}
    yesterday: dict[str, int] = {}
    count_day = None
    base = inputs.scorer
    batched = can_batch(base)
    roster = [r for r in inputs.reps if r.active]
    hours = batch_hours(roster, inputs.policy, inputs.response_hours) if batched else None
    # A batch's model call scores fewer rows than the model's threshold for loading its
    # compiled loops (glm_kernels.IMPORT_ROWS); a replay that scores that many in all loads
    # them, as one call of that size would. (No model module imported: no model scorer.)
    kernels = sys.modules.get("leadpilot.model.glm_kernels")
    if batched and kernels is not None and len(leads) * (len(roster) + 1) >= kernels.IMPORT_ROWS:
        kernels.load()
    # the common lead on array state (see leadpilot.policy.batch_fast); ``route`` the rest
    fast = FastLane.build(inputs, state) if fast_lane else None
    out: list[Decision] = []
    # The objects that exist before the loop (the model, the history, the inputs: most of a
    # replay's) are left out of the garbage collector's scans while it runs, and so are what
    # the loop made every FREEZE_EVERY decisions: its full collections, triggered as the
    # decisions pile up, then walk only the latest. (Not when a caller froze them already:
    # its freeze is left as it is.)
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        for start in range(0, len(order), batch_size):
            chunk = [leads[i] for i in order[start : start + batch_size]]
            if batched:
                scorer = PrecomputedScorer(
                    base,  # type: ignore[arg-type]
                    chunk,
                    [r.rep_id for r in roster],
                    hours,
                )
                inputs = inputs.with_scorer(scorer)
            for k, lead in enumerate(chunk):
                if batched and prime and k % PRIME_EVERY == 0:
                    _prime(scorer, chunk[k : k + PRIME_EVERY], inputs, state)
                now = lead.created_at
                assert now is not None
                if now.date() != count_day:
                    yesterday = today
                    today, count_day = {}, now.date()
                if base is not None and mix and now.date() != pricer_day:
                    pricer = ShadowPricer(
                        mix.demand(),
                        warm=warm_prices,
                        rows=pricer_rows,
                        lps=pricer_lps,
                        max_rows=lp_rows,
                        lp_iterations=lp_iterations,
                    )
                    pricer_day = now.date()
                found: Decision | None = None
                if pricer is None:
                    if fast is not None:  # rotation pools (no prices to read)
                        found, inputs = fast.decide(lead, inputs, now, rng, None, _no_cadence)
                    decision = found if found is not None else route(lead, inputs, state, now, rng)
                else:
                    cadence = _cadence(refresh_every, refreshes_per_day, yesterday)
                    if fast is not None:
                        found, inputs = fast.decide(lead, inputs, now, rng, pricer, cadence)
                    if found is not None:
                        decision = found
                    else:
                        decision, inputs = route_repriced(
                            lead, inputs, state, now, rng, _repricer(pricer, state, now, cadence)
                        )
                if decision.pool is not None and decision.rep_id is not None:
                    today[decision.pool] = today.get(decision.pool, 0) + 1
                state.commit(decision)
                if fast is not None:
                    fast.observe(decision)
                out.append(decision)
                mix.add(lead)
                if freeze and len(out) % FREEZE_EVERY == 0:
                    gc.freeze()  # the decisions so far stay: out of the scans too
    finally:
        if freeze:
            gc.unfreeze()
    return out


def _prime(
    scorer: PrecomputedScorer, chunk: Sequence[Lead], inputs: RouterInputs, state: InMemoryState
) -> None:
    """Guess each lead's candidates with the state as it is before the chunk (only caps
    reached within the chunk make a guess wrong) and pre-score what the model would score
    for them one lead at a time: one vectorised call instead of one per lead. A wrong
    guess costs one wasted row; the answers never change."""
    if not hasattr(scorer.scores, "prime_averages"):  # nothing scored per lead to save
        return
    wanted = []
    for lead in chunk:
        assert lead.created_at is not None
        ids = planned_candidates(lead, inputs, state, lead.created_at)
        if ids:
            wanted.append((lead, ids))
    scorer.prime(wanted)


def _cadence(
    refresh_every: int | None, per_day: int | None, yesterday: dict[str, int]
) -> Callable[[Pool], int | None]:
    """Each pool's refresh step: ``refresh_every``, or on a pool busy the day before, that
    day's assignments / ``per_day`` when larger (``None``: the service's cadence)."""

    def step(pool: Pool) -> int | None:
        if refresh_every is None or not per_day:
            return refresh_every
        return max(refresh_every, yesterday.get(pool.name, 0) // per_day)

    return step


def _no_cadence(pool: Pool) -> int | None:
    """The cadence when there is no pricer (the fast lane then reads no prices)."""
    return None


def _repricer(
    pricer: ShadowPricer,
    state: InMemoryState,
    now: datetime,
    cadence: Callable[[Pool], int | None],
) -> Callable[[Pool, RouterInputs], RouterInputs]:
    """``refresh_prices`` for the pool the router names (see ``route_repriced``)."""

    def reprice(pool: Pool, inputs: RouterInputs) -> RouterInputs:
        prices = pool_prices(pricer, pool, inputs, state, now, refresh_every=cadence(pool))
        return inputs.with_prices(pool.name, prices)

    return reprice


class _LeadMix:
    """The leads seen so far, for the day's :class:`DemandModel`: ``DemandModel.from_leads``
    reads only the last ``sample_days`` before the latest lead, so when the new leads all
    come after the history (the usual replay) only that tail is handed over (the same model,
    without sorting every lead seen each day)."""

    def __init__(self, history: list[Lead], seed: int) -> None:
        self.seed = seed
        self.leads = sorted(history, key=_arrival)
        self.times = [_arrival(lead) for lead in self.leads]
        self.ordered = True  # ``leads`` is in the order ``from_leads``' stable sort gives

    def __bool__(self) -> bool:
        return bool(self.leads)

    def add(self, lead: Lead) -> None:
        at = _arrival(lead)
        if self.times and at < self.times[-1]:
            self.ordered = False
        self.leads.append(lead)
        self.times.append(at)

    def demand(self) -> DemandModel:
        if not self.ordered:
            return DemandModel.from_leads(self.leads, seed=self.seed, stable=True)
        first = bisect.bisect_right(self.times, self.times[-1] - timedelta(days=SAMPLE_DAYS + 1))
        return DemandModel.from_leads(
            self.leads[first:], seed=self.seed, sample_days=SAMPLE_DAYS, stable=True
        )


def _arrival(lead: Lead) -> datetime:
    assert lead.created_at is not None
    return lead.created_at


def decisions_frame(decisions: Sequence[Decision]) -> pd.DataFrame:
    """One row per decision with ``DECISION_COLUMNS`` (reasons joined by ``|``)."""
    rows = []
    for d in decisions:
        runner = next((c.rep_id for c in d.candidates if c.rep_id != d.rep_id), None)
        rows.append(
            {
                "lead_id": d.lead_id,
                "rep_id": d.rep_id,
                "pool": d.pool,
                "lane": d.lane,
                "strategy": d.strategy,
                "reasons": "|".join(d.reasons),
                "p_convert": d.p_convert,
                "confidence": d.confidence,
                "propensity": d.propensity,
                "model_version": d.model_version,
                "policy_version": d.policy_version,
                "decided_at": d.decided_at.isoformat(),
                "sla_deadline": d.sla_deadline.isoformat() if d.sla_deadline else None,
                "mode": d.mode,
                "shadow_rep_id": d.shadow_rep_id,
                "grade": d.grade,
                "fit_score": d.fit_score,
                "intent_score": d.intent_score,
                "runner_up": runner,
                "expected_value": d.expected_value,
            }
        )
    return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
