"""Reps and their availability (active flag, capacity, working hours, out-of-office ranges)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.schema import Rep
from leadpilot.store.counters import bump_roster_version
from leadpilot.store.tables import rep_out_of_office, reps
from leadpilot.store.types import as_utc, utcnow

__all__ = [
    "add_out_of_office",
    "get_rep",
    "list_reps",
    "out_of_office_ranges",
    "rep_from_row",
    "upsert_reps",
]


def _row_values(rep: Rep) -> dict[str, Any]:
    return {
        "rep_id": rep.rep_id,
        "name": rep.name,
        "email": rep.email,
        "pool": rep.pool,
        "role": rep.role,
        "regions": list(rep.regions),
        "industries": list(rep.industries),
        "products": list(rep.products),
        "languages": list(rep.languages),
        "max_leads_per_day": rep.max_leads_per_day,
        "max_open_leads": rep.max_open_leads,
        "timezone": rep.timezone or "UTC",
        "working_hours": rep.working_hours,
        "active": bool(rep.active),
        "start_date": rep.start_date,
        "backup_rep_id": rep.backup_rep_id,
        "attributes": _jsonable(dict(rep.attributes)),
        "updated_at": utcnow(),
    }


def _jsonable(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k != "out_of_office"}


def rep_from_row(row: sa.Row[Any], ooo: Iterable[tuple[datetime, datetime]] = ()) -> Rep:
    """Build a ``schema.Rep``; out-of-office ranges go to ``attributes['out_of_office']``
    as a tuple of ``(start, end)`` UTC datetimes."""
    attributes = dict(row.attributes or {})
    attributes["out_of_office"] = tuple(ooo)
    return Rep(
        rep_id=row.rep_id,
        name=row.name,
        email=row.email,
        pool=row.pool,
        role=row.role,
        regions=tuple(row.regions or ()),
        industries=tuple(row.industries or ()),
        products=tuple(row.products or ()),
        languages=tuple(row.languages or ()),
        max_leads_per_day=row.max_leads_per_day,
        max_open_leads=row.max_open_leads,
        timezone=row.timezone or "UTC",
        working_hours=row.working_hours,
        active=bool(row.active),
        start_date=row.start_date,
        backup_rep_id=row.backup_rep_id,
        attributes=attributes,
    )


def upsert_reps(conn: sa.Connection, roster: Iterable[Rep]) -> int:
    """Insert or replace reps by ``rep_id``; returns how many were written."""
    n = 0
    for rep in roster:
        values = _row_values(rep)
        updated = conn.execute(
            reps.update().where(reps.c.rep_id == rep.rep_id).values(**values)
        ).rowcount
        if not updated:
            conn.execute(reps.insert().values(**values))
        n += 1
    bump_roster_version(conn)
    return n


def out_of_office_ranges(
    conn: sa.Connection, rep_ids: Iterable[str] | None = None, *, after: datetime | None = None
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Out-of-office ranges per rep (ending after ``after`` when given), oldest first."""
    query = sa.select(
        rep_out_of_office.c.rep_id, rep_out_of_office.c.starts_at, rep_out_of_office.c.ends_at
    ).order_by(rep_out_of_office.c.starts_at)
    if rep_ids is not None:
        query = query.where(rep_out_of_office.c.rep_id.in_(list(rep_ids)))
    if after is not None:
        query = query.where(rep_out_of_office.c.ends_at > after)
    ranges: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in conn.execute(query):
        ranges.setdefault(row.rep_id, []).append((row.starts_at, row.ends_at))
    return ranges


def list_reps(conn: sa.Connection, *, now: datetime | None = None) -> list[Rep]:
    """Every rep, ordered by ``rep_id``, with current and future out-of-office ranges."""
    ooo = out_of_office_ranges(conn, after=now)
    rows = conn.execute(sa.select(reps).order_by(reps.c.rep_id)).all()
    return [rep_from_row(row, ooo.get(row.rep_id, ())) for row in rows]


def get_rep(conn: sa.Connection, rep_id: str) -> Rep | None:
    """One rep with all its out-of-office ranges, or ``None``."""
    row = conn.execute(sa.select(reps).where(reps.c.rep_id == rep_id)).first()
    if row is None:
        return None
    return rep_from_row(row, out_of_office_ranges(conn, [rep_id]).get(rep_id, ()))


def add_out_of_office(
    conn: sa.Connection, rep_id: str, starts_at: datetime, ends_at: datetime, reason: str | None
) -> None:
    """Record an out-of-office range for a rep."""
    conn.execute(
        rep_out_of_office.insert().values(
            rep_id=rep_id,
            starts_at=as_utc(starts_at),
            ends_at=as_utc(ends_at),
            reason=reason,
            created_at=utcnow(),
        )
    )
    bump_roster_version(conn)


def replace_out_of_office(
    conn: sa.Connection, rep_id: str, ranges: Iterable[tuple[datetime, datetime]]
) -> None:
    """Replace a rep's out-of-office ranges (PUT semantics)."""
    conn.execute(rep_out_of_office.delete().where(rep_out_of_office.c.rep_id == rep_id))
    bump_roster_version(conn)
    for start, end in ranges:
        add_out_of_office(conn, rep_id, start, end, None)


def with_attributes(rep: Rep, **attributes: Any) -> Rep:
    """A copy of ``rep`` with extra attributes."""
    return replace(rep, attributes={**dict(rep.attributes), **attributes})
