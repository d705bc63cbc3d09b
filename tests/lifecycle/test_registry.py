"""The model registry: checksummed artifacts, promote, rollback, and the service adopting
the champion (new decisions record the version they used)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.errors import ModelError
from leadpilot.lifecycle.registry import load_version, promote, rollback
from leadpilot.model.checksums import artifact_checksums
from leadpilot.service.model_swap import ModelWatcher
from leadpilot.store.models import (
    champion_version,
    events_of,
    get_version,
    list_versions,
    previous_champion,
)

from .conftest import Registry

pytestmark = pytest.mark.slow  # the shared registry fixture trains four models (~20 s)

runner = CliRunner()


def _cli(registry: Registry, *args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), [*args, "--db", registry.url])
    return result.exit_code, result.output


def test_registry_rows_hold_what_the_issue_lists(registry: Registry) -> None:
    engine = registry.engine()
    with engine.connect() as conn:
        rows = {r.version: r for r in list_versions(conn)}
    first = rows[registry.first]
    assert first.status == "champion"
    assert first.active
    assert rows[registry.second].status == "candidate"
    # training window, fingerprint, metrics, calibration, feature schema, checksums, who
    assert first.training_window["test"]["rows"] > 0
    assert len(first.data_fingerprint) == 16
    assert 0.5 < first.metrics["model"]["auc"] <= 1
    assert "method" in json.dumps(first.calibration)
    assert "rep_id" in json.dumps(first.feature_schema) or first.feature_schema["features"]
    # the checksums are the files' SHA-256, recomputed independently here
    assert first.checksums == artifact_checksums(Path(first.path))
    assert first.trained_by == "leadpilot retrain"
    engine.dispose()


def test_tampered_artifact_refuses_to_load(registry: Registry) -> None:
    engine = registry.engine()
    with engine.connect() as conn:
        row = get_version(conn, registry.first)
    trees = Path(row.path) / "trees_0.txt"
    text = trees.read_text()
    # One leaf value changed by a digit: still a valid LightGBM file, scoring differently.
    i = text.index("leaf_value=") + len("leaf_value=")
    trees.write_text(text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1 :])
    with pytest.raises(ModelError, match=r"trees_0\.txt .* was changed after it was registered"):
        load_version(row)
    code, out = _cli(registry, "model", "promote", registry.first)
    assert code == 2
    assert "changed after it was registered" in out
    engine.dispose()


def test_swapped_folder_refuses_to_load(registry: Registry) -> None:
    """Another version's files under this version's name: the checksums differ."""
    engine = registry.engine()
    with engine.connect() as conn:
        first, second = get_version(conn, registry.first), get_version(conn, registry.second)
    shutil.rmtree(first.path)
    shutil.copytree(second.path, first.path)
    with pytest.raises(ModelError, match="was changed after it was registered"):
        load_version(first)
    engine.dispose()


def test_promote_then_rollback_restores_the_previous_champion(registry: Registry) -> None:
    engine = registry.engine()
    code, out = _cli(registry, "model", "promote", registry.second, "--json")
    assert code == 0, out
    assert json.loads(out) == {"champion": registry.second, "replaced": registry.first}
    with engine.connect() as conn:
        assert champion_version(conn) == registry.second
        assert previous_champion(conn) == registry.first
        assert get_version(conn, registry.first).status == "retired"
    code, out = _cli(registry, "model", "rollback", "--reason", "conversion dropped", "--json")
    assert code == 0, out
    assert json.loads(out) == {"champion": registry.first, "replaced": registry.second}
    with engine.connect() as conn:
        assert champion_version(conn) == registry.first
        trail = [(e.version, e.action, e.reason) for e in events_of(conn)]
    assert (registry.first, "rolled_back", "conversion dropped") in trail
    assert (registry.second, "retired", f"replaced by {registry.first}") in trail
    code, out = _cli(registry, "model", "show", registry.first, "--json")
    doc = json.loads(out)
    assert [e["action"] for e in doc["events"]][-1] == "rolled_back"
    engine.dispose()


def test_rollback_with_no_previous_champion_says_so(registry: Registry) -> None:
    # The fixture's first version became champion twice; its first promotion replaced none.
    engine = registry.engine()
    promote(engine, registry.second, actor="test", reason="t")
    rollback(engine, actor="test", reason="t")  # back to first (replaced: second)
    code, out = _cli(registry, "model", "show", "cm-000000000000")
    assert code == 2
    assert "no model version" in out
    engine.dispose()


def test_new_decisions_record_the_rolled_back_version(registry: Registry, small_world) -> None:
    """The service routes with the champion; after promote / rollback its worker swaps
    within one poll and every new decision logs the version it used."""
    from fastapi.testclient import TestClient

    from leadpilot.service.app import create_app
    from leadpilot.settings import Settings
    from leadpilot.store.engine import write_transaction
    from leadpilot.store.tokens import create_token

    engine = registry.engine()
    promote(engine, registry.second, actor="test", reason="t")
    with write_transaction(engine) as conn:
        token, _ = create_token(conn, role="writer", name="t")
    settings = Settings(environment="development", worker_enabled=False, force_model=True)
    client = TestClient(create_app(settings, engine=engine, seed=1))
    headers = {"Authorization": f"Bearer {token}"}
    leads = small_world.new_leads.head(4)

    def post(i: int) -> str:
        row = leads.iloc[i]
        body = {
            "lead_id": f"new-{i}",
            "email": f"x{i}@example{i}.com",
            "industry": row["industry"],
            "region": row["region"],
            "source": row["source"],
            "company_size": float(row["company_size"]),
        }
        r = client.post("/v1/leads", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return str(r.json()["decision"]["model_version"])

    with client:
        assert post(0) == registry.second
        rollback(engine, actor="test", reason="t")
        watcher = ModelWatcher(client.app.state.ctx.service)  # type: ignore[attr-defined]
        watcher.seen = registry.second
        assert watcher.poll(client.app.state.ctx.clock())  # type: ignore[attr-defined]
        assert post(1) == registry.first
        assert post(2) == registry.first
    engine.dispose()
