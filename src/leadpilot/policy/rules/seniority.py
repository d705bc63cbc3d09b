"""``eligibility.seniority``: a list of rules; leads matching a rule's conditions need a rep
of at least its ``min_level`` (in ``seniority_levels``)."""

from __future__ import annotations

from collections.abc import Sequence

from leadpilot.policy.eligibility import RuleInput, seniority_level
from leadpilot.policy.policy_file import Policy, SeniorityRule
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView, matches
from leadpilot.schema import Rep

__all__ = ["SENIORITY", "register"]


def _check(given: RuleInput) -> bool:
    levels = given.policy.seniority_levels
    for rule in given.setting:
        if matches(rule.when, rule.when_any, given.view) and seniority_level(
            given.rep, given.policy
        ) < levels.index(rule.min_level):
            return False
    return True


def _key(view: LeadView, setting: Sequence[SeniorityRule]) -> object:
    # The check reads the lead only through which of the rules' conditions it matches.
    return tuple(matches(rule.when, rule.when_any, view) for rule in setting)


def _size(view: LeadView) -> object:
    return view.lead.company_size


def _lint(
    policy: Policy, setting: Sequence[SeniorityRule], members: Sequence[Rep]
) -> list[tuple[str, str]]:
    out = []
    for j, rule in enumerate(setting):
        need = policy.seniority_levels.index(rule.min_level)
        if not any(seniority_level(r, policy) >= need for r in members):
            out.append(
                (
                    f"[{j}]",
                    f"no member is {rule.min_level!r} or above: leads matching this rule "
                    "can never be assigned",
                )
            )
    return out


SENIORITY = EligibilityRule(
    key="seniority",
    code="SENIORITY_TOO_LOW",
    explanation="is not senior enough for this deal size",
    check=_check,
    lead_value=_size,
    lead_key=_key,
    setting=list[SeniorityRule],
    default=(),
    order=60,
    lint=_lint,
)


def register(registries: Registries) -> None:
    """Add the seniority rule."""
    registries.rules.register(SENIORITY)
