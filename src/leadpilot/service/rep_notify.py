"""Tell the rep about every new lead they own: a Slack-compatible message with the lead,
why them, the SLA deadline and signed Accept / Decline links, queued in the webhook
outbox (``webhook_deliveries``: retries with backoff, an alert when it gives up).

Assignments are read from the decision log after a stored cursor, so intake, queue drains
and reassignments are all covered without a hook in each write path.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from leadpilot.crm.config import CrmSettings
from leadpilot.crm.links import LinkClaims, make_link_token
from leadpilot.service.core import RoutingService
from leadpilot.store.alerts import enqueue_webhook
from leadpilot.store.crm_queue import (
    assignments_after,
    enqueue_write,
    get_cursor,
    set_cursor,
)
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import get_reps

__all__ = [
    "NOTIFY_CURSOR",
    "assignment_email",
    "assignment_message",
    "link_secret",
    "links_for",
    "queue_assignment_notices",
]

NOTIFY_CURSOR = "notify:decision_id"
_DEFAULT_BASE = "http://localhost:8000"


def link_secret(service: RoutingService, crm: CrmSettings) -> str:
    """The key of the links: ``LEADPILOT_LINK_SECRET``, else one derived from the webhook
    secret (so every replica agrees without another setting)."""
    if crm.link_secret is not None:
        return crm.link_secret.get_secret_value()
    key = service.settings.webhook_secret.encode()
    return hmac.new(key, b"leadpilot accept/decline links", hashlib.sha256).hexdigest()


def links_for(service: RoutingService, crm: CrmSettings, row: Any, now: datetime) -> dict[str, str]:
    """The Accept and Decline URLs of one assignment (``row``: ``assignments_after``)."""
    secret = link_secret(service, crm)
    base = (crm.public_url or _DEFAULT_BASE).rstrip("/")
    expires = now + timedelta(hours=crm.link_hours)
    return {
        action: f"{base}/links/"
        + make_link_token(
            secret,
            LinkClaims(
                lead_id=row.lead_id,
                rep_id=row.rep_id,
                decision_id=row.id,
                action=action,
                expires_at=expires,
            ),
        )
        for action in ("accept", "decline")
    }


def assignment_email(row: Any, *, accept_url: str, decline_url: str) -> tuple[str, str]:
    """Subject and plain text of the e-mail notice."""
    why = ", ".join(str(r) for r in list(row.reasons or [])[:3]) or "-"
    deadline = row.sla_deadline.isoformat() if row.sla_deadline is not None else "none"
    who = row.company or row.lead_id
    subject = f"New lead for you: {who}"
    text = (
        f"Lead {row.lead_id} ({who}) was assigned to you.\n"
        f"Why you: {why}\nFirst touch due by: {deadline}\n\n"
        f"Accept: {accept_url}\nDecline: {decline_url}\n"
    )
    return subject, text


def assignment_message(row: Any, *, accept_url: str, decline_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook body (``text``) plus machine-readable fields."""
    why = ", ".join(str(r) for r in list(row.reasons or [])[:3]) or "-"
    deadline = row.sla_deadline.isoformat() if row.sla_deadline is not None else "none"
    who = row.company or row.lead_id
    text = (
        f":inbox_tray: New lead for you: {who} ({row.lead_id}). Why you: {why}. "
        f"First touch due by {deadline}.\n<{accept_url}|Accept>  ·  <{decline_url}|Decline>"
    )
    return {
        "text": text,
        "event": "lead_assigned",
        "lead_id": row.lead_id,
        "rep_id": row.rep_id,
        "external_id": row.external_id,
        "reasons": list(row.reasons or []),
        "sla_deadline": None if row.sla_deadline is None else row.sla_deadline.isoformat(),
        "accept_url": accept_url,
        "decline_url": decline_url,
    }


def queue_assignment_notices(service: RoutingService, crm: CrmSettings, now: datetime) -> int:
    """Queue a notice for each assignment since the cursor to the rep's webhook (reps.csv
    column ``notify_webhook_url``, else the decision's or the rep's pool's in
    ``LEADPILOT_NOTIFY_POOL_WEBHOOKS``,
    else ``LEADPILOT_NOTIFY_WEBHOOK_URL``). Returns how many."""
    queued = 0
    with write_transaction(service.engine) as conn:
        after = int(get_cursor(conn, NOTIFY_CURSOR) or 0)
        rows = assignments_after(conn, after, limit=200)
        # One read for the batch's reps: a query or two per assignment was most of this
        # pass's CPU at 100 leads/s (benchmarks/service_latency.py --profile).
        reps_of = get_reps(conn, (row.rep_id for row in rows))
        for row in rows:
            rep = reps_of.get(row.rep_id)
            url = (
                (rep.attributes.get("notify_webhook_url") if rep else None)
                or crm.notify_pool_webhooks.get(row.pool or "")
                or (crm.notify_pool_webhooks.get(rep.pool or "") if rep else None)
                or crm.notify_webhook_url
            )
            if crm.smtp_host and rep is not None and rep.email and len(rep.email) <= 128:
                # E-mails go through the CRM outbox (retries, dead letter): the message is
                # built when sent, from the decision.
                enqueue_write(
                    conn,
                    crm="email",
                    record_id=str(row.id),
                    lead_id=row.lead_id,
                    decision_id=row.id,
                    rep_id=row.rep_id,
                    owner_id=rep.email,
                    now=now,
                )
                queued += 1
            if not url:
                continue
            links = links_for(service, crm, row, now)
            message = assignment_message(
                row, accept_url=links["accept"], decline_url=links["decline"]
            )
            enqueue_webhook(conn, str(url), message, now=now)
            queued += 1
        if rows:
            set_cursor(conn, NOTIFY_CURSOR, str(rows[-1].id), now)
    return queued
