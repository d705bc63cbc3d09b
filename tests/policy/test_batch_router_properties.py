"""Hypothesis properties of the batch router on random rosters, policies and lead streams:
no rep over a daily or open-lead cap, no assignment a rule forbids, and the same decisions as
``route`` called lead by lead (the batch's scores are the scorer's own), with or without the
roster memo."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_batch_router import lead_by_lead
from test_router_properties import INDUSTRIES, rosters, streams

from leadpilot.policy import InMemoryState, parse_policy, router_inputs
from leadpilot.policy.availability import is_away, is_working, local_day
from leadpilot.policy.batch import route_batch
from leadpilot.policy.eligibility import covers_territory
from leadpilot.policy.table_scorer import TableScorer
from leadpilot.schema import Lead, Rep


def _policy(strategy: str, territory: bool, explore: float) -> Any:
    return parse_policy(
        {
            "pools": [{"name": "all", "strategy": strategy,
                       "eligibility": {"territory": territory}}],
            "predictive": {"explore": explore},
        }
    )  # fmt: skip


def _scorer(seed: int, reps: list[Rep]) -> TableScorer:
    rng = np.random.default_rng(seed)
    return TableScorer(
        {r.rep_id: {ind: float(rng.uniform(0.05, 0.5)) for ind in INDUSTRIES} for r in reps},
        decay_per_hour=0.01,
    )


@settings(max_examples=30, deadline=None)
@given(
    reps=rosters(),
    leads=streams(),
    strategy=st.sampled_from(["predictive", "round_robin", "load_balanced"]),
    territory=st.booleans(),
    explore=st.sampled_from([0.0, 0.3]),
    batch_size=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_batch_router_respects_caps_and_rules_and_matches_route(
    reps: list[Rep],
    leads: list[Lead],
    strategy: str,
    territory: bool,
    explore: float,
    batch_size: int,
    seed: int,
) -> None:
    policy = _policy(strategy, territory, explore)
    history = [Lead(f"h{i}", created_at=leads[0].created_at - timedelta(days=1 + i % 5),  # type: ignore[operator]
                    industry=INDUSTRIES[i % 3]) for i in range(20)]  # fmt: skip
    typical = {r.rep_id: 1.0 + i for i, r in enumerate(reps)}
    inputs = router_inputs(policy, reps, scorer=_scorer(seed, reps), response_hours=typical)
    state = InMemoryState(open_lead_ttl=timedelta(days=1))
    got = route_batch(leads, inputs, history=history, seed=seed, state=state, batch_size=batch_size)
    by_id = {r.rep_id: r for r in reps}
    per_day: Counter[tuple[str, Any]] = Counter()
    opened: dict[str, list[Any]] = {}
    for d, lead in zip(got, leads, strict=True):  # leads come sorted by created_at
        assert d.lead_id == lead.lead_id
        if d.rep_id is None:
            continue
        rep = by_id[d.rep_id]
        now = d.decided_at
        assert rep.active
        assert not territory or covers_territory(rep, lead, policy)
        assert is_away(rep, now, policy.availability) is None
        # the default lane keeps working hours: on shift, or given at the start of the next
        assert is_working(rep, now) or f"NEXT_SHIFT:{rep.rep_id}" in d.reasons
        # the open-lead cap, counted independently: leads given in the day before ``now``
        live = [t for t in opened.get(rep.rep_id, []) if t > now - timedelta(days=1)]
        assert rep.max_open_leads is None or len(live) < rep.max_open_leads
        opened.setdefault(rep.rep_id, []).append(now)
        per_day[(rep.rep_id, local_day(rep, now))] += 1
    for (rep_id, _day), n in per_day.items():
        cap = by_id[rep_id].max_leads_per_day
        assert cap is None or n <= cap
    # and it is route() lead by lead, decision for decision (the policy's price cadence)
    reference = lead_by_lead(leads, inputs, history, seed=seed)
    again = route_batch(leads, inputs, history=history, seed=seed, batch_size=batch_size)
    assert again == reference
    # and the roster memo changes nothing: every rule checked for every rep, lead by lead
    unmemoised = replace(inputs, memo=None)
    assert unmemoised.roster_memo() is None
    assert route_batch(leads, unmemoised, history=history, seed=seed, batch_size=batch_size) == got
