"""The lengths of the database's text columns: the one source of truth of the API's limits
(``service.schemas`` reads its ``max_length`` values here, so the two cannot drift)."""

from __future__ import annotations

import sqlalchemy as sa

from leadpilot.store.tables import metadata

__all__ = ["TEXT_LENGTHS"]

# table name -> column name -> length, for every bounded String column.
TEXT_LENGTHS: dict[str, dict[str, int]] = {
    table.name: {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, sa.String) and column.type.length
    }
    for table in metadata.tables.values()
}
