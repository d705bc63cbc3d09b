"""Alert rules evaluated by the worker: a registry of rule objects (``rules/``), each
finding the conditions it watches; ``upkeep.check_alerts`` opens one alert per condition
key, refreshes it while the condition holds, resolves it when the condition clears, and
sends both to the policy's ``notify_url``. Settings: the policy's ``alerts:`` section."""

from __future__ import annotations

from leadpilot.service.alerting.base import AlertRule, Finding, RuleContext
from leadpilot.service.alerting.registry import ALERT_RULES
from leadpilot.service.alerting.upkeep import AlertPass, AlertSchedule, check_alerts

__all__ = [
    "ALERT_RULES",
    "AlertPass",
    "AlertRule",
    "AlertSchedule",
    "Finding",
    "RuleContext",
    "check_alerts",
]
