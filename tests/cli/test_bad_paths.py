"""Bad paths on every command that reads or writes files: a clear message and exit 2.

Found by the acceptance review: these used to end in "Unexpected error ... This is a bug"
(exit 1) instead of saying what to fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.csv_safe import write_safe_csv
from leadpilot.errors import ConfigError
from leadpilot.synth import generate_world, write_world

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(n_leads=600, n_reps=4, n_new_leads=40, seed=3), out)
    return out


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), list(args))
    return result.exit_code, result.output


def _assert_clear(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert "Unexpected error" not in output
    assert "Traceback" not in output
    assert "How to fix:" in output
    for needle in needles:
        assert needle in output, output


def test_route_lead_file_that_is_not_text(world: Path, tmp_path: Path) -> None:
    lead = tmp_path / "lead.json"
    lead.write_bytes(b"\xc4\x00\xff binary")
    code, output = _invoke("route", str(lead), "--reps", str(world / "reps.csv"))
    _assert_clear(code, output, "lead.json", "UTF-8")


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_route_lead_file_missing_or_folder_says_how_to_fix(
    world: Path, tmp_path: Path, kind: str
) -> None:
    lead = tmp_path / "lead.json"
    if kind == "folder":
        lead.mkdir()
    code, output = _invoke("route", str(lead), "--reps", str(world / "reps.csv"))
    _assert_clear(code, output, "lead.json")


def test_policy_file_that_is_not_text(world: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(b"\xc4\x00\xff binary")
    code, output = _invoke("policy", "check", str(policy), "--reps", str(world / "reps.csv"))
    _assert_clear(code, output, "policy.yaml", "UTF-8")


def test_write_safe_csv_into_a_folder_raises_config_error(tmp_path: Path) -> None:
    import pandas as pd

    with pytest.raises(ConfigError, match="is a folder"):
        write_safe_csv(pd.DataFrame({"a": [1]}), tmp_path)


@pytest.mark.parametrize("target", ["folder", "no-parent"])
def test_route_batch_out_unwritable(world: Path, tmp_path: Path, target: str) -> None:
    out = tmp_path if target == "folder" else tmp_path / "nope" / "deeper" / "d.csv"
    if target == "no-parent":
        (tmp_path / "nope").write_text("a file, not a folder")
    code, output = _invoke(
        "route-batch",
        str(world / "new_leads.csv"),
        "--reps",
        str(world / "reps.csv"),
        "--strategy",
        "round_robin",
        "--out",
        str(out),
    )
    _assert_clear(code, output, "--out")


@pytest.mark.parametrize("option", ["--out", "--links-out"])
def test_dedupe_outputs_into_a_folder(world: Path, tmp_path: Path, option: str) -> None:
    args = ["dedupe", str(world / "new_leads.csv"), option, str(tmp_path)]
    if option == "--links-out":
        args += ["--accounts", str(world / "accounts.csv")]
    code, output = _invoke(*args)
    _assert_clear(code, output, option)


def test_dedupe_out_creates_missing_parent_folders(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "clusters.csv"
    code, output = _invoke("dedupe", str(world / "history.csv"), "--out", str(out))
    assert code == 0, output
    assert out.read_text().startswith("cluster")


@pytest.mark.parametrize("option", ["--out", "--json", "--markdown"])
def test_analyze_outputs_checked_before_the_audit(world: Path, tmp_path: Path, option: str) -> None:
    args = ["analyze", str(world / "history.csv"), option, str(tmp_path)]
    if option != "--out":  # never the default ./report.html, even if the check regressed
        args += ["--out", str(tmp_path / "report.html")]
    code, output = _invoke(*args)
    _assert_clear(code, output, option)
    # Checked up front: the audit (and its tables) did not run for nothing.
    assert "Conversion by rep" not in output


def test_train_out_is_an_existing_file(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.write_text("not a folder")
    code, output = _invoke("train", str(world / "history.csv"), "--out", str(out))
    _assert_clear(code, output, "--out")


@pytest.mark.parametrize("command", ["upgrade", "status"])
def test_db_commands_on_an_unreachable_database(tmp_path: Path, command: str) -> None:
    url = f"sqlite:///{tmp_path}/missing-folder/leadpilot.db"
    code, output = _invoke("db", command, "--db", url)
    _assert_clear(code, output, "database")


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "--out", "never-written", "--seed", "-1"],
        ["analyze", "HISTORY", "--seed", "-1"],
        ["route-batch", "NEW", "--reps", "REPS", "--out", "d.csv", "--seed", "-1"],
        ["route", "LEAD", "--reps", "REPS", "--seed", "-1"],
    ],
)
def test_negative_seed_is_a_usage_error(world: Path, tmp_path: Path, args: list[str]) -> None:
    lead = tmp_path / "lead.json"
    lead.write_text('{"lead_id": "L1"}')
    paths = {
        "HISTORY": world / "history.csv",
        "NEW": world / "new_leads.csv",
        "REPS": world / "reps.csv",
        "LEAD": lead,
    }
    code, output = _invoke(*[str(paths.get(a, a)) for a in args])
    assert code == 2, output
    assert "Unexpected error" not in output
    assert "--seed" in output
    assert not Path("never-written").exists()


def test_analyze_on_error_value_lists_the_allowed_ones(world: Path) -> None:
    code, output = _invoke("analyze", str(world / "history.csv"), "--on-error", "maybe")
    _assert_clear(code, output, "--on-error", "raise, skip")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", "garbage"),
        ("company_size", "lots"),
        ("annual_revenue", "abc"),
        ("engagement_score", "high"),
    ],
)
def test_route_rejects_unreadable_lead_values(
    world: Path, tmp_path: Path, field: str, value: str
) -> None:
    lead = tmp_path / "lead.json"
    lead.write_text(json.dumps({"lead_id": "L1", field: value}))
    code, output = _invoke("route", str(lead), "--reps", str(world / "reps.csv"))
    _assert_clear(code, output, field, value)


def test_route_lead_values_are_normalised_like_the_intake(tmp_path: Path) -> None:
    from leadpilot.cli.route import _read_lead

    lead = tmp_path / "lead.json"
    lead.write_text(
        json.dumps(
            {
                "lead_id": "L1",
                "company_size": "51-200",
                "annual_revenue": "$1,200",
                "created_at": "2026-11-20T10:00:00+01:00",
            }
        )
    )
    record = _read_lead(lead)
    assert record.company_size == pytest.approx(125.5)  # the band's midpoint
    assert record.size_band == "51-200"
    assert record.annual_revenue == pytest.approx(1200.0)
    assert record.created_at is not None
    assert record.created_at.isoformat().startswith("2026-11-20T09:00:00")


def test_revoking_an_unknown_token_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/leadpilot.db"
    assert _invoke("db", "upgrade", "--db", url)[0] == 0
    code, output = _invoke("token", "revoke", "999", "--db", url)
    _assert_clear(code, output, "#999")
    code, output = _invoke("token", "create", "--role", "reader", "--name", "t", "--db", url)
    assert code == 0, output
    assert _invoke("token", "revoke", "1", "--db", url) == (0, "Token #1 revoked.\n")
