"""``eligibility.account_tier``: leads of a matched account in one of the listed tiers
(``account_tier: ["tier-1"]``; ``true`` means ``["tier-1"]``) go only to reps whose
``segments`` include that tier (e.g. ``segments: Enterprise;tier-1`` in reps.csv, or the
policy's per-rep ``segments``). Leads of other tiers, or of no known account, are not
restricted. (The policy's per-rep ``segments`` count too, but the policy file only accepts
its company-size segment names there.)"""

from __future__ import annotations

from collections.abc import Sequence

from leadpilot.policy.eligibility import RuleInput, rep_segments
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView
from leadpilot.schema import Rep

__all__ = ["ACCOUNT_TIER", "register"]


def _tiers(setting: bool | Sequence[str]) -> set[str]:
    if setting is True:
        return {"tier-1"}
    return {str(t).casefold() for t in setting or ()}


def _check(given: RuleInput) -> bool:
    tier = given.view.get("account_tier")
    if not isinstance(tier, str) or tier.casefold() not in _tiers(given.setting):
        return True
    return tier.casefold() in {s.casefold() for s in rep_segments(given.rep, given.policy)}


def _key(view: LeadView, _setting: object) -> object:
    return view.get("account_tier")


def _tier(view: LeadView) -> object:
    return view.get("account_tier")


def _lint(
    policy: Policy, setting: bool | Sequence[str], members: Sequence[Rep]
) -> list[tuple[str, str]]:
    covered = {s.casefold() for rep in members for s in rep_segments(rep, policy)}
    return [
        (
            "",
            f"no member has {tier!r} in their segments: leads of {tier} accounts can never "
            "be assigned",
        )
        for tier in sorted(_tiers(setting) - covered)
    ]


ACCOUNT_TIER = EligibilityRule(
    key="account_tier",
    code="ACCOUNT_TIER_NOT_COVERED",
    explanation="does not cover the lead's account tier",
    check=_check,
    lead_value=_tier,
    lead_key=_key,
    setting=bool | list[str],
    default=False,
    order=70,
    lint=_lint,
)


def register(registries: Registries) -> None:
    """Add the account-tier rule."""
    registries.rules.register(ACCOUNT_TIER)
