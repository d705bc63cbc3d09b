"""fit_feedback: reps' feedback on a lead's fit (good / poor, with a reason)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:40:00

One row per ``fit_feedback`` event (``POST /v1/events``): the lead, the rep who rated it
(its owner then), good or poor, the reason, and how the rep got the lead (the live
decision's strategy and pool), so the share of poor fits can be compared by routing method,
rep and segment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpilot.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fit_feedback",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("rep_id", sa.String(128), nullable=False),
        sa.Column("fit", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(512)),
        sa.Column("strategy", sa.String(64)),
        sa.Column("pool", sa.String(128)),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.lead_id"]),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_fit_feedback_rep_id", "fit_feedback", ["rep_id"])
    op.create_index("ix_fit_feedback_occurred_at", "fit_feedback", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_fit_feedback_occurred_at", table_name="fit_feedback")
    op.drop_index("ix_fit_feedback_rep_id", table_name="fit_feedback")
    op.drop_table("fit_feedback")
