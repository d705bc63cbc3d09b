"""``POST /v1/leads`` past FastAPI's routing (``service.intake_fast``): the same answers as
the FastAPI route, which serves every request the fast path does not take.

Two apps on two databases with the same reps, clock and seed: one is sent each request as
it is (the fast path takes it), the other the same request with ``?format=canonical`` (the
same route and format, through FastAPI: the fast path takes no query string); their
answers must be equal, byte for byte, and so must what they stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.service.intake_fast import LeadIntakeFastPath
from leadpilot.store.engine import write_transaction
from leadpilot.store.tokens import hash_token, lookup_token_hash, revoke_token
from tests.service.conftest import Api, build_api, make_reps, migrated_engine


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Api, Api]]:
    apis = []
    for name in ("fast", "routed"):
        engine = migrated_engine(f"sqlite:///{tmp_path / name}.db")
        apis.append(build_api(engine, make_reps(6)))
    fast, routed = apis
    # the same tokens in both databases, so the answers may be compared as they are
    with fast.client, routed.client:
        yield fast, routed
    for api in apis:
        api.engine.dispose()


@pytest.fixture
def forwarded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths (with query) of the requests the fast path handed on to FastAPI."""
    seen: list[str] = []
    forward = LeadIntakeFastPath._forward

    async def spy(self: Any, scope: Any, receive: Any, send: Any, messages: Any) -> None:
        query = scope.get("query_string", b"").decode()
        seen.append(scope["path"] + (f"?{query}" if query else ""))
        await forward(self, scope, receive, send, messages)

    monkeypatch.setattr(LeadIntakeFastPath, "_forward", spy)
    return seen


def _both(
    fast: Api,
    routed: Api,
    body: Any,
    *,
    token: tuple[str, str] | None = None,
    **headers: str,
) -> tuple[Any, Any]:
    """The same request to both apps (``token``: the role whose token each app sends, or an
    explicit (fast, routed) pair); the routed one with ``?format=canonical``."""
    answers = []
    for api, path in ((fast, "/v1/leads"), (routed, "/v1/leads?format=canonical")):
        sent = {**headers}
        if token is None:
            sent["Authorization"] = f"Bearer {api.tokens['writer']}"
        else:
            role = token[0] if api is fast else token[1]
            sent["Authorization"] = f"Bearer {api.tokens.get(role, role)}"
        if isinstance(body, bytes):
            sent.setdefault("Content-Type", "application/json")
            answers.append(api.client.post(path, content=body, headers=sent))
        else:
            answers.append(api.client.post(path, json=body, headers=sent))
    return answers[0], answers[1]


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a.headers["content-type"] == b.headers["content-type"]
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")


def test_new_duplicate_and_replayed_leads_answer_as_the_route_does(
    twins: tuple[Api, Api], forwarded: list[str]
) -> None:
    fast, routed = twins
    bodies = [
        {"lead_id": "F1", "email": "ann@acme.example", "company": "Acme", "industry": "saas"},
        {"lead_id": "F2", "company_size": "51-200", "demo_request": True, "region": "EMEA"},
        {"lead_id": "F3", "email": "ann@acme.example"},  # a duplicate of F1 by email: 200
        {"lead_id": "F1"},  # a duplicate by id
    ]
    statuses = []
    for body in bodies:
        a, b = _both(fast, routed, body)
        _same(a, b)
        statuses.append(a.status_code)
    assert statuses == [201, 201, 200, 200]
    # a retried Idempotency-Key gets the stored answer: the same in both, 201 again
    first = _both(fast, routed, {"lead_id": "F4"}, **{"Idempotency-Key": "k-1"})
    again = _both(fast, routed, {"lead_id": "F4"}, **{"Idempotency-Key": "k-1"})
    for a, b in (first, again):
        _same(a, b)
    assert first[0].status_code == again[0].status_code == 201
    assert first[0].json() == again[0].json()
    # the same key with another body: 422 from both
    reused = _both(fast, routed, {"lead_id": "F5"}, **{"Idempotency-Key": "k-1"})
    _same(*reused)
    assert reused[0].status_code == 422
    # the fast path took every request above; only the twin's went through FastAPI
    assert forwarded == ["/v1/leads?format=canonical"] * 7
    # and both stored the same leads and decisions
    for query in (
        "SELECT lead_id, rep_id, status, account_id FROM leads ORDER BY lead_id",
        "SELECT lead_id, rep_id, reasons FROM decisions ORDER BY lead_id",
    ):
        rows = []
        for api in twins:
            with api.engine.connect() as conn:
                rows.append(conn.execute(sa.text(query)).all())
        assert rows[0] == rows[1]
        assert [row[0] for row in rows[0]] == ["F1", "F2", "F4"]


def test_refusals_answer_as_the_route_does(twins: tuple[Api, Api], forwarded: list[str]) -> None:
    fast, routed = twins
    # a reader token: 403; an unknown one: 401 (both found in the fast path's intake)
    for role in ("reader", "no-such-token"):
        a, b = _both(fast, routed, {"lead_id": "R1"}, token=(role, role))
        _same(a, b)
        assert a.status_code == (403 if role == "reader" else 401)
    assert forwarded == ["/v1/leads?format=canonical"] * 2
    # a token revoked after this process found it live: 401, nothing stored
    _same(*_both(fast, routed, {"lead_id": "R2"}))
    for api in twins:
        with write_transaction(api.engine) as conn:
            info = lookup_token_hash(conn, hash_token(api.tokens["writer"]))
            assert info is not None
            assert revoke_token(conn, info.id)
    a, b = _both(fast, routed, {"lead_id": "R3"})
    _same(a, b)
    assert a.status_code == 401
    with fast.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT lead_id FROM leads ORDER BY lead_id")).scalars()
        assert list(stored) == ["R2"]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"lead_id": "bad id!"}, {}, 422),  # does not validate: FastAPI's 422
        ({"lead_id": "V1", "x": "a\x00b"}, {}, 422),  # a NUL: unstorable
        (b'{"lead_id": ', {}, 422),  # not JSON
        (b"[1, 2]", {}, 422),  # not an object
        (b"", {}, 422),  # no body
        ({"lead_id": "V2"}, {"Idempotency-Key": "k" * 257}, 422),  # key too long
        ({"lead_id": "V3"}, {"Content-Type": "application/vnd.lead+json"}, 201),
        ({"lead_id": "V4"}, {"Content-Type": "text/plain"}, 415),
    ],
)
def test_what_the_fast_path_does_not_take_goes_to_fastapi(
    twins: tuple[Api, Api],
    forwarded: list[str],
    body: Any,
    headers: dict[str, str],
    status: int,
) -> None:
    fast, routed = twins
    if "Content-Type" in headers and not isinstance(body, bytes):
        import json

        body = json.dumps(body).encode()
    a, b = _both(fast, routed, body, **headers)
    _same(a, b)
    assert a.status_code == status
    if status != 415:  # JsonContentType answers a 415 before either
        assert forwarded == ["/v1/leads", "/v1/leads?format=canonical"]


def test_a_bad_token_is_refused_before_a_bad_body(
    twins: tuple[Api, Api], forwarded: list[str]
) -> None:
    fast, routed = twins
    a, b = _both(fast, routed, {"lead_id": "bad id!"}, token=("reader", "reader"))
    _same(a, b)
    assert a.status_code == 403
    missing = fast.client.post("/v1/leads", json={"lead_id": "M1"})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "missing bearer token"


def test_an_unexpected_error_is_a_500_without_a_trace(
    twins: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, routed = twins

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret detail")

    for api in twins:
        monkeypatch.setattr(api.service, "intake_many", broken)
    a, b = _both(fast, routed, {"lead_id": "E1"})
    _same(a, b)
    assert a.status_code == 500
    assert a.json()["error"]["type"] == "InternalError"
    assert "secret" not in a.text
    assert "Traceback" not in a.text


def test_the_bearer_token_is_read_as_httpbearer_reads_it(
    twins: tuple[Api, Api], forwarded: list[str]
) -> None:
    fast, _ = twins
    writer = fast.tokens["writer"]
    taken = fast.client.post(
        "/v1/leads", json={"lead_id": "B1"}, headers={"Authorization": f"bearer  {writer} "}
    )
    assert taken.status_code == 201
    assert forwarded == []
    for authorization in (f"Basic {writer}", "Bearer", "Bearer  ", ""):
        refused = fast.client.post(
            "/v1/leads", json={"lead_id": "B2"}, headers={"Authorization": authorization}
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "missing bearer token"
    assert forwarded == ["/v1/leads"] * 4


def test_the_fast_path_knows_every_parameter_of_the_route() -> None:
    """A parameter added to ``post_lead`` must be read by the fast path too."""
    import inspect

    from leadpilot.service.routes.leads import post_lead

    assert list(inspect.signature(post_lead).parameters) == [
        "body",
        "ctx",
        "token",
        "format",
        "idempotency_key",
    ]
