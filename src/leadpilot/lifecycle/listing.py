"""The registry as JSON: one document per model version, the same for ``leadpilot model list
--json``, ``GET /v1/models`` and the console's model page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from leadpilot.store.models import events_of, list_versions

__all__ = ["held_out", "registry_listing", "version_json"]

_EVENT_KEYS = ("at", "action", "actor", "reason")


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def version_json(row: Any) -> dict[str, Any]:
    """A registry (or trail) row as JSON (times as ISO strings)."""
    return {key: _plain(value) for key, value in row._mapping.items()}


def registry_listing(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every version, newest first: its registry row (status, training window, metrics,
    calibration, features, checksums, the latest reason) and ``events``, its trail oldest
    first (every registration, promotion, rejection, retirement and rollback with who and
    why)."""
    trails: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events_of(conn):
        trails[event.version].append({k: _plain(getattr(event, k)) for k in _EVENT_KEYS})
    return [{**version_json(row), "events": trails[row.version]} for row in list_versions(conn)]


def held_out(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The version's own held-out figures (the challenger's side of its comparison, or its
    out-of-time test when it was the first champion): ``auc``, ``log_loss``, ``ece``,
    ``n`` where known."""
    m = metrics or {}
    figures = m.get("challenger") or m.get("model") or {}
    return {k: figures.get(k) for k in ("auc", "log_loss", "ece", "n") if k in figures}
