"""``eligibility.previously_lapsed`` (on by default): a rep who breached this lead's SLA, let
its offer expire or declined it is not offered it again for the rest of its life. The
router puts those reps in the lead's derived ``lapsed_reps`` (from the service's
``LeadHistory``); ``previously_lapsed: false`` lets a pool hand a lead back to them (a
decliner still never gets it: ``DECLINED_BEFORE``)."""

from __future__ import annotations

from leadpilot.policy.eligibility import RuleInput
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView

__all__ = ["LAPSED_FIELD", "PREVIOUSLY_LAPSED", "register"]

LAPSED_FIELD = "lapsed_reps"  # the derived lead field the router fills


def _lapsed(view: LeadView) -> frozenset[str]:
    value = view.derived.get(LAPSED_FIELD)
    return value if isinstance(value, frozenset) else frozenset()


def _check(given: RuleInput) -> bool:
    return given.rep.rep_id not in _lapsed(given.view)


def _key(view: LeadView, _setting: object) -> object:
    return _lapsed(view)


def _value(view: LeadView) -> object:
    return ", ".join(sorted(_lapsed(view))) or None


PREVIOUSLY_LAPSED = EligibilityRule(
    key="previously_lapsed",
    code="PREVIOUSLY_LAPSED",
    explanation="let this lead go before (breached its SLA, let the offer expire or declined)",
    check=_check,
    lead_value=_value,
    lead_key=_key,
    setting=bool,
    default=True,
    order=5,
)


def register(registries: Registries) -> None:
    """Add the previously-lapsed rule."""
    registries.rules.register(PREVIOUSLY_LAPSED)
