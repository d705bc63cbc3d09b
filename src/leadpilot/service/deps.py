"""FastAPI dependencies: the service context, the database connection and token roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leadpilot.errors import DataValidationError
from leadpilot.service.context import ServiceContext
from leadpilot.store.tokens import TokenInfo, lookup_token

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


def _lookup(ctx: ServiceContext, token: str) -> TokenInfo | None:
    """The live token, read from the database on every request. Why no cache: a revoked
    token must stop working at once on every replica (a per-process cache let one work for
    5 s after revocation), and the lookup is one primary-key-sized index read (~0.1 ms)."""
    with ctx.engine.connect() as conn:
        return lookup_token(conn, token)


def _require(role: str) -> Callable[..., TokenInfo]:
    def check(
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenInfo:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        info = _lookup(ctx, credentials.credentials)
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
