"""The alert rule registry: every module of ``alerting.rules`` exposes ``RULE``; adding a
rule is a new module there and its settings in ``policy.alert_settings``."""

from __future__ import annotations

import importlib
import pkgutil

from leadpilot.policy.alert_settings import AlertsSettings
from leadpilot.service.alerting import rules as _rules_package
from leadpilot.service.alerting.base import AlertRule

__all__ = ["ALERT_RULES", "load_rules"]


def load_rules() -> dict[str, AlertRule]:
    """Every rule, by kind; each kind has its settings under the policy's ``alerts:``."""
    found: dict[str, AlertRule] = {}
    for info in sorted(pkgutil.iter_modules(_rules_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_rules_package.__name__}.{info.name}")
        rule: AlertRule = module.RULE
        if rule.kind in found:
            raise RuntimeError(f"two alert rules of kind {rule.kind!r}")
        if rule.kind not in AlertsSettings.model_fields:
            raise RuntimeError(f"alert rule {rule.kind!r} has no settings in AlertsSettings")
        found[rule.kind] = rule
    return found


ALERT_RULES: dict[str, AlertRule] = load_rules()
