"""Reads for the shadow and lift reports: each lead's first decision with what became of
the lead (won, meeting, pipeline value), and the stored policy texts by version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from leadpilot.schema import Decision, Lead
from leadpilot.store.decisions import decision_from_row
from leadpilot.store.leads import lead_from_fields
from leadpilot.store.tables import decisions, events, leads, policies

__all__ = ["MeasuredLead", "measured_leads", "policy_texts"]

# Events whose ``amount`` is the lead's pipeline value (the latest one given wins).
_VALUE_EVENTS = ("opportunity_created", "closed_won")


@dataclass(frozen=True, slots=True)
class MeasuredLead:
    """A lead's first decision (the one its randomization is attached to) and its outcomes
    so far: ``won`` (closed won), ``closed`` (won or lost), ``meeting`` (a meeting was
    booked), ``pipeline`` (the latest ``amount`` on its opportunity or win events, if any)."""

    decision: Decision
    won: bool
    closed: bool
    meeting: bool
    pipeline: float | None
    lead: Lead


def measured_leads(
    conn: sa.Connection, *, mode: str, since: datetime | None = None
) -> list[MeasuredLead]:
    """Every lead whose first decision was made in ``mode`` (``live`` or ``shadow``) at or
    after ``since``, in order of decision."""
    query = (
        sa.select(
            decisions,
            leads.c.closed_won,
            leads.c.meeting_at,
            leads.c.fields.label("lead_fields"),
        )
        .join(leads, leads.c.lead_id == decisions.c.lead_id)
        .where(decisions.c.seq == 1, decisions.c.mode == mode)
        .order_by(decisions.c.decided_at, decisions.c.id)
    )
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    rows = conn.execute(query).all()
    values = _pipeline_values(conn, [r.lead_id for r in rows])
    return [
        MeasuredLead(
            decision=decision_from_row(r),
            won=r.closed_won is True,
            closed=r.closed_won is not None,
            meeting=r.meeting_at is not None,
            pipeline=values.get(r.lead_id),
            lead=lead_from_fields(dict(r.lead_fields or {})),
        )
        for r in rows
    ]


def _pipeline_values(conn: sa.Connection, lead_ids: list[str]) -> dict[str, float]:
    """lead id -> the latest ``amount`` given on its opportunity / win events."""
    out: dict[str, float] = {}
    chunk = 500  # keep the IN list well under every driver's parameter limit
    for start in range(0, len(lead_ids), chunk):
        query = (
            sa.select(events.c.lead_id, events.c.payload)
            .where(
                events.c.lead_id.in_(lead_ids[start : start + chunk]),
                events.c.type.in_(_VALUE_EVENTS),
            )
            .order_by(events.c.occurred_at, events.c.received_at)
        )
        for lead_id, payload in conn.execute(query):
            amount = (payload or {}).get("amount")
            if amount is not None:
                out[lead_id] = float(amount)
    return out


def policy_texts(conn: sa.Connection) -> dict[str, str]:
    """Every stored policy version -> its YAML text."""
    rows = conn.execute(sa.select(policies.c.version, policies.c.text)).all()
    return {str(row.version): str(row.text) for row in rows}
