"""A rep's effective caps, from the policy's per-rep override, the roster and the policy's
defaults (its own module so the roster memo can name it without importing eligibility)."""

from __future__ import annotations

from dataclasses import dataclass

from leadpilot.policy.policy_file import Policy
from leadpilot.schema import Rep

__all__ = ["Capacity", "capacity_of"]


@dataclass(frozen=True, slots=True)
class Capacity:
    """A rep's effective caps (``None``: no cap)."""

    max_leads_per_day: int | None
    max_open_leads: int | None


def capacity_of(rep: Rep, policy: Policy) -> Capacity:
    """Caps from the policy's per-rep override, else the roster, else the policy default."""
    override = policy.reps.get(rep.rep_id) if policy.reps else None
    daily = override.max_leads_per_day if override else None
    open_ = override.max_open_leads if override else None
    # Spelled out rather than a generic first-not-None: this runs for every rep of every
    # decision.
    if daily is None:
        daily = (
            rep.max_leads_per_day if rep.max_leads_per_day is not None else policy.max_leads_per_day
        )
    if open_ is None:
        open_ = rep.max_open_leads if rep.max_open_leads is not None else policy.max_open_leads
    return Capacity(daily, open_)
