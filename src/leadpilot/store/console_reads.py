"""The reads behind the operator's console (``service.console``): token by id, the
searchable decision log, one decision with its lead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.decisions import StoredDecision, stored_decision
from leadpilot.store.tables import alerts, api_tokens, decisions, events, leads, reps
from leadpilot.store.tokens import TokenInfo

__all__ = [
    "LoggedDecision",
    "PooledAlert",
    "alerts_in_window",
    "decision_by_id",
    "lead_events",
    "model_decisions",
    "search_decisions",
    "token_by_id",
]

LoggedDecision = tuple[StoredDecision, str | None, str | None]  # decision, email, company
PooledAlert = tuple[Any, str | None]  # alert row, the pool it concerns (None: no one pool)


def token_by_id(conn: sa.Connection, token_id: int) -> TokenInfo | None:
    """The live (unrevoked) token with this id, or ``None``: a session stays valid only
    while the token it was opened with does."""
    row = conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.role).where(
            api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return TokenInfo(id=row.id, name=row.name, role=row.role) if row else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_decisions(
    conn: sa.Connection,
    *,
    text: str | None = None,
    rep_id: str | None = None,
    reason: str | None = None,
    pool: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[LoggedDecision]:
    """Decisions newest first with their lead's email and company. ``text`` matches the
    lead id, email or company (case-insensitive substring); ``reason`` a reason code (or
    its prefix, e.g. ``LANE``); page with ``before_id``."""
    query = (
        sa.select(decisions, leads.c.email, leads.c.company)
        .select_from(decisions.join(leads, leads.c.lead_id == decisions.c.lead_id))
        .order_by(decisions.c.id.desc())
        .limit(limit)
    )
    if text:
        pattern = f"%{_escape_like(text.lower())}%"
        query = query.where(
            sa.or_(
                sa.func.lower(decisions.c.lead_id).like(pattern, escape="\\"),
                sa.func.lower(leads.c.email).like(pattern, escape="\\"),
                sa.func.lower(leads.c.company).like(pattern, escape="\\"),
            )
        )
    if rep_id:
        query = query.where(decisions.c.rep_id == rep_id)
    if reason:
        # Reason codes are stored as a JSON list of strings: match '"CODE' inside its text.
        pattern = f'%"{_escape_like(reason.upper())}%'
        query = query.where(sa.cast(decisions.c.reasons, sa.Text).like(pattern, escape="\\"))
    if pool:
        query = query.where(decisions.c.pool == pool)
    in_window = []
    if since is not None:
        in_window.append(decisions.c.decided_at >= since)
    if until is not None:
        in_window.append(decisions.c.decided_at < until)
    if in_window:
        # The ids of the window's decisions lie between its smallest and largest (read from
        # the time index alone): with that range the database walks the primary key newest
        # first and stops at ``limit``, instead of sorting the whole window (a week of
        # 100,000 decisions a month: 200 ms of SQLite CPU before, ~7 ms now).
        lo, hi = conn.execute(
            sa.select(sa.func.min(decisions.c.id), sa.func.max(decisions.c.id)).where(*in_window)
        ).one()
        if lo is None:
            return []
        query = query.where(decisions.c.id.between(lo, hi), *in_window)
    if before_id is not None:
        query = query.where(decisions.c.id < before_id)
    return [(stored_decision(r), r.email, r.company) for r in conn.execute(query)]


def decision_by_id(conn: sa.Connection, decision_id: int) -> tuple[StoredDecision, Any] | None:
    """A logged decision and its lead's row, or ``None``."""
    row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).first()
    if row is None:
        return None
    lead = conn.execute(sa.select(leads).where(leads.c.lead_id == row.lead_id)).first()
    return stored_decision(row), lead


def lead_events(conn: sa.Connection, lead_id: str) -> list[Any]:
    """The events received about a lead (touches, declines, meetings...), oldest first."""
    return list(
        conn.execute(
            sa.select(events.c.type, events.c.rep_id, events.c.occurred_at)
            .where(events.c.lead_id == lead_id)
            .order_by(events.c.occurred_at, events.c.event_id)
        ).all()
    )


def model_decisions(
    conn: sa.Connection, *, since: datetime, until: datetime, pool: str | None = None
) -> list[tuple[int | None, bool, int]]:
    """``(band, fell_back, n)`` over the decisions in ``[since, until]`` by a predictive pool:
    ``band`` the confidence's tenth (0-9, 1.0 in 9; ``None`` without a confidence),
    ``fell_back`` whether the model declined (a ``*_FALLBACK`` reason). Counted by the
    database: a month of decisions is 100,000 rows."""
    reasons = sa.cast(decisions.c.reasons, sa.Text)
    fell_back = sa.case((reasons.like('%\\_FALLBACK"%', escape="\\"), 1), else_=0)
    confidence = decisions.c.confidence
    tenth: Any
    if conn.dialect.name == "sqlite":  # CAST truncates there (confidence is >= 0)
        tenth = sa.func.min(sa.cast(confidence * 10, sa.Integer), 9)
    else:  # CAST rounds in PostgreSQL
        tenth = sa.func.least(sa.cast(sa.func.floor(confidence * 10), sa.Integer), 9)
    band = sa.case((confidence.is_(None), None), else_=tenth)
    query = (
        sa.select(band.label("band"), fell_back.label("fell_back"), sa.func.count().label("n"))
        .where(
            decisions.c.decided_at >= since,
            decisions.c.decided_at <= until,
            sa.or_(
                decisions.c.strategy == "predictive",
                reasons.like('%\\_FALLBACK"%', escape="\\"),
            ),
        )
        .group_by(band, fell_back)
    )
    if pool:
        query = query.where(decisions.c.pool == pool)
    return [(r.band, bool(r.fell_back), int(r.n)) for r in conn.execute(query)]


def _pool_of(details: Any) -> tuple[str | None, str | None]:
    """(pool named by a rule alert's details, rep named by them)."""
    if not isinstance(details, dict):
        return None, None
    pool = details.get("pool")
    scope = details.get("scope")  # conversion_drop: a pool, or "all"
    if pool is None and isinstance(scope, str) and scope != "all":
        pool = scope
    rep = details.get("rep_id")
    return (pool if isinstance(pool, str) else None), (rep if isinstance(rep, str) else None)


def alerts_in_window(
    conn: sa.Connection,
    *,
    since: datetime,
    until: datetime | None,
    pool: str | None = None,
    limit: int = 200,
) -> list[PooledAlert]:
    """Alerts open at some time in ``[since, until]`` (raised by ``until`` and not resolved
    before ``since``), newest first, each with the pool it concerns: the pool its details
    name (fairness, unusual assignment, a pool's conversion drop), else its rep's pool, else
    its lead's latest decision's pool; ``None`` for alerts about no one pool (deliveries,
    the model, a lane's SLA). ``pool``: that pool's alerts and the ones about no one pool.
    ``until`` ``None``: up to now (whatever has been raised)."""
    query = (
        sa.select(alerts)
        .where(sa.or_(alerts.c.resolved_at.is_(None), alerts.c.resolved_at >= since))
        .order_by(alerts.c.id.desc())
    )
    if until is not None:
        query = query.where(alerts.c.created_at <= until)
    rows = list(conn.execute(query).all())
    named = [_pool_of(r.details) for r in rows]
    rep_ids = {rep for p, rep in named if p is None and rep}
    rep_pool = dict(
        conn.execute(sa.select(reps.c.rep_id, reps.c.pool).where(reps.c.rep_id.in_(rep_ids))).all()
    )
    lead_ids = {r.lead_id for r, (p, rep) in zip(rows, named, strict=True)
                if p is None and not rep and r.lead_id}  # fmt: skip
    latest = (
        sa.select(decisions.c.lead_id, sa.func.max(decisions.c.id).label("id"))
        .where(decisions.c.lead_id.in_(lead_ids))
        .group_by(decisions.c.lead_id)
        .subquery()
    )
    lead_pool = dict(
        conn.execute(
            sa.select(decisions.c.lead_id, decisions.c.pool).join(
                latest, latest.c.id == decisions.c.id
            )
        ).all()
    )
    out: list[PooledAlert] = []
    for row, (named_pool, rep) in zip(rows, named, strict=True):
        concerns = named_pool
        if concerns is None and rep:
            concerns = rep_pool.get(rep)
        elif concerns is None and row.lead_id:
            concerns = lead_pool.get(row.lead_id)
        if pool is None or concerns in (pool, None):
            out.append((row, concerns))
        if len(out) == limit:
            break
    return out
