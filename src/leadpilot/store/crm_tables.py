"""The CRM tables: the webhook inbox, the write-back outbox and the sync cursors
(created by migration 0004; same ``metadata`` as ``store.tables``)."""

from __future__ import annotations

import sqlalchemy as sa

from leadpilot.store.tables import metadata
from leadpilot.store.types import UTCDateTime

__all__ = ["crm_cursors", "crm_inbox", "crm_outbox"]

# One row per CRM webhook event (HubSpot event id, Salesforce notification id): stored on
# receipt so the webhook answers within the CRM's timeout, processed by the worker.
crm_inbox = sa.Table(
    "crm_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("crm", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(2000)),
    sa.Column("lead_id", sa.String(128)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime),
    sa.UniqueConstraint("crm", "event_id"),
)

# One row per owner write to a CRM record. ``status``: pending, sent, superseded (a later
# decision replaced it before it was sent), dead (gave up after the maximum attempts).
crm_outbox = sa.Table(
    "crm_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("crm", sa.String(16), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("lead_id", sa.String(128), nullable=False),
    sa.Column("decision_id", sa.Integer, nullable=False),
    sa.Column("rep_id", sa.String(128), nullable=False),
    sa.Column("owner_id", sa.String(128)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("last_error", sa.String(2000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_crm_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_crm_outbox_crm_record_id", "crm", "record_id"),
)

# Named positions: the last decision id turned into outbox rows, sync cursors.
crm_cursors = sa.Table(
    "crm_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
