"""The one exception hierarchy of leadpilot.

::

    LeadpilotError                 base: every error the library raises on purpose
    ├── DataValidationError        input data is unusable (missing column, bad value, empty file)
    ├── PolicyError                a routing policy is invalid (names the key path)
    ├── NoEligibleRepError         no rep may take a lead under the policy
    ├── ModelError                 a model cannot be trained, loaded or used
    ├── StoreError                 the database is unreachable, outdated or inconsistent
    └── ConfigError                settings or command-line options are invalid

Messages say what went wrong, where, and how to fix it. The CLI prints them and exits
with code 2; the HTTP service turns them into a 4xx JSON error. No stack trace reaches a user.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataValidationError",
    "LeadpilotError",
    "ModelError",
    "NoEligibleRepError",
    "PolicyError",
    "StoreError",
]


class LeadpilotError(Exception):
    """Base class of every error leadpilot raises on purpose.

    ``hint`` says how to fix it; ``details`` holds machine-readable context (e.g. the row,
    the column, the key path) for the JSON error shape of the HTTP layer.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, object] = dict(details or {})

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nHow to fix: {self.hint}"
        return self.message


class DataValidationError(LeadpilotError):
    """Input data cannot be used as it is (missing column, unparseable value, empty file)."""


class PolicyError(LeadpilotError):
    """A routing policy is invalid; ``details['path']`` names the offending key."""


class NoEligibleRepError(LeadpilotError):
    """No rep may take the lead under the policy's rules."""


class ModelError(LeadpilotError):
    """A model cannot be trained, loaded or used (too little data, schema mismatch...)."""


class StoreError(LeadpilotError):
    """The database is unreachable, not migrated, or a write conflicts."""


class ConfigError(LeadpilotError):
    """Settings or command-line options are invalid."""
