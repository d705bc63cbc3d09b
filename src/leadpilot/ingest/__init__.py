"""Intake: readers, CRM presets, value normalisation, validation, identity and dedupe.

Start with :func:`read_history` (any supported export -> the canonical history frame) and
:func:`quality_report` (is it enough to learn from?). Rosters and accounts: :func:`read_reps`,
:func:`read_accounts`; typed records: :func:`leads_from_frame`, :func:`reps_from_frame`,
:func:`accounts_from_frame`.
"""

from leadpilot.ingest.history import (
    REQUIREMENTS,
    IngestResult,
    Reject,
    check_requirements,
    read_history,
)
from leadpilot.ingest.presets import PRESETS, Preset, detect_preset, get_preset
from leadpilot.ingest.quality import QualityReport, RateEstimate, RepSummary, quality_report
from leadpilot.ingest.readers import RawTable, read_table
from leadpilot.ingest.roster import (
    accounts_from_frame,
    leads_from_frame,
    read_accounts,
    read_reps,
    reps_from_frame,
)
from leadpilot.ingest.values import parse_bool, parse_company_size, parse_number

__all__ = [
    "PRESETS",
    "REQUIREMENTS",
    "IngestResult",
    "Preset",
    "QualityReport",
    "RateEstimate",
    "RawTable",
    "Reject",
    "RepSummary",
    "accounts_from_frame",
    "check_requirements",
    "detect_preset",
    "get_preset",
    "leads_from_frame",
    "parse_bool",
    "parse_company_size",
    "parse_number",
    "quality_report",
    "read_accounts",
    "read_history",
    "read_reps",
    "read_table",
    "reps_from_frame",
]
