"""Counting requests by route and status, and the ``x-process-time-ms`` header, as a plain
ASGI middleware.

Why not ``@app.middleware("http")`` (Starlette's ``BaseHTTPMiddleware``): it runs the app in
a task of its own and passes the response through memory streams, which cost ~5% of the
server's CPU per ``POST /v1/leads`` (``benchmarks/service_latency.py``, py-spy).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadpilot.service.metrics import ServiceMetrics

__all__ = ["RequestMetrics"]


class RequestMetrics:
    """Count every HTTP request (method, matched route path or ``unmatched``, status) and
    stamp its response with the time it spent in the app, in milliseconds."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router stores the matched route in this same scope dict.
                path = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(scope["method"], path, str(message["status"])).inc()
                took = f"{(time.perf_counter() - started) * 1000:.2f}".encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-process-time-ms", took)],
                }
            await send(message)

        await self.app(scope, receive, counted)
