"""One JSON error shape for every error the service returns.

``{"error": {"type": ..., "message": ..., "hint": ..., "field": ..., "details": {...}}}``:
library errors become 4xx (503 when the store is down), request validation errors name the
field, and anything unexpected becomes a 500 with no stack trace (the server log has it).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadpilot.errors import (
    ConfigError,
    DataValidationError,
    LeadpilotError,
    ModelError,
    NoEligibleRepError,
    PolicyError,
    StoreError,
)

__all__ = [
    "RETRY_AFTER_SECONDS",
    "ConflictError",
    "NotFoundError",
    "error_body",
    "install_error_handlers",
]

log = logging.getLogger("leadpilot.service")

_STATUS: dict[type[LeadpilotError], int] = {
    DataValidationError: 422,
    PolicyError: 422,
    ConfigError: 400,
    NoEligibleRepError: 409,
    ModelError: 409,
    StoreError: 503,
}


class NotFoundError(LeadpilotError):
    """A resource named in the URL does not exist (HTTP 404)."""


class ConflictError(LeadpilotError):
    """The request contradicts what was already recorded (HTTP 409)."""


def error_body(
    type_: str,
    message: str,
    *,
    hint: str | None = None,
    field: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The error JSON document."""
    return {
        "error": {
            "type": type_,
            "message": message,
            "hint": hint,
            "field": field,
            "details": details or {},
        }
    }


def _status_of(exc: LeadpilotError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


async def _leadpilot_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LeadpilotError)
    field = exc.details.get("field") or exc.details.get("path")
    body = error_body(
        type(exc).__name__,
        exc.message,
        hint=exc.hint,
        field=str(field) if field is not None else None,
        details={k: v for k, v in exc.details.items() if _is_json_scalar(v)},
    )
    status = _status_of(exc)
    return JSONResponse(body, status_code=status, headers=_RETRY if status == 503 else None)


# Every 503 says when to try again (seconds): long enough for a pool to reconnect or a
# PostgreSQL failover to finish, short enough that a CRM's retry loses little time.
RETRY_AFTER_SECONDS = 5
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database error outside ``write_transaction`` (a read, a token lookup): the store
    is unreachable, read-only or out of space, not the client's fault."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    body = error_body(
        "StoreError",
        "the database is unavailable; nothing was changed",
        hint=f"retry after {RETRY_AFTER_SECONDS} s; operators: check the database server",
    )
    return JSONResponse(body, status_code=503, headers=_RETRY)


def _is_json_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    pending = getattr(request.state, "pending_token", None)
    if pending is not None:  # an endpoint that looks its token up itself: auth comes first
        try:
            await run_in_threadpool(pending.verify, request.app.state.ctx)
        except StarletteHTTPException as denied:
            return await _http_error(request, denied)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        problems.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    body = error_body(
        "RequestValidationError",
        f"invalid value for {first['field']}: {first['message']}",
        hint="fix the named field; see the OpenAPI schema at /docs",
        field=first["field"],
        details={"count": len(problems)},
    )
    body["error"]["problems"] = problems
    return JSONResponse(body, status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    hints = {
        401: "send 'Authorization: Bearer <token>' (create one: leadpilot token create)",
        403: "this token's role may not do that; use a writer or admin token",
    }
    body = error_body("HTTPError", str(exc.detail), hint=hints.get(exc.status_code))
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    body = error_body(
        "InternalError",
        "internal error; the server log has the details",
        hint="retry; if it persists, report it with the time of the request",
    )
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""
    app.add_exception_handler(LeadpilotError, _leadpilot_error)
    for outage in (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError):
        app.add_exception_handler(outage, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
