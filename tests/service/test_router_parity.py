"""The service and ``route-batch`` decide alike on the same inputs: the same roster, policy,
scorer and history (so the same reps' response times: the default ``queue_aware`` setting
is honoured in production too, which it was not before the router inputs became one value
built by one factory)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.ingest import leads_from_frame, read_history, read_reps, reps_from_frame
from leadpilot.policy.response_times import response_hours_of
from leadpilot.schema import Lead
from leadpilot.store.engine import write_transaction
from leadpilot.store.history import load_history_leads
from leadpilot.synth import generate_world, write_world
from leadpilot.synth.truth import load_truth

from .conftest import build_api

# Band prices only: the shadow prices' demand sample is the service's own stored leads,
# not route-batch's history file, and is not what this test is about.
POLICY = """
pools:
  - name: all
    strategy: predictive
    eligibility: {territory: false}
predictive: {shadow_prices: false}
"""

_BODY_FIELDS = [f.name for f in dataclasses.fields(Lead) if f.name != "attributes"]


def _body(lead: Lead) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in _BODY_FIELDS:
        value = getattr(lead, name)
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def test_service_and_route_batch_give_the_same_decision(engine: sa.Engine, tmp_path: Path) -> None:
    world = generate_world(n_leads=400, n_reps=5, n_new_leads=30, seed=11)
    write_world(world, tmp_path)
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    lead = leads_from_frame(read_history(tmp_path / "new_leads.csv", keep_extra=True).frame)[0]
    assert lead.created_at is not None
    new_leads = pd.read_csv(tmp_path / "new_leads.csv", dtype=str)
    new_leads.iloc[[0]].to_csv(tmp_path / "one_lead.csv", index=False)

    result = CliRunner().invoke(
        build_app(),
        [
            "route-batch", str(tmp_path / "one_lead.csv"),
            "--reps", str(tmp_path / "reps.csv"),
            "--history", str(tmp_path / "history.csv"),
            "--truth", str(tmp_path / "truth.json"),
            "--policy", str(tmp_path / "policy.yaml"),
            "--out", str(tmp_path / "decisions.csv"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    batch = pd.read_csv(tmp_path / "decisions.csv").iloc[0]

    reps = reps_from_frame(read_reps(tmp_path / "reps.csv"))
    history = leads_from_frame(read_history(tmp_path / "history.csv").frame)
    api = build_api(engine, reps)
    api.clock.now = lead.created_at
    with write_transaction(engine) as conn:
        load_history_leads(conn, history)
    with api.client:
        api.service.inputs.scorer = load_truth(tmp_path / "truth.json").as_scorer()
        assert api.post("/v1/policy", {"policy": POLICY}, role="admin").status_code == 201
        resp = api.post("/v1/leads", _body(lead))
        assert resp.status_code == 201, resp.text
        served = resp.json()["decision"]

    assert served["rep_id"] == batch["rep_id"]
    assert served["candidates"][1]["rep_id"] == batch["runner_up"]
    assert "PREDICTIVE" in served["reasons"]
    assert served["p_convert"] == pytest.approx(batch["p_convert"], rel=1e-9)

    # Independently: the chosen rep's p is the oracle's at the response time the history
    # gives that rep (the queue is empty), not the oracle's own default response time.
    hours = response_hours_of(history)
    oracle = load_truth(tmp_path / "truth.json").as_scorer()
    rep = served["rep_id"]
    at_history_hours = oracle.score_candidates(
        lead, [rep], expected_response_hours=pd.Series([hours[rep]]).to_numpy()
    ).p[0]
    at_default_hours = oracle.score_candidates(lead, [rep]).p[0]
    assert served["p_convert"] == pytest.approx(at_history_hours, rel=1e-9)
    assert abs(at_history_hours - at_default_hours) > 1e-6
