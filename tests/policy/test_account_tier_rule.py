"""``eligibility.account_tier``: leads of a tier-1 account go only to reps whose segments
include the tier; the rule's code, explanation, policy key and ``policy check`` warning come
from its registry entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from leadpilot.errors import PolicyError
from leadpilot.ingest import read_reps, reps_from_frame
from leadpilot.policy import InMemoryState, parse_policy, route, router_inputs
from leadpilot.policy.explain import exclusion_codes, why_not
from leadpilot.policy.lint import lint_policy
from leadpilot.schema import Account, Lead, Rep

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
REPS = [Rep("ann", segments=("Enterprise", "tier-1")), Rep("bob"), Rep("cat", segments=("SMB",))]
ACCOUNTS = {
    "big.com": Account("A1", domain="big.com", tier="tier-1"),
    "mid.com": Account("A2", domain="mid.com", tier="tier-2"),
}


@dataclass(frozen=True)
class _Match:
    account: Account
    method: str = "domain"


class _Accounts:
    def match(self, lead: Lead) -> _Match | None:
        account = ACCOUNTS.get(lead.domain or "")
        return _Match(account) if account else None


def _policy(setting: object) -> object:
    return parse_policy(
        {"pools": [{"name": "all", "strategy": "round_robin",
                    "eligibility": {"territory": False, "account_tier": setting}}]}
    )  # fmt: skip


def _eligible(policy: object, domain: str | None) -> tuple[set[str], dict[str, str]]:
    inputs = router_inputs(policy, REPS, accounts=_Accounts())  # type: ignore[arg-type]
    seen, exclusions = set(), {}
    for k in range(6):  # round-robin over everyone who may take it
        state = InMemoryState()
        for j in range(k):
            state.commit(
                route(Lead(f"w{j}", domain=domain), inputs, state, NOW, np.random.default_rng(j))
            )
        d = route(Lead("l", domain=domain), inputs, state, NOW, np.random.default_rng(0))
        seen.add(d.rep_id)
        exclusions = dict(d.exclusions)
    return seen, exclusions


def test_tier_one_leads_only_to_reps_covering_the_tier() -> None:
    policy = _policy(True)
    got, exclusions = _eligible(policy, "big.com")
    assert got == {"ann"}
    assert exclusions == {"bob": "ACCOUNT_TIER_NOT_COVERED", "cat": "ACCOUNT_TIER_NOT_COVERED"}
    # other tiers and leads of no known account are not restricted
    assert _eligible(policy, "mid.com")[0] == {"ann", "bob", "cat"}
    assert _eligible(policy, None)[0] == {"ann", "bob", "cat"}
    # off by default
    assert _eligible(_policy(False), "big.com")[0] == {"ann", "bob", "cat"}


def test_listed_tiers() -> None:
    policy = _policy(["Tier-2", "tier-1"])  # case does not matter
    assert _eligible(policy, "mid.com")[0] == {None}  # nobody covers tier-2: the lead waits
    assert _eligible(policy, "big.com")[0] == {"ann"}


def test_code_explanation_and_policy_check_come_from_the_registry() -> None:
    assert "ACCOUNT_TIER_NOT_COVERED" in exclusion_codes()
    d = route(Lead("l", domain="big.com"), router_inputs(_policy(True), REPS, accounts=_Accounts()),  # type: ignore[arg-type]
              InMemoryState(), NOW, np.random.default_rng(0))  # fmt: skip
    assert why_not(d, "bob") == (
        "bob does not cover the lead's account tier (ACCOUNT_TIER_NOT_COVERED)."
    )
    nobody = [Rep("bob"), Rep("cat", segments=("SMB",))]
    found = [(f.level, f.path) for f in lint_policy(_policy(True), nobody)]  # type: ignore[arg-type]
    assert ("warning", "pools[0].eligibility.account_tier") in found
    summary = [f.message for f in lint_policy(_policy(True), REPS) if f.path == "pools[0]"]  # type: ignore[arg-type]
    assert "account_tier (ACCOUNT_TIER_NOT_COVERED)" in summary[0]


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(PolicyError, match=r"pools\[0\]\.eligibility"):
        _policy({"tier": 1})
    with pytest.raises(PolicyError, match="did you mean 'account_tier'"):
        parse_policy({"pools": [{"name": "a", "eligibility": {"acount_tier": True}}]})


def test_segments_column_of_the_roster_is_read(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_text("rep_id,segments,seniority\nann,Enterprise; tier-1,senior\nbob,,\n")
    ann, bob = reps_from_frame(read_reps(path))
    assert (ann.segments, ann.seniority) == (("Enterprise", "tier-1"), "senior")
    assert (bob.segments, bob.seniority) == ((), None)
    assert "segments" not in ann.attributes
