"""SQLite: the intake's INSERTs sent as driver SQL, bound by SQLAlchemy's own processors.

Why: each ``conn.execute`` of a compiled INSERT builds its parameters through SQLAlchemy's
execution context (``construct_params``, a processor call per column, the compiled-cache
look-up, result set-up); for the five or six writes of a new lead that was about a fifth
of an intake's CPU on SQLite (py-spy). ``execute_insert`` compiles a statement once per
column set, keeps its positional SQL and the same bind processors SQLAlchemy would apply
(the same stored text for dates, JSON and booleans), and runs it with
``Connection.exec_driver_sql``, which still fires the engine's events and wraps driver
errors as SQLAlchemy does (an ``IntegrityError`` stays one). A statement it cannot bind
this way (a Python-side column default to compute, a parameter it does not know) runs
through ``conn.execute`` as before, as does every statement on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["execute_insert"]

_Binder = tuple[str, tuple[tuple[str, Callable[[Any], Any] | None, bool, Any], ...]]
_CACHE: dict[tuple[int, tuple[str, ...]], _Binder | None] = {}
_CACHE_LOCK = threading.Lock()
_MAX_CACHED = 256


def _binder(stmt: Any, dialect: sa.Dialect, keys: tuple[str, ...]) -> _Binder | None:
    """The positional SQL of ``stmt`` for rows with ``keys`` and, per placeholder in order,
    (name, processor, from the row, constant); ``None`` when it cannot be bound here."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch or not compiled.positional:
        return None  # Python-side defaults are computed by the execution context
    names = compiled.positiontup
    if names is None:
        return None
    processors = compiled._bind_processors
    slots = []
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None or bind.expanding or getattr(bind, "literal_execute", False):
            return None
        processor = processors.get(name)
        if name in keys:
            slots.append((name, processor, True, None))
        elif bind.callable is None and bind.value is not None and not bind.required:
            value = bind.value
            slots.append((name, None, False, processor(value) if processor else value))
        else:
            return None
    return compiled.string, tuple(slots)


def _bound(slots: Sequence[tuple[str, Any, bool, Any]], row: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    for name, processor, from_row, constant in slots:
        if from_row:
            value = row[name]  # processors take None too (JSON's is "null")
            out.append(processor(value) if processor is not None else value)
        else:
            out.append(constant)
    return tuple(out)


def execute_insert(
    conn: sa.Connection, stmt: Any, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> sa.CursorResult[Any]:
    """``conn.execute(stmt, rows)`` for an INSERT (or upsert) ``stmt`` built once at import:
    one row, or many with the same keys (``executemany``); on SQLite sent as driver SQL
    (see the module docstring)."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, rows)
    if isinstance(rows, Mapping):
        many, first, listed = False, rows, [rows]
    else:
        listed = list(rows)
        if not listed:
            return conn.execute(stmt, listed)
        many, first = True, listed[0]
    key = (id(stmt), tuple(first))
    try:
        binder = _CACHE[key]
    except KeyError:
        binder = _binder(stmt, conn.dialect, key[1])
        with _CACHE_LOCK:
            if len(_CACHE) >= _MAX_CACHED:
                _CACHE.clear()
            _CACHE[key] = binder
    if binder is None or (many and any(tuple(r) != key[1] for r in listed)):
        return conn.execute(stmt, listed if many else first)
    sql, slots = binder
    if many:
        return conn.exec_driver_sql(sql, [_bound(slots, r) for r in listed])
    return conn.exec_driver_sql(sql, _bound(slots, first))
