"""``simulate``: replay a history's leads through candidate policies and estimate each one.

The leads of the replay window are routed in time order by each policy (capacity, fairness,
availability and holds as configured). With cross-fitting the window is cut into time blocks
and each block is routed and scored by a model trained only on the leads before it.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.evaluate.replay import (
    DEFAULT_CLIP,
    PolicyEvaluation,
    cross_fitted_reward_matrix,
    evaluate_decisions,
    logged_replay,
    moved,
    reward_matrix,
)
from leadpilot.evaluate.sla import sla_attainment
from leadpilot.ingest import leads_from_frame
from leadpilot.policy.batch import BATCH_REFRESH_EVERY, SAMPLE_DAYS, route_batch
from leadpilot.policy.holds import AccountLookup
from leadpilot.policy.inputs import router_inputs
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.registry import RULES, STRATEGIES
from leadpilot.policy.response_times import typical_response_hours
from leadpilot.schema import Decision, Lead, Rep

__all__ = ["Block", "SimulationResult", "default_jobs", "run_simulation", "time_blocks"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Block:
    """Leads replayed with one model: ``replay`` rows of the history, ``model`` trained on
    leads before them (cross-fit) or given."""

    replay: pd.DataFrame
    model: Any


@dataclass
class SimulationResult:
    """Per-policy evaluations, decisions and what moved, plus facts about the replay."""

    policies: list[PolicyEvaluation]
    decisions: dict[str, list[Decision]]
    moved: dict[str, dict[str, Any]]
    replay: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document ``simulate --json`` writes."""
        return {
            "replay": self.replay,
            "warnings": self.warnings,
            "policies": [
                {**p.as_dict(), "moved_vs_first": self.moved.get(p.name)} for p in self.policies
            ],
        }


def time_blocks(frame: pd.DataFrame, n_blocks: int) -> list[pd.DataFrame]:
    """``frame`` (sorted by ``created_at``) cut into ``n_blocks`` consecutive blocks of equal
    size."""
    if n_blocks < 2:
        raise ConfigError(
            f"--blocks {n_blocks}: cross-fitting needs at least 2 blocks",
            hint="e.g. --blocks 3 (the first trains, the others are replayed)",
        )
    cuts = np.linspace(0, len(frame), n_blocks + 1).round().astype(int)
    return [frame.iloc[a:b] for a, b in itertools.pairwise(cuts)]


def _same_policy(a: Policy, b: Policy) -> bool:
    return a is b or a.model_dump() == b.model_dump()


def reads_scores(policy: Policy) -> bool:
    """Whether any pool's strategy (or fallback) chooses by the model's scores. A policy
    that does not is routed without the scorer: the router then only skips recording each
    decision's P(convert) (the estimates read the outcome model, not the decisions') and
    the batch router skips scoring every lead and re-estimating the lead mix each day for
    prices nothing reads; the reps chosen are the same."""
    return any(
        STRATEGIES.get(name).needs_scorer
        for pool in policy.pools
        for name in (pool.strategy, pool.fallback)
    )


def _mix_tail(past: pd.DataFrame) -> pd.DataFrame:
    """The leads of ``past`` (sorted by ``created_at``) that the batch router's lead mix can
    read: those within ``SAMPLE_DAYS`` of the latest (and a day's margin)."""
    if past.empty:
        return past
    latest = past["created_at"].max()
    return past[past["created_at"] >= latest - pd.Timedelta(days=SAMPLE_DAYS + 2)]


def default_jobs() -> int:
    """The processes ``simulate`` uses by default: the CPUs this process may run on, at most
    4 (the policies that read scores are routed one per worker)."""
    return min(4, _cpus())


def _cpus() -> int:
    """The CPUs this process may use: those it may run on, fewer when a cgroup's CPU quota
    (a container's ``--cpus``) allows less. Python 3.11's ``os`` reads neither the quota
    nor (before 3.13) anything but the affinity, so the quota is read here."""
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPUs a cgroup's quota allows (quota / period), ``None`` when unlimited or not
    readable. cgroup v2: ``cpu.max`` ("max 100000" or "150000 100000"); v1:
    ``cpu/cpu.cfs_quota_us`` (-1 when unlimited) and ``cpu/cpu.cfs_period_us``."""
    try:
        v2 = root / "cpu.max"
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").exists():
            q = int((v1 / "cpu.cfs_quota_us").read_text())
            return None if q <= 0 else q / int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError, ZeroDivisionError):
        return None
    return None


def _can_spawn() -> bool:
    """Whether a spawned worker can rebuild this process's main module, as multiprocessing
    does: by its module name (``python -m``, a zipapp, a console script on Windows) or by
    re-running its file. Without either (``python -c``, the REPL, a notebook, a script read
    from stdin) whatever the main module defines would not unpickle in a worker, so
    everything stays in this process."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    return path is not None and os.path.exists(path)


@contextmanager
def _workers(n: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``n`` spawned workers (``None`` when ``n`` < 1). On an error or Ctrl-C in
    this process the queued routings are cancelled and the workers stopped, not waited for
    (``ProcessPoolExecutor``'s own exit waits for every queued task)."""
    if n < 1:
        yield None
        return
    procs = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield procs
    except BaseException:
        running = list((getattr(procs, "_processes", None) or {}).values())
        procs.shutdown(wait=False, cancel_futures=True)  # (it forgets its processes)
        for proc in running:
            proc.terminate()
        raise
    finally:
        procs.shutdown(wait=True)


def _warm() -> None:
    """Import what a worker process routes with (the batch router, the model's scoring)."""
    import leadpilot.model.scoring
    import leadpilot.policy.batch  # noqa: F401


def _registered() -> bytes | None:
    """The strategies and eligibility rules a caller registered at run time, pickled for a
    worker (which loads the built-ins and plugins' entry points itself, not these); ``None``
    when one does not pickle (a worker could not route with it)."""
    try:
        return pickle.dumps((STRATEGIES.registered_at_run_time(), RULES.registered_at_run_time()))
    except Exception:  # any pickling failure: route in this process instead
        return None


def _adopt(registered: bytes) -> None:
    """Register in this (worker) process what the caller's process had and this lacks."""
    strategies, rules = pickle.loads(registered)
    for strategy in strategies:
        if strategy.name not in STRATEGIES:
            STRATEGIES.register(strategy)
    for rule in rules:
        if rule.key not in RULES:
            RULES.register(rule)


def _route_elsewhere(registered: bytes, *args: Any) -> list[Decision]:
    """:func:`_route` in a worker process, with the caller's registries."""
    _adopt(registered)
    return _route(*args)


def _decided(routed: Future[list[Decision]] | list[Decision]) -> list[Decision]:
    """Decisions routed here, or a worker's when it sends them."""
    return routed.result() if isinstance(routed, Future) else routed


def _route(
    policy: Policy,
    reps: Sequence[Rep],
    model: Any,
    accounts: AccountLookup | None,
    hours: dict[str, float],
    leads: list[Lead],
    past_leads: list[Lead],
    seed: int,
    refresh_every: int | None,
) -> list[Decision]:
    """One policy's decisions for a block's leads (in this process or a worker's)."""
    scorer = model if reads_scores(policy) else None
    inputs = router_inputs(policy, reps, scorer=scorer, accounts=accounts, response_hours=hours)
    return route_batch(leads, inputs, history=past_leads, seed=seed, refresh_every=refresh_every)


def run_simulation(
    history: pd.DataFrame,
    blocks: Sequence[Block],
    policies: Sequence[tuple[str, Policy]],
    *,
    reps: Sequence[Rep],
    accounts: AccountLookup | None = None,
    owners: pd.Series | None = None,
    baseline: Policy | None = None,
    seed: int = 0,
    n_bootstrap: int = 500,
    clip: float = DEFAULT_CLIP,
    progress: Progress | None = None,
    refresh_every: int | None = BATCH_REFRESH_EVERY,
    outcome_folds: int = 0,
    outcome_fit: Callable[..., Any] | None = None,
    outcome_like: bool = False,
    jobs: int = 1,
) -> SimulationResult:
    """Route each block's leads through every policy (and ``baseline``, e.g. round-robin,
    for the lift against it), then estimate every policy on the block's settled leads.
    ``history`` is every logged lead (canonical, sorted by ``created_at``). Leads are routed by
    the batch router with its price cadence ``refresh_every`` (``None``: the policy's).
    ``outcome_folds`` >= 2 scores the settled leads for the estimates with outcome models
    cross-fitted within each block (``outcome_fit`` trains one from a history frame), not
    with the block's routing model. ``outcome_like``: ``outcome_fit(frame, like)`` is also
    given the block's first fold's model, whose choices the later folds may reuse (see
    ``cross_fitted_reward_matrix``). ``jobs``: processes in all (1, the default: everything
    in this one; the CLI uses ``default_jobs()``): with 2 or more the policies that read the
    model's scores are routed in spawned worker processes while this one routes the others
    and fits the outcome models; the results do not depend on it. A script that asks for
    workers must call this under ``if __name__ == "__main__":``, as for any spawned process
    (a worker re-runs the script's top level)."""
    say = progress or (lambda _msg: None)
    names = [n for n, _ in policies]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"two policies share a name: {names}", hint="rename one policy file or strategy"
        )
    arms = list(policies) + ([("__baseline__", baseline)] if baseline is not None else [])
    settled_parts, reward_parts = [], []
    crossed = 0  # blocks whose settled leads were scored by cross-fitted outcome models
    rep_ids = [r.rep_id for r in reps]
    settled_of = [
        block.replay[block.replay["converted"].notna() & block.replay["rep_id"].notna()]
        for block in blocks
    ]
    if not any(len(settled) for settled in settled_of):
        raise DataValidationError(
            "no replayed lead has a settled outcome, so nothing can be estimated",
            hint="replay an older window (--from/--to) whose outcomes are known",
        )
    # The same policy routes the same leads to the same reps (the router is deterministic
    # under the seed): the round-robin baseline next to a `--strategy round_robin` arm is
    # routed once. ``same_of``: each arm's name -> the name of the arm routed for it.
    distinct: list[tuple[str, Policy]] = []
    same_of: dict[str, str] = {}
    for name, policy in arms:
        same = next((n for n, p in distinct if _same_policy(p, policy)), None)
        if same is None:
            distinct.append((name, policy))
        same_of[name] = same or name
    workers = jobs - 1 if _can_spawn() else 0
    # Why processes, not threads: a predictive replay gives up the GIL thousands of times
    # (each LP solve, each batch of scores) and waits to take it back while another thread
    # runs Python, so threads made the replay slower on a loaded machine. A worker process
    # gets the block's leads, model and policy pickled (about a second for 36,000 leads)
    # and sends the decisions back; "spawn" starts it clean, without this process's threads
    # and OpenMP state, which LightGBM's OpenMP does not survive a fork with, and as a child
    # of this process (its CPU time is this process's children's).
    registered = _registered() if workers >= 1 else None
    elsewhere = {n for n, p in distinct if reads_scores(p)} if registered is not None else set()
    with _workers(workers if elsewhere else 0) as procs:
        if procs is not None:
            procs.submit(_warm)  # its imports overlap the Lead records built below
        prepared = []
        for b, block in enumerate(blocks):
            past = history[history["created_at"] < block.replay["created_at"].min()]
            # Each rep's typical response hours read the whole past, straight from the
            # frame; the batch router's lead mix reads only the last SAMPLE_DAYS before its
            # latest lead (see ``route_batch``), so only that tail becomes Lead records (in
            # the 60,000-lead speed benchmark every past lead was ~24,000 records, 40% of
            # all it converted).
            work = (
                typical_response_hours(past),
                leads_from_frame(block.replay),
                leads_from_frame(_mix_tail(past)),
                seed,
                refresh_every,
            )
            note = f"block {b + 1}/{len(blocks)}: routing {len(work[1]):,} leads with "
            routed: dict[str, Future[list[Decision]] | list[Decision]] = {}
            for name, policy in distinct:
                if procs is not None and registered is not None and name in elsewhere:
                    say(note + name)
                    routed[name] = procs.submit(
                        _route_elsewhere, registered, policy, reps, block.model, accounts, *work
                    )
            prepared.append((block, past, work, note, routed))
        for b, (block, past, work, note, routed) in enumerate(prepared):
            for name, policy in distinct:
                if name not in routed:
                    say(note + name)
                    routed[name] = _route(policy, reps, block.model, accounts, *work)
            settled = settled_of[b]
            if len(settled):
                say(f"block {b + 1}/{len(blocks)}: scoring {len(settled):,} settled leads")
                settled_parts.append(settled)
                # A fold needs leads of its own: a block with fewer settled leads than folds
                # is scored by its routing model.
                if outcome_folds >= 2 and outcome_fit is not None and len(settled) >= outcome_folds:
                    crossed += 1
                    reward_parts.append(
                        cross_fitted_reward_matrix(
                            outcome_fit,
                            settled,
                            past,
                            rep_ids,
                            folds=outcome_folds,
                            share_choices=outcome_like,
                        )
                    )
                else:
                    reward_parts.append(reward_matrix(block.model, settled, rep_ids))
        replay = pd.concat(settled_parts)
        say("estimating the logging propensities and the estimates")
        logged = logged_replay(
            replay, history, rep_ids, reward_model=np.vstack(reward_parts), clip=clip, owners=owners
        )
        by_arm: dict[str, list[Decision]] = {}

        def gather(name: str) -> list[Decision]:
            """The arm's decisions over every block (waiting for a worker's)."""
            same = same_of[name]
            if same not in by_arm:
                by_arm[same] = [d for *_, routed in prepared for d in _decided(routed[same])]
            return by_arm[same]

        # The policies routed here are estimated while the workers still route the others.
        estimated: dict[str, PolicyEvaluation] = {}
        base = gather("__baseline__") if baseline is not None else None
        for name in sorted(names, key=lambda n: same_of[n] in elsewhere):
            ours = gather(name)
            estimated[name] = replace(
                evaluate_decisions(
                    name, logged, ours, baseline=base, n_bootstrap=n_bootstrap, seed=seed
                ),
                sla_attainment=sla_attainment(ours, history),
            )
        decisions = {name: gather(name) for name, _ in arms}
    evaluations = [estimated[name] for name in names]
    first = decisions[names[0]]
    moves = {n: moved(first, decisions[n]) for n in names[1:]}
    created = pd.concat([b.replay for b in blocks])["created_at"]
    facts = {
        "from": str(created.min()),
        "to": str(created.max()),
        "routed_leads": int(sum(len(b.replay) for b in blocks)),
        "settled_leads": len(replay),
        "blocks": len(blocks),
        "propensity_source": logged.propensity_source,
        "propensity_clip": clip if logged.propensity_source == "estimated" else None,
        "logged_rate": float(logged.reward.mean()),
        "baseline": "round_robin" if base is not None else None,
        "outcome_model": (
            f"cross-fitted in {outcome_folds} folds within each block"
            if crossed == len(settled_parts)
            else "the routing model of each block"
            if crossed == 0
            else f"cross-fitted in {outcome_folds} folds within {crossed} of "
            f"{len(settled_parts)} blocks (the others by their routing model)"
        ),
    }
    return SimulationResult(
        policies=evaluations,
        decisions={n: decisions[n] for n in names},
        moved=moves,
        replay=facts,
    )
