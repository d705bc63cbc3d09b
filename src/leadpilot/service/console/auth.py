"""Who is looking at a console page: a session cookie or an ``Authorization: Bearer``
header, re-checked against the token table on every request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from leadpilot.service.console.session import COOKIE, Session, SessionSigner
from leadpilot.service.context import ServiceContext
from leadpilot.store.console_reads import token_by_id
from leadpilot.store.tokens import TokenInfo, lookup_token

__all__ = ["LoginRequiredError", "PageUser", "User", "signer_of"]


class LoginRequiredError(Exception):
    """No valid credentials: the page answers with a redirect to ``/login``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class PageUser:
    """The caller of a page; ``session`` is ``None`` for a Bearer header (no cookie, so no
    CSRF risk and no CSRF token)."""

    token: TokenInfo
    session: Session | None
    csrf: str

    @property
    def is_admin(self) -> bool:
        """Admin tokens may change what the console marks admin."""
        return self.token.role == "admin"


def signer_of(request: Request) -> SessionSigner:
    """The app's signer (made once by ``console.install``)."""
    signer: SessionSigner = request.app.state.console_signer
    return signer


def current_user(request: Request) -> PageUser:
    """The caller, or ``LoginRequiredError``."""
    ctx: ServiceContext = request.app.state.ctx
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        with ctx.engine.connect() as conn:
            info = lookup_token(conn, credential.strip())
        if info is not None:
            return PageUser(token=info, session=None, csrf="")
        raise LoginRequiredError(request.url.path)
    signer = signer_of(request)
    session = signer.read(request.cookies.get(COOKIE))
    if session is not None:
        with ctx.engine.connect() as conn:
            info = token_by_id(conn, session.token_id)
        if info is not None:
            return PageUser(token=info, session=session, csrf=signer.csrf(session))
    query = f"?{request.url.query}" if request.url.query else ""
    raise LoginRequiredError(request.url.path + query)


def new_login_nonce() -> str:
    """The login form's double-submit CSRF value."""
    return secrets.token_urlsafe(16)


User = Annotated[PageUser, Depends(current_user)]
