"""CRM webhook inbox, owner write-back outbox, cursors

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpilot.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_inbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("lead_id", sa.String(128)),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_crm_inbox"),
        sa.UniqueConstraint("crm", "event_id", name="uq_crm_inbox_crm_event_id"),
    )
    op.create_index("ix_crm_inbox_status", "crm_inbox", ["status"])
    op.create_table(
        "crm_outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("decision_id", sa.Integer, nullable=False),
        sa.Column("rep_id", sa.String(128), nullable=False),
        sa.Column("owner_id", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", UTCDateTime(timezone=True)),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_crm_outbox"),
    )
    op.create_index(
        "ix_crm_outbox_status_next_attempt_at", "crm_outbox", ["status", "next_attempt_at"]
    )
    op.create_index("ix_crm_outbox_crm_record_id", "crm_outbox", ["crm", "record_id"])
    op.create_table(
        "crm_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_crm_cursors"),
    )


def downgrade() -> None:
    op.drop_table("crm_cursors")
    op.drop_index("ix_crm_outbox_crm_record_id", table_name="crm_outbox")
    op.drop_index("ix_crm_outbox_status_next_attempt_at", table_name="crm_outbox")
    op.drop_table("crm_outbox")
    op.drop_index("ix_crm_inbox_status", table_name="crm_inbox")
    op.drop_table("crm_inbox")
