"""Idempotency keys: a retried request with the same key gets the stored response."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa

from leadpilot.errors import DataValidationError
from leadpilot.store.tables import idempotency_keys
from leadpilot.store.types import utcnow

__all__ = ["lookup_response", "request_fingerprint", "store_response"]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A hash of what the key was first used for, to refuse reuse with another request."""
    text = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def lookup_response(conn: sa.Connection, key: str, fingerprint: str) -> tuple[int, Any] | None:
    """The stored ``(status, body)`` for ``key``, ``None`` if unseen; a key reused for a
    different request is a 422."""
    row = conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.key == key)).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise DataValidationError(
            f"Idempotency-Key {key!r} was already used for a different request",
            hint="use a new key for each distinct request; reuse a key only to retry",
            details={"field": "Idempotency-Key"},
        )
    return row.status_code, row.response


def store_response(
    conn: sa.Connection, key: str, fingerprint: str, status_code: int, body: Any
) -> None:
    """Remember the response for ``key`` in the caller's transaction."""
    conn.execute(
        idempotency_keys.insert().values(
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=body,
            created_at=utcnow(),
        )
    )
