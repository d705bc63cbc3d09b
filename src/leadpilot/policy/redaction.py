"""Secrets in a policy file's text, hidden from readers.

A Slack or CRM webhook URL (``notify_url`` and any other ``*_url`` key) carries its secret in
the path or query, so a reader token sees ``scheme://host/(redacted)`` in its place; admins,
who can upload policies anyway, see the file as written. Text-level (not a YAML round trip)
so the reader still sees the file's comments, order and layout.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["redact_policy_text"]

_URL_VALUE = re.compile(
    r"^(?P<head>[ \t]*(?:-[ \t]+)?[A-Za-z0-9_]*url[ \t]*:[ \t]*)"
    r"(?P<quote>['\"]?)(?P<url>[^\s'\"#]+)(?P=quote)",
    re.MULTILINE | re.IGNORECASE,
)


def _hidden(match: re.Match[str]) -> str:
    parts = urlsplit(match["url"])
    host = f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else "(URL)"
    return f"{match['head']}{match['quote']}{host}/(redacted){match['quote']}"


def redact_policy_text(text: str) -> str:
    """``text`` with the value of every ``*_url`` key reduced to its scheme and host."""
    return _URL_VALUE.sub(_hidden, text)
