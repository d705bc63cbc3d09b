"""Daily rollups of the routing KPIs, exact at every read.

A UTC day's rollup rows (``kpi_day_leads``, ``kpi_day_assignments``, ``kpi_day_duplicates``)
are the raw aggregation of that day (``kpi_reads``), rebuilt whole by ``refresh_day``; they
are never adjusted by deltas, so a rollup cannot drift from the raw computation. Exactness at
every read comes from ``kpi_day_marks``:

- every write that can change a day's KPIs marks that day dirty in its own transaction: a new
  lead and its decision (``store.record``), any change to a lead (``leads.update_lead``:
  touches, meetings, opportunities, reassignments, status), a repeat intake, and a later
  decision (its day, and the days of the lead's repeat intakes, whose pool is the lead's
  first assignment's);
- a reader (``window_totals``) uses a day's rows only if the day is marked clean and every
  SLA deadline still open in it has passed before the window's end; every other day, and the
  partial days at the window's edges, it computes raw;
- the worker rebuilds dirty days before today (``refresh_dirty_days``), each in a routing
  transaction, so no write can interleave between the raw read and the clean mark.

Medians cannot come from sums: each row keeps its first-touch waits (whole milliseconds,
sorted), about 7 bytes per touched lead, so the window's median is exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadpilot.store.driver import execute_insert
from leadpilot.store.kpi_reads import assignment_counts, duplicate_pools, lead_facts
from leadpilot.store.tables import (
    decisions,
    duplicate_intakes,
    kpi_day_assignments,
    kpi_day_duplicates,
    kpi_day_leads,
    kpi_day_marks,
    leads,
)
from leadpilot.store.types import as_utc

__all__ = [
    "MARK_DIRTY_POSTGRES",
    "LeadGroup",
    "WindowTotals",
    "day_of",
    "dirty_days",
    "mark_days",
    "mark_lead",
    "mark_lead_duplicates",
    "raw_totals",
    "rebuild_rollups",
    "refresh_day",
    "refresh_dirty_days",
    "window_totals",
]

GroupKey = tuple[str | None, str | None, str | None]  # first-assignment pool, lane, method


_COUNTS = ("leads", "routed", "reassigned", "meetings", "opportunities", "sla_promised",
           "sla_met", "sla_touched", "sla_open", "sla_open_due")  # fmt: skip


@dataclass
class LeadGroup:
    """Counts over the leads of one (pool, lane, method): ``leads`` all of them, the rest
    routed ones. ``sla_open``: promised and untouched; ``sla_open_due``: of those, how many
    deadlines passed before the window's end (``None`` in a stored rollup);
    ``waits``: first-touch waits in milliseconds."""

    leads: int = 0
    routed: int = 0
    reassigned: int = 0
    meetings: int = 0
    opportunities: int = 0
    sla_promised: int = 0
    sla_met: int = 0
    sla_touched: int = 0
    sla_open: int = 0
    sla_open_due: int = 0
    open_deadline_max: datetime | None = None
    waits: list[int] = field(default_factory=list)

    def add(self, other: LeadGroup) -> None:
        """Add ``other``'s counts to these."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.open_deadline_max is not None and (
            self.open_deadline_max is None or other.open_deadline_max > self.open_deadline_max
        ):
            self.open_deadline_max = other.open_deadline_max
        self.waits.extend(other.waits)


@dataclass
class WindowTotals:
    """Everything the KPIs need about a window, by group."""

    leads: dict[GroupKey, LeadGroup] = field(default_factory=dict)
    duplicates: dict[str | None, int] = field(default_factory=lambda: defaultdict(int))
    assignments: dict[tuple[str | None, str], int] = field(default_factory=lambda: defaultdict(int))

    def add_group(self, key: GroupKey, group: LeadGroup) -> None:
        """Add one group's counts."""
        if key in self.leads:
            self.leads[key].add(group)
        else:
            self.leads[key] = group

    def add(self, other: WindowTotals) -> None:
        """Add another span's totals."""
        for key, group in other.leads.items():
            self.add_group(key, group)
        for pool, n in other.duplicates.items():
            self.duplicates[pool] += n
        for pair, n in other.assignments.items():
            self.assignments[pair] += n


def day_of(moment: datetime) -> date:
    """The UTC day of ``moment``."""
    return as_utc(moment).date()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# ------------------------------------------------------------------------ raw spans
def raw_totals(
    conn: sa.Connection,
    start: datetime | None,
    end: datetime,
    *,
    end_inclusive: bool = False,
    until: datetime | None = None,
    parts: frozenset[str] = frozenset({"leads", "duplicates", "assignments"}),
) -> WindowTotals:
    """The totals of a span computed from the source tables; ``until``: the window's end,
    against which open SLA deadlines count as decided (``None``: not counted)."""
    out = WindowTotals()
    if "leads" in parts:
        for r in lead_facts(conn, start, end, end_inclusive=end_inclusive):
            key = (r.pool, r.lane, r.method)
            group = out.leads.get(key)
            if group is None:
                group = out.leads[key] = LeadGroup()
            group.leads += 1
            if not r.routed:
                continue
            group.routed += 1
            group.reassigned += r.reassignments > 0
            group.meetings += r.meeting
            group.opportunities += r.opportunity
            if r.wait_ms is not None:
                group.waits.append(int(r.wait_ms))
            if r.sla_deadline is None:
                continue
            group.sla_promised += 1
            group.sla_met += r.sla_met
            if r.touched:
                group.sla_touched += 1
                continue
            group.sla_open += 1
            deadline = as_utc(r.sla_deadline)
            group.sla_open_due += until is not None and deadline < until
            if group.open_deadline_max is None or deadline > group.open_deadline_max:
                group.open_deadline_max = deadline
    if "duplicates" in parts:
        for pool, n in duplicate_pools(conn, start, end, end_inclusive=end_inclusive):
            out.duplicates[pool] += n
    if "assignments" in parts:
        for pool, rep_id, n in assignment_counts(conn, start, end, end_inclusive=end_inclusive):
            out.assignments[(pool, rep_id)] += n
    return out


# -------------------------------------------------------------------------- marking
def _marks_upsert(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(kpi_day_marks)
    return stmt.on_conflict_do_update(
        index_elements=[kpi_day_marks.c.day], set_={"dirty": stmt.excluded.dirty}
    )


_MARK = {dialect: _marks_upsert(dialect) for dialect in ("postgresql", "sqlite")}


def _mark_dirty_postgres() -> Any:
    """Mark the distinct days of the array ``mark_days`` dirty, leaving out those already
    dirty before the insert. Why: ``ON CONFLICT DO UPDATE`` locks the row it meets until
    commit, and today's mark is met by every intake, so intakes holding different routing
    locks (different pools) queued on it. A dirty mark is cleaned only under the exclusive
    routing lock (``refresh_day``), so it is still dirty when the marking transaction
    commits."""
    days = (
        sa.func.unnest(sa.bindparam("mark_days", type_=pg.ARRAY(sa.Date)))
        .table_valued("day")
        .render_derived(name="mark_rows")
    )
    dirty = sa.select(kpi_day_marks.c.day).where(
        kpi_day_marks.c.day == days.c.day, kpi_day_marks.c.dirty
    )
    stmt = pg_insert(kpi_day_marks).from_select(
        ["day", "dirty"], sa.select(days.c.day, sa.true()).where(~dirty.exists())
    )
    return stmt.on_conflict_do_update(index_elements=[kpi_day_marks.c.day], set_={"dirty": True})


MARK_DIRTY_POSTGRES = _mark_dirty_postgres()


def mark_days(conn: sa.Connection, days: Iterable[date]) -> None:
    """Mark days dirty (their rollups are rebuilt before they are used again)."""
    wanted = sorted(set(days))
    if not wanted:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(MARK_DIRTY_POSTGRES, {"mark_days": wanted})
    else:
        execute_insert(conn, _MARK["sqlite"], [{"day": d, "dirty": True} for d in wanted])


def mark_lead(conn: sa.Connection, lead_id: str) -> None:
    """Mark the day a (non-history) lead was received dirty."""
    row = conn.execute(
        sa.select(leads.c.received_at, leads.c.status).where(leads.c.lead_id == lead_id)
    ).first()
    if row is not None and row.status != "history":
        mark_days(conn, [day_of(row.received_at)])


def mark_lead_duplicates(conn: sa.Connection, lead_id: str) -> None:
    """Mark the days of the lead's repeat intakes dirty (they count in the pool of the lead's
    first assignment, which a later decision can set)."""
    times = conn.execute(
        sa.select(duplicate_intakes.c.received_at).where(duplicate_intakes.c.lead_id == lead_id)
    ).scalars()
    mark_days(conn, [day_of(t) for t in times])


# -------------------------------------------------------------------------- rebuild
def refresh_day(conn: sa.Connection, day: date) -> None:
    """Rebuild one day's rollup rows from the source tables and mark it clean. Run it where
    no write can interleave (a routing transaction, or a migration)."""
    start = _start_of(day)
    totals = raw_totals(conn, start, start + timedelta(days=1))
    for table in (kpi_day_leads, kpi_day_assignments, kpi_day_duplicates):
        conn.execute(table.delete().where(table.c.day == day))
    if totals.leads:
        conn.execute(
            kpi_day_leads.insert(),
            [
                {
                    "day": day,
                    "pool": pool,
                    "lane": lane,
                    "method": method,
                    **{name: getattr(g, name) for name in _COUNTS if name != "sla_open_due"},
                    "sla_open_deadline_max": g.open_deadline_max,
                    "waits": sorted(g.waits),
                }
                for (pool, lane, method), g in totals.leads.items()
            ],
        )
    if totals.assignments:
        conn.execute(
            kpi_day_assignments.insert(),
            [
                {"day": day, "pool": pool, "rep_id": rep_id, "n": n}
                for (pool, rep_id), n in totals.assignments.items()
            ],
        )
    if totals.duplicates:
        conn.execute(
            kpi_day_duplicates.insert(),
            [{"day": day, "pool": pool, "n": n} for pool, n in totals.duplicates.items()],
        )
    conn.execute(_MARK[conn.dialect.name], [{"day": day, "dirty": False}])


def dirty_days(conn: sa.Connection, *, before: date, limit: int = 100) -> list[date]:
    """Days marked dirty before ``before``, oldest first."""
    query = (
        sa.select(kpi_day_marks.c.day)
        .where(kpi_day_marks.c.dirty.is_(True), kpi_day_marks.c.day < before)
        .order_by(kpi_day_marks.c.day)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def refresh_dirty_days(
    transaction: Callable[[], AbstractContextManager[Any]],
    *,
    today: date,
    limit: int = 20,
) -> int:
    """Rebuild up to ``limit`` dirty days before ``today``, each in its own ``transaction()``
    (the routing transaction: it holds the lock for one day's raw read, ~3,000 leads). Today
    is left alone: every intake dirties it again, and a reader computes it raw anyway.
    Returns the number rebuilt."""
    with transaction() as conn:
        days = dirty_days(conn, before=today, limit=limit)
    for day in days:
        with transaction() as conn:
            # another replica may have rebuilt it meanwhile
            still = conn.execute(
                sa.select(kpi_day_marks.c.dirty).where(kpi_day_marks.c.day == day)
            ).scalar()
            if still:
                refresh_day(conn, day)
    return len(days)


def _utc_day(conn: sa.Connection, column: Any) -> Any:
    if conn.dialect.name == "sqlite":
        return sa.func.date(column)
    return sa.cast(sa.func.timezone("UTC", column), sa.Date)


def rebuild_rollups(conn: sa.Connection) -> int:
    """Rebuild every day that has leads, decisions or repeat intakes (the migration's
    backfill; also for stores filled without the service's write paths). Returns the number
    of days."""
    found: set[date] = set()
    for table, column, where in (
        (leads, leads.c.received_at, leads.c.status != "history"),
        (decisions, decisions.c.decided_at, decisions.c.rep_id.is_not(None)),
        (duplicate_intakes, duplicate_intakes.c.received_at, sa.true()),
    ):
        day = _utc_day(conn, column)
        for value in conn.execute(sa.select(day).select_from(table).where(where).distinct()):
            found.add(value[0] if isinstance(value[0], date) else date.fromisoformat(value[0]))
    for day in sorted(found):
        refresh_day(conn, day)
    return len(found)


# ---------------------------------------------------------------------------- reads
def _stored_lead_groups(
    conn: sa.Connection, days: list[date]
) -> dict[date, list[tuple[GroupKey, LeadGroup]]]:
    out: dict[date, list[tuple[GroupKey, LeadGroup]]] = defaultdict(list)
    t = kpi_day_leads
    query = sa.select(t).where(t.c.day >= days[0], t.c.day <= days[-1])
    for r in conn.execute(query):
        group = LeadGroup(
            leads=r.leads, routed=r.routed, reassigned=r.reassigned, meetings=r.meetings,
            opportunities=r.opportunities, sla_promised=r.sla_promised, sla_met=r.sla_met,
            sla_touched=r.sla_touched, sla_open=r.sla_open, sla_open_due=r.sla_open,
            open_deadline_max=r.sla_open_deadline_max, waits=list(r.waits),
        )  # fmt: skip
        out[r.day].append(((r.pool, r.lane, r.method), group))
    return out


def _spans(
    since: datetime, until: datetime, stored: set[date]
) -> Iterator[tuple[datetime, datetime, bool]]:
    """The raw spans of ``[since, until]``: everything outside the ``stored`` days (each a
    whole day inside the window), as ``(start, end, end_inclusive)``."""
    cursor = since
    for day in sorted(stored):
        start = _start_of(day)
        if start > cursor:
            yield cursor, start, False
        cursor = start + timedelta(days=1)
    if cursor <= until:
        yield cursor, until, True


def window_totals(
    conn: sa.Connection,
    since: datetime | None,
    until: datetime,
    *,
    parts: frozenset[str] = frozenset({"leads", "duplicates", "assignments"}),
) -> WindowTotals:
    """The totals of ``[since, until]``: the rollups of the clean whole days inside it whose
    open SLA deadlines have all passed by ``until``, plus the raw computation of the rest."""
    if since is None:
        return raw_totals(conn, None, until, end_inclusive=True, until=until, parts=parts)
    first, last = day_of(since), day_of(until)
    if _start_of(first) < since:
        first += timedelta(days=1)
    whole = [first + timedelta(days=i) for i in range((last - first).days)]
    if not whole:
        return raw_totals(conn, since, until, end_inclusive=True, until=until, parts=parts)
    clean = set(
        conn.execute(
            sa.select(kpi_day_marks.c.day).where(
                kpi_day_marks.c.day >= whole[0],
                kpi_day_marks.c.day <= whole[-1],
                kpi_day_marks.c.dirty.is_(False),
            )
        ).scalars()
    )
    out = WindowTotals()
    if "leads" in parts and clean:
        by_day = _stored_lead_groups(conn, whole)
        for day in sorted(clean):
            groups = by_day.get(day, [])
            if any(g.open_deadline_max is not None and g.open_deadline_max >= until
                   for _, g in groups):  # fmt: skip
                clean.discard(day)  # a promise still open at the window's end: read it raw
                continue
            for key, group in groups:
                out.add_group(key, group)
    if clean:
        lo, hi = min(clean), max(clean)
        if "duplicates" in parts:
            t = kpi_day_duplicates
            for r in conn.execute(sa.select(t).where(t.c.day >= lo, t.c.day <= hi)):
                if r.day in clean:
                    out.duplicates[r.pool] += r.n
        if "assignments" in parts:
            a = kpi_day_assignments
            for r in conn.execute(sa.select(a).where(a.c.day >= lo, a.c.day <= hi)):
                if r.day in clean:
                    out.assignments[(r.pool, r.rep_id)] += r.n
    for start, end, inclusive in _spans(since, until, clean):
        out.add(raw_totals(conn, start, end, end_inclusive=inclusive, until=until, parts=parts))
    return out
