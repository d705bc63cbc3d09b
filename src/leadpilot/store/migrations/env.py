"""Alembic environment: the engine comes from ``leadpilot.store.migrate`` (or settings)."""

from __future__ import annotations

from alembic import context

from leadpilot.settings import load_settings
from leadpilot.store.engine import make_engine
from leadpilot.store.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: read LEADPILOT_DATABASE_URL
    engine = make_engine(load_settings().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas starting together migrate one at a time.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7311225340196)")
        context.run_migrations()
    connection.commit()
