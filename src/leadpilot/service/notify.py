"""Slack-compatible webhook notifications (queued in the store, sent by the worker)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

__all__ = ["alert_message", "reassignment_message", "send_webhook", "sign"]


def reassignment_message(
    *, lead_id: str, reason: str, from_rep: str | None, to_rep: str | None, detail: str
) -> dict[str, Any]:
    """A Slack incoming-webhook body (``text``) plus machine-readable fields."""
    target = to_rep or "the queue (no eligible rep)"
    text = (
        f":rotating_light: Lead {lead_id} reassigned from {from_rep or '-'} to {target} "
        f"({reason}). {detail}"
    )
    return {
        "text": text,
        "event": "lead_reassigned",
        "lead_id": lead_id,
        "reason": reason,
        "from_rep": from_rep,
        "to_rep": to_rep,
    }


_ICON = {"opened": ":rotating_light:", "resolved": ":white_check_mark:"}


def alert_message(
    event: str, alert_id: int, kind: str, severity: str, key: str, message: str
) -> dict[str, Any]:
    """A Slack incoming-webhook body for an alert ``opened`` or ``resolved``, plus
    machine-readable fields."""
    return {
        "text": f"{_ICON.get(event, '')} leadpilot alert #{alert_id} {event} "
        f"[{severity}] {kind}: {message}",
        "event": f"alert_{event}",
        "alert_id": alert_id,
        "kind": kind,
        "severity": severity,
        "condition_key": key,
    }


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of the body, so receivers can check the sender."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(
    client: httpx.Client, url: str, payload: dict[str, Any], *, secret: str
) -> str | None:
    """POST ``payload``; returns ``None`` on a 2xx answer, else a short error text."""
    body = json.dumps(payload).encode()
    try:
        response = client.post(
            url,
            content=body,
            headers={
                "content-type": "application/json",
                "x-leadpilot-signature": sign(secret, body),
            },
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"
