"""Leads as stored: canonical fields (JSON), status, owner, queue place and milestones."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.ingest.identity import normalize_email
from leadpilot.schema import Lead
from leadpilot.store.engine import LockedConn
from leadpilot.store.kpi_rollups import day_of, mark_days, mark_lead
from leadpilot.store.tables import duplicate_intakes, leads
from leadpilot.store.types import as_utc, utcnow

__all__ = [
    "DUPLICATE_QUERY",
    "duplicate_of",
    "duplicate_params",
    "find_duplicate",
    "get_lead_row",
    "insert_lead",
    "lead_fields",
    "lead_from_fields",
    "lead_row",
    "queued_leads",
    "recent_leads",
    "record_duplicate_intake",
    "update_lead",
]

_DATETIME_FIELDS = frozenset({"created_at"})


def _json_value(value: Any) -> Any:
    """A JSON-safe form of a field value (datetimes as ISO text, NaN/NA as null)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, datetime):
        return None if value != value else as_utc(value).isoformat()  # NaT != NaT
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalars
        return _json_value(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return None if str(value) in {"<NA>", "nan", "NaT"} else str(value)


def lead_fields(lead: Lead) -> dict[str, Any]:
    """A JSON-ready dict of a lead's canonical fields and attributes."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Lead):
        value = getattr(lead, f.name)
        if f.name == "attributes":
            out["attributes"] = {str(k): _json_value(v) for k, v in dict(value).items()}
        else:
            out[f.name] = _json_value(value)
    return out


def lead_from_fields(fields: dict[str, Any]) -> Lead:
    """The inverse of ``lead_fields``."""
    values = dict(fields)
    for name in _DATETIME_FIELDS:
        if isinstance(values.get(name), str):
            values[name] = datetime.fromisoformat(values[name])
    values["attributes"] = dict(values.get("attributes") or {})
    known = {f.name for f in dataclasses.fields(Lead)}
    return Lead(**{k: v for k, v in values.items() if k in known})


DUPLICATE_QUERY = (
    sa.select(leads.c.lead_id, leads.c.external_id, leads.c.email)
    .where(
        sa.or_(
            leads.c.lead_id == sa.bindparam("lead_id"),
            leads.c.external_id == sa.bindparam("external_id"),
            leads.c.email == sa.bindparam("email"),
        )
    )
    .order_by(leads.c.received_at)
    .limit(20)
)
_INSERT_LEAD = leads.insert()


def duplicate_params(lead: Lead) -> dict[str, Any]:
    """The parameters of ``DUPLICATE_QUERY`` for ``lead``. A missing external id or email
    binds NULL, and ``column = NULL`` matches nothing."""
    email = normalize_email(lead.email)
    return {
        "lead_id": lead.lead_id,
        "external_id": lead.external_id or None,
        "email": email or None,
    }


def duplicate_of(lead: Lead, rows: Sequence[Any]) -> tuple[str, str] | None:
    """Among ``rows`` of ``DUPLICATE_QUERY`` (earliest first), the lead ``lead`` repeats and
    what matched: id beats external id beats email."""
    email = normalize_email(lead.email)
    for name, value in (
        ("lead_id", lead.lead_id),
        ("external_id", lead.external_id),
        ("email", email),
    ):
        for row in rows:
            if value is not None and getattr(row, name) == value:
                return row.lead_id, name
    return None


def find_duplicate(conn: sa.Connection, lead: Lead) -> tuple[str, str] | None:
    """The earliest stored lead with the same id, external id or email, and what matched
    (one query, built once; id beats external id beats email)."""
    return duplicate_of(lead, conn.execute(DUPLICATE_QUERY, duplicate_params(lead)).all())


def lead_row(
    lead: Lead,
    *,
    status: str,
    account_id: str | None = None,
    received_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``leads`` row of a new lead (``lead.created_at`` defaults to the time received)."""
    received = received_at or utcnow()
    return {
        "lead_id": lead.lead_id,
        "email": normalize_email(lead.email),
        "external_id": lead.external_id,
        "company": lead.company,
        "domain": (lead.domain or "").lower() or None,
        "account_id": account_id,
        "fields": lead_fields(lead),
        "created_at": as_utc(lead.created_at) if lead.created_at else received,
        "received_at": received,
        "status": status,
        "reassignments": 0,
        **(extra or {}),
    }


def insert_lead(
    conn: sa.Connection,
    lead: Lead,
    *,
    status: str,
    account_id: str | None = None,
    received_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Store a new lead (``lead.created_at`` defaults to the time received)."""
    conn.execute(
        _INSERT_LEAD,
        lead_row(lead, status=status, account_id=account_id, received_at=received_at, extra=extra),
    )


def get_lead_row(conn: sa.Connection, lead_id: str, *, for_update: bool = False) -> Any:
    """The lead's row or ``None``."""
    query = sa.select(leads).where(leads.c.lead_id == lead_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def find_lead_row(conn: sa.Connection, key: str) -> Any:
    """The lead whose id, or else whose CRM record id (``external_id``), is ``key``; the
    earliest received when several share an external id. ``None`` when neither matches."""
    row = get_lead_row(conn, key)
    if row is not None:
        return row
    query = (
        sa.select(leads)
        .where(leads.c.external_id == key)
        .order_by(leads.c.received_at, leads.c.lead_id)
        .limit(1)
    )
    return conn.execute(query).first()


def queued_leads(
    conn: sa.Connection,
    limit: int,
    *,
    after: tuple[datetime, str] | None = None,
    until: datetime | None = None,
) -> list[tuple[datetime, str]]:
    """``(queued_at, lead_id)`` of leads waiting for a rep, first queued first, from just
    after ``after`` and queued no later than ``until`` when given."""
    query = sa.select(leads.c.queued_at, leads.c.lead_id).where(leads.c.status == "queued")
    if until is not None:
        query = query.where(leads.c.queued_at <= until)
    if after is not None:
        at, lead_id = after
        query = query.where(
            sa.or_(
                leads.c.queued_at > at, sa.and_(leads.c.queued_at == at, leads.c.lead_id > lead_id)
            )
        )
    query = query.order_by(leads.c.queued_at, leads.c.lead_id).limit(limit)
    return [(row.queued_at, row.lead_id) for row in conn.execute(query)]


def update_lead(conn: LockedConn, lead_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of a stored lead (owner, status, queue place, milestones), and mark its
    day for the KPI rollups (``store.kpi_rollups``)."""
    conn.execute(leads.update().where(leads.c.lead_id == lead_id).values(**values))
    mark_lead(conn, lead_id)


def record_duplicate_intake(
    conn: sa.Connection, lead: Lead, *, lead_id: str, matched_on: str, received_at: datetime
) -> None:
    """Log that ``lead`` arrived again as a repeat of stored lead ``lead_id`` (it counts in
    the duplicate rate; nothing is routed)."""
    conn.execute(
        duplicate_intakes.insert().values(
            lead_id=lead_id,
            matched_on=matched_on,
            payload={
                "lead_id": lead.lead_id,
                "email": lead.email,
                "external_id": lead.external_id,
            },
            received_at=received_at,
        )
    )
    mark_days(conn, [day_of(received_at)])


def recent_leads(conn: sa.Connection, limit: int) -> list[Lead]:
    """The ``limit`` most recently created stored leads, newest first."""
    rows = conn.execute(
        sa.select(leads.c.fields).order_by(leads.c.created_at.desc()).limit(limit)
    ).scalars()
    return [lead_from_fields(f) for f in rows]
