"""``/v1/kpis`` and ``/v1/alerts``: how routing is doing, and what needs attention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from leadpilot.policy.development import share_of
from leadpilot.service.deps import AdminToken, Conn, Ctx, ReaderToken
from leadpilot.service.errors import NotFoundError
from leadpilot.service.fit_feedback import FeedbackReport, feedback_report
from leadpilot.service.kpis import FairnessRow, KPIReport, compute_kpis, fairness_rows
from leadpilot.service.schemas import MAX_ID, AlertPublic, Moment
from leadpilot.store.alerts import acknowledge_alert, list_alerts
from leadpilot.store.engine import write_transaction
from leadpilot.store.feedback import feedback_rows

router = APIRouter(prefix="/v1", tags=["kpis"])


@router.get("/kpis", response_model=KPIReport)
def get_kpis(
    ctx: Ctx,
    conn: Conn,
    _token: ReaderToken,
    days: Annotated[int, Query(ge=1, le=3650, description="window length in days")] = 7,
    until: Moment | None = None,
    pool: Annotated[
        str | None, Query(max_length=128, description="only leads first assigned in this pool")
    ] = None,
) -> KPIReport:
    """Speed to first touch, fairness index per rep, reassignment, duplicate, meeting and
    opportunity rates, meeting rate by routing method, SLA attainment, leads routed per hour
    and queue length over the last ``days`` days (rates with Wilson 95% intervals)."""
    return kpi_report(ctx, conn, days=days, until=until, pool=pool)


def _pool_inputs(
    ctx: Ctx, conn: Conn, end: datetime
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Each pool's active reps (the fairness index's members) and each new rep's
    development share, from the active policy and roster at ``end``."""
    snapshot = ctx.service.inputs.load(conn, end)
    members = {
        p.name: [r.rep_id for r in snapshot.reps if r.active and p.includes(r)]
        for p in snapshot.policy.pools
    }
    development = {}
    for rep in snapshot.reps:
        dev = share_of(rep, snapshot.policy, end)
        if dev is not None:
            development[rep.rep_id] = dev.min_share
    return members, development


def kpi_report(
    ctx: Ctx, conn: Conn, *, days: int, until: datetime | None, pool: str | None
) -> KPIReport:
    """The KPI report of ``GET /v1/kpis`` (the dashboard's overview shows the same one)."""
    end = until or ctx.clock()
    members, development = _pool_inputs(ctx, conn, end)
    return compute_kpis(
        conn,
        since=end - timedelta(days=days),
        until=end,
        members=members,
        pool=pool,
        development=development,
    )


def kpi_fairness(
    ctx: Ctx, conn: Conn, *, days: int, until: datetime | None, pool: str | None
) -> list[FairnessRow]:
    """The fairness rows of ``kpi_report`` alone (the reps page needs no other KPI, and
    reading the window's leads for them is most of the report's cost)."""
    end = until or ctx.clock()
    members, development = _pool_inputs(ctx, conn, end)
    return fairness_rows(
        conn,
        since=end - timedelta(days=days),
        until=end,
        members=members,
        pool=pool,
        development=development,
    )


@router.get("/feedback", response_model=FeedbackReport)
def get_feedback(
    ctx: Ctx,
    conn: Conn,
    _token: ReaderToken,
    days: Annotated[int, Query(ge=1, le=3650, description="window length in days")] = 28,
    until: Moment | None = None,
) -> FeedbackReport:
    """Reps' fit ratings: the share of poor fits overall, by routing strategy, per rep and
    per segment (Wilson 95% intervals), and the reasons given."""
    end = until or ctx.clock()
    since = end - timedelta(days=days)
    segments = ctx.service.inputs.load(conn, end).policy.segments
    rows = feedback_rows(conn, since=since, until=end)
    return feedback_report(rows, segments, since=since, until=end)


@router.get("/alerts", response_model=list[AlertPublic])
def get_alerts(
    conn: Conn,
    _token: ReaderToken,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[
        Literal["open", "resolved", "all"], Query(description="open, resolved or all")
    ] = "all",
) -> list[AlertPublic]:
    """Operator alerts, newest first: open ones (a condition that holds now, or an event
    nobody has acknowledged) and resolved ones."""
    rows = list_alerts(conn, limit, status=None if status == "all" else status)
    return [AlertPublic(**dict(r._mapping)) for r in rows]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID)], ctx: Ctx, token: AdminToken
) -> AlertPublic:
    """Record that an admin has seen the alert. An event alert is resolved by it; a rule
    alert stays open until its condition clears (and is not raised again meanwhile)."""
    with write_transaction(ctx.engine) as conn:
        row = acknowledge_alert(conn, alert_id, by=token.name, now=ctx.clock())
    if row is None:
        raise NotFoundError(
            f"no alert #{alert_id}",
            hint="GET /v1/alerts lists the alerts and their ids",
            details={"field": "alert_id"},
        )
    return AlertPublic(**dict(row._mapping))
