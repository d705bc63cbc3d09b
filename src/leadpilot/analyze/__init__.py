"""The history audit: conversion by rep and source, rep x segment fit, speed-to-lead, routing
recommendations with projected impact, and the HTML / Markdown / JSON reports."""

from __future__ import annotations

from leadpilot.analyze.core import TARGETS, Analysis, analyze
from leadpilot.analyze.rates import wilson_interval

__all__ = ["TARGETS", "Analysis", "analyze", "wilson_interval"]
