"""The model registry: every conversion model version, its status and why it has it.

A version is a ``candidate`` (trained, not routing), the ``champion`` (the one that routes;
``active`` mirrors it, so every replica's worker can find it with one read), ``rejected``
(a challenger that lost, with the reason) or ``retired`` (a former champion). Every change
is also an event in ``model_events`` (who, when, why), which ``model rollback`` reads to find
the champion before the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, model_events, models
from leadpilot.store.types import utcnow

__all__ = [
    "STATUSES",
    "ModelVersion",
    "active_model_row",
    "champion_version",
    "drift_alert_since",
    "events_of",
    "get_version",
    "latest_training_at",
    "list_versions",
    "policy_versions_served",
    "previous_champion",
    "record_model_event",
    "register_model",
    "register_version",
    "reject_version",
    "set_champion",
]

STATUSES = ("candidate", "champion", "rejected", "retired")


@dataclass(frozen=True)
class ModelVersion:
    """What a new registry row holds (see ``tables.models``)."""

    version: str
    path: str
    trained_by: str
    training_window: Mapping[str, Any]
    data_fingerprint: str | None
    metrics: Mapping[str, Any]
    calibration: Mapping[str, Any]
    feature_schema: Mapping[str, Any]
    checksums: Mapping[str, str]


def register_version(
    conn: sa.Connection, item: ModelVersion, *, reason: str, now: datetime | None = None
) -> None:
    """Store ``item`` as a candidate (a version stored before keeps its status and row: the
    same content hash is the same model)."""
    now = now or utcnow()
    if get_version(conn, item.version) is not None:
        return
    conn.execute(
        models.insert().values(
            version=item.version,
            path=item.path,
            created_at=now,
            active=False,
            status="candidate",
            trained_by=item.trained_by,
            training_window=dict(item.training_window),
            data_fingerprint=item.data_fingerprint,
            metrics=dict(item.metrics),
            calibration=dict(item.calibration),
            feature_schema=dict(item.feature_schema),
            checksums=dict(item.checksums),
            reason=reason,
        )
    )
    record_model_event(conn, item.version, "registered", reason, actor=item.trained_by, now=now)


def record_model_event(
    conn: sa.Connection,
    version: str,
    action: str,
    reason: str,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one entry to the version's trail."""
    conn.execute(
        model_events.insert().values(
            version=version,
            action=action,
            reason=reason,
            actor=actor,
            details=dict(details or {}),
            at=now or utcnow(),
        )
    )


def set_champion(
    conn: sa.Connection,
    version: str,
    *,
    reason: str,
    actor: str,
    action: str = "promoted",
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> str | None:
    """Make ``version`` (registered) the champion, retiring the current one; returns the
    version it replaced. The caller's transaction makes the swap atomic for every reader."""
    now = now or utcnow()
    current = champion_version(conn)
    if current == version:
        return None
    if current is not None:
        conn.execute(
            models.update()
            .where(models.c.version == current)
            .values(active=False, status="retired", retired_at=now)
        )
        record_model_event(conn, current, "retired", f"replaced by {version}", actor=actor, now=now)
    conn.execute(
        models.update()
        .where(models.c.version == version)
        .values(active=True, status="champion", promoted_at=now, retired_at=None, reason=reason)
    )
    record_model_event(
        conn,
        version,
        action,
        reason,
        actor=actor,
        details={**(details or {}), "replaced": current},
        now=now,
    )
    return current


def reject_version(
    conn: sa.Connection,
    version: str,
    *,
    reason: str,
    actor: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Keep the champion: mark the challenger ``rejected`` with why."""
    conn.execute(
        models.update()
        .where(models.c.version == version, models.c.status != "champion")
        .values(status="rejected", reason=reason)
    )
    record_model_event(conn, version, "rejected", reason, actor=actor, details=details, now=now)


def champion_version(conn: sa.Connection) -> str | None:
    """The version that routes, or ``None``."""
    return conn.execute(sa.select(models.c.version).where(models.c.active)).scalar_one_or_none()


def active_model_row(conn: sa.Connection) -> Any:
    """The champion's row, or ``None``."""
    return conn.execute(sa.select(models).where(models.c.active)).first()


def get_version(conn: sa.Connection, version: str) -> Any:
    """A version's row, or ``None``."""
    return conn.execute(sa.select(models).where(models.c.version == version)).first()


def list_versions(conn: sa.Connection) -> list[Any]:
    """Every version, newest first."""
    query = sa.select(models).order_by(models.c.created_at.desc(), models.c.version)
    return list(conn.execute(query).all())


def events_of(conn: sa.Connection, version: str | None = None) -> list[Any]:
    """The trail of one version (or of all), oldest first."""
    query = sa.select(model_events).order_by(model_events.c.id)
    if version is not None:
        query = query.where(model_events.c.version == version)
    return list(conn.execute(query).all())


def previous_champion(conn: sa.Connection) -> str | None:
    """The champion the current one replaced (``None``: there was none)."""
    current = champion_version(conn)
    if current is None:
        return None
    query = (
        sa.select(model_events.c.details)
        .where(
            model_events.c.version == current,
            model_events.c.action.in_(("promoted", "rolled_back")),
        )
        .order_by(model_events.c.id.desc())
        .limit(1)
    )
    details = conn.execute(query).scalar_one_or_none()
    return (details or {}).get("replaced")


def latest_training_at(conn: sa.Connection) -> datetime | None:
    """When the newest version was registered (the schedule's clock)."""
    return conn.execute(sa.select(sa.func.max(models.c.created_at))).scalar_one_or_none()


def policy_versions_served(conn: sa.Connection, version: str) -> list[tuple[str | None, int]]:
    """``(policy version, decisions)`` the model version decided under, most first."""
    n = sa.func.count().label("n")
    query = (
        sa.select(decisions.c.policy_version, n)
        .where(decisions.c.model_version == version)
        .group_by(decisions.c.policy_version)
        .order_by(n.desc())
    )
    return [(row.policy_version, int(row.n)) for row in conn.execute(query)]


def register_model(
    conn: sa.Connection,
    *,
    version: str,
    path: str,
    checksums: Mapping[str, str] | None = None,
    actor: str = "leadpilot serve --model",
) -> None:
    """Serve ``version`` from ``path`` (``leadpilot serve --model DIR``): registered if new,
    and made the champion."""
    now = utcnow()
    row = get_version(conn, version)
    if row is None:
        conn.execute(
            models.insert().values(
                version=version,
                path=path,
                created_at=now,
                active=False,
                status="candidate",
                trained_by=actor,
                checksums=dict(checksums or {}),
                training_window={},
                metrics={},
                calibration={},
                feature_schema={},
                reason="given to the service with --model",
            )
        )
        record_model_event(conn, version, "registered", "given with --model", actor=actor, now=now)
    else:
        values: dict[str, Any] = {"path": path}
        if checksums:
            values["checksums"] = dict(checksums)
        conn.execute(models.update().where(models.c.version == version).values(**values))
    set_champion(conn, version, reason="served with --model", actor=actor, now=now)


def drift_alert_since(conn: sa.Connection, since: datetime | None) -> Any:
    """The newest open model_drift / calibration_drift alert raised after ``since``."""
    from leadpilot.store.tables import alerts

    query = (
        sa.select(alerts.c.id, alerts.c.kind, alerts.c.message, alerts.c.created_at)
        .where(
            alerts.c.kind.in_(("model_drift", "calibration_drift")),
            alerts.c.status == "open",
        )
        .order_by(alerts.c.created_at.desc())
        .limit(1)
    )
    if since is not None:
        query = query.where(alerts.c.created_at > since)
    return conn.execute(query).first()
