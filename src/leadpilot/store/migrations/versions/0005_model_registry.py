"""Model registry: status, training facts, checksums and the decision trail of each version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpilot.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = (
    # candidate, champion or retired; the row that was ``active`` before this revision is the
    # champion, any other known version a retired one.
    ("status", sa.String(16), True),
    ("trained_by", sa.String(256), True),
    ("training_window", sa.JSON, True),
    ("data_fingerprint", sa.String(64), True),
    ("metrics", sa.JSON, True),
    ("calibration", sa.JSON, True),
    ("feature_schema", sa.JSON, True),
    ("checksums", sa.JSON, True),
    ("reason", sa.Text, True),
    ("promoted_at", UTCDateTime(timezone=True), True),
    ("retired_at", UTCDateTime(timezone=True), True),
)


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        for name, type_, nullable in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable))
    op.execute(
        "UPDATE models SET status = CASE WHEN active THEN 'champion' ELSE 'retired' END, "
        "trained_by = 'leadpilot serve --model (before the registry)'"
    )
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_events"),
    )
    op.create_index("ix_model_events_version", "model_events", ["version"])
    # One row per named lease ("retrain"): the SQLite stand-in for PostgreSQL's advisory lock.
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_model_events_version", table_name="model_events")
    op.drop_table("model_events")
    with op.batch_alter_table("models") as batch:
        for name, _, _ in reversed(_COLUMNS):
            batch.drop_column(name)
