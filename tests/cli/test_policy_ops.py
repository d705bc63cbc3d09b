"""The operator's policy commands (apply, activate, rollback, history, diff) on the database
and through a live service, and `token list` (no secret, last use recorded)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.policy import load_policy
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.tokens import create_token

runner = CliRunner()
P1 = "pools:\n  - name: all\n    strategy: round_robin\n"
P2 = "pools:\n  - name: all\n    strategy: round_robin\nmax_reassignments: 1\n"


def _run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(build_app(), list(args), env=env)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "p1.yaml").write_text(P1)
    (tmp_path / "p2.yaml").write_text(P2)
    (tmp_path / "bad.yaml").write_text(P1 + "alerts:\n  fairness: {band: [1.5, 2]}\n")
    return {
        "p1": str(tmp_path / "p1.yaml"),
        "p2": str(tmp_path / "p2.yaml"),
        "bad": str(tmp_path / "bad.yaml"),
        "v1": load_policy(tmp_path / "p1.yaml").policy_hash,
        "v2": load_policy(tmp_path / "p2.yaml").policy_hash,
    }


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _sequence(files: dict[str, str], target: list[str], env: dict[str, str] | None) -> None:
    v1, v2 = files["v1"], files["v2"]
    first = _run("policy", "apply", files["p1"], "--activate", "--json", *target, env=env)
    assert first.exit_code == 0, first.output
    record = json.loads(first.output)
    assert (record["version"], record["active"], record["created"]) == (v1, True, True)
    assert record["text"].strip() == P1.strip()  # the API strips the body's edges
    second = _run("policy", "apply", files["p2"], "--json", *target, env=env)
    assert (json.loads(second.output)["version"], json.loads(second.output)["active"]) == (
        v2,
        False,
    )
    again = _run("policy", "apply", files["p2"], "--json", *target, env=env)
    assert json.loads(again.output)["created"] is False
    assert _run("policy", "activate", v2, *target, env=env).exit_code == 0
    rolled = _run("policy", "rollback", v1, "--json", *target, env=env)
    assert json.loads(rolled.output)["active"] is True
    hist = json.loads(_run("policy", "history", "--json", *target, env=env).output)
    assert hist["active_version"] == v1
    assert [v["version"] for v in hist["versions"]] == [v1, v2]
    assert [(a["action"], a["version"]) for a in hist["activations"]] == [
        ("upload", v1), ("activate", v2), ("rollback", v1)
    ]  # fmt: skip
    table = _run("policy", "history", *target, env=env)
    assert table.exit_code == 0
    assert "rollback" in table.output
    shown = _run("policy", "diff", v1, v2, *target, env=env)
    assert shown.exit_code == 0
    assert shown.output.splitlines()[:2] == [f"--- policy@{v1}", f"+++ policy@{v2}"]
    assert "+max_reassignments: 1" in shown.output.splitlines()
    unknown = _run("policy", "diff", v1, "nope", *target, env=env)
    assert unknown.exit_code == 2
    assert "policy history" in unknown.output or "GET /v1/policy/history" in unknown.output
    bad = _run("policy", "apply", files["bad"], *target, env=env)
    assert bad.exit_code == 2
    assert "alerts.fairness" in bad.output


def test_policy_commands_on_the_database(files: dict[str, str], db: str) -> None:
    _sequence(files, ["--db", db], env={"LEADPILOT_URL": ""})


@pytest.fixture
def live(db: str) -> Iterator[tuple[str, dict[str, str]]]:
    engine = make_engine(db)
    tokens = {}
    with write_transaction(engine) as conn:
        for role in ("admin", "reader"):
            tokens[role], _ = create_token(conn, role=role, name=f"ops-{role}")
    app = create_app(Settings(environment="development", worker_enabled=False), engine=engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", tokens
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def test_policy_commands_through_a_live_service(
    files: dict[str, str], live: tuple[str, dict[str, str]], db: str
) -> None:
    url, tokens = live
    _sequence(files, ["--url", url], env={"LEADPILOT_TOKEN": tokens["admin"]})
    # what to fix when the token is missing, too weak, or the service is not there
    none = _run("policy", "history", "--url", url, env={"LEADPILOT_TOKEN": ""})
    assert none.exit_code == 2
    assert "LEADPILOT_TOKEN" in none.output
    weak = _run("policy", "apply", files["p1"], "--url", url,
                env={"LEADPILOT_TOKEN": tokens["reader"]})  # fmt: skip
    assert weak.exit_code == 2
    assert "admin token" in " ".join(weak.output.split())
    wrong = _run("policy", "history", "--url", url, env={"LEADPILOT_TOKEN": "lp_nope"})
    assert wrong.exit_code == 2
    assert "rejected the token" in " ".join(wrong.output.split())
    gone = _run("policy", "history", "--url", "http://127.0.0.1:9", env={"LEADPILOT_TOKEN": "x"})
    assert gone.exit_code == 2
    assert "cannot reach the service" in " ".join(gone.output.split())
    # token list: names, roles, last use (the admin token was used above), never a secret
    listed = _run("token", "list", "--json", "--db", db)
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.output)}
    assert {n: r["role"] for n, r in rows.items()} == {"ops-admin": "admin", "ops-reader": "reader"}
    assert rows["ops-admin"]["last_used_at"] is not None
    assert set(rows["ops-admin"]) == {
        "id", "name", "role", "created_at", "last_used_at", "revoked_at"
    }  # fmt: skip
    assert tokens["admin"] not in listed.output
    table = _run("token", "list", "--db", db)
    assert "ops-admin" in table.output
    assert tokens["admin"] not in table.output


def test_the_old_json_path_spelling_still_writes_the_file() -> None:
    from leadpilot.cli._common import legacy_json_args

    assert legacy_json_args(["analyze", "h.csv", "--json", "a.json", "--quiet"]) == [
        "analyze", "h.csv", "--json-out", "a.json", "--quiet"
    ]  # fmt: skip
    assert legacy_json_args(["simulate", "h.csv", "--json", "-"]) == ["simulate", "h.csv", "--json"]
    assert legacy_json_args(["report", "lift", "--json=l.json"]) == [
        "report", "lift", "--json-out=l.json"
    ]  # fmt: skip
    assert legacy_json_args(["analyze", "h.csv", "--json", "--quiet"]) == [
        "analyze", "h.csv", "--json", "--quiet"
    ]  # fmt: skip
    # commands whose --json was always a switch are left alone
    assert legacy_json_args(["dedupe", "x.csv", "--json"]) == ["dedupe", "x.csv", "--json"]
