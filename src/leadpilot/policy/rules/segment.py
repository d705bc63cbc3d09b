"""``eligibility.segment``: the rep's segments (the policy's per-rep override, else the
roster's ``segments``) must include the lead's company-size segment."""

from __future__ import annotations

from leadpilot.policy.eligibility import RuleInput, covers, rep_segments
from leadpilot.policy.registry import EligibilityRule, Registries
from leadpilot.policy.scoring import LeadView

__all__ = ["SEGMENT", "register"]


def _check(given: RuleInput) -> bool:
    return covers(rep_segments(given.rep, given.policy), (given.view.get("segment"),))


def _key(view: LeadView, _setting: object) -> object:
    return view.get("segment")


def _segment(view: LeadView) -> object:
    return view.get("segment") or view.lead.industry


SEGMENT = EligibilityRule(
    key="segment",
    code="SEGMENT_MISMATCH",
    explanation="does not cover the lead's segment or industry",
    check=_check,
    lead_value=_segment,
    lead_key=_key,
    order=50,
)


def register(registries: Registries) -> None:
    """Add the segment rule."""
    registries.rules.register(SEGMENT)
