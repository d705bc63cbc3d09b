"""FastAPI dependencies: the service context, the database connection and token roles."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leadpilot.errors import DataValidationError
from leadpilot.service.context import ServiceContext
from leadpilot.store.tokens import TokenInfo, hash_token, lookup_token

__all__ = ["AdminToken", "Conn", "Ctx", "ReaderToken", "WriterToken", "storable_url"]

_ROLE_RANK = {"reader": 0, "writer": 1, "admin": 2}
_bearer = HTTPBearer(auto_error=False, description="an API token: leadpilot token create")


def get_context(request: Request) -> ServiceContext:
    """The ``ServiceContext`` built by ``create_app``."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServiceContext, Depends(get_context)]


def storable_url(request: Request) -> None:
    """Reject a NUL character anywhere in the path or query (422): no column can store it,
    and PostgreSQL refuses even to compare with it. Request bodies are checked by their
    schemas (``schemas._In``)."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        raise DataValidationError(
            "the URL contains a NUL character (%00)",
            hint="remove it; ids and query values are plain text",
            details={"field": "url"},
        )


def get_conn(ctx: Ctx) -> Iterator[sa.Connection]:
    """A read connection for the request (writes go through the routing service)."""
    with ctx.engine.connect() as conn:
        yield conn


Conn = Annotated[sa.Connection, Depends(get_conn)]


TOKEN_CACHE_SECONDS = 5.0


def _cached_lookup(ctx: ServiceContext, token: str) -> TokenInfo | None:
    """Token lookup with a short in-process cache: saves a database round trip per request;
    a revoked token stops working within ``TOKEN_CACHE_SECONDS``."""
    key = hash_token(token)
    now = time.monotonic()
    hit = ctx.token_cache.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    with ctx.engine.connect() as conn:
        info = lookup_token(conn, token)
    if info is not None:
        if len(ctx.token_cache) > 10_000:
            ctx.token_cache.clear()
        ctx.token_cache[key] = (info, now + TOKEN_CACHE_SECONDS)
    return info


def _require(role: str) -> Callable[..., TokenInfo]:
    def check(
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenInfo:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        info = _cached_lookup(ctx, credentials.credentials)
        if info is None:
            raise HTTPException(
                401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if _ROLE_RANK[info.role] < _ROLE_RANK[role]:
            raise HTTPException(403, f"a {info.role} token cannot do this; it needs {role}")
        return info

    return check


ReaderToken = Annotated[TokenInfo, Depends(_require("reader"))]
WriterToken = Annotated[TokenInfo, Depends(_require("writer"))]
AdminToken = Annotated[TokenInfo, Depends(_require("admin"))]
