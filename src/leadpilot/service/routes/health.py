"""``/healthz`` (open, for load balancers) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadpilot.service.deps import Ctx, ReaderToken
from leadpilot.store.migrate import check_current

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(ctx: Ctx) -> dict[str, str]:
    """Liveness and readiness: the database answers and is migrated."""
    check_current(ctx.engine)
    return {"status": "ok", "database": ctx.engine.dialect.name}


@router.get("/metrics", response_class=Response)
def metrics(ctx: Ctx, _token: ReaderToken) -> Response:
    """Prometheus metrics of this process (decisions, intake latency, SLA breaches)."""
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
