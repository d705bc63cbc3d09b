"""``deps.storable_url`` reads the path from the ASGI scope instead of ``request.url``: the
same verdict as the URL Starlette builds, for any path (a second implementation)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from leadpilot.errors import DataValidationError
from leadpilot.service.deps import storable_url

# Characters Starlette escapes or URL parsing treats specially, NUL, and plain ones.
_PATH_CHARS = st.sampled_from(["\x00", "?", "#", "\\", "/", "%", " ", "\t", "a", "é", ":"])


def _scope(path: str, query: bytes, host: bytes | None) -> dict[str, object]:
    headers = [(b"host", host)] if host is not None else []
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": path,
        "query_string": query,
        "headers": headers,
    }


def _refused(request: Request) -> bool:
    try:
        asyncio.run(storable_url(request))
    except DataValidationError:
        return True
    return False


@given(
    path=st.lists(_PATH_CHARS, max_size=12).map(lambda cs: "/" + "".join(cs)),
    query=st.sampled_from([b"", b"a=1", b"a=%00", b"x=%0"]),
    host=st.sampled_from([None, b"example.com", b"127.0.0.1:8000"]),
)
def test_the_verdict_is_the_one_of_the_url_starlette_builds(
    path: str, query: bytes, host: bytes | None
) -> None:
    request = Request(_scope(path, query, host))
    expected = "\x00" in request.url.path or b"%00" in query
    assert _refused(Request(_scope(path, query, host))) == expected


@pytest.mark.parametrize(
    ("path", "query", "refused"),
    [
        ("/v1/leads", b"", False),
        ("/v1/leads/\x00", b"", True),
        ("/v1/leads/a?\x00", b"", True),  # a decoded %3F before the NUL: still the path
        ("/v1/decisions", b"lead_id=%00", True),
    ],
)
def test_nul_in_the_path_or_query_is_refused(path: str, query: bytes, refused: bool) -> None:
    assert _refused(Request(_scope(path, query, b"example.com"))) == refused
