"""leadpilot: predictive lead routing that routes by evidence and proves its own lift."""

from __future__ import annotations

from leadpilot.errors import (
    ConfigError,
    DataValidationError,
    LeadpilotError,
    ModelError,
    NoEligibleRepError,
    PolicyError,
    StoreError,
)
from leadpilot.schema import Account, Candidate, Decision, Lead, Rep

__version__ = "0.1.0"

__all__ = [
    "Account",
    "Candidate",
    "ConfigError",
    "DataValidationError",
    "Decision",
    "Lead",
    "LeadpilotError",
    "ModelError",
    "NoEligibleRepError",
    "PolicyError",
    "Rep",
    "StoreError",
    "__version__",
]
