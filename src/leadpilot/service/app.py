"""``create_app(settings)``: the FastAPI application of ``leadpilot serve``.

Nothing is built at import time: settings, engine, scorer and the background worker come to
life in ``create_app`` and the app's lifespan, so tests can make as many apps as they like.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from leadpilot import __version__
from leadpilot.crm.config import CrmSettings, load_crm_settings
from leadpilot.schema import Scorer, ValueModel
from leadpilot.service import console
from leadpilot.service.content_type import JsonContentType
from leadpilot.service.context import ServiceContext
from leadpilot.service.core import RoutingService
from leadpilot.service.crm_worker import CrmWorker, build_connectors, start_writeback_cursor
from leadpilot.service.deps import storable_url
from leadpilot.service.errors import install_error_handlers
from leadpilot.service.inputs import load_scorer, load_value_model
from leadpilot.service.intake_fast import LeadIntakeFastPath
from leadpilot.service.intake_writer import IntakeWriter
from leadpilot.service.limits import BodySizeLimit
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.service.model_swap import models_of_row
from leadpilot.service.request_metrics import RequestMetrics
from leadpilot.service.routes import (
    decisions,
    events,
    health,
    kpis,
    leads,
    links,
    models,
    policy,
    preview,
    reps,
    webhooks,
)
from leadpilot.service.schemas import ERROR_RESPONSES
from leadpilot.service.worker import Worker
from leadpilot.settings import Settings
from leadpilot.store.engine import is_postgres, make_engine, write_transaction
from leadpilot.store.migrate import check_current
from leadpilot.store.models import active_model_row, register_model
from leadpilot.store.types import utcnow

__all__ = ["create_app"]

_DESCRIPTION = """Real-time lead routing with reason codes, SLA timers and auto-reassignment.

Authenticate with `Authorization: Bearer <token>` (create one: `leadpilot token create
--role writer`). Every error has the shape `{"error": {"type", "message", "hint", "field",
"details"}}`."""


def create_app(
    settings: Settings,
    *,
    engine: sa.Engine | None = None,
    scorer: Scorer | None = None,
    clock: Callable[[], datetime] = utcnow,
    seed: int | None = None,
    crm: CrmSettings | None = None,
    crm_connectors: dict[str, Any] | None = None,
    value_model: ValueModel | None = None,
) -> FastAPI:
    """Build the service app. ``engine``/``scorer``/``clock`` may be injected (tests;
    ``value_model`` with ``scorer``: the deal-value model of value objectives, otherwise
    the one saved beside the served model, see ``model.value_artifacts``);
    otherwise they come from ``settings``. The database must be migrated
    (``leadpilot db upgrade``); the worker starts with the app unless disabled. ``crm``:
    the CRM credentials (default: from the environment); ``crm_connectors`` replaces the
    clients built from them (tests)."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url, pool_size=settings.pool_size)
    check_current(engine)
    if scorer is None and settings.model_dir is None:
        with engine.connect() as conn:
            row = active_model_row(conn)
        if row is not None:  # the registry's champion (its checksums checked)
            scorer, value_model = models_of_row(row, force=settings.force_model)
    elif scorer is None and settings.model_dir is not None:
        scorer = load_scorer(settings.model_dir, force=settings.force_model)
        if scorer is not None:  # a model that lost to a baseline is not served
            value_model = load_value_model(settings.model_dir)
            from leadpilot.model.checksums import artifact_checksums

            with write_transaction(engine) as conn:
                register_model(
                    conn,
                    version=scorer.version,
                    path=str(settings.model_dir.resolve()),
                    checksums=artifact_checksums(settings.model_dir),
                )
    metrics = ServiceMetrics()
    service = RoutingService(
        engine,
        settings=settings,
        metrics=metrics,
        scorer=scorer,
        clock=clock,
        seed=seed,
        value_model=value_model,
    )
    ctx = ServiceContext(
        settings=settings,
        engine=engine,
        metrics=metrics,
        service=service,
        clock=clock,
        intake_writer=None if is_postgres(engine) else IntakeWriter(service),
    )

    crm = crm or load_crm_settings()
    connectors = build_connectors(crm) if crm_connectors is None else crm_connectors
    start_writeback_cursor(engine, clock())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = Worker(service, settings.worker_poll_seconds) if settings.worker_enabled else None
        crm_worker = (
            CrmWorker(service, crm, connectors, settings.worker_poll_seconds)
            if settings.worker_enabled
            else None
        )
        service.inputs.warm_up(engine, clock())
        service.rehearse_intake()
        # Everything built so far (app, caches, scorer, pricer) lives as long as the app:
        # freeze it out of the cyclic GC, whose full collections otherwise scan it all and
        # paused requests for ~150 ms (measured with gc.callbacks).
        gc.collect()
        gc.freeze()
        if worker is not None:
            worker.start()
        if crm_worker is not None:
            crm_worker.start()
        try:
            yield
        finally:
            if crm_worker is not None:
                crm_worker.stop()
            if worker is not None:
                worker.stop()
            if ctx.intake_writer is not None:
                ctx.intake_writer.stop()
            service.inputs.close()
            gc.unfreeze()
            if own_engine:
                engine.dispose()

    # FastAPIOffline is FastAPI with /docs and /redoc served from packaged assets (Swagger UI
    # 5, which reads OpenAPI 3.1) instead of a CDN, so the docs work on an offline network.
    app = FastAPIOffline(
        title="leadpilot",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(storable_url)],
    )
    app.state.ctx = ctx
    app.state.crm = crm
    app.state.crm_connectors = connectors
    install_error_handlers(app)
    for module in (health, leads, events, decisions, reps, policy, kpis, models, preview, webhooks):
        responses = None if module is health else ERROR_RESPONSES
        app.include_router(module.router, responses=responses)
    app.include_router(links.router)
    console.install(app, settings)

    # Innermost: a canonical POST /v1/leads is counted, size- and type-checked as any other.
    app.add_middleware(LeadIntakeFastPath, service=app)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(JsonContentType)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The app with settings from the environment (``leadpilot serve`` and uvicorn)."""
    from leadpilot.settings import load_settings

    return create_app(load_settings())
