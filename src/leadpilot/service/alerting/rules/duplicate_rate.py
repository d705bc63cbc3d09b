"""Duplicate rate (repeat intakes / all intakes) over target (default 3%)."""

from __future__ import annotations

from leadpilot.service.alerting.rate_target import RateTargetRule

__all__ = ["RULE"]

RULE = RateTargetRule("duplicate_rate", "duplicate rate")
