"""With a scorer the default policy routes predictively, with shadow prices learned from the
stored leads, and logs p, price, confidence and the model version."""

from __future__ import annotations

import os

import sqlalchemy as sa

from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
from leadpilot.policy.pricer import SOLVER_NICENESS
from leadpilot.service.schemas import LeadCreate, intake_public, lead_from_create
from leadpilot.store.engine import write_transaction
from leadpilot.store.history import load_history_leads
from leadpilot.synth import generate_world
from leadpilot.synth.truth import GroundTruthScorer

from .conftest import Api, build_api


def test_predictive_routing_with_shadow_prices(engine: sa.Engine) -> None:
    world = generate_world(n_leads=600, n_reps=6, n_new_leads=40, seed=5)
    api = build_api(engine, reps_from_frame(world.reps))
    with write_transaction(engine) as conn:
        load_history_leads(conn, leads_from_frame(world.history))
    api.service.inputs.scorer = GroundTruthScorer(world.truth)
    routed = []
    with api.client:
        for lead in leads_from_frame(world.new_leads)[:15]:
            body = LeadCreate(
                lead_id=lead.lead_id,
                industry=lead.industry,
                company_size=lead.company_size,
                region=lead.region,
                country=lead.country,
                product=lead.product,
                language=lead.language,
            )
            outcome = api.service.intake(lead_from_create(body, api.clock()))
            out = intake_public(outcome).model_dump(mode="json")
            if out["decision"]["rep_id"]:
                routed.append(out["decision"])
        with engine.connect() as conn:
            assert api.service.inputs.pricer(conn) is not None
    assert routed
    for d in routed:
        assert d["model_version"] == "ground-truth"
        assert "PREDICTIVE" in d["reasons"]
        top = d["candidates"][0]
        assert top["rep_id"] == d["rep_id"]
        assert top["p_convert"] == d["p_convert"]
        assert top["score"] == top["p_convert"] - top["price"]
        assert d["confidence"] == 1.0


def test_the_services_price_solver_runs_below_the_request_threads_priority(api: Api) -> None:
    solver = api.service.inputs._solver_pool()
    assert solver is not None  # background pricing is the default
    # os.nice(0) reads a process's niceness; 19 is the lowest priority there is.
    assert solver.submit(os.nice, 0).result() == min(os.nice(0) + SOLVER_NICENESS, 19)
