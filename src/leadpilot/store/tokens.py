"""API tokens: created once, stored only as a SHA-256 hash, checked by hash lookup.

Why SHA-256 and not a slow password hash: tokens are 256-bit random values, not
human-chosen passwords, so brute force is hopeless whatever the hash; a fast hash lets every
request be authenticated with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadpilot.errors import ConfigError
from leadpilot.store.tables import api_tokens
from leadpilot.store.types import utcnow

__all__ = [
    "ROLES",
    "TokenInfo",
    "create_token",
    "hash_token",
    "list_tokens",
    "lookup_token",
    "lookup_token_hash",
    "revoke_token",
    "touch_last_used",
]

ROLES: tuple[str, ...] = ("admin", "writer", "reader")
_PREFIX = "lp_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who is calling: the token's id, name and role."""

    id: int
    name: str
    role: str


def hash_token(token: str) -> str:
    """The stored form of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: sa.Connection, *, role: str, name: str) -> tuple[str, TokenInfo]:
    """Create a token with ``role``; returns the clear token (shown once) and its record."""
    if role not in ROLES:
        raise ConfigError(
            f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}", details={"role": role}
        )
    token = _PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        api_tokens.insert()
        .values(name=name, role=role, token_hash=hash_token(token), created_at=utcnow())
        .returning(api_tokens.c.id)
    ).scalar_one()
    return token, TokenInfo(id=token_id, name=name, role=role)


# Built once: every request looks its token up, and building the statement (and its cache
# key) per call cost as much CPU as running it.
_LOOKUP = sa.select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.role).where(
    api_tokens.c.token_hash == sa.bindparam("token_hash"), api_tokens.c.revoked_at.is_(None)
)


def lookup_token(conn: sa.Connection, token: str) -> TokenInfo | None:
    """The live token matching ``token``, or ``None``."""
    return lookup_token_hash(conn, hash_token(token))


def lookup_token_hash(conn: sa.Connection, token_hash: str) -> TokenInfo | None:
    """The live token whose stored hash is ``token_hash`` (``hash_token``), or ``None``."""
    row = conn.execute(_LOOKUP, {"token_hash": token_hash}).first()
    return TokenInfo(id=row.id, name=row.name, role=row.role) if row else None


def revoke_token(conn: sa.Connection, token_id: int) -> bool:
    """Revoke a token by id; True if a live token was revoked."""
    result = conn.execute(
        api_tokens.update()
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount > 0


def list_tokens(conn: sa.Connection, *, include_revoked: bool = False) -> list[Any]:
    """Every token's id, name, role, creation, last use and revocation (never the hash),
    oldest first."""
    query = sa.select(
        api_tokens.c.id,
        api_tokens.c.name,
        api_tokens.c.role,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return list(conn.execute(query).all())


def touch_last_used(
    conn: sa.Connection, token_id: int, now: datetime, *, resolution: timedelta
) -> None:
    """Record that the token was used at ``now``, unless a use within ``resolution`` is
    already recorded (one write per token per ``resolution``, not one per request)."""
    conn.execute(
        api_tokens.update()
        .where(
            api_tokens.c.id == token_id,
            sa.or_(
                api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at < now - resolution,
            ),
        )
        .values(last_used_at=now)
    )
