"""``POST /v1/leads`` straight to its endpoint, past FastAPI's routing and dependency solving,
for the request shape a CRM or form sends: the canonical format, a JSON object that
validates, a bearer token. A plain ASGI middleware, the innermost of the app's own (inside
``BodySizeLimit``, ``JsonContentType`` and ``RequestMetrics``, which still see and count
every request).

Why: the route's path through FastAPI (exception middleware, exit stack, route matching over
every router, the dependencies: app-wide URL check, context, ``HTTPBearer``, pending token,
body, query, header) was ~0.7 ms of the ~2 ms the event loop spent per lead, a sixth of the
server's CPU per ``POST /v1/leads`` (py-spy under ``benchmarks/service_latency.py``).

The same checks, the same way: the token is read as FastAPI's ``HTTPBearer`` reads it, the body
validated by the route's own body field (``LeadCreate | dict``) and answered by the route's
own code (``routes.leads.intake_response``); an exception is answered by the app's own
handler for it, or raised to ``ServerErrorMiddleware`` (500) as the route's would be.
Everything else goes to FastAPI as before, with the body replayed, and nothing was read or
written for it yet: a query string (``?format=``), no or another authorization, a body that
is not a JSON object or does not validate (FastAPI's 422, after its token check), a
repeated or over-long ``Idempotency-Key``, another JSON media type, or FastAPI's own
telemetry switched on for the request.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadpilot.service.deps import PendingToken
from leadpilot.service.routes import leads
from leadpilot.service.schemas import LeadCreate

__all__ = ["LeadIntakeFastPath"]

_PATH = "/v1/leads"
# The route's ``Idempotency-Key`` header parameter: Header(max_length=256).
_MAX_KEY = 256


def _intake_route() -> APIRoute:
    for route in leads.router.routes:
        if isinstance(route, APIRoute) and route.path == _PATH and "POST" in (route.methods or ()):
            return route
    raise RuntimeError("POST /v1/leads is not in routes.leads")  # pragma: no cover


class LeadIntakeFastPath:
    """Serve a canonical ``POST /v1/leads`` with the route's own code, without FastAPI's
    routing and dependency solving; anything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, *, service: FastAPI) -> None:
        self.app = app
        self.service = service
        self.route = _intake_route()
        body_field = self.route.body_field
        assert body_field is not None
        self.body_field = body_field

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != _PATH
            or scope.get("query_string")
            or scope.get("fastapi.telemetry") is not None
        ):
            await self._forward(scope, receive, send, [])
            return
        taken, key, credentials = _single_headers(scope)
        messages: list[Message] = []
        body = None
        if taken:
            body_bytes = await _read_body(receive, messages)
            if body_bytes is not None:
                body = self._validated(body_bytes)
        if body is None or credentials is None:
            await self._forward(scope, receive, send, messages)
            return
        token = PendingToken(credentials, "writer")
        scope["route"] = self.route  # as the router would: RequestMetrics labels by it
        scope["endpoint"] = self.route.endpoint
        scope.setdefault("path_params", {})
        ctx = self.service.state.ctx
        try:
            response = await leads.intake_response(ctx, body, token, "canonical", key)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # ServerErrorMiddleware: a 500 with no stack trace, as for the route
            request = Request(scope, receive)
            # As the route's token dependency: the 422 handler checks the token first.
            request.state.pending_token = token
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _validated(self, body_bytes: bytes) -> LeadCreate | None:
        """The body as the route's body field validates it, when it is a lead; otherwise
        ``None`` (FastAPI answers)."""
        try:  # anything amiss (even a RecursionError): FastAPI answers it as it always did
            data = json.loads(body_bytes)
            if not isinstance(data, dict):
                return None
            value, errors = self.body_field.validate(data, {}, loc=("body",))
        except Exception:
            return None
        # A body that is not a lead validates as the union's ``dict`` (the route then
        # refuses it with its field errors): FastAPI answers it.
        return value if not errors and isinstance(value, LeadCreate) else None

    def _handler_for(self, exc: Exception) -> Any:
        """The app's handler of ``exc``, looked up as Starlette's ``ExceptionMiddleware``
        does (an ``HTTPException``'s status first, then the classes of ``exc`` in MRO order;
        ``Exception`` and 500 are ``ServerErrorMiddleware``'s)."""
        handlers = self.service.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, messages: list[Message]
    ) -> None:
        """On to FastAPI, the body read so far replayed first."""

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _single_headers(scope: Scope) -> tuple[bool, str | None, str | None]:
    """Whether this path takes the request, its ``Idempotency-Key`` (``None`` without one)
    and its bearer token, read as the route's ``HTTPBearer`` reads it. Not taken: the key
    repeated or too long, no, several or another authorization, or a body declared as
    another JSON type than ``application/json``."""
    key: str | None = None
    authorization = ""
    keys = authorizations = 0
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            keys += 1
            key = value.decode("latin-1")
        elif name == b"authorization":
            authorizations += 1
            authorization = value.decode("latin-1")
        elif name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media != b"application/json":
                return False, None, None
    if keys > 1 or authorizations != 1 or (key is not None and len(key) > _MAX_KEY):
        return False, None, None
    # HTTPBearer's own reading (fastapi.security.http), which then answers 401 without it
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return False, None, None
    return True, key, credentials


async def _read_body(receive: Receive, messages: list[Message]) -> bytes | None:
    """The whole body (kept in ``messages`` for a replay), or ``None`` when it is empty or
    the client went away."""
    chunks = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body or None
