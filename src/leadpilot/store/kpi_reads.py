"""The reads behind the routing KPIs (``service.kpis``), over a window of time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, duplicate_intakes, leads

__all__ = [
    "assignment_counts",
    "duplicate_count",
    "lead_facts",
    "queue_length",
    "wait_medians",
    "window_totals",
]


def _minutes_between(conn: sa.Connection, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in minutes, computed by the database. SQLite: from Julian days,
    rounded to the millisecond (a Julian day's float is only good to ~50 microseconds)."""
    if conn.dialect.name == "sqlite":
        seconds = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
        return sa.func.round(seconds, 3) / 60.0
    return sa.extract("epoch", later - earlier) / 60.0


def _flag(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def _first_assignment_id(since: datetime | None) -> Any:
    """The id of a lead's first decision that gave it a rep, as a correlated subquery (one
    index probe per lead on ``ix_decisions_lead_assigned``). ``since``: only decisions from
    then on (a lead is decided at or after it is received, so nothing is lost for leads
    received since then)."""
    earlier = decisions.alias("earlier")
    query = sa.select(sa.func.min(earlier.c.id)).where(
        earlier.c.lead_id == leads.c.lead_id, earlier.c.rep_id.is_not(None)
    )
    if since is not None:
        query = query.where(earlier.c.decided_at >= since)
    return query.scalar_subquery()


def lead_facts(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> Any:
    """Leads received in ``[since, until]`` (history excluded), one row each, as a subquery
    computed by the database so that no row needs decoding here: ``lane``, ``hot``,
    ``reassigned``, ``meeting`` and ``opportunity`` (0/1), and about their first decision
    that gave them a rep: ``routed`` (0/1), ``wait_minutes`` (from it to the first touch;
    ``None`` if untouched), ``method`` (``holdout`` if its reasons hold ``HOLDOUT``,
    ``fallback`` if one ends in ``_FALLBACK``, else its strategy; see
    ``service.kpis.routing_method``), ``sla_met`` (touched by the deadline) and
    ``sla_decided`` (touched, or the deadline is before ``until``). ``pool``: only leads
    whose first assignment was in that pool."""
    first = decisions.alias("first_decision")
    window = [leads.c.received_at <= until, leads.c.status != "history"]
    if since is not None:
        window.append(leads.c.received_at >= since)
    if pool is not None:
        window.append(first.c.pool == pool)
    reasons = sa.cast(first.c.reasons, sa.Text)
    touched = leads.c.first_touch_at.is_not(None)
    deadline = first.c.sla_deadline
    return (
        sa.select(
            leads.c.lane,
            _flag(leads.c.lane == "hot").label("hot"),
            _flag(leads.c.reassignments > 0).label("reassigned"),
            _flag(leads.c.meeting_at.is_not(None)).label("meeting"),
            _flag(leads.c.opportunity_at.is_not(None)).label("opportunity"),
            _flag(first.c.id.is_not(None)).label("routed"),
            _minutes_between(conn, leads.c.first_touch_at, first.c.decided_at).label(
                "wait_minutes"
            ),
            sa.case(
                (reasons.like('%"HOLDOUT"%'), "holdout"),
                (reasons.like('%\\_FALLBACK"%', escape="\\"), "fallback"),
                else_=first.c.strategy,
            ).label("method"),
            _flag(sa.and_(touched, leads.c.first_touch_at <= deadline)).label("sla_met"),
            _flag(sa.and_(deadline.is_not(None), sa.or_(touched, deadline < until))).label(
                "sla_decided"
            ),
        )
        .select_from(leads.outerjoin(first, first.c.id == _first_assignment_id(since)))
        .where(*window)
        .subquery("facts")
    )


def window_totals(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> list[Any]:
    """The leads of ``lead_facts`` counted by ``(routed, lane, method)``: ``leads``, and
    the sums of ``reassigned``, ``meeting``, ``opportunity``, ``sla_met``,
    ``sla_decided`` and ``touched`` (leads with a wait). A few rows, whatever the window."""
    facts = lead_facts(conn, since=since, until=until, pool=pool)
    keys = (facts.c.routed, facts.c.lane, facts.c.method)
    sums = [
        sa.func.sum(facts.c[name]).label(name)
        for name in ("reassigned", "meeting", "opportunity", "sla_met", "sla_decided")
    ]
    return list(
        conn.execute(
            sa.select(
                *keys,
                sa.func.count().label("leads"),
                *sums,
                sa.func.count(facts.c.wait_minutes).label("touched"),
            ).group_by(*keys)
        ).all()
    )


def wait_medians(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> tuple[float | None, float | None]:
    """The median ``wait_minutes`` of the routed, touched leads of ``lead_facts``: all of
    them and the hot lane's (``None`` where there is none). Ranked by the database (window
    functions on both back ends); only the middle rows come back."""
    facts = lead_facts(conn, since=since, until=until, pool=pool)
    wait = facts.c.wait_minutes
    ranked = (
        sa.select(
            wait,
            facts.c.hot,
            sa.func.row_number().over(order_by=wait).label("rank"),
            sa.func.count().over().label("n"),
            sa.func.row_number().over(partition_by=facts.c.hot, order_by=wait).label("lane_rank"),
            sa.func.count().over(partition_by=facts.c.hot).label("lane_n"),
        )
        .where(facts.c.routed == 1, wait.is_not(None))
        .subquery("ranked")
    )

    def middle(rank: Any, n: Any) -> Any:
        # Ranks (n + 1) // 2 and (n + 2) // 2: the one middle row, or the two.
        return sa.or_(rank == (n + 1) // 2, rank == (n + 2) // 2)

    rows = conn.execute(
        sa.select(ranked).where(
            sa.or_(
                middle(ranked.c.rank, ranked.c.n),
                sa.and_(ranked.c.hot == 1, middle(ranked.c.lane_rank, ranked.c.lane_n)),
            )
        )
    ).all()
    every = [float(r.wait_minutes) for r in rows if r.rank in _middle_ranks(r.n)]
    hot = [float(r.wait_minutes) for r in rows if r.hot and r.lane_rank in _middle_ranks(r.lane_n)]
    return (sum(every) / len(every) if every else None, sum(hot) / len(hot) if hot else None)


def _middle_ranks(n: int) -> set[int]:
    return {(n + 1) // 2, (n + 2) // 2}


def queue_length(conn: sa.Connection) -> int:
    """Leads waiting in the queue now."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(leads).where(leads.c.status == "queued")
        ).scalar_one()
    )


def duplicate_count(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> int:
    """Repeat intakes received in ``[since, until]`` (of leads first assigned in ``pool``,
    when given)."""
    query = sa.select(sa.func.count()).where(duplicate_intakes.c.received_at <= until)
    if since is not None:
        query = query.where(duplicate_intakes.c.received_at >= since)
    if pool is not None:
        first = decisions.alias("first_decision")
        query = query.select_from(
            duplicate_intakes.join(leads, leads.c.lead_id == duplicate_intakes.c.lead_id).join(
                first, first.c.id == _first_assignment_id(since)
            )
        ).where(first.c.pool == pool)
    return int(conn.execute(query).scalar_one())


def assignment_counts(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> list[tuple[str | None, str, int]]:
    """``(pool, rep_id, n)``: decisions in ``[since, until]`` that gave a rep a lead (in
    ``pool`` only, when given)."""
    query = (
        sa.select(decisions.c.pool, decisions.c.rep_id, sa.func.count().label("n"))
        .where(decisions.c.rep_id.is_not(None), decisions.c.decided_at <= until)
        .group_by(decisions.c.pool, decisions.c.rep_id)
    )
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    if pool is not None:
        query = query.where(decisions.c.pool == pool)
    return [(row.pool, row.rep_id, int(row.n)) for row in conn.execute(query)]
