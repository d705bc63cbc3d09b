"""``/v1/kpis`` and ``/v1/alerts``: how routing is doing, and what needs attention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from leadpilot.service.deps import Conn, Ctx, ReaderToken
from leadpilot.service.kpis import KPIReport, compute_kpis
from leadpilot.service.schemas import AlertPublic, Moment
from leadpilot.store.alerts import list_alerts

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


def kpi_report(
    ctx: Ctx, conn: Conn, *, days: int, until: datetime | None, pool: str | None
) -> KPIReport:
    """The KPI report of ``GET /v1/kpis`` (the dashboard's overview shows the same one)."""
    end = until or ctx.clock()
    snapshot = ctx.service.inputs.load(conn, end)
    members = {
        p.name: [r.rep_id for r in snapshot.reps if r.active and p.includes(r)]
        for p in snapshot.policy.pools
    }
    return compute_kpis(
        conn, since=end - timedelta(days=days), until=end, members=members, pool=pool
    )


@router.get("/alerts", response_model=list[AlertPublic])
def get_alerts(
    conn: Conn, _token: ReaderToken, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AlertPublic]:
    """Operator alerts, newest first."""
    return [AlertPublic(**dict(r._mapping)) for r in list_alerts(conn, limit)]
