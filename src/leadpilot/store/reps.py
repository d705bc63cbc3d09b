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
    "get_reps",
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
        "attributes": _jsonable(rep),
        "updated_at": utcnow(),
    }


def _jsonable(rep: Rep) -> dict[str, Any]:
    """The attributes column: further roster fields plus the typed segments and seniority
    (kept there so they need no column of their own)."""
    out = {k: v for k, v in dict(rep.attributes).items() if k != "out_of_office"}
    if rep.segments:
        out["segments"] = list(rep.segments)
    if rep.seniority is not None:
        out["seniority"] = rep.seniority
    return out


def rep_from_row(row: sa.Row[Any], ooo: Iterable[tuple[datetime, datetime]] = ()) -> Rep:
    """Build a ``schema.Rep`` with its out-of-office ranges (``(start, end)`` UTC)."""
    attributes = dict(row.attributes or {})
    segments = attributes.pop("segments", None)
    seniority = attributes.pop("seniority", None)
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
        segments=_segments(segments),
        seniority=str(seniority) if seniority is not None else None,
        out_of_office=tuple(ooo),
        attributes=attributes,
    )


def _segments(value: Any) -> tuple[str, ...]:
    """Stored segments: a list, or ';'-separated text stored before they were typed."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(";") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


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


def get_reps(conn: sa.Connection, rep_ids: Iterable[str]) -> dict[str, Rep]:
    """The reps of ``rep_ids`` that exist, by id, with all their out-of-office ranges: two
    queries however many (``get_rep`` per id costs two each)."""
    wanted = sorted(set(rep_ids))
    if not wanted:
        return {}
    rows = conn.execute(sa.select(reps).where(reps.c.rep_id.in_(wanted))).all()
    ooo = out_of_office_ranges(conn, wanted)
    return {row.rep_id: rep_from_row(row, ooo.get(row.rep_id, ())) for row in rows}


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
