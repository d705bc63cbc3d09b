"""Every kind of policy mistake gets a message naming the key and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from leadpilot.errors import PolicyError
from leadpilot.policy import default_policy, load_policy, parse_policy
from leadpilot.schema import Rep

BASE: dict[str, Any] = {"pools": [{"name": "all"}]}


def _with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


CASES = [
    (_with(stratgey="x"), "stratgey", "unknown key 'stratgey'"),
    ({"pools": [{"name": "all", "stratgy": "predictive"}]}, r"pools\[0\]\.stratgy",
     "did you mean 'strategy'"),
    ({"pools": [{"name": "all", "strategy": "random"}]}, r"pools\[0\]\.strategy",
     "'predictive', 'round_robin', 'weighted_round_robin', 'load_balanced' or "
     "'least_recently_assigned'"),
    ({"pools": [{"name": "all", "fallback": "predictive"}]}, r"pools\[0\]\.fallback",
     "allowed values"),
    ({}, "pools", "required"),
    ({"pools": []}, "pools", "at least 1"),
    (_with(mode="dry-run"), "mode", "'live' or 'shadow'"),
    (_with(predictive={"explore": 1.5}), r"predictive\.explore", "less than or equal to 1"),
    (_with(predictive={"explore": 0.6, "holdout": 0.6}), "predictive",
     "explore \\+ holdout must be at most 1"),
    (_with(fairness={"band": [1.2, 1.5]}), "fairness", "0 <= low <= 1 <= high"),
    (_with(lanes=[{"name": "hot", "sla_minutes": 0}]), r"lanes\[0\]\.sla_minutes",
     "greater than 0"),
    (_with(lanes=[{"name": "hot", "when": [{"field": "x"}]}]), r"lanes\[0\]\.when\[0\]",
     "exactly one operator"),
    (_with(lanes=[{"name": "hot", "when": [{"field": "x", "equals": 1, "in": [1]}]}]),
     r"lanes\[0\]\.when\[0\]", "got 2"),
    (_with(lanes=[{"name": "hot", "when": [{"field": "x", "betwen": [1, 2]}]}]),
     r"lanes\[0\]\.when\[0\]\.betwen", "did you mean 'between'"),
    (_with(lanes=[{"name": "a"}, {"name": "a"}]), r"lanes\[1\]\.name", "duplicate name 'a'"),
    (_with(exceptions=[{"name": "p", "pool": "nope"}]), r"exceptions\[0\]\.pool",
     "unknown pool 'nope'; allowed: all"),
    (_with(holds={"backup_pool": "nope"}), r"holds\.backup_pool", "unknown pool"),
    (_with(holds={"touch_within_days": -1}), r"holds\.touch_within_days", "greater than or"),
    ({"pools": [{"name": "all", "weights": {"a": 0}}]}, r"pools\[0\]", "weights must be > 0"),
    ({"pools": [{"name": "all", "eligibility": {"seniority": [{"min_level": "boss"}]}}]},
     r"pools\[0\]\.eligibility\.seniority\[0\]\.min_level", "allowed: junior, mid, senior"),
    (_with(reps={"r1": {"max_leads_per_day": -2}}), r"reps\.r1\.max_leads_per_day",
     "greater than or equal to 0"),
    (_with(reps={"r1": {"capacity": 3}}), r"reps\.r1\.capacity",
     "allowed keys: max_leads_per_day"),
    (_with(reps={"r1": {"segments": ["Huge"]}}), r"reps\.r1\.segments", "unknown segment"),
    (_with(availability={"out_of_office": [
        {"rep": "a", "start": "2026-01-02T00:00", "end": "2026-01-01T00:00"}]}),
     r"availability\.out_of_office\[0\]", "is not after start"),
    (_with(availability={"holidays": [{"date": "not a date"}]}),
     r"availability\.holidays\[0\]\.date", "valid date"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "path", "message"), CASES)
def test_each_mistake_names_its_key(doc: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    text = str(info.value)
    assert re.search(path, text), text
    assert re.search(message, text), text
    assert "How to fix" in text


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools: [\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_policy(listy)


def test_example_policy_loads_and_hash_is_stable() -> None:
    root = Path(__file__).resolve().parents[2]
    policy = load_policy(root / "examples" / "policy.yaml")
    again = load_policy(root / "examples" / "policy.yaml")
    assert policy.policy_hash == again.policy_hash
    assert len(policy.policy_hash) == 12


def test_default_policy_is_one_predictive_pool_without_measurement_noise() -> None:
    policy = default_policy([Rep("a"), Rep("b")])
    assert [p.name for p in policy.pools] == ["all"]
    assert policy.pools[0].strategy == "predictive"
    assert policy.pools[0].fallback == "round_robin"
    assert policy.predictive.explore == 0.0
    assert policy.predictive.holdout == 0.0
    assert policy.fairness.band == (0.9, 1.1)
