"""A value objective in the service: the deal-value model saved beside the conversion model
(``leadpilot train`` / ``retrain``) is served with it, through ``--model`` and through the
registry's champion, and a pipeline_value policy's decisions log ``expected_value`` and pick
the rep a hand computation says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.model import ConversionModel
from leadpilot.model.value_artifacts import VALUE_FILES, fit_and_save_value
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token
from leadpilot.synth import generate_world

from .conftest import Clock, migrated_engine

FAST: dict[str, Any] = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}
POLICY = """
objective: {objective}
lanes: [{{name: standard, sla_minutes: 240, working_hours: false}}]
fairness: {{penalty: 0.0}}
pools:
  - name: all
    strategy: predictive
    eligibility: {{territory: false}}
predictive: {{explore: 0.0, holdout: 0.0, min_confidence: 0.0}}
"""
BIG_DEAL, SMALL_DEAL = 50_000.0, 1_000.0
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


@dataclass
class Trained:
    folder: Path
    model: ConversionModel
    history: pd.DataFrame
    reps: list[Any]
    lead: dict[str, Any]
    p: dict[str, float]
    big_rep: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    world = generate_world(n_leads=1_500, n_reps=4, n_new_leads=5, seed=3)
    # room for every lead of the tests (capacity is not what they are about)
    reps = [replace(r, max_leads_per_day=None, max_open_leads=None)
            for r in reps_from_frame(world.reps) if r.active]  # fmt: skip
    model = ConversionModel(**FAST).fit(world.history)
    # the lead as the service will see it: received at the service clock's time
    frame = world.new_leads.iloc[:1].assign(created_at=pd.Timestamp(NOW))
    row = frame.iloc[0]
    lead_fields = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                   for k, v in row.items()
                   if k in ("company", "email", "domain", "industry", "region", "country",
                            "source", "product", "company_size", "annual_revenue",
                            "engagement_score", "title", "language", "state",
                            "demo_request", "pricing_page_visit")}  # fmt: skip
    lead_fields["created_at"] = NOW.isoformat()
    lead = leads_from_frame(frame)[0]
    ids = [r.rep_id for r in reps]
    scores = model.score_candidates(lead, ids)
    p = dict(zip(ids, (float(x) for x in scores.p), strict=True))
    # The rep the model likes least for this lead closes deals 50 times bigger than the
    # others (every one of them, so the value model learns exactly that).
    big_rep = min(p, key=p.__getitem__)
    history = world.history.copy()
    history["deal_value"] = [BIG_DEAL if r == big_rep else SMALL_DEAL for r in history["rep_id"]]
    folder = tmp_path_factory.mktemp("model")
    model.save(folder)
    fitted, _note = fit_and_save_value(history, folder)
    assert fitted is not None
    return Trained(folder, model, history, reps, lead_fields, p, big_rep)


@dataclass
class Served:
    client: TestClient
    engine: sa.Engine
    headers: dict[str, dict[str, str]]
    app: Any

    def post(self, path: str, body: object, role: str = "writer") -> Any:
        return self.client.post(path, json=body, headers=self.headers[role])


def _serve(url: str, trained: Trained, settings: Settings) -> Served:
    engine = migrated_engine(url)
    headers = {}
    with write_transaction(engine) as conn:
        upsert_reps(conn, trained.reps)
        for role in ("admin", "writer"):
            token, _ = create_token(conn, role=role, name=f"t-{role}")
            headers[role] = {"Authorization": f"Bearer {token}"}
    clock = Clock(NOW)
    app = create_app(settings, engine=engine, clock=clock, seed=1)
    return Served(TestClient(app, raise_server_exceptions=False), engine, headers, app)


@pytest.fixture
def served(sqlite_url: str, trained: Trained) -> Iterator[Served]:
    settings = Settings(environment="development", worker_enabled=False,
                        model_dir=trained.folder, force_model=True)  # fmt: skip
    s = _serve(sqlite_url, trained, settings)
    yield s
    s.engine.dispose()


def _decide(s: Served, objective: str, lead: dict[str, Any], lead_id: str) -> dict[str, Any]:
    resp = s.post("/v1/policy", {"policy": POLICY.format(objective=objective)}, role="admin")
    assert resp.status_code in (200, 201), resp.text  # 200: that policy is already active
    # one email per lead (the service dedupes on it), at the lead's own domain
    email = f"{lead_id.lower()}@{lead['domain']}"
    resp = s.post("/v1/leads", {**lead, "lead_id": lead_id, "email": email})
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["decision"])


def test_a_pipeline_value_policy_routes_by_the_served_value_model(
    served: Served, trained: Trained
) -> None:
    p, big = trained.p, trained.big_rep
    # By hand: pipeline value = P(convert) x deal size. The big-deal rep converts least
    # but p_big x 50,000 beats every other rep's p x 1,000 when p_best < 50 x p_big.
    best = max(p, key=p.__getitem__)
    assert best != big
    assert p[best] < 0.5 * 50 * p[big]  # with room to spare
    conversions = _decide(served, "conversions", trained.lead, "L-conv")
    assert conversions["rep_id"] == best
    assert conversions["expected_value"] is None
    value = _decide(served, "pipeline_value", trained.lead, "L-value")
    assert value["rep_id"] == big
    assert "OBJECTIVE:pipeline_value" in value["reasons"]
    assert "NO_VALUE_MODEL" not in value["reasons"]
    # the logged value is the big rep's deal size (learnt within 2%: every deal the same)
    assert value["expected_value"] == pytest.approx(BIG_DEAL, rel=0.02)
    # (the service scores with its own inputs, e.g. reps' typical response hours: within 1%)
    assert value["p_convert"] == pytest.approx(p[big], rel=0.01)
    big_candidate = next(c for c in value["candidates"] if c["rep_id"] == big)
    assert big_candidate["value"] == pytest.approx(BIG_DEAL, rel=0.02)
    assert big_candidate["score"] == pytest.approx(value["p_convert"] * value["expected_value"])


def test_the_champion_carries_its_value_model_and_a_swap_changes_both(
    sqlite_url: str, trained: Trained, tmp_path: Path
) -> None:
    from leadpilot.lifecycle.registry import save_version
    from leadpilot.model.checksums import artifact_checksums
    from leadpilot.service.model_swap import ModelWatcher
    from leadpilot.store.models import get_version, set_champion

    # a service started with no model: a value objective routes by the rules, and says so
    s = _serve(sqlite_url, trained, Settings(environment="development", worker_enabled=False,
                                             force_model=True))  # fmt: skip
    before = _decide(s, "pipeline_value", trained.lead, "L-before")
    assert before["strategy"] != "predictive"
    # retrain's path: the version is saved with the history it learnt from, which puts the
    # value model beside it, checksummed with its files
    folder = save_version(trained.model, tmp_path, s.engine, trained_by="test", metrics={},
                          data_fingerprint=None, reason="test",
                          history=trained.history)  # fmt: skip
    with s.engine.connect() as conn:
        row = get_version(conn, trained.model.version)
    assert set(VALUE_FILES) <= set(row.checksums)
    assert row.checksums == artifact_checksums(folder)
    with write_transaction(s.engine) as conn:
        set_champion(conn, trained.model.version, reason="test", actor="test")
    service = s.app.state.ctx.service
    assert ModelWatcher(service).poll(NOW)
    assert service.inputs.value_model is not None
    after = _decide(s, "pipeline_value", trained.lead, "L-after")
    assert after["rep_id"] == trained.big_rep
    assert after["expected_value"] == pytest.approx(BIG_DEAL, rel=0.02)
    s.engine.dispose()


def test_a_model_without_a_value_model_says_no_value_model(
    sqlite_url: str, trained: Trained, tmp_path: Path
) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(trained.folder, bare)
    for name in VALUE_FILES:
        (bare / name).unlink()
    s = _serve(sqlite_url, trained, Settings(environment="development", worker_enabled=False,
                                             model_dir=bare, force_model=True))  # fmt: skip
    d = _decide(s, "pipeline_value", trained.lead, "L-bare")
    assert "NO_VALUE_MODEL" in d["reasons"]
    assert d["rep_id"] == max(trained.p, key=trained.p.__getitem__)
    assert d["expected_value"] is None
    s.engine.dispose()
