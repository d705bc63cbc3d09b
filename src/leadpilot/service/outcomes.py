"""What the service core's write paths return: typed domain outcomes, no HTTP.

The HTTP routes map them to public schemas and status codes (``service.schemas``). An
intake outcome is also what an ``Idempotency-Key`` stores, as JSON (``to_json``/``from_json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadpilot.store.decisions import StoredDecision, stored_decision, stored_decision_json

__all__ = ["EventOutcome", "IntakeOutcome", "Reassignment"]


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """One intake: a new lead routed (``duplicate`` False; its first decision, which may
    queue it), or a repeat of stored lead ``duplicate_of`` (nothing routed; ``decision`` is
    that lead's live one). ``replayed``: the answer stored for a retried Idempotency-Key."""

    lead_id: str
    duplicate: bool
    status: str
    account_id: str | None
    decision: StoredDecision | None
    duplicate_of: str | None = None
    matched_on: str | None = None
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON (the form an Idempotency-Key stores)."""
        return {
            "lead_id": self.lead_id,
            "duplicate": self.duplicate,
            "duplicate_of": self.duplicate_of,
            "matched_on": self.matched_on,
            "status": self.status,
            "account_id": self.account_id,
            "decision": stored_decision_json(self.decision) if self.decision else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IntakeOutcome:
        """The inverse of ``to_json``, marked ``replayed``."""
        decision = data.get("decision")
        return cls(
            lead_id=data["lead_id"],
            duplicate=bool(data["duplicate"]),
            status=data["status"],
            account_id=data.get("account_id"),
            decision=stored_decision(decision) if decision else None,
            duplicate_of=data.get("duplicate_of"),
            matched_on=data.get("matched_on"),
            replayed=True,
        )


@dataclass(frozen=True, slots=True)
class Reassignment:
    """An automatic reassignment attempt: done (``rep_id`` the new owner), or refused with
    ``why`` (``max_reassignments``, ``no_eligible_rep``; ``rep_id`` the owner kept)."""

    reassigned: bool
    rep_id: str | None
    from_rep: str | None = None
    why: str | None = None
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The form logged as an event's outcome."""
        if not self.reassigned:
            return {"reassigned": False, "why": self.why, "rep_id": self.rep_id}
        return {
            "reassigned": True,
            "from_rep": self.from_rep,
            "rep_id": self.rep_id,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """One event applied (``duplicate`` False) or a repeated ``event_id`` (its first
    outcome). ``outcome`` is what applying it did, as logged."""

    event_id: str
    type: str
    duplicate: bool
    lead_id: str | None
    outcome: dict[str, Any]
