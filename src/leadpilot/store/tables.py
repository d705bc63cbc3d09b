"""The database tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

import sqlalchemy as sa

from leadpilot.store.types import UTCDateTime

__all__ = [
    "accounts",
    "alerts",
    "api_tokens",
    "decisions",
    "duplicate_intakes",
    "events",
    "idempotency_keys",
    "kpi_day_assignments",
    "kpi_day_duplicates",
    "kpi_day_leads",
    "kpi_day_marks",
    "leads",
    "leases",
    "metadata",
    "model_events",
    "models",
    "policies",
    "policy_activations",
    "rep_out_of_office",
    "reps",
    "routing_counters",
    "sla_timers",
    "webhook_deliveries",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

reps = sa.Table(
    "reps",
    metadata,
    sa.Column("rep_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(256)),
    sa.Column("email", sa.String(320)),
    sa.Column("pool", sa.String(128)),
    sa.Column("role", sa.String(128)),
    sa.Column("regions", sa.JSON, nullable=False, default=list),
    sa.Column("industries", sa.JSON, nullable=False, default=list),
    sa.Column("products", sa.JSON, nullable=False, default=list),
    sa.Column("languages", sa.JSON, nullable=False, default=list),
    sa.Column("max_leads_per_day", sa.Integer),
    sa.Column("max_open_leads", sa.Integer),
    sa.Column("timezone", sa.String(64), nullable=False, default="UTC"),
    sa.Column("working_hours", sa.String(256)),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("start_date", sa.Date),
    sa.Column("backup_rep_id", sa.String(128)),
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

rep_out_of_office = sa.Table(
    "rep_out_of_office",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rep_id", sa.String(128), sa.ForeignKey("reps.rep_id"), nullable=False, index=True),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(512)),
    sa.Column("name_key", sa.String(512), index=True),
    sa.Column("domain", sa.String(256), index=True),
    sa.Column("owner_rep_id", sa.String(128)),
    sa.Column("has_open_opportunity", sa.Boolean, nullable=False, default=False),
    sa.Column("last_touch_at", UTCDateTime),
    sa.Column("tier", sa.String(64)),
)

# status: routed (has a live rep), queued (waiting for capacity or working hours), nurture
# (the policy sends it back to marketing), closed (won or lost), history (loaded from a CSV).
leads = sa.Table(
    "leads",
    metadata,
    sa.Column("lead_id", sa.String(128), primary_key=True),
    sa.Column("email", sa.String(320), index=True),
    sa.Column("external_id", sa.String(256), index=True),
    sa.Column("company", sa.String(512)),
    sa.Column("domain", sa.String(256)),
    sa.Column("account_id", sa.String(128)),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False, index=True),  # index: migration 0008
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("rep_id", sa.String(128), index=True),
    sa.Column("lane", sa.String(32)),
    sa.Column("queue_reason", sa.String(256)),
    sa.Column("queued_at", UTCDateTime),
    sa.Column("reassignments", sa.Integer, nullable=False, default=0),
    sa.Column("first_touch_at", UTCDateTime),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("meeting_at", UTCDateTime),
    sa.Column("opportunity_at", UTCDateTime),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("closed_won", sa.Boolean),
)

duplicate_intakes = sa.Table(
    "duplicate_intakes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "lead_id", sa.String(128), sa.ForeignKey("leads.lead_id"), nullable=False, index=True
    ),  # index: migration 0008 (a lead's first assignment marks its duplicates' days)
    sa.Column("matched_on", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False, index=True),
)

# trigger: intake, declined, sla_breach, acceptance_expired, queue_drain, manual.
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.String(128), sa.ForeignKey("leads.lead_id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("rep_id", sa.String(128), index=True),
    sa.Column("pool", sa.String(128)),
    sa.Column("lane", sa.String(32)),
    sa.Column("strategy", sa.String(64), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("candidates", sa.JSON, nullable=False),
    sa.Column("exclusions", sa.JSON, nullable=False),
    sa.Column("p_convert", sa.Float),
    sa.Column("confidence", sa.Float),
    sa.Column("propensity", sa.Float),
    sa.Column("model_version", sa.String(128)),
    sa.Column("policy_version", sa.String(128)),
    sa.Column("decided_at", UTCDateTime, nullable=False, index=True),
    sa.Column("sla_deadline", UTCDateTime),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("shadow_rep_id", sa.String(128)),
    sa.Column("fit_score", sa.Float),
    sa.Column("intent_score", sa.Float),
    sa.Column("grade", sa.String(8)),
    sa.Column("expected_value", sa.Float),  # migration 0006: value objectives
    sa.UniqueConstraint("lead_id", "seq"),
    # At most one live decision per lead, enforced by the database on both back ends.
    sa.Index(
        "uq_decisions_live_lead",
        "lead_id",
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    ),
)

# Reps' feedback on a lead's fit (migration 0007; ``fit_feedback`` events).
fit_feedback = sa.Table(
    "fit_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(128), nullable=False, unique=True),
    sa.Column("lead_id", sa.String(128), sa.ForeignKey("leads.lead_id"), nullable=False),
    sa.Column("rep_id", sa.String(128), nullable=False, index=True),
    sa.Column("fit", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(512)),
    sa.Column("strategy", sa.String(64)),
    sa.Column("pool", sa.String(128)),
    sa.Column("occurred_at", UTCDateTime, nullable=False, index=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("lead_id", sa.String(128), index=True),
    sa.Column("rep_id", sa.String(128)),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("outcome", sa.JSON, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("version", sa.String(128), primary_key=True),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=False),
    # The registry (migration 0005). status: candidate (trained, not routing), champion (the
    # one active version: ``active`` mirrors it), retired (a former champion, or a rejected
    # or superseded candidate). ``checksums``: SHA-256 of every artifact file; a file that no
    # longer matches refuses to load.
    sa.Column("status", sa.String(16)),
    sa.Column("trained_by", sa.String(256)),
    sa.Column("training_window", sa.JSON),
    sa.Column("data_fingerprint", sa.String(64)),
    sa.Column("metrics", sa.JSON),
    sa.Column("calibration", sa.JSON),
    sa.Column("feature_schema", sa.JSON),
    sa.Column("checksums", sa.JSON),
    sa.Column("reason", sa.Text),
    sa.Column("promoted_at", UTCDateTime),
    sa.Column("retired_at", UTCDateTime),
)

# What happened to each model version and why. action: registered, promoted, rejected,
# retired, rolled_back.
model_events = sa.Table(
    "model_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

# Named leases with an expiry (``store.leases``): SQLite's stand-in for PostgreSQL's
# advisory locks, e.g. "one replica retrains at a time".
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(256), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("version", sa.String(128), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author_token_id", sa.Integer),
    sa.Column("author", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=False),
    # At most one active version, enforced by the database (migration 0002).
    sa.Index(
        "uq_policies_active",
        "active",
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    ),
)

policy_activations = sa.Table(
    "policy_activations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(128), sa.ForeignKey("policies.version"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("author_token_id", sa.Integer),
    sa.Column("author", sa.String(256)),
    sa.Column("activated_at", UTCDateTime, nullable=False),
)

# kind: sla (first touch due) or acceptance (offer expires). status: pending, done, cancelled.
sla_timers = sa.Table(
    "sla_timers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lead_id", sa.String(128), sa.ForeignKey("leads.lead_id"), nullable=False),
    sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("rep_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("fired_at", UTCDateTime),
    sa.Index("ix_sla_timers_status_due", "status", "due_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("lead_id", sa.String(128)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    # One open alert per condition (migration 0003). source: rule (raised and resolved by a
    # rule of ``service.alerting``) or event (raised once by a write path; resolved when
    # acknowledged). status: open or resolved.
    sa.Column("condition_key", sa.String(256)),
    sa.Column("source", sa.String(16), nullable=False, server_default="event"),
    sa.Column("severity", sa.String(16), nullable=False, server_default="warning"),
    sa.Column("status", sa.String(16), nullable=False, server_default="open", index=True),
    sa.Column("last_seen_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("acknowledged_by", sa.String(256)),
    sa.Index(
        "uq_alerts_open_condition",
        "condition_key",
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
)

# status: pending (due at next_attempt_at), delivered, failed (gave up; an alert says so).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
)

# The router's mutable state (``leadpilot.policy.RoutingState``), one number per
# (kind, scope, key): "day" (scope = rep-local date, key = rep: leads assigned that day),
# "open" (scope "", key = rep: open leads), "win" (scope = pool, or "pool#segment=name" for
# the pool's leads of a policy segment; key = "UTC date|rep": the fairness window), "rr"
# (scope = pool, key = rep: rotation credits). Written in the decision's transaction.
routing_counters = sa.Table(
    "routing_counters",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("scope", sa.String(256), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),  # migration 0003; written at most once a minute
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Daily KPI rollups (migration 0008; ``store.kpi_rollups``). A day's rows are the raw KPI
# aggregation of that UTC day, rebuilt whole; ``kpi_day_marks`` says whether they are current:
# every write that changes a day's KPIs sets ``dirty`` in its own transaction, and readers use
# only clean days' rows (dirty days and the edges of a range are read raw).
kpi_day_marks = sa.Table(
    "kpi_day_marks",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("dirty", sa.Boolean, nullable=False),
)

# Leads received that day (history excluded) by their first assignment's pool and method and
# their lane. Counts over routed leads except ``leads``; ``waits``: the sorted first-touch
# waits in milliseconds (JSON list: medians need every value); ``sla_open``: promised and
# untouched, with the latest such deadline (a reader uses the day only once it has passed).
kpi_day_leads = sa.Table(
    "kpi_day_leads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("pool", sa.String(128)),
    sa.Column("lane", sa.String(32)),
    sa.Column("method", sa.String(64)),
    sa.Column("leads", sa.Integer, nullable=False),
    sa.Column("routed", sa.Integer, nullable=False),
    sa.Column("reassigned", sa.Integer, nullable=False),
    sa.Column("meetings", sa.Integer, nullable=False),
    sa.Column("opportunities", sa.Integer, nullable=False),
    sa.Column("sla_promised", sa.Integer, nullable=False),
    sa.Column("sla_met", sa.Integer, nullable=False),
    sa.Column("sla_touched", sa.Integer, nullable=False),
    sa.Column("sla_open", sa.Integer, nullable=False),
    sa.Column("sla_open_deadline_max", UTCDateTime),
    sa.Column("waits", sa.JSON, nullable=False),
)

# Decisions that gave a rep a lead that day, per decision pool and rep (fairness).
kpi_day_assignments = sa.Table(
    "kpi_day_assignments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("pool", sa.String(128)),
    sa.Column("rep_id", sa.String(128), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
)

# Repeat intakes received that day, per the pool of their lead's first assignment.
kpi_day_duplicates = sa.Table(
    "kpi_day_duplicates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("pool", sa.String(128)),
    sa.Column("n", sa.Integer, nullable=False),
)
