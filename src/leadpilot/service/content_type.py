"""API bodies must be JSON: a request to ``/v1/...`` with a body and another content type
gets 415 saying why.

Without this, ``curl -d '{...}'`` (which sends ``application/x-www-form-urlencoded``) gets a
422 about the body's shape, which sends the user looking for a wrong field.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from leadpilot.service.errors import error_body

__all__ = ["JsonContentType", "is_json_media_type"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Salesforce Outbound Messages are SOAP: XML bodies are allowed on this path only.
_XML_PATHS = frozenset({"/v1/webhooks/salesforce"})
_XML_TYPES = frozenset({"text/xml", "application/soap+xml", "application/xml"})


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or any ``application/*+json``, parameters (charset) ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonContentType:
    """Answer 415 in the one error shape when a request body is not declared as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith("/v1/")  # the console's forms post HTML forms
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        has_body = headers.get(b"transfer-encoding", b"").lower() == b"chunked" or headers.get(
            b"content-length", b"0"
        ).strip() not in (b"", b"0")
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        media = content_type.split(";", 1)[0].strip().lower()
        xml_ok = scope["path"] in _XML_PATHS and media in _XML_TYPES
        if not has_body or is_json_media_type(content_type) or xml_ok:
            await self.app(scope, receive, send)
            return
        got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        body = error_body(
            "UnsupportedMediaType",
            f"the request body must be JSON, but it came with {got}",
            hint="send the header 'Content-Type: application/json' "
            "(curl -d sends application/x-www-form-urlencoded unless told otherwise)",
            field="Content-Type",
            details={"content_type": content_type or None},
        )
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 415,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
