"""Signed, expiring session cookies and CSRF tokens of the console.

The cookie holds the token's id, a random session id and an expiry, signed with HMAC-SHA256;
the API token itself never goes into it, and every request re-reads the token by id, so
revoking it ends its sessions at once. CSRF: every form carries a synchronizer token, the
HMAC of the session id (the login form, before a session exists, a double-submit cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

__all__ = ["COOKIE", "LOGIN_COOKIE", "Session", "SessionSigner"]

COOKIE = "leadpilot_session"
LOGIN_COOKIE = "leadpilot_login_csrf"


@dataclass(frozen=True, slots=True)
class Session:
    """An open session: the API token it was opened with, its id and expiry (epoch s)."""

    token_id: int
    sid: str
    expires: int


class SessionSigner:
    """Signs and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, *, max_age_seconds: int) -> None:
        self._secret = secret
        self.max_age_seconds = max_age_seconds

    def _mac(self, purpose: str, data: bytes) -> str:
        digest = hmac.new(self._secret, purpose.encode() + b"|" + data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def open(self, token_id: int, now: float | None = None) -> tuple[Session, str]:
        """A new session for ``token_id`` and its cookie value."""
        expires = int((now if now is not None else time.time()) + self.max_age_seconds)
        session = Session(token_id=token_id, sid=secrets.token_urlsafe(16), expires=expires)
        body = json.dumps({"t": token_id, "s": session.sid, "e": expires}).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return session, f"{payload}.{self._mac('session', payload.encode())}"

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie value, or ``None`` if it is missing, forged or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac("session", payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(token_id=int(data["t"]), sid=str(data["s"]), expires=int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        return session

    def csrf(self, session: Session) -> str:
        """The CSRF token of the forms of ``session``."""
        return self._mac("csrf", session.sid.encode())

    def check_csrf(self, session: Session, sent: str | None) -> bool:
        """Whether a form's CSRF token belongs to ``session``."""
        return bool(sent) and hmac.compare_digest(str(sent), self.csrf(session))
