"""Reassignment rate (routed leads reassigned at least once) over target (default 5%)."""

from __future__ import annotations

from leadpilot.service.alerting.rate_target import RateTargetRule

__all__ = ["RULE"]

RULE = RateTargetRule("reassignment_rate", "reassignment rate")
