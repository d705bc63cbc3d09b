"""The operator's console: server-rendered pages on top of the service (``leadpilot serve``).

``install(app, settings)`` adds the pages, the static files and the login redirect.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from leadpilot.service.console import fit_rating
from leadpilot.service.console.auth import LoginRequiredError
from leadpilot.service.console.pages import router
from leadpilot.service.console.session import SessionSigner
from leadpilot.settings import Settings

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the console on ``app``. Sessions are signed with ``settings.session_secret``
    (a random per-process key when unset: sessions then end when the process restarts)."""
    secret = settings.session_secret or secrets.token_urlsafe(32)
    app.state.console_signer = SessionSigner(
        secret.encode(), max_age_seconds=int(settings.session_hours * 3600)
    )
    app.include_router(router)
    app.include_router(fit_rating.router)
    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        from urllib.parse import urlencode

        target = (
            "/login" if exc.next_path == "/" else "/login?" + urlencode({"next": exc.next_path})
        )
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(LoginRequiredError, to_login)
