"""``run_simulation``: policies that are the same are routed once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import leadpilot.evaluate.simulation as simulation
from leadpilot.evaluate.simulation import Block, run_simulation
from leadpilot.ingest import reps_from_frame
from leadpilot.policy import default_policy, with_strategy
from leadpilot.synth import generate_world


@dataclass(frozen=True, slots=True)
class LastEligible:
    """A strategy registered at run time (not a built-in, not a plugin's entry point) that
    says it reads scores, so simulate routes it in a worker process: the last eligible rep."""

    name: str = "last_eligible_test"
    explanation: str = "the last eligible rep"
    order: int = 99
    needs_scorer: bool = True
    weighted: bool = False
    priced: bool = False

    def choose(self, ctx: Any) -> Any:
        from leadpilot.policy.choice import one_rep

        return one_rep(ctx, ctx.ids[-1], "LAST_ELIGIBLE")

    def record(self, ctx: Any, rep_id: str) -> dict[str, float]:
        return {}


class _Flat:
    """An outcome model that gives every (lead, rep) pair 0.2."""

    def predict_proba(self, pairs: pd.DataFrame) -> np.ndarray:
        return np.full(len(pairs), 0.2)


def _count_routings_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the routings this process runs from now on (a worker's are not seen)."""
    sizes: list[int] = []
    route = simulation.route_batch

    def counted(leads: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(leads))
        return route(leads, *args, **kwargs)

    monkeypatch.setattr(simulation, "route_batch", counted)
    return sizes


def test_the_baseline_is_routed_once_when_an_arm_is_the_same_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = generate_world(n_leads=1_500, n_reps=4, n_new_leads=20, seed=1)
    hist = world.history.sort_values("created_at", kind="stable")
    window = hist.iloc[-150:]
    roster = reps_from_frame(world.reps)
    calls = _count_routings_here(monkeypatch)
    rr = with_strategy(default_policy(roster), "round_robin")
    result = run_simulation(
        hist,
        [Block(window, _Flat())],
        [("rr", rr), ("lb", with_strategy(default_policy(roster), "load_balanced"))],
        reps=roster,
        baseline=with_strategy(default_policy(roster), "round_robin"),  # equal, not the same
        n_bootstrap=50,
    )
    assert calls == [150, 150]  # round-robin (also the baseline) and load-balanced
    rr_eval = next(p for p in result.policies if p.name == "rr")
    # the baseline's decisions are the round-robin arm's: no lift over it, in any resample
    assert rr_eval.lift_vs_baseline["ips"].as_dict() == {"rate": 0.0, "ci_low": 0.0, "ci_high": 0.0}


@pytest.mark.parametrize("strategy", ["round_robin", "load_balanced", "least_recently_assigned"])
def test_a_policy_that_reads_no_scores_routes_the_same_without_the_scorer(strategy: str) -> None:
    from leadpilot.ingest import accounts_from_frame, leads_from_frame
    from leadpilot.ingest.matching import AccountMatcher
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
    from leadpilot.policy import router_inputs
    from leadpilot.policy.batch import route_batch

    world = generate_world(n_leads=2_000, n_reps=6, n_new_leads=20, seed=2)
    hist = world.history.sort_values("created_at", kind="stable")
    past, replay = hist.iloc[:-300], hist.iloc[-300:]
    fast = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}
    model = ConversionModel(**fast).fit(past, world.reps)
    roster = reps_from_frame(world.reps)
    policy = with_strategy(default_policy(roster), strategy)
    assert not simulation.reads_scores(policy)
    assert simulation.reads_scores(default_policy(roster))  # predictive
    matcher = AccountMatcher(accounts_from_frame(world.accounts))  # ownership holds too
    past_leads, leads = leads_from_frame(past), leads_from_frame(replay)

    def routed(scorer: Any) -> list[tuple[Any, ...]]:
        inputs = router_inputs(policy, roster, scorer=scorer, accounts=matcher, history=past_leads)
        return [
            (d.lead_id, d.rep_id, d.propensity, d.lane, d.strategy, d.sla_deadline,
             d.rep_local_day, tuple(d.reasons))
            for d in route_batch(leads, inputs, history=past_leads, seed=3)
        ]  # fmt: skip

    with_model = routed(model)
    assert routed(None) == with_model
    assert len({r[1] for r in with_model}) > 1


def test_the_replay_routes_as_route_batch_given_every_past_lead() -> None:
    """``run_simulation`` hands the batch router only the tail of the past its lead mix
    reads, and the reps' response hours read from the frame: the decisions must be those of
    ``route_batch`` given every past lead as records (the hours from them too)."""
    from leadpilot.ingest import leads_from_frame
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
    from leadpilot.policy import router_inputs
    from leadpilot.policy.batch import route_batch
    from leadpilot.policy.response_times import response_hours_of, typical_response_hours

    world = generate_world(n_leads=3_000, n_reps=5, n_new_leads=20, seed=4)
    hist = world.history.sort_values("created_at", kind="stable")
    days = hist["created_at"].dt.floor("D")
    start = days.iloc[-250]  # whole days: the replay starts at a midnight
    past, replay = hist[hist["created_at"] < start], hist[hist["created_at"] >= start]
    # more than SAMPLE_DAYS of past, so the tail is a strict part of it
    span = past["created_at"].max() - past["created_at"].min()
    assert span > pd.Timedelta(days=simulation.SAMPLE_DAYS + 30)
    fast = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}
    model = ConversionModel(**fast).fit(past, world.reps)
    roster = reps_from_frame(world.reps)
    policy = default_policy(roster)  # predictive: reads the mix and the response hours
    past_leads = leads_from_frame(past)
    hours = response_hours_of(past_leads)
    assert hours
    assert typical_response_hours(past) == hours
    inputs = router_inputs(policy, roster, scorer=model, history=past_leads)
    expected = [
        (d.lead_id, d.rep_id, d.propensity, d.p_convert, tuple(d.reasons))
        for d in route_batch(
            leads_from_frame(replay), inputs, history=past_leads, seed=0,
            refresh_every=simulation.BATCH_REFRESH_EVERY,
        )
    ]  # fmt: skip
    result = run_simulation(
        hist, [Block(replay, model)], [("predictive", policy)], reps=roster, n_bootstrap=50
    )
    got = [
        (d.lead_id, d.rep_id, d.propensity, d.p_convert, tuple(d.reasons))
        for d in result.decisions["predictive"]
    ]
    assert got == expected
    assert len({g[1] for g in got}) > 1
    # The mix the router starts from (the one most exposed to a short tail): the same
    # demand model from the tail as from every past lead.
    from leadpilot.policy.demand import DemandModel

    def mix(leads: list[Any]) -> tuple[Any, ...]:
        m = DemandModel.from_leads(leads, sample_days=simulation.SAMPLE_DAYS, stable=True)
        ids = [x.lead_id for x in m.sample]
        return ids, m.hour_share.tolist(), m.leads_per_day, m.active_day_share

    tail = leads_from_frame(simulation._mix_tail(past))
    assert len(tail) < len(past_leads)
    assert mix(tail) == mix(past_leads)


def test_the_results_do_not_depend_on_the_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``jobs`` >= 2 the predictive routings run in worker processes: one process
    and two give the same decisions and the same estimates, to the bit, over two
    blocks with cross-fitted outcome models and three policies."""
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]

    world = generate_world(n_leads=3_000, n_reps=5, n_new_leads=20, seed=6)
    hist = world.history.sort_values("created_at", kind="stable").reset_index(drop=True)
    fast = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}
    first, second = hist.iloc[-400:-200], hist.iloc[-200:]
    blocks = [
        Block(first, ConversionModel(**fast).fit(hist.iloc[:-400], world.reps)),
        Block(second, ConversionModel(**fast).fit(hist.iloc[:-200], world.reps)),
    ]
    roster = reps_from_frame(world.reps)
    policies = [
        ("predictive", default_policy(roster)),
        ("rr", with_strategy(default_policy(roster), "round_robin")),
        ("lb", with_strategy(default_policy(roster), "load_balanced")),
    ]

    def fit(frame: pd.DataFrame) -> Any:
        return ConversionModel(**fast).fit(frame, world.reps)

    # pytest-xdist's workers run from a main module with no file (as `python -c` does),
    # where simulate stays in one process; the objects here all import by module name
    monkeypatch.setattr(simulation, "_can_spawn", lambda: True)

    def run(jobs: int) -> tuple[Any, Any]:
        result = run_simulation(
            hist, blocks, policies, reps=roster, n_bootstrap=50, outcome_folds=2,
            outcome_fit=fit, baseline=with_strategy(default_policy(roster), "round_robin"),
            jobs=jobs,
        )  # fmt: skip
        decisions = {
            name: [(d.lead_id, d.rep_id, d.propensity, tuple(d.reasons)) for d in ds]
            for name, ds in result.decisions.items()
        }
        estimates = [{k: v.as_dict() for k, v in p.estimates.items()} for p in result.policies]
        return decisions, estimates

    here = _count_routings_here(monkeypatch)
    one = run(1)
    assert len(one[0]["predictive"]) == 400
    assert one[0]["predictive"] != one[0]["rr"]  # the arms differ, so a mix-up would show
    assert len(here) == 6  # 2 blocks x (predictive, round-robin = the baseline, load-balanced)
    assert run(2) == one
    assert len(here) == 6 + 4  # the predictive routings went to the worker


def test_a_main_module_a_worker_cannot_rebuild_keeps_simulate_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spawned worker rebuilds the main module by name or from its file; without either
    (a script read from stdin, ``python -c``, a notebook) simulate stays in one process
    instead of failing on what the main module defines."""
    import sys
    from types import SimpleNamespace

    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None, raising=False)
    monkeypatch.setattr(main, "__file__", "<stdin>", raising=False)
    assert not simulation._can_spawn()
    monkeypatch.delattr(main, "__file__", raising=False)  # python -c, the REPL
    assert not simulation._can_spawn()
    monkeypatch.setattr(main, "__file__", simulation.__file__, raising=False)
    assert simulation._can_spawn()
    monkeypatch.setattr(main, "__file__", "/no/such/app.pyz/__main__.py", raising=False)
    assert not simulation._can_spawn()
    monkeypatch.setattr(main, "__spec__", SimpleNamespace(name="__main__"), raising=False)
    assert simulation._can_spawn()  # a zipapp: imported by name


def test_an_error_here_stops_the_workers_instead_of_waiting_for_them() -> None:
    """Leaving the pool on an error cancels what is queued and ends the running worker
    (``ProcessPoolExecutor``'s own exit would wait for both: two minutes here)."""
    futures: list[Any] = []
    with pytest.raises(RuntimeError, match="outcome fit failed"):
        _fail_while_workers_sleep(futures)
    running, queued = futures
    assert running.exception() is not None  # its worker was ended, not waited for
    assert queued.cancelled() or queued.exception() is not None


def _fail_while_workers_sleep(futures: list[Any]) -> None:
    import time

    with simulation._workers(1) as procs:
        assert procs is not None
        futures += [procs.submit(time.sleep, 60), procs.submit(time.sleep, 60)]
        while not futures[0].running():
            time.sleep(0.05)
        raise RuntimeError("outcome fit failed")


def test_a_strategy_registered_at_run_time_is_routed_by_the_workers_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spawned worker loads the built-ins and the plugins' entry points, not what the
    caller registered: simulate hands its registries over, and the decisions are those of
    one process."""
    from leadpilot.policy.registry import STRATEGIES

    assert "predictive" in STRATEGIES  # loads the built-ins before the registry is copied
    monkeypatch.setattr(STRATEGIES, "_entries", dict(STRATEGIES._entries))
    monkeypatch.setattr(STRATEGIES, "_at_run_time", list(STRATEGIES._at_run_time))
    STRATEGIES.register(LastEligible())
    world = generate_world(n_leads=1_500, n_reps=4, n_new_leads=20, seed=1)
    hist = world.history.sort_values("created_at", kind="stable")
    roster = reps_from_frame(world.reps)
    policy = with_strategy(default_policy(roster), "last_eligible_test")
    assert simulation.reads_scores(policy)

    def run(jobs: int) -> list[tuple[str, str | None, tuple[str, ...]]]:
        result = run_simulation(
            hist, [Block(hist.iloc[-150:], _Flat())], [("last", policy)], reps=roster,
            n_bootstrap=50, jobs=jobs,
        )  # fmt: skip
        return [(d.lead_id, d.rep_id, tuple(d.reasons)) for d in result.decisions["last"]]

    one = run(1)
    assert sum("LAST_ELIGIBLE" in " ".join(r) for *_, r in one) > 50
    here = _count_routings_here(monkeypatch)
    monkeypatch.setattr(simulation, "_can_spawn", lambda: True)  # as in the test above
    assert run(2) == one
    assert here == []  # routed by the worker
    assert run(1) == one
    assert here == [150]


def test_only_what_a_caller_registers_is_handed_to_the_workers() -> None:
    """The built-ins and plugins load in every process (and the built-in rules do not
    pickle): the hand-over holds only run-time registrations, so it pickles."""
    from leadpilot.policy.registry import RULES, STRATEGIES

    assert "predictive" in STRATEGIES
    assert len(list(RULES)) > 0
    assert STRATEGIES.registered_at_run_time() == []
    assert RULES.registered_at_run_time() == []
    assert simulation._registered() is not None


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_a_cgroup_quota_caps_the_cpus_simulate_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], quota: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert simulation._cgroup_cpu_quota(tmp_path) == quota
    monkeypatch.setattr(simulation, "_cgroup_cpu_quota", lambda: quota)
    monkeypatch.setattr(
        simulation.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False
    )
    expected = {None: 4, 1.5: 2, 0.5: 1, 2.0: 2}[quota]
    assert simulation._cpus() == expected
    assert simulation.default_jobs() == expected


def test_python_dash_m_leadpilot_is_the_command() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "leadpilot", "--help"], capture_output=True, text=True, check=True
    )
    assert "simulate" in out.stdout
