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

The bound statement then goes to the sqlite3 cursor itself, not through
``Connection.exec_driver_sql``, whose execution context (statement and parameter
bookkeeping, the cursor-result set-up, the events' dispatch) still cost about as much as
SQLite's own work for these statements: ~7% of the server's CPU per ``POST /v1/leads``
(py-spy), for the six writes and the read of an intake. What that path does for these
statements is kept: a driver error goes through ``Connection``'s own error handling
(wrapped as SQLAlchemy's ``IntegrityError`` or ``OperationalError``, the engine's
``handle_error`` listeners run, a dead connection invalidated), and when anything listens to
statements (``before/after_cursor_execute``, ``before/after_execute``, the dialect's
``do_execute*``, e.g. a profiler) or the engine echoes SQL, the statement goes through
``exec_driver_sql`` as before, so they still see it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.types import UTCDateTime

__all__ = ["execute_insert", "insert_returning", "select_rows"]

_Binder = tuple[str, tuple[tuple[str, Callable[[Any], Any] | None, bool, Any], ...]]
_CACHE: dict[tuple[int, tuple[str, ...]], _Binder | None] = {}
_CACHE_LOCK = threading.Lock()
_MAX_CACHED = 256


def _binder(stmt: Any, dialect: sa.Dialect, keys: tuple[str, ...]) -> _Binder | None:
    """The positional SQL of ``stmt`` for rows with ``keys`` and, per placeholder in order,
    (name, processor, from the row, constant); ``None`` when it cannot be bound here (or its
    rows, of a SELECT or RETURNING, would need SQLAlchemy's result processing)."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch or not compiled.positional:
        return None  # Python-side defaults are computed by the execution context
    names = compiled.positiontup
    if names is None:
        return None
    for column in compiled._result_columns:  # SELECT or RETURNING: rows read as they come
        if column.type._cached_result_processor(dialect, None) is not None:
            return None
    processors = compiled._bind_processors
    slots = []
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None or bind.expanding or getattr(bind, "literal_execute", False):
            return None
        processor = processors.get(name)
        if name in keys:
            if processor is not None and isinstance(bind.type, UTCDateTime):
                processor = _dates_once(processor)
            slots.append((name, processor, True, None))
        elif bind.callable is None and bind.value is not None and not bind.required:
            value = bind.value
            slots.append((name, None, False, processor(value) if processor else value))
        else:
            return None
    return compiled.string, tuple(slots)


# A UTCDateTime's stored text per datetime (SQLite): an intake stores the same moment several
# times (the lead's received_at, its decision's decided_at, its timers' created_at), and
# SQLAlchemy's formatting of one (as_utc, then a %-format of nine fields) is ~3 us.
_DATE_TEXT: dict[datetime, Any] = {}
_MAX_DATES = 64


def _dates_once(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` of a ``UTCDateTime`` bind, its text of a datetime remembered. Two equal
    datetimes are one instant (aware ones compare in UTC; a naive one is never equal to an
    aware one), and the stored text is that instant in UTC, so they store the same text."""

    def process(value: Any) -> Any:
        if type(value) is not datetime:
            return processor(value)
        text = _DATE_TEXT.get(value)
        if text is None:
            text = processor(value)
            if len(_DATE_TEXT) >= _MAX_DATES:
                _DATE_TEXT.clear()
            _DATE_TEXT[value] = text
        return text

    return process


def _bound(slots: Sequence[tuple[str, Any, bool, Any]], row: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    for name, processor, from_row, constant in slots:
        if from_row:
            value = row[name]  # processors take None too (JSON's is "null")
            out.append(processor(value) if processor is not None else value)
        else:
            out.append(constant)
    return tuple(out)


def _listened(conn: sa.Connection) -> bool:
    """Whether a statement on ``conn`` must go through SQLAlchemy's execution: something
    listens to statements, or the engine logs them."""
    dispatch = conn.dispatch
    dialect = conn.dialect.dispatch
    return bool(
        conn.engine.echo
        or dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or dispatch.before_execute
        or dispatch.after_execute
        or dialect.do_execute
        or dialect.do_executemany
        or dialect.do_execute_no_params
    )


def _cursor_execute(conn: sa.Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run driver SQL on ``conn``'s sqlite3 connection; the cursor. A driver error is
    handled by ``conn`` as ``exec_driver_sql`` handles it (wrapped, ``handle_error``,
    invalidation); ``_handle_dbapi_exception`` is the method that path calls."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except Exception as exc:
        conn._handle_dbapi_exception(exc, sql, params, cursor, None)
    return cursor


def _binder_for(conn: sa.Connection, stmt: Any, keys: tuple[str, ...]) -> _Binder | None:
    key = (id(stmt), keys)
    try:
        return _CACHE[key]
    except KeyError:
        binder = _binder(stmt, conn.dialect, keys)
        with _CACHE_LOCK:
            if len(_CACHE) >= _MAX_CACHED:
                _CACHE.clear()
            _CACHE[key] = binder
        return binder


def execute_insert(
    conn: sa.Connection, stmt: Any, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> None:
    """``conn.execute(stmt, rows)`` for an INSERT (or upsert) ``stmt`` built once at import,
    without RETURNING: one row, or many with the same keys (``executemany``); on SQLite
    sent as driver SQL (see the module docstring)."""
    if conn.dialect.name != "sqlite":
        conn.execute(stmt, rows)
        return
    if isinstance(rows, Mapping):
        many, first, listed = False, rows, [rows]
    else:
        listed = list(rows)
        if not listed:
            conn.execute(stmt, listed)
            return
        many, first = True, listed[0]
    keys = tuple(first)
    binder = _binder_for(conn, stmt, keys)
    if binder is None or (many and any(tuple(r) != keys for r in listed)):
        conn.execute(stmt, listed if many else first)
        return
    sql, slots = binder
    params: Any = [_bound(slots, r) for r in listed] if many else _bound(slots, first)
    if _listened(conn):
        conn.exec_driver_sql(sql, params)
    else:
        _cursor_execute(conn, sql, params, many=many).close()


def insert_returning(conn: sa.Connection, stmt: Any, row: Mapping[str, Any]) -> Any:
    """The one value an INSERT ... RETURNING ``stmt`` (built once at import) returns for
    ``row``; on SQLite sent as driver SQL (see the module docstring)."""
    if conn.dialect.name == "sqlite":
        binder = _binder_for(conn, stmt, tuple(row))
        if binder is not None and not _listened(conn):
            sql, slots = binder
            cursor = _cursor_execute(conn, sql, _bound(slots, row))
            try:
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if len(rows) != 1:  # as scalar_one()
                if not rows:
                    raise sa.exc.NoResultFound("No row was found when one was required")
                raise sa.exc.MultipleResultsFound("Multiple rows were found when one was required")
            return rows[0][0]
        if binder is not None:
            return conn.exec_driver_sql(binder[0], _bound(binder[1], row)).scalar_one()
    return conn.execute(stmt, row).scalar_one()


def select_rows(conn: sa.Connection, stmt: Any, params: Mapping[str, Any]) -> list[Any]:
    """``conn.execute(stmt, params).all()`` for a SELECT built once at import whose
    columns need no result processing (SQLite's driver values are the values: text, numbers,
    NULL); on SQLite sent as driver SQL (see the module docstring), its rows as plain
    tuples."""
    if conn.dialect.name == "sqlite" and not _listened(conn):
        binder = _binder_for(conn, stmt, tuple(params))
        if binder is not None:
            sql, slots = binder
            cursor = _cursor_execute(conn, sql, _bound(slots, params))
            try:
                return cursor.fetchall()
            finally:
                cursor.close()
    return list(conn.execute(stmt, params).all())
