"""kpi rollups: daily KPI aggregates, their dirty marks, and the indexes their reads use

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:40:00

``kpi_day_leads``, ``kpi_day_assignments`` and ``kpi_day_duplicates`` hold each UTC day's
KPI aggregates; ``kpi_day_marks`` says which days are current (``store.kpi_rollups``). New
indexes: ``leads.received_at`` (the raw edges of a window) and ``duplicate_intakes.lead_id``
(a lead's first assignment dirties its repeat intakes' days). Existing data is backfilled:
every day with leads, decisions or repeat intakes is rolled up here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpilot.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
_COUNTS = ("leads", "routed", "reassigned", "meetings", "opportunities", "sla_promised",
           "sla_met", "sla_touched", "sla_open")  # fmt: skip


def upgrade() -> None:
    op.create_index("ix_leads_received_at", "leads", ["received_at"])
    op.create_index("ix_duplicate_intakes_lead_id", "duplicate_intakes", ["lead_id"])
    op.create_table(
        "kpi_day_marks",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("dirty", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "kpi_day_leads",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("pool", sa.String(128)),
        sa.Column("lane", sa.String(32)),
        sa.Column("method", sa.String(64)),
        *[sa.Column(name, sa.Integer, nullable=False) for name in _COUNTS],
        sa.Column("sla_open_deadline_max", UTCDateTime(timezone=True)),
        sa.Column("waits", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_day_leads_day", "kpi_day_leads", ["day"])
    op.create_table(
        "kpi_day_assignments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("pool", sa.String(128)),
        sa.Column("rep_id", sa.String(128), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_day_assignments_day", "kpi_day_assignments", ["day"])
    op.create_table(
        "kpi_day_duplicates",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("pool", sa.String(128)),
        sa.Column("n", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_day_duplicates_day", "kpi_day_duplicates", ["day"])
    # The backfill runs the same rebuild the worker does. It imports the application's code,
    # which is safe for as long as the tables it reads keep their columns; a later revision
    # that changes them must freeze a copy of this rebuild here.
    from leadpilot.store.kpi_rollups import rebuild_rollups

    rebuild_rollups(op.get_bind())


def downgrade() -> None:
    for table in ("kpi_day_duplicates", "kpi_day_assignments", "kpi_day_leads"):
        op.drop_index(f"ix_{table}_day", table_name=table)
        op.drop_table(table)
    op.drop_table("kpi_day_marks")
    op.drop_index("ix_duplicate_intakes_lead_id", table_name="duplicate_intakes")
    op.drop_index("ix_leads_received_at", table_name="leads")
