"""``GET /v1/models`` and the console's registry table: a registry written by hand (three
versions: a retired first champion, a rejected challenger, the current champion), read
back over HTTP, by ``leadpilot model list --json`` and on the model page."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.store.engine import write_transaction
from leadpilot.store.models import ModelVersion, register_version, reject_version, set_champion

from .conftest import T0, build_api, make_reps, migrated_engine

V1, V2, V3 = "cm-aaaaaaaaaaaa", "cm-bbbbbbbbbbbb", "cm-cccccccccccc"
WINDOW = {
    "train": {"rows": 800, "first": "2025-01-01T00:00:00+00:00", "last": "2025-09-30"},
    "calibration": {"rows": 100, "first": "2025-10-01", "last": "2025-10-31"},
    "test": {"rows": 100, "first": "2025-11-01", "last": "2025-11-30T12:00:00+00:00"},
}
REJECTED = "challenger rejected, the champion stays: it ranks worse (AUC 0.700 vs 0.712)"
PROMOTED = "challenger promoted: not worse beyond noise on the latest 400 leads"


def _version(version: str, metrics: dict[str, Any]) -> ModelVersion:
    return ModelVersion(version=version, path=f"/models/{version}", trained_by="leadpilot retrain",
                        training_window=WINDOW, data_fingerprint="f" * 16, metrics=metrics,
                        calibration={"method": "isotonic"}, feature_schema={"features": ["x"]},
                        checksums={"model.json": "0" * 64})  # fmt: skip


def _write_registry(engine: Any) -> None:
    with write_transaction(engine) as conn:
        first = _version(V1, {"model": {"auc": 0.71234, "log_loss": 0.43217, "n": 100}})
        register_version(conn, first, reason="trained", now=T0 - timedelta(days=60))
        set_champion(conn, V1, reason="first champion", actor="leadpilot retrain",
                     now=T0 - timedelta(days=60))  # fmt: skip
        second = _version(V2, {"challenger": {"auc": 0.7, "log_loss": 0.45}})
        register_version(conn, second, reason="trained", now=T0 - timedelta(days=30))
        reject_version(conn, V2, reason=REJECTED, actor="leadpilot retrain",
                       now=T0 - timedelta(days=30))  # fmt: skip
        third = _version(V3, {"challenger": {"auc": 0.73, "log_loss": 0.41}})
        register_version(conn, third, reason="trained", now=T0 - timedelta(days=1))
        set_champion(conn, V3, reason=PROMOTED, actor="leadpilot retrain",
                     now=T0 - timedelta(days=1))  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'lp.db'}"


def test_models_endpoint_equals_model_list_json_and_the_console_shows_it(db_url: str) -> None:
    url = db_url
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(2))
    _write_registry(engine)  # after start-up: the fake champion has no files to load
    with api.client:
        assert api.client.get("/v1/models").status_code == 401
        resp = api.get("/v1/models")
        console_page = api.client.get("/model", headers=api.headers("reader")).text
    assert resp.status_code == 200, resp.text
    got = resp.json()
    cli = CliRunner().invoke(build_app(), ["model", "list", "--db", url, "--json"])
    assert cli.exit_code == 0, cli.output
    assert got == json.loads(cli.stdout)  # one listing, two ways in

    assert [(v["version"], v["status"], v["active"]) for v in got] == [
        (V3, "champion", True), (V2, "rejected", False), (V1, "retired", False)]  # fmt: skip
    by = {v["version"]: v for v in got}
    assert by[V2]["reason"] == REJECTED
    assert by[V3]["reason"] == PROMOTED
    assert by[V1]["training_window"] == WINDOW
    assert by[V1]["metrics"]["model"]["auc"] == 0.71234
    assert [(e["action"], e["reason"]) for e in by[V1]["events"]] == [
        ("registered", "trained"), ("promoted", "first champion"),
        ("retired", f"replaced by {V3}")]  # fmt: skip
    assert [e["action"] for e in by[V2]["events"]] == ["registered", "rejected"]
    assert by[V1]["events"][-1]["at"].startswith((T0 - timedelta(days=1)).date().isoformat())

    page = html.unescape(console_page)
    rows = {v: page.split(f'<tr data-version="{v}">')[1].split("</tr>")[0] for v in (V1, V2, V3)}
    assert "status-green" in rows[V3]
    assert ">champion<" in rows[V3]
    assert ">0.730<" in rows[V3]
    assert ">0.4100<" in rows[V3]
    assert ">rejected<" in rows[V2]
    assert REJECTED in rows[V2]
    assert ">retired<" in rows[V1]
    assert ">0.712<" in rows[V1]
    # first lead learned from to the last, 800 + 100 + 100 leads
    assert ">2025-01-01 to 2025-11-30 (1,000 leads)<" in rows[V1]
    assert f"retired by leadpilot retrain: replaced by {V3}" in rows[V1]
    assert page.index(f'data-version="{V3}"') < page.index(f'data-version="{V1}"')
    engine.dispose()


def test_an_empty_registry(tmp_path: Path) -> None:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    api = build_api(engine, make_reps(2))
    with api.client:
        assert api.get("/v1/models").json() == []
        page = api.client.get("/model", headers=api.headers("reader")).text
    assert "No version in the registry yet" in page
    engine.dispose()
