"""Routing many leads as if they arrived live: ``created_at`` order, each decision made with
only the leads before it, capacity counted per rep-local calendar day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pandas as pd

from leadpilot.errors import DataValidationError
from leadpilot.policy.demand import DemandModel
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.pricer import ShadowPricer, refresh_prices
from leadpilot.policy.router import route
from leadpilot.policy.state import InMemoryState
from leadpilot.schema import Decision, Lead

__all__ = ["DECISION_COLUMNS", "decisions_frame", "route_batch"]

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
)


def route_batch(
    leads: Sequence[Lead],
    inputs: RouterInputs,
    *,
    history: Sequence[Lead] = (),
    seed: int = 0,
    open_lead_days: float = 1.0,
    state: InMemoryState | None = None,
) -> list[Decision]:
    """Route ``leads`` in ``created_at`` order (file order breaks ties), each at its own
    arrival time, under ``inputs`` (see :func:`leadpilot.policy.inputs.router_inputs`).
    Shadow prices use the expected lead mix of ``history`` plus the leads routed so far,
    re-estimated at each new UTC day (so a decision never sees a later lead), and are
    refreshed synchronously before each lead that reads them. A lead counts as open for
    ``open_lead_days`` after assignment (there are no close events in a batch). Returns
    decisions in arrival order."""
    missing = [lead.lead_id for lead in leads if lead.created_at is None]
    if missing:
        raise DataValidationError(
            f"{len(missing)} lead(s) have no created_at (first: {missing[0]})",
            hint="route-batch replays arrival order: every lead needs created_at.",
        )
    order = sorted(range(len(leads)), key=lambda i: (leads[i].created_at, i))
    state = state or InMemoryState(open_lead_ttl=timedelta(days=open_lead_days))
    rng = np.random.default_rng(seed)
    seen: list[Lead] = [h for h in history if h.created_at is not None]
    pricer: ShadowPricer | None = None
    pricer_day = None
    out: list[Decision] = []
    for i in order:
        lead = leads[i]
        now = lead.created_at
        assert now is not None
        if inputs.scorer is not None and seen and now.date() != pricer_day:
            demand = DemandModel.from_leads(seen, seed=seed)
            pricer, pricer_day = ShadowPricer(demand), now.date()
        inputs = refresh_prices(lead, inputs, state, now, pricer)
        decision = route(lead, inputs, state, now, rng)
        state.commit(decision)
        out.append(decision)
        seen.append(lead)
    return out


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
            }
        )
    return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
