"""``policy check --history`` names rule values that never occur in the data (issue 13,
item 13: the example policy said region ``NA`` where the demo world says ``NAMER``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.policy import Policy
from leadpilot.policy.lint import lint_policy
from leadpilot.schema import Lead, Rep
from leadpilot.synth import generate_world, write_world

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"
REPS = [Rep(rep_id="r1", regions=("NAMER", "EMEA"))]


def _leads() -> list[Lead]:
    regions = ["NAMER", "EMEA", "NAMER", "APAC"]
    return [
        Lead(lead_id=f"L{i}", region=r, attributes={"demo_request": False})
        for i, r in enumerate(regions)
    ]


def _unseen(policy: Policy) -> dict[str, str]:
    findings = lint_policy(policy, REPS, _leads())
    return {f.path: f.message for f in findings if "never occurs" in f.message}


def test_a_listed_value_no_lead_has_is_named_with_the_values_seen() -> None:
    policy = Policy.model_validate(
        {
            "scoring": {"fit": [{"field": "region", "in": ["NA", "emea"], "points": 10}]},
            "lanes": [
                {"name": "hot", "when": [{"field": "demo_request", "equals": True}]},
                {"name": "rest", "when": [{"field": "region", "not_in": ["LATAM"]}]},
            ],
            "pools": [{"name": "all"}],
        }
    )
    unseen = _unseen(policy)
    # 'emea' matches EMEA (rules compare text case-insensitively); 'NA' matches nothing.
    assert set(unseen) == {"scoring.fit[0]", "lanes[0].when[0]", "lanes[1].when[0]"}
    assert "'NA'" in unseen["scoring.fit[0]"]
    assert "emea" not in unseen["scoring.fit[0]"].lower().split("(")[0]
    assert "'NAMER'" in unseen["scoring.fit[0]"]  # the value the user probably meant
    assert "4 leads" in unseen["scoring.fit[0]"]
    assert "True" in unseen["lanes[0].when[0]"]
    assert "'LATAM'" in unseen["lanes[1].when[0]"]


def test_values_that_occur_raise_nothing() -> None:
    policy = Policy.model_validate(
        {
            "lanes": [{"name": "a", "when": [{"field": "region", "in": ["namer", "APAC"]}]}],
            "pools": [{"name": "all"}],
        }
    )
    assert _unseen(policy) == {}


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(n_leads=1_000, n_reps=6, n_new_leads=50, seed=3), out)
    return out


def test_the_example_policy_uses_the_demo_worlds_regions(demo_world: Path) -> None:
    result = CliRunner().invoke(
        build_app(),
        ["policy", "check", str(EXAMPLE), "--reps", str(demo_world / "reps.csv"),
         "--history", str(demo_world / "history.csv"), "--json"],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    findings = json.loads(result.output)["findings"]
    regions = [f for f in findings if "never occurs" in f["message"] and "region" in f["message"]]
    assert regions == []
    wrong = demo_world / "policy_na.yaml"
    wrong.write_text(EXAMPLE.read_text().replace("in: [NAMER, EMEA]", "in: [NA, EMEA]"))
    result = CliRunner().invoke(
        build_app(),
        ["policy", "check", str(wrong), "--reps", str(demo_world / "reps.csv"),
         "--history", str(demo_world / "history.csv"), "--json"],
    )  # fmt: skip
    findings = json.loads(result.output)["findings"]
    named = [f for f in findings if "never occurs" in f["message"] and "'NA'" in f["message"]]
    assert [f["path"] for f in named] == ["scoring.fit[2]"]
    assert "'NAMER'" in named[0]["message"]
