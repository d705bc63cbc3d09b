"""``eligibility.product`` / ``language`` / ``industry``: the rep's list of products,
languages or industries must include the lead's (a rep listing nothing covers everything)."""

from __future__ import annotations

from collections.abc import Callable

from leadpilot.policy.eligibility import RuleInput, covers
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView
from leadpilot.schema import Rep

__all__ = ["register"]


def _list_rule(
    key: str,
    code: str,
    explanation: str,
    order: int,
    rep_list: Callable[[Rep], tuple[str, ...]],
    lead_field: str,
) -> EligibilityRule:
    def check(given: RuleInput) -> bool:
        return covers(rep_list(given.rep), (given.view.lead.get(lead_field),))

    def value(view: LeadView) -> object:
        return view.lead.get(lead_field)

    def lead_key(view: LeadView, _setting: object) -> object:
        return view.lead.get(lead_field)

    return EligibilityRule(key, code, explanation, check, value, order=order, lead_key=lead_key)


def register(registries: Registries) -> None:
    """Add the product, language and industry rules."""
    for rule in (
        _list_rule(
            "product",
            "PRODUCT_MISMATCH",
            "does not sell the lead's product",
            20,
            lambda rep: rep.products,
            "product",
        ),
        _list_rule(
            "language",
            "LANGUAGE_MISMATCH",
            "does not speak the lead's language",
            30,
            lambda rep: rep.languages,
            "language",
        ),
        _list_rule(
            "industry",
            "SEGMENT_MISMATCH",
            "does not cover the lead's segment or industry",
            40,
            lambda rep: rep.industries,
            "industry",
        ),
    ):
        registries.rules.register(rule)
