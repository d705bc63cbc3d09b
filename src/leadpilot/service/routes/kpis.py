"""``/v1/kpis`` and ``/v1/alerts``: how routing is doing, and what needs attention."""

from __future__ import annotations

from datetime import timedelta
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
) -> KPIReport:
    """Speed to first touch, fairness index per rep, reassignment, duplicate and meeting
    rates over the last ``days`` days (rates with Wilson 95% intervals)."""
    end = until or ctx.clock()
    snapshot = ctx.service.inputs.load(conn, end)
    members = {
        pool.name: [r.rep_id for r in snapshot.reps if r.active and pool.includes(r)]
        for pool in snapshot.policy.pools
    }
    return compute_kpis(conn, since=end - timedelta(days=days), until=end, members=members)


@router.get("/alerts", response_model=list[AlertPublic])
def get_alerts(
    conn: Conn, _token: ReaderToken, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AlertPublic]:
    """Operator alerts, newest first."""
    return [AlertPublic(**dict(r._mapping)) for r in list_alerts(conn, limit)]
