"""Alert upkeep, run by the worker: evaluate the rules, then open, refresh and resolve.

Rules read on a plain connection; the alert writes run in one write transaction, serialised
across replicas (``store.alerts.lock_alerts``), so a condition found by two workers is one
alert (the database also allows one open alert per condition key). A rule that fails is
logged and skipped: its open alerts stay as they are rather than resolve.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from leadpilot.service.alerting.base import Finding, RuleContext, settings_of
from leadpilot.service.alerting.registry import ALERT_RULES
from leadpilot.service.core import RoutingService
from leadpilot.service.inputs import usable_reps
from leadpilot.service.notify import alert_message
from leadpilot.store.alerts import (
    enqueue_webhook,
    lock_alerts,
    open_alert,
    open_rule_alerts,
    resolve_alert,
    touch_alert,
)
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import list_reps

__all__ = ["AlertPass", "AlertSchedule", "check_alerts"]

log = logging.getLogger("leadpilot.alerts")


@dataclass
class AlertPass:
    """What one evaluation did, by condition key."""

    opened: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)


def check_alerts(service: RoutingService, now: datetime | None = None) -> AlertPass:
    """Evaluate every enabled rule of the active policy at ``now`` and bring the stored
    alerts in line: open new conditions, refresh held ones, resolve cleared ones; new and
    resolved alerts are sent to the policy's ``notify_url``."""
    now = now or service.clock()
    done = AlertPass()
    findings: dict[str, list[Finding]] = {}
    with service.engine.connect() as conn:
        roster = list_reps(conn, now=now)
        reps, _ = usable_reps(roster)
        policy = service.inputs.policy(conn, reps)
        ctx = RuleContext(conn=conn, now=now, policy=policy, reps=reps, roster=roster)
        for kind, rule in ALERT_RULES.items():
            settings = settings_of(policy, kind)
            if not settings.enabled:
                continue
            try:
                findings[kind] = rule.evaluate(ctx, settings)
            except Exception:  # one broken rule must not stop the others
                log.exception("alert rule %s failed", kind)
                done.failed_rules.append(kind)
        idle = not any(findings.values()) and not open_rule_alerts(conn)
    if idle:  # most passes: nothing found, nothing open; no write lock taken
        return done
    with write_transaction(service.engine) as conn:
        lock_alerts(conn)
        open_rows = {row.condition_key: row for row in open_rule_alerts(conn)}
        url = policy.notify_url
        for kind, found in findings.items():
            severity = settings_of(policy, kind).severity
            keys = set()
            for f in found:
                keys.add(f.key)
                row = open_rows.get(f.key)
                if row is not None:
                    touch_alert(conn, row.id, message=f.message, details=f.details, now=now)
                    done.refreshed.append(f.key)
                    continue
                alert_id = open_alert(
                    conn,
                    key=f.key,
                    kind=kind,
                    severity=severity,
                    message=f.message,
                    details=f.details,
                    lead_id=f.lead_id,
                    now=now,
                )
                done.opened.append(f.key)
                if url:
                    enqueue_webhook(
                        conn,
                        url,
                        alert_message("opened", alert_id, kind, severity, f.key, f.message),
                        now=now,
                    )
            for key, row in open_rows.items():
                if row.kind == kind and key not in keys:
                    resolve_alert(conn, row.id, now)
                    done.resolved.append(key)
                    if url:
                        enqueue_webhook(
                            conn,
                            url,
                            alert_message("resolved", row.id, kind, row.severity, key, row.message),
                            now=now,
                        )
    return done


class AlertSchedule:
    """Runs ``check_alerts`` from the worker's loop every ``alerts.every_seconds`` of the
    active policy (read after each pass)."""

    def __init__(self) -> None:
        self._next = 0.0

    def maybe_run(self, service: RoutingService) -> AlertPass | None:
        """Check the alerts if due (monotonic time); returns the pass, or ``None``."""
        if time.monotonic() < self._next:
            return None
        done = check_alerts(service)
        with service.engine.connect() as conn:
            reps, _ = usable_reps(list_reps(conn))
            every = service.inputs.policy(conn, reps).alert_settings.every_seconds
        self._next = time.monotonic() + every
        return done
