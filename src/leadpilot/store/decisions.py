"""The decision log: every routing decision with its full record; one live per lead.

A stored decision is a ``schema.Decision`` plus its place in the log (``StoredDecision``).
The row mapping is derived from the dataclass fields: every ``Decision`` field that is also
a ``decisions`` column is stored, tuples as JSON lists and nested records (``Candidate``) as
JSON objects; a field added to both maps itself. Decisions are written by one function,
``store.record.record_decision``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.schema import Decision
from leadpilot.store.tables import decisions

__all__ = [
    "DECISION_COLUMNS",
    "StoredDecision",
    "as_logged",
    "decision_from_row",
    "decision_row",
    "list_decisions",
    "live_decision",
    "stored_decision",
    "stored_decision_json",
]


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A decision as logged: its row id, its place among the lead's decisions (``seq``, 1
    first), whether it is the lead's live one, and what triggered it."""

    id: int
    seq: int
    live: bool
    trigger: str
    decision: Decision
    # The row it was written as (``decision_row``), when it was just written: the answer
    # serialises it instead of building it again. Not part of its value.
    row: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


_HINTS = typing.get_type_hints(Decision)
# The Decision fields that are columns, in the dataclass's order.
DECISION_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Decision) if f.name in decisions.c
)


_PLAIN = (str, int, float, bool, type(None), datetime)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names; ``None`` for any other class."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


def _to_json(value: Any) -> Any:
    """A field value as the JSON a column holds (tuples as lists, records as objects).

    Field by field rather than ``dataclasses.asdict``, which deep-copies every value: a
    decision holds a record per candidate rep (100 at 100 reps), and ``asdict`` was ~3% of
    the service's CPU per ``POST /v1/leads``."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    kind: type = type(value)
    names = _field_names(kind)
    if names is not None:
        return {k: _to_json(getattr(value, k)) for k in names}
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(name: str, value: Any) -> Any:
    """The inverse of ``_to_json`` for the ``Decision`` field ``name`` (by its type);
    datetimes may come as ISO text (``stored_decision_json``)."""
    hint = _HINTS[name]
    origin = typing.get_origin(hint)
    if value is None:
        return None
    if isinstance(value, str) and datetime in (hint, *typing.get_args(hint)):
        return datetime.fromisoformat(value)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if dataclasses.is_dataclass(item):
            make: Any = item  # a record class (Candidate)
            return tuple(make(**v) for v in value)
        return tuple(value)
    if origin in (Mapping, dict):
        return dict(value)
    return value


def decision_row(decision: Decision, *, trigger: str, seq: int) -> dict[str, Any]:
    """The ``decisions`` row (without its id) of ``decision`` as the lead's live one."""
    row = {name: _to_json(getattr(decision, name)) for name in DECISION_COLUMNS}
    return {**row, "seq": seq, "live": True, "trigger": trigger}


def decision_from_row(row: Any) -> Decision:
    """Rebuild the ``schema.Decision`` of a stored row (or of a mapping with its columns)."""
    values = row._mapping if hasattr(row, "_mapping") else row
    return Decision(**{name: _from_json(name, values[name]) for name in DECISION_COLUMNS})


# The Decision fields the log does not keep (router state only), with their defaults.
_STATE_ONLY = tuple(
    f for f in dataclasses.fields(Decision) if f.name not in DECISION_COLUMNS and f.init
)


def as_logged(decision: Decision) -> Decision:
    """``decision`` as the log reads it back (``decision_from_row(decision_row(...))``):
    the state-only fields at their defaults, sequences as tuples, mappings as dicts. Why
    not the round trip: rebuilding it field by field from its JSON form was ~8% of the
    server's CPU per ``POST /v1/leads`` (py-spy)."""
    reset: dict[str, Any] = {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        for f in _STATE_ONLY
    }
    return dataclasses.replace(
        decision,
        reasons=tuple(decision.reasons),
        candidates=tuple(decision.candidates),
        exclusions=dict(decision.exclusions),
        **reset,
    )


def stored_decision(row: Any) -> StoredDecision:
    """The ``StoredDecision`` of a ``decisions`` row (or of a mapping with its columns)."""
    values = row._mapping if hasattr(row, "_mapping") else row
    return StoredDecision(
        id=int(values["id"]),
        seq=int(values["seq"]),
        live=bool(values["live"]),
        trigger=values["trigger"],
        decision=decision_from_row(values),
    )


def stored_decision_json(stored: StoredDecision) -> dict[str, Any]:
    """A JSON-ready form of ``stored`` (datetimes as ISO text); ``stored_decision`` reads it
    back."""
    row = decision_row(stored.decision, trigger=stored.trigger, seq=stored.seq)
    row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    return {**row, "id": stored.id, "live": stored.live}


def live_decision(conn: sa.Connection, lead_id: str) -> StoredDecision | None:
    """The lead's live decision, or ``None``."""
    row = conn.execute(
        sa.select(decisions).where(decisions.c.lead_id == lead_id, decisions.c.live)
    ).first()
    return stored_decision(row) if row is not None else None


def list_decisions(
    conn: sa.Connection,
    *,
    lead_id: str | None = None,
    rep_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[StoredDecision]:
    """Decisions in order of id (time of decision), filtered, at most ``limit``."""
    query = sa.select(decisions).order_by(decisions.c.id).limit(limit)
    if lead_id is not None:
        query = query.where(decisions.c.lead_id == lead_id)
    if rep_id is not None:
        query = query.where(decisions.c.rep_id == rep_id)
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    if after_id is not None:
        query = query.where(decisions.c.id > after_id)
    return [stored_decision(row) for row in conn.execute(query)]
