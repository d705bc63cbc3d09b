"""Signed, expiring Accept / Decline links for a rep's new lead.

A token is ``base64url(json claims) . base64url(HMAC-SHA256)``; the claims name the lead,
the rep, the decision and the action, and when the link expires. Single use is not kept
here: the event a link records has an id derived from the decision (``link_event_id``), so
the events table refuses a second use (and an Accept after a Decline) of the same offer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["ACTIONS", "LinkClaims", "link_event_id", "make_link_token", "read_link_token"]

ACTIONS = ("accept", "decline")


@dataclass(frozen=True)
class LinkClaims:
    """What a link token says."""

    lead_id: str
    rep_id: str
    decision_id: int
    action: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def make_link_token(secret: str, claims: LinkClaims) -> str:
    """The signed token of ``claims``."""
    payload = _b64(
        json.dumps(
            {
                "l": claims.lead_id,
                "r": claims.rep_id,
                "d": claims.decision_id,
                "a": claims.action,
                "e": int(claims.expires_at.timestamp()),
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_mac(secret, payload)}"


def read_link_token(secret: str, token: str, now: datetime) -> LinkClaims | str:
    """The claims of an authentic, unexpired token, else why not (``"invalid"`` or
    ``"expired"``)."""
    payload, _, mac = token.partition(".")
    if not payload or not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        return "invalid"
    try:
        data = json.loads(_unb64(payload))
        claims = LinkClaims(
            lead_id=str(data["l"]),
            rep_id=str(data["r"]),
            decision_id=int(data["d"]),
            action=str(data["a"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        return "invalid"
    if claims.action not in ACTIONS:
        return "invalid"
    if now >= claims.expires_at:
        return "expired"
    return claims


def link_event_id(claims: LinkClaims) -> str:
    """The event id both links of one offer record under: whichever is used first wins."""
    return f"link-{claims.decision_id}-{claims.rep_id}"[:128]
