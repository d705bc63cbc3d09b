"""Intake: readers, CRM presets, value normalisation, validation, identity and dedupe."""

from leadpilot.ingest.history import (
    REQUIREMENTS,
    IngestResult,
    Reject,
    check_requirements,
    read_history,
)
from leadpilot.ingest.presets import PRESETS, Preset, detect_preset, get_preset
from leadpilot.ingest.readers import RawTable, read_table
from leadpilot.ingest.values import parse_bool, parse_company_size, parse_number

__all__ = [
    "PRESETS",
    "REQUIREMENTS",
    "IngestResult",
    "Preset",
    "RawTable",
    "Reject",
    "check_requirements",
    "detect_preset",
    "get_preset",
    "parse_bool",
    "parse_company_size",
    "parse_number",
    "read_history",
    "read_table",
]
