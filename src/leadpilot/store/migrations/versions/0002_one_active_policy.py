"""one active policy, enforced by the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 22:00:00

A partial unique index on ``policies(active) WHERE active``: two concurrent activations on
two replicas could leave two active rows, and then every intake failed. A database that
already has several active rows keeps the one activated last (by the activation log).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("active")


def upgrade() -> None:
    conn = op.get_bind()
    policies = sa.table("policies", sa.column("version"), sa.column("active", sa.Boolean))
    log = sa.table("policy_activations", sa.column("id"), sa.column("version"))
    active = conn.execute(sa.select(policies.c.version).where(policies.c.active)).scalars().all()
    if len(active) > 1:
        last = conn.execute(
            sa.select(log.c.version)
            .where(log.c.version.in_(active))
            .order_by(log.c.id.desc())
            .limit(1)
        ).scalar()
        keep = last or max(active)
        conn.execute(
            policies.update()
            .where(policies.c.active, policies.c.version != keep)
            .values(active=False)
        )
    op.create_index(
        "uq_policies_active",
        "policies",
        ["active"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_policies_active", table_name="policies")
