"""Request body size limit as a small ASGI middleware.

Hand-written because Starlette has no body limit of its own; it checks Content-Length up
front and reads chunked bodies up to the limit before the app sees them, answering 413 in the
one error shape.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadpilot.service.errors import error_body

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """Reject request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        # Read the whole body first (it is at most max_bytes) and replay it to the app. Why
        # not count while the app reads: FastAPI turns any error raised while it reads the
        # body into a 400 "error parsing body", so an oversized chunked body was a 400.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body: dict[str, Any] = error_body(
            "PayloadTooLarge",
            f"request body is larger than {self.max_bytes} bytes",
            hint="send one lead or event per request, or raise LEADPILOT_MAX_REQUEST_BYTES",
        )
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
