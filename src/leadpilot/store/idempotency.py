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


def lookup_response(conn: sa.Connection, key: str, fingerprint: str) -> Any | None:
    """The outcome stored for ``key`` (JSON), ``None`` if unseen; a key reused for a
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
    return row.response


def store_response(
    conn: sa.Connection, key: str, fingerprint: str, body: Any, *, created: bool
) -> None:
    """Remember the outcome for ``key`` in the caller's transaction; ``created``: the
    request created something (a new lead), rather than finding it."""
    conn.execute(
        idempotency_keys.insert().values(
            key=key,
            request_hash=fingerprint,
            # The column keeps the HTTP code of the first answer, as earlier versions wrote
            # it (201 created, 200 found); replays derive it from the outcome itself.
            status_code=201 if created else 200,
            response=body,
            created_at=utcnow(),
        )
    )
