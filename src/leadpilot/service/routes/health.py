"""``/healthz`` and ``/readyz`` (open, for load balancers and probes) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadpilot.service.deps import Ctx, ReaderToken
from leadpilot.service.schemas import ERROR_RESPONSES
from leadpilot.store.counters import probe_write
from leadpilot.store.engine import write_transaction
from leadpilot.store.migrate import check_current

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: ERROR_RESPONSES[503]})
def healthz(ctx: Ctx) -> dict[str, str]:
    """Liveness: the database answers and is migrated (``/readyz`` also checks a write)."""
    check_current(ctx.engine)
    return {"status": "ok", "database": ctx.engine.dialect.name}


@router.get("/readyz", responses={503: ERROR_RESPONSES[503]})
def readyz(ctx: Ctx) -> dict[str, str]:
    """Readiness (for a Kubernetes ``readinessProbe``): the database is migrated and a write
    commits, so a read-only or full disk or a lost primary takes the replica out of rotation
    (503 with Retry-After) while ``/healthz`` keeps it alive."""
    check_current(ctx.engine)
    with write_transaction(ctx.engine) as conn:
        probe_write(conn)
    return {"status": "ready", "database": ctx.engine.dialect.name}


@router.get(
    "/metrics",
    response_class=Response,
    responses={code: ERROR_RESPONSES[code] for code in (401, 403, 503)},
)
def metrics(ctx: Ctx, _token: ReaderToken) -> Response:
    """Prometheus metrics of this process (decisions, intake latency, SLA breaches)."""
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
