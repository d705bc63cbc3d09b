"""The policy's ``targets:`` section (the weekly review's targets): defaults, validation
messages that name the key and say what to write, and the policy version left unchanged
for policies that do not use it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from leadpilot.errors import PolicyError
from leadpilot.policy import parse_policy
from leadpilot.policy.review_targets import ReviewTargets

BASE: dict[str, Any] = {"pools": [{"name": "all"}]}


def test_defaults_are_the_former_constants() -> None:
    targets = parse_policy(BASE).review_targets
    assert targets == ReviewTargets(
        sla_attainment=0.90, speed_to_first_touch_minutes=60.0, reps_outside_fairness_band=0
    )


def test_a_policy_sets_only_what_it_names() -> None:
    policy = parse_policy({**BASE, "targets": {"sla_attainment": 0.95}})
    assert policy.review_targets.sla_attainment == 0.95
    assert policy.review_targets.speed_to_first_touch_minutes == 60.0
    assert policy.targets is not None
    assert policy.targets.model_fields_set == {"sla_attainment"}


CASES = [
    ({"sla_attainment": 90}, r"targets\.sla_attainment",
     r"share of leads between 0 and 1, e\.g\. 0\.9 for 90% \(for 90% write 0\.9\); got 90"),
    ({"sla_attainment": 0}, r"targets\.sla_attainment", "between 0 and 1"),
    ({"sla_attainment": "high"}, r"targets\.sla_attainment", "valid number"),
    ({"speed_to_first_touch_minutes": -5}, r"targets\.speed_to_first_touch_minutes",
     "greater than 0"),
    ({"reps_outside_fairness_band": -1}, r"targets\.reps_outside_fairness_band",
     "greater than or equal to 0"),
    ({"sla_atainment": 0.9}, r"targets\.sla_atainment", "did you mean 'sla_attainment'"),
]  # fmt: skip


@pytest.mark.parametrize(("section", "path", "message"), CASES)
def test_bad_targets_name_the_key_and_the_fix(
    section: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy({**BASE, "targets": section})
    text = str(info.value)
    assert re.search(path, text), text
    assert re.search(message, text), text
    assert "How to fix" in text


def test_the_version_of_a_policy_without_targets_is_unchanged() -> None:
    """Policies written before the section keep their version (the hash leaves it out when
    unset); setting a target makes a new version."""
    plain = parse_policy(BASE)
    assert plain.policy_hash == parse_policy({**BASE, "targets": None}).policy_hash
    assert plain.policy_hash != parse_policy({**BASE, "targets": {}}).policy_hash
    assert (
        parse_policy({**BASE, "targets": {"sla_attainment": 0.8}}).policy_hash
        != parse_policy({**BASE, "targets": {"sla_attainment": 0.9}}).policy_hash
    )


def test_policy_check_reports_the_targets_and_which_are_defaults() -> None:
    from leadpilot.policy.lint import lint_policy

    policy = parse_policy(
        {
            **BASE,
            "targets": {"sla_attainment": 0.925},
            "alerts": {"duplicate_rate": {"target": 0.02}},
        }
    )
    [found] = [f for f in lint_policy(policy, []) if f.path == "targets"]
    assert found.level == "info"
    assert found.message == (
        "weekly review targets: SLA attainment >= 92.5%, median speed to first touch <= 60 min "
        "(default), reps outside the fairness band <= 0 (default); reassignment rate <= 5% and "
        "duplicate rate <= 2% (alerts.<rule>.target)"
    )
