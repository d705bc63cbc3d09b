"""FastAPI dependencies: the service context, the database connection and token roles."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leadpilot.errors import DataValidationError
from leadpilot.service.context import ServiceContext
from leadpilot.store.engine import write_transaction
from leadpilot.store.tokens import TokenInfo, hash_token, lookup_token_hash, touch_last_used

__all__ = [
    "AdminToken",
    "Conn",
    "Ctx",
    "PendingToken",
    "ReaderToken",
    "WriterToken",
    "WriterTokenPending",
    "storable_url",
]

log = logging.getLogger("leadpilot.service")

_ROLE_RANK = {"reader": 0, "writer": 1, "admin": 2}
_bearer = HTTPBearer(auto_error=False, description="an API token: leadpilot token create")


# The dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in
# its thread pool, a thread hand-off per dependency per request (~0.3 ms of CPU each on the
# 2-core reference machine, benchmarks/service_latency.py).
async def get_context(request: Request) -> ServiceContext:
    """The ``ServiceContext`` built by ``create_app``."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServiceContext, Depends(get_context)]


async def storable_url(request: Request) -> None:
    """Reject a NUL character anywhere in the path or query (422): no column can store it,
    and PostgreSQL refuses even to compare with it. Request bodies are checked by their
    schemas (``schemas._In``)."""
    # The scope's path is what ``request.url.path`` holds (Starlette escapes only ?, # and \
    # in it), without building and re-parsing a URL on every request.
    scope = request.scope
    if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
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


def _lookup(ctx: ServiceContext, token_hash: str) -> TokenInfo | None:
    """The live token with this hash, read from the database on every request. Why no
    cache here: a revoked token must stop working at once on every replica (a per-process
    cache let one work for 5 s after revocation). ``POST /v1/leads`` alone skips this read
    for a token it found live before, because its intake checks the token again inside its
    own transaction (``PendingToken.verify_for_intake``)."""
    with ctx.engine.connect() as conn:
        info = lookup_token_hash(conn, token_hash)
    if info is not None:
        _note_use(ctx, info.id)
    return info


# At most this many live tokens remembered per process (only tokens found live are, so only
# holders of valid tokens can fill it; past it, it starts again).
_LIVE_TOKENS_MAX = 1024


# When this process last wrote each token's last_used_at (monotonic seconds). Why: a write
# per request would queue every read behind SQLite's write lock; once a minute is enough for
# `leadpilot token list` to tell a token in use from a forgotten one.
_LAST_USE_RESOLUTION = timedelta(minutes=1)
_uses_lock = threading.Lock()


def _note_use(ctx: ServiceContext, token_id: int) -> None:
    now = time.monotonic()
    with _uses_lock:
        last = ctx.token_uses.get(token_id, -math.inf)
        if now - last < _LAST_USE_RESOLUTION.total_seconds():
            return
        ctx.token_uses[token_id] = now
    try:
        with write_transaction(ctx.engine) as conn:
            touch_last_used(conn, token_id, ctx.clock(), resolution=_LAST_USE_RESOLUTION)
    except sa.exc.SQLAlchemyError:  # bookkeeping only: never fail the request over it
        log.warning("could not record the use of token #%s", token_id, exc_info=True)


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token of the request (401 without one)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


def unknown_token() -> HTTPException:
    """The 401 of a token that is not (or no longer) live."""
    return HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})


def _authorise(ctx: ServiceContext, token: str, role: str) -> TokenInfo:
    """The live token if it may act as ``role`` (401 unknown or revoked, 403 too weak)."""
    return _check_role(_lookup(ctx, hash_token(token)), role)


def _check_role(info: TokenInfo | None, role: str) -> TokenInfo:
    if info is None:
        raise unknown_token()
    if _ROLE_RANK[info.role] < _ROLE_RANK[role]:
        raise HTTPException(403, f"a {info.role} token cannot do this; it needs {role}")
    return info


def _require(role: str) -> Callable[..., TokenInfo]:
    def check(
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenInfo:
        return _authorise(ctx, _bearer_token(credentials), role)

    return check


@dataclass(frozen=True, slots=True)
class PendingToken:
    """A request's bearer token, present but not yet looked up: the endpoint calls
    ``verify`` first thing in its own worker thread. Why: a plain ``def`` dependency is one
    more thread hand-off per request (``_require``), ~5% of the server's CPU per
    ``POST /v1/leads`` (py-spy, ``benchmarks/service_latency.py``); looking the token up on
    the event loop instead would block it on the database."""

    token: str
    role: str

    def verify(self, ctx: ServiceContext) -> TokenInfo:
        """The live token (401 unknown or revoked, 403 when its role is too weak)."""
        return _authorise(ctx, self.token, self.role)

    def verify_for_intake(self, ctx: ServiceContext) -> tuple[TokenInfo, str]:
        """The token and its hash for a request whose transaction checks again that the
        token is live (``RoutingService.intake``'s ``token_hash``; a revoked one raises
        ``RevokedTokenError`` there, before anything is written, and ``forget`` it). A token
        this process found live before is not read again here: that read and its
        connection were ~3% of the server's CPU per lead (py-spy). 401 unknown, 403 too
        weak, as ``verify``; a revoked token is refused by the next intake that reads
        after the revocation committed, on every replica."""
        token_hash = hash_token(self.token)
        info = ctx.live_tokens.get(token_hash)
        if info is None:
            info = _check_role(_lookup(ctx, token_hash), self.role)
            with _uses_lock:
                if len(ctx.live_tokens) >= _LIVE_TOKENS_MAX:
                    ctx.live_tokens.clear()
                ctx.live_tokens[token_hash] = info
            return info, token_hash
        _note_use(ctx, info.id)
        return _check_role(info, self.role), token_hash

    @staticmethod
    def forget(ctx: ServiceContext, token_hash: str) -> None:
        """The token with this hash is not live (any more): look it up next time."""
        with _uses_lock:
            ctx.live_tokens.pop(token_hash, None)


def _require_later(role: str) -> Callable[..., Awaitable[PendingToken]]:
    async def pending(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> PendingToken:
        token = PendingToken(_bearer_token(credentials), role)
        # Kept for the 422 handler: a request FastAPI refuses before the endpoint runs is
        # still answered 401/403 first when its token is unknown, revoked or too weak.
        request.state.pending_token = token
        return token

    return pending


ReaderToken = Annotated[TokenInfo, Depends(_require("reader"))]
WriterToken = Annotated[TokenInfo, Depends(_require("writer"))]
AdminToken = Annotated[TokenInfo, Depends(_require("admin"))]
# A writer token checked by the endpoint itself (``PendingToken.verify``): a missing token is
# still a 401 before the body is read, and a request FastAPI refuses (422) is answered 401/403
# first when its token is unknown or too weak (``errors._validation_error``).
WriterTokenPending = Annotated[PendingToken, Depends(_require_later("writer"))]
