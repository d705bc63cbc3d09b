"""alert lifecycle (condition key, open/resolved, acknowledgement) and token last use

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 04:30:00

Alerts gain a condition key (one open alert per key, enforced by a partial unique index on
both back ends), a status (``open`` / ``resolved``), when the condition was last seen and
when it cleared, and who acknowledged it. Alerts stored before this revision become open
event alerts without a key. API tokens gain ``last_used_at``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpilot.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("condition_key", sa.String(256), nullable=True))
        batch_op.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="event")
        )
        batch_op.add_column(
            sa.Column("severity", sa.String(16), nullable=False, server_default="warning")
        )
        batch_op.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="open")
        )
        batch_op.add_column(sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(256), nullable=True))
        batch_op.create_index("ix_alerts_status", ["status"], unique=False)
    op.create_index(
        "uq_alerts_open_condition",
        "alerts",
        ["condition_key"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    op.drop_index("uq_alerts_open_condition", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status")
        for column in (
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
            "last_seen_at",
            "status",
            "severity",
            "source",
            "condition_key",
        ):
            batch_op.drop_column(column)
