"""Smaller contract defects of issue 13 item 7: a reused event_id with different content is a
409 (not a silent drop), and an oversized chunked body is a 413 (not a 400)."""

from __future__ import annotations

from collections.abc import Iterator

from .conftest import Api


def test_a_reused_event_id_with_different_content_is_409(api: Api) -> None:
    lead = api.post("/v1/leads", {"lead_id": "L1"}).json()
    rep = lead["decision"]["rep_id"]
    touch = {"event_id": "ev-1", "type": "first_touch", "lead_id": "L1", "rep_id": rep}
    first = api.post("/v1/events", touch)
    assert first.status_code == 201, first.text
    again = api.post("/v1/events", touch)  # a retry: same content
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    other = api.post("/v1/events", {**touch, "type": "meeting_booked"})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["field"] == "event_id"
    assert "different event" in other.json()["error"]["message"]
    assert api.get("/v1/leads/L1").json()["meeting_at"] is None  # nothing applied


def test_an_oversized_chunked_body_is_413(api: Api) -> None:
    limit = api.client.app.state.ctx.settings.max_request_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        yield b'{"lead_id": "big", "company": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = api.client.post(
        "/v1/leads",
        content=chunks(),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, r.text
    assert r.json()["error"]["type"] == "PayloadTooLarge"
    assert api.client.get("/v1/leads/big", headers=api.headers()).status_code == 404
    small = api.client.post(
        "/v1/leads",
        content=iter([b'{"lead_id": ', b'"small"}']),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert small.status_code == 201, small.text
