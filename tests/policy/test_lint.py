"""The policy linter finds each kind of mistake a valid policy can hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadpilot.policy import parse_policy
from leadpilot.policy.lint import lint_policy
from leadpilot.schema import Lead, Rep

REPS = [
    Rep("a", regions=("NA",), max_leads_per_day=2, role="AE"),
    Rep("b", regions=("EMEA",), max_leads_per_day=1, role="SDR"),
    Rep("c", active=False),
]
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
LEADS = [
    Lead(f"l{i}", created_at=T0 + timedelta(hours=i), region=r, country=c, source="Web")
    for i, (r, c) in enumerate([("NA", None), (None, "Canada"), ("APAC", None), ("EMEA", None)])
]


def _findings(doc: dict[str, Any], leads: list[Lead] | None = LEADS) -> set[tuple[str, str]]:
    return {(f.level, f.path) for f in lint_policy(parse_policy(doc), REPS, leads)}


def test_a_simple_policy_only_warns_about_capacity() -> None:
    doc = {"pools": [{"name": "all", "eligibility": {"territory": False}}]}
    found = lint_policy(parse_policy(doc), REPS, LEADS)
    assert [(f.level, f.path) for f in found if f.level != "info"] == [("warning", "pools[0]")]


def test_capacity_below_expected_volume() -> None:
    found = lint_policy(parse_policy({"pools": [{"name": "all"}]}), REPS, LEADS)
    (cap,) = [f for f in found if f.level == "warning" and "capacity" in f.message]
    # 4 leads on one day, caps 2 + 1 = 3.
    assert cap.message.startswith("capacity 3 leads/day is below the expected volume 4.0/day")


def test_uncovered_territory_unless_aliased() -> None:
    doc: dict[str, Any] = {"pools": [{"name": "all"}]}
    found = lint_policy(parse_policy(doc), REPS, LEADS)
    uncovered = sorted(f.message.split("'")[1] for f in found if "no rep of it" in f.message)
    assert uncovered == ["APAC", "Canada"]
    assert {f.level for f in found if "no rep of it" in f.message} == {"error"}
    doc["territories"] = {"NA": ["Canada"]}
    found = lint_policy(parse_policy(doc), REPS, LEADS)
    assert [f.message.split("'")[1] for f in found if "no rep of it" in f.message] == ["APAC"]


def test_other_rules_nobody_meets_are_warnings() -> None:
    leads = [Lead("x", language="fr"), Lead("y", language="en")]
    reps = [Rep("a", languages=("en",)), Rep("b", languages=("en", "de"))]
    doc = {"pools": [{"name": "all", "eligibility": {"territory": False, "language": True}}]}
    found = [f for f in lint_policy(parse_policy(doc), reps, leads) if f.level != "info"]
    assert [(f.level, f.path) for f in found] == [("warning", "pools[0].eligibility.language")]
    assert found[0].message.startswith("LANGUAGE_MISMATCH (e.g. 'fr'): 1 of 2 leads")


def test_rules_that_never_fire_and_unreachable_entries() -> None:
    doc = {
        "lanes": [{"name": "standard"}, {"name": "hot", "when": [{"field": "x", "is_set": True}]}],
        "exceptions": [{"name": "partner", "when": [{"field": "source", "equals": "Partner"}],
                        "pool": "all"}],
        "pools": [{"name": "all", "eligibility": {"territory": False}}, {"name": "late"}],
    }  # fmt: skip
    found = _findings(doc)
    assert ("warning", "lanes[1]") in found  # after the catch-all, and matched nothing
    assert ("warning", "exceptions[0]") in found
    assert ("warning", "exceptions[0].when[0]") in found
    assert ("warning", "pools[1]") in found


def test_empty_pool_unknown_reps_and_unreachable_seniority() -> None:
    doc = {
        "pools": [
            {"name": "ghosts", "members": ["zz"], "weights": {"zz": 2}},
            {"name": "all", "eligibility": {"seniority": [{"min_level": "senior"}]}},
        ],
        "reps": {"nobody": {"max_leads_per_day": 3}},
    }
    found = _findings(doc, None)
    assert ("error", "pools[0]") in found
    assert ("warning", "pools[0].members") in found
    assert ("warning", "pools[0].weights") in found
    assert ("warning", "pools[1].eligibility.seniority[0]") in found
    assert ("warning", "reps.nobody") in found
    assert ("info", "") in found  # no leads given: says what was not checked
