"""The history audit: conversion by rep and source, rep x segment fit, speed-to-lead, routing
recommendations with projected impact, and the HTML / Markdown / JSON reports.

>>> analysis = analyze(frame)                      # doctest: +SKIP
>>> analysis.to_dict()["verdict"]["supports_predictive_routing"]  # doctest: +SKIP
"""

from __future__ import annotations

from leadpilot.analyze.core import TARGETS, Analysis, analyze
from leadpilot.analyze.narrative import request_narrative
from leadpilot.analyze.rates import rate_table, wilson_interval
from leadpilot.analyze.report_html import render_html, write_html
from leadpilot.analyze.report_md import render_markdown, write_markdown

__all__ = [
    "TARGETS",
    "Analysis",
    "analyze",
    "rate_table",
    "render_html",
    "render_markdown",
    "request_narrative",
    "wilson_interval",
    "write_html",
    "write_markdown",
]
