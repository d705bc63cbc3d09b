"""What the router must know of a lead's past: the reps who let it go before."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeadHistory", "as_history"]


@dataclass(frozen=True, slots=True)
class LeadHistory:
    """Reps who let this lead go. ``declined``: never offered it again, whatever the policy
    (``DECLINED_BEFORE``; the service also puts the owner being reassigned away from here).
    ``lapsed``: breached its SLA, let an offer expire or declined; excluded with
    ``PREVIOUSLY_LAPSED`` unless the pool turns ``eligibility.previously_lapsed`` off."""

    declined: frozenset[str] = frozenset()
    lapsed: frozenset[str] = frozenset()


def as_history(given: frozenset[str] | LeadHistory) -> LeadHistory:
    """``route``'s last argument as a ``LeadHistory`` (a plain set: the reps who declined)."""
    if isinstance(given, LeadHistory):
        return given
    return LeadHistory(declined=frozenset(given))
