"""Historical leads loaded from a CRM export (status ``history``): they take part in
dedupe at intake and in account context, never in routing state or KPIs."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from leadpilot.schema import Lead
from leadpilot.store.leads import insert_lead
from leadpilot.store.tables import leads

__all__ = ["load_history_leads"]


def load_history_leads(conn: sa.Connection, items: Iterable[Lead]) -> tuple[int, int]:
    """Insert history leads not stored yet (by ``lead_id``); returns (inserted, skipped)."""
    existing = set(conn.execute(sa.select(leads.c.lead_id)).scalars())
    inserted = skipped = 0
    for lead in items:
        if lead.lead_id in existing:
            skipped += 1
            continue
        rep = lead.attributes.get("rep_id")
        insert_lead(
            conn,
            lead,
            status="history",
            extra={"rep_id": str(rep) if isinstance(rep, str) and rep else None},
        )
        existing.add(lead.lead_id)
        inserted += 1
    return inserted, skipped
