"""What every request handler shares: settings, engine, metrics, the routing service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from leadpilot.service.core import RoutingService
from leadpilot.service.intake_writer import IntakeWriter
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.settings import Settings
from leadpilot.store.tokens import TokenInfo

__all__ = ["ServiceContext"]


@dataclass
class ServiceContext:
    """Built once by ``create_app`` and kept in ``app.state.ctx``."""

    settings: Settings
    engine: sa.Engine
    metrics: ServiceMetrics
    service: RoutingService
    clock: Callable[[], datetime]
    # When this process last recorded each token's use (monotonic seconds; service.deps).
    token_uses: dict[int, float] = field(default_factory=dict)
    # Tokens this process found live, by their stored hash (never the token itself), for
    # ``POST /v1/leads``, whose intake checks again under its lock that the token is live
    # (service.deps.PendingToken.verify_for_intake).
    live_tokens: dict[str, TokenInfo] = field(default_factory=dict)
    # SQLite: the thread that runs every intake, several per commit (None on PostgreSQL).
    intake_writer: IntakeWriter | None = None
