"""The router's side of issue 13 items 8-11, without the service: the lapsed rule and its
switch, lint of the fallback owner, and the reason codes in words."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from leadpilot.policy import InMemoryState, Policy, route, router_inputs
from leadpilot.policy.explain import exclusion_codes, explain
from leadpilot.policy.lead_history import LeadHistory
from leadpilot.policy.lint import lint_policy
from leadpilot.schema import Lead, Rep

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday
REPS = [Rep(rep_id="a"), Rep(rep_id="b")]


def _policy(**extra: object) -> Policy:
    return Policy.model_validate(
        {"pools": [{"name": "all", "strategy": "round_robin", **extra}], "lanes": [{"name": "s"}]}
    )


def _route(policy: Policy, history: LeadHistory) -> object:
    inputs = router_inputs(policy, REPS)
    return route(Lead("L"), inputs, InMemoryState(), NOW, np.random.default_rng(0), history)


def test_lapsed_reps_are_excluded_unless_the_pool_allows_them_back() -> None:
    history = LeadHistory(lapsed=frozenset({"a", "b"}))
    blocked = _route(_policy(), history)
    assert blocked.rep_id is None
    assert blocked.exclusions == {"a": "PREVIOUSLY_LAPSED", "b": "PREVIOUSLY_LAPSED"}
    allowed = _route(_policy(eligibility={"previously_lapsed": False}), history)
    assert allowed.rep_id in {"a", "b"}
    # A decline is final even then.
    declined = LeadHistory(declined=frozenset({"a"}), lapsed=frozenset({"a", "b"}))
    d = _route(_policy(eligibility={"previously_lapsed": False}), declined)
    assert d.rep_id == "b"
    assert d.exclusions == {"a": "DECLINED_BEFORE"}
    assert "PREVIOUSLY_LAPSED" in exclusion_codes()


def test_a_fallback_owner_missing_from_the_roster_is_a_lint_error() -> None:
    policy = Policy.model_validate({"pools": [{"name": "all"}], "fallback_owner": {"rep": "zed"}})
    errors = [f for f in lint_policy(policy, REPS) if f.level == "error"]
    assert [(f.path, "'zed'" in f.message) for f in errors] == [("fallback_owner.rep", True)]


def test_overflow_and_fallback_reasons_read_in_words() -> None:
    policy = Policy.model_validate(
        {
            "pools": [
                {"name": "one", "members": ["a"], "overflow": ["two"], "strategy": "round_robin"},
                {"name": "two", "members": ["b"], "strategy": "round_robin",
                 "when": [{"field": "source", "equals": "x"}]},
            ],
            "lanes": [{"name": "s"}],
            "availability": {"out_of_office": [
                {"rep": "a", "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}]},
        }
    )  # fmt: skip
    d = _route(policy, LeadHistory())
    assert d.rep_id == "b"
    assert d.pool == "two"
    assert "OVERFLOW:two" in d.reasons
    assert "overflowed to pool two" in explain(d)
