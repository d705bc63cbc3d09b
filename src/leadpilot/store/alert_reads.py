"""The reads behind the alert rules (``service.alerting``): small aggregates over windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.crm_tables import crm_inbox, crm_outbox
from leadpilot.store.tables import decisions, leads

__all__ = [
    "crm_failures",
    "decision_features",
    "first_decision_at",
    "intake_times",
    "latest_model_version",
    "outcomes_by_pool",
    "predicted_and_observed",
    "untouched_past_sla",
]

_OUTCOME_COLUMN = {
    "meeting": leads.c.meeting_at.is_not(None),
    "opportunity": leads.c.opportunity_at.is_not(None),
    "won": leads.c.closed_won.is_(True),
}


def untouched_past_sla(conn: sa.Connection, now: datetime) -> list[Any]:
    """Routed leads whose live decision's SLA deadline passed with no first touch:
    ``lead_id``, ``lane``, ``rep_id``, ``sla_deadline`` (oldest deadline first)."""
    query = (
        sa.select(leads.c.lead_id, leads.c.lane, leads.c.rep_id, decisions.c.sla_deadline)
        .select_from(
            leads.join(decisions, sa.and_(decisions.c.lead_id == leads.c.lead_id, decisions.c.live))
        )
        .where(
            leads.c.status == "routed",
            leads.c.first_touch_at.is_(None),
            decisions.c.sla_deadline.is_not(None),
            decisions.c.sla_deadline < now,
        )
        .order_by(decisions.c.sla_deadline)
    )
    return list(conn.execute(query).all())


def outcomes_by_pool(
    conn: sa.Connection, *, since: datetime, until: datetime, outcome: str
) -> list[tuple[str | None, int, int]]:
    """``(pool, routed, converted)`` over leads received in ``[since, until)`` that a
    decision gave to a rep, by the pool of their live decision; ``outcome`` is ``meeting``,
    ``opportunity`` or ``won``."""
    converted = sa.func.sum(sa.case((_OUTCOME_COLUMN[outcome], 1), else_=0))
    query = (
        sa.select(decisions.c.pool, sa.func.count().label("n"), converted.label("k"))
        .select_from(
            leads.join(decisions, sa.and_(decisions.c.lead_id == leads.c.lead_id, decisions.c.live))
        )
        .where(
            leads.c.received_at >= since,
            leads.c.received_at < until,
            leads.c.status != "history",
            decisions.c.rep_id.is_not(None),
        )
        .group_by(decisions.c.pool)
    )
    return [(row.pool, int(row.n), int(row.k or 0)) for row in conn.execute(query)]


def intake_times(conn: sa.Connection, *, since: datetime, until: datetime) -> list[datetime]:
    """When each first decision (``trigger='intake'``) in ``[since, until]`` was made, in
    order."""
    return list(
        conn.execute(
            sa.select(decisions.c.decided_at)
            .where(
                decisions.c.trigger == "intake",
                decisions.c.decided_at >= since,
                decisions.c.decided_at <= until,
            )
            .order_by(decisions.c.decided_at)
        ).scalars()
    )


def latest_model_version(conn: sa.Connection) -> str | None:
    """The model version of the newest decision (``None``: no model, or no decision)."""
    version: str | None = conn.execute(
        sa.select(decisions.c.model_version).order_by(decisions.c.id.desc()).limit(1)
    ).scalar()
    return version


def first_decision_at(conn: sa.Connection, model_version: str | None) -> datetime | None:
    """When the first decision under ``model_version`` was made."""
    cond = (
        decisions.c.model_version.is_(None)
        if model_version is None
        else decisions.c.model_version == model_version
    )
    first: datetime | None = conn.execute(
        sa.select(sa.func.min(decisions.c.decided_at)).where(cond)
    ).scalar()
    return first


def decision_features(
    conn: sa.Connection,
    *,
    since: datetime,
    until: datetime,
    columns: list[str],
    model_version: str | None,
    with_fields: bool = True,
    pool: str | None = None,
) -> list[dict[str, Any]]:
    """Per first decision (``trigger='intake'``) in ``[since, until)`` under
    ``model_version`` (in ``pool`` when given): the named decision ``columns``, plus the
    lead's ``fields`` (JSON) when ``with_fields``."""
    cols: list[Any] = [decisions.c[name] for name in columns]
    if with_fields:
        cols.append(leads.c.fields)
    cond = (
        decisions.c.model_version.is_(None)
        if model_version is None
        else decisions.c.model_version == model_version
    )
    where = [decisions.c.trigger == "intake", decisions.c.decided_at >= since,
             decisions.c.decided_at < until, cond]  # fmt: skip
    if pool is not None:
        where.append(decisions.c.pool == pool)
    # The lead's row only when its fields are read: the decisions' columns are enough else.
    source = (
        decisions.join(leads, leads.c.lead_id == decisions.c.lead_id) if with_fields else decisions
    )
    query = sa.select(*cols).select_from(source).where(*where)
    result = conn.execute(query)
    keys = list(result.keys())
    # zip over the keys read once: ``row._mapping`` rebuilds them per row (~20 us each, a
    # quarter of a second on the model page's 14 + 7 days at 100,000 decisions a month)
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def predicted_and_observed(
    conn: sa.Connection, *, since: datetime, until: datetime, outcome: str
) -> list[tuple[float, bool]]:
    """``(p_convert, converted)`` of leads received in ``[since, until)`` whose live
    decision gave them to a rep with a model's probability."""
    query = (
        sa.select(decisions.c.p_convert, _OUTCOME_COLUMN[outcome].label("converted"))
        .select_from(
            leads.join(decisions, sa.and_(decisions.c.lead_id == leads.c.lead_id, decisions.c.live))
        )
        .where(
            leads.c.received_at >= since,
            leads.c.received_at < until,
            leads.c.status != "history",
            decisions.c.rep_id.is_not(None),
            decisions.c.p_convert.is_not(None),
        )
    )
    return [(float(row.p_convert), bool(row.converted)) for row in conn.execute(query)]


def crm_failures(
    conn: sa.Connection, *, since: datetime, min_attempts: int
) -> list[tuple[str, str, str, int, str | None]]:
    """CRM sync failures: ``(crm, direction, status, attempts, last_error)`` for owner
    writes given up (``dead``) and webhook events given up (``failed``) since ``since``, and
    for either still retrying after ``min_attempts`` failed attempts."""
    out = conn.execute(
        sa.select(
            crm_outbox.c.crm, crm_outbox.c.status, crm_outbox.c.attempts, crm_outbox.c.last_error
        ).where(
            sa.or_(
                sa.and_(crm_outbox.c.status == "dead", crm_outbox.c.created_at >= since),
                sa.and_(crm_outbox.c.status == "pending", crm_outbox.c.attempts >= min_attempts),
            )
        )
    ).all()
    inbox = conn.execute(
        sa.select(
            crm_inbox.c.crm, crm_inbox.c.status, crm_inbox.c.attempts, crm_inbox.c.last_error
        ).where(
            sa.or_(
                sa.and_(crm_inbox.c.status == "failed", crm_inbox.c.processed_at >= since),
                sa.and_(crm_inbox.c.status == "pending", crm_inbox.c.attempts >= min_attempts),
            )
        )
    ).all()
    return [(r.crm, "owner write", r.status, r.attempts, r.last_error) for r in out] + [
        (r.crm, "webhook event", r.status, r.attempts, r.last_error) for r in inbox
    ]
