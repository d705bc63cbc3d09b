"""A lead's assignees over its life, read from its decision log, and the reps who let it go.

Each decision that names a rep starts that rep's spell with the lead; the next decision
ends it, and its trigger says how. A spell ended by an SLA breach, an expired acceptance
window or a decline is a *lapse*: that rep is not offered the lead again
(``PREVIOUSLY_LAPSED``; see ``leadpilot.policy.rules.previously_lapsed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from leadpilot.store.events import decliners
from leadpilot.store.tables import decisions

__all__ = ["LAPSE_TRIGGERS", "AssigneeSpell", "assignee_history", "lapsed_reps", "read_history"]

# Decision triggers that end the previous owner's spell because that owner let the lead go.
LAPSE_TRIGGERS: dict[str, str] = {
    "sla_breach": "breached the SLA",
    "acceptance_expired": "let the offer expire",
    "declined": "declined",
}


@dataclass(frozen=True, slots=True)
class AssigneeSpell:
    """One rep's time as the lead's owner: how it started and (unless it is the current
    one) when and how it ended."""

    rep_id: str
    assigned_at: datetime
    assigned_by: str  # the trigger of the decision that assigned the rep
    ended_at: datetime | None
    ended_by: str | None  # the trigger of the next decision

    @property
    def lapsed(self) -> bool:
        """Whether the rep let the lead go (breach, expiry or decline)."""
        return self.ended_by in LAPSE_TRIGGERS


@dataclass(frozen=True, slots=True)
class _Step:
    seq: int
    trigger: str
    rep_id: str | None
    decided_at: datetime


def assignee_history(steps: Sequence[_Step]) -> list[AssigneeSpell]:
    """The spells of ``steps`` (the lead's decisions in any order)."""
    ordered = sorted(steps, key=lambda s: s.seq)
    spells: list[AssigneeSpell] = []
    for i, step in enumerate(ordered):
        if step.rep_id is None:
            continue
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        spells.append(
            AssigneeSpell(
                rep_id=step.rep_id,
                assigned_at=step.decided_at,
                assigned_by=step.trigger,
                ended_at=nxt.decided_at if nxt is not None else None,
                ended_by=nxt.trigger if nxt is not None else None,
            )
        )
    return spells


def read_history(conn: sa.Connection, lead_id: str) -> list[AssigneeSpell]:
    """The lead's assignees, first first."""
    rows = conn.execute(
        sa.select(
            decisions.c.seq, decisions.c.trigger, decisions.c.rep_id, decisions.c.decided_at
        ).where(decisions.c.lead_id == lead_id)
    )
    return assignee_history([_Step(r.seq, r.trigger, r.rep_id, r.decided_at) for r in rows])


def lapsed_reps(conn: sa.Connection, lead_id: str) -> frozenset[str]:
    """Every rep who breached, let an offer expire or declined on this lead (a decline is
    an event even when it moved nothing)."""
    lapsed = {s.rep_id for s in read_history(conn, lead_id) if s.lapsed}
    return frozenset(lapsed | decliners(conn, lead_id))
