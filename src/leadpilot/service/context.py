"""What every request handler shares: settings, engine, metrics, the routing service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from leadpilot.service.core import RoutingService
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.settings import Settings

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
