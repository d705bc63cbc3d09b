"""``eligibility.territory``: the rep's regions (expanded by the policy's territories) must
cover the lead's region, country or state. On by default."""

from __future__ import annotations

from leadpilot.policy.eligibility import RuleInput, covers_territory
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView

__all__ = ["TERRITORY", "register"]


def _check(given: RuleInput) -> bool:
    return covers_territory(given.rep, given.view.lead, given.policy)


def _key(view: LeadView, _setting: object) -> object:
    lead = view.lead
    return (lead.region, lead.country, lead.state)


def _where(view: LeadView) -> object:
    lead = view.lead
    return lead.region or lead.country or lead.state


TERRITORY = EligibilityRule(
    key="territory",
    code="OUT_OF_TERRITORY",
    explanation="does not cover the lead's territory",
    check=_check,
    lead_value=_where,
    lead_key=_key,
    default=True,
    order=10,
)


def register(registries: Registries) -> None:
    """Add the territory rule."""
    registries.rules.register(TERRITORY)
