"""decisions.expected_value: E(value | lead, rep) of a decision made under a value objective

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:30:00

The policy's ``objective: pipeline_value | won_revenue`` routes by P(convert) x E(value);
the decision log keeps the chosen rep's expected value next to ``p_convert``. Decisions
stored before this revision (and every decision under ``objective: conversions``) have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_value", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("expected_value")
