"""The batch router against ``route`` called lead by lead under a policy that uses every
feature at once (``examples/policy.yaml``: ownership holds with backups, a hot lane that needs
a rep available now, a no-assignment lane, exceptions, territory / product / seniority /
language / segment rules, overflow pools, weighted round-robin, load balancing, exploration,
holdout, queue-aware scores, shadow prices and the fairness band), with daily caps cut so
that capacity binds: the same decisions, field for field, and no rep over a cap."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_batch_router import lead_by_lead

from leadpilot.ingest import accounts_from_frame, leads_from_frame, reps_from_frame
from leadpilot.ingest.matching import AccountMatcher
from leadpilot.policy import load_policy, router_inputs
from leadpilot.policy.batch import route_batch
from leadpilot.policy.capacity import capacity_of
from leadpilot.synth import generate_world

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"


@pytest.fixture(scope="module")
def world() -> Any:
    # 20 reps as in the demo (the example's weights and overrides name rep-01..rep-20); 400
    # new leads over few days against caps of 3 a day: caps bind, overflow and queues fire.
    return generate_world(n_leads=2_000, n_reps=20, n_new_leads=400, seed=4)


def _inputs(world: Any, scorer: Any) -> tuple[Any, list[Any], list[Any]]:
    reps = reps_from_frame(world.reps)
    policy = load_policy(EXAMPLE)
    data = policy.model_dump(by_alias=True, exclude_unset=True)
    # every rep's cap cut to 3 a day (2 for rep-01), the example's other overrides kept
    overrides = {r.rep_id: {"max_leads_per_day": 3} for r in reps}
    overrides["rep-01"] = {"max_leads_per_day": 2}
    overrides["rep-03"] = {**data["reps"]["rep-03"], "max_leads_per_day": 3}
    data["reps"] = overrides
    policy = type(policy).model_validate(data)
    history = leads_from_frame(world.history)
    accounts = AccountMatcher(accounts_from_frame(world.accounts))
    inputs = router_inputs(policy, reps, scorer=scorer, accounts=accounts, history=history)
    return inputs, history, leads_from_frame(world.new_leads)


def _check(world: Any, got: list[Any], inputs: Any) -> None:
    reasons = Counter(r.split(":")[0] for d in got for r in d.reasons)
    # the features this test is about did fire
    for code in ("OWNER_HOLD", "HOT_LANE", "CAPACITY_SKIP", "NO_ASSIGNMENT_LANE", "PREDICTIVE"):
        assert reasons[code] > 0, (code, reasons)
    assert any(d.rep_id is None for d in got) or reasons["OVERFLOW"] > 0
    by_id = {r.rep_id: r for r in inputs.reps}
    per_day: Counter[tuple[str, Any]] = Counter()
    for d in got:
        if d.rep_id is not None:
            per_day[(d.rep_id, d.rep_local_day)] += 1
    for (rep_id, _day), n in per_day.items():
        assert n <= (2 if rep_id == "rep-01" else 3), (rep_id, n)
        assert capacity_of(by_id[rep_id], inputs.policy).max_leads_per_day == (
            2 if rep_id == "rep-01" else 3
        )


@pytest.mark.parametrize("n_leads", [pytest.param(400, marks=pytest.mark.slow), 100])
def test_batch_router_decides_as_route_under_the_full_example_policy_oracle(
    world: Any, n_leads: int
) -> None:
    inputs, history, leads = _inputs(world, world.truth.as_scorer())
    leads = leads[:n_leads]
    got = route_batch(leads, inputs, history=history, batch_size=37, seed=3)
    assert got == lead_by_lead(leads, inputs, history, seed=3)
    _check(world, got, inputs)


@pytest.mark.slow
def test_batch_router_decides_as_route_under_the_full_example_policy_model(world: Any) -> None:
    from leadpilot.model import ConversionModel

    model = ConversionModel(n_bags=2, n_estimators=40, early_stopping_rounds=10).fit(
        world.history, world.reps
    )
    inputs, history, leads = _inputs(world, model)
    got = route_batch(leads, inputs, history=history, batch_size=128, seed=5)
    assert got == lead_by_lead(leads, inputs, history, seed=5)
    _check(world, got, inputs)
