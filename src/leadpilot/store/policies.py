"""Policy versions: stored by content hash with author and time; one is active."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from leadpilot.store.counters import ALL_POOLS, bump_generations
from leadpilot.store.engine import LockedConn
from leadpilot.store.tables import policies, policy_activations
from leadpilot.store.types import utcnow

__all__ = [
    "activate_policy",
    "active_policy_row",
    "active_policy_version",
    "get_policy_row",
    "policy_history",
    "save_policy",
]


def save_policy(
    conn: sa.Connection, *, version: str, text: str, author_token_id: int | None, author: str | None
) -> bool:
    """Store a policy version (no-op if the same hash exists); True if it was new."""
    if get_policy_row(conn, version) is not None:
        return False
    conn.execute(
        policies.insert().values(
            version=version,
            text=text,
            author_token_id=author_token_id,
            author=author,
            created_at=utcnow(),
            active=False,
        )
    )
    return True


def activate_policy(
    conn: LockedConn,
    version: str,
    *,
    action: str,
    author_token_id: int | None,
    author: str | None,
) -> None:
    """Make ``version`` the active policy and log the activation (upload or rollback).

    Under the routing lock (``engine.routing_transaction``): two activations on two
    replicas run one after the other (each sees the other's committed row), and no decision
    is made half-way through a switch. The database allows one active row only
    (``uq_policies_active``)."""
    if conn.dialect.name == "postgresql":
        # the pools guarding a rep's counters follow the policy: counters a process holds
        # under the old one's keys are not known current under the new one's
        bump_generations(conn, [ALL_POOLS])
    conn.execute(policies.update().where(policies.c.active).values(active=False))
    conn.execute(policies.update().where(policies.c.version == version).values(active=True))
    conn.execute(
        policy_activations.insert().values(
            version=version,
            action=action,
            author_token_id=author_token_id,
            author=author,
            activated_at=utcnow(),
        )
    )


def get_policy_row(conn: sa.Connection, version: str) -> Any:
    """One stored version, or ``None``."""
    return conn.execute(sa.select(policies).where(policies.c.version == version)).first()


def active_policy_row(conn: sa.Connection) -> Any:
    """The active version, or ``None`` when none was uploaded (the default policy applies)."""
    return conn.execute(sa.select(policies).where(policies.c.active)).first()


def policy_history(conn: sa.Connection) -> tuple[list[Any], list[Any]]:
    """All versions (oldest first) and all activations (oldest first)."""
    versions = conn.execute(sa.select(policies).order_by(policies.c.created_at)).all()
    log = conn.execute(sa.select(policy_activations).order_by(policy_activations.c.id)).all()
    return list(versions), list(log)


def active_policy_version(conn: sa.Connection) -> str | None:
    """The active version's id, or ``None`` when none was uploaded."""
    version: str | None = conn.execute(
        sa.select(policies.c.version).where(policies.c.active)
    ).scalar()
    return version
