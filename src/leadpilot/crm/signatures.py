"""HubSpot webhook signatures, version 3 (``X-HubSpot-Signature-v3``).

HubSpot signs ``method + uri + body + timestamp`` with HMAC-SHA256 keyed by the app's client
secret and sends the base64 digest; ``X-HubSpot-Request-Timestamp`` is in milliseconds and a
request older than five minutes must be rejected (HubSpot's "Validating requests" guide).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote

__all__ = ["MAX_AGE_MS", "hubspot_v3_signature", "verify_hubspot_v3"]

MAX_AGE_MS = 5 * 60 * 1000

# HubSpot decodes these URL-encoded characters in the URI before signing.
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def _signed_uri(uri: str) -> str:
    for code in _DECODED:
        uri = uri.replace(code, unquote(code)).replace(code.lower(), unquote(code))
    return uri


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The base64 HMAC-SHA256 HubSpot sends for this request."""
    message = method.upper().encode() + _signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot_v3(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_ms: int,
) -> str | None:
    """``None`` when the request is authentic and fresh, else why not (for the 401)."""
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-HubSpot-Request-Timestamp is not a number of milliseconds"
    if abs(now_ms - sent) > MAX_AGE_MS:
        return "the request timestamp is more than 5 minutes away from now (stale or replayed)"
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "the signature does not match the body (wrong client secret or altered request)"
    return None
