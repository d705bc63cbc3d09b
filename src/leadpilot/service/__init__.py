"""The routing service: ``create_app(settings)`` builds the FastAPI app of ``leadpilot serve``.

Modules: ``app`` (factory), ``deps`` (auth and connections), ``routes/`` (one router per
resource), ``schemas`` (bodies per direction), ``errors`` (the one JSON error shape),
``core`` (intake and reassignment, no HTTP), ``events``, ``worker`` (SLA timers, queue,
webhooks), ``kpis``, ``metrics``, ``notify``, ``limits``.
"""

from __future__ import annotations

from leadpilot.service.app import create_app

__all__ = ["create_app"]
