"""Inputs the database cannot store are 422s that name the field, on both databases, and
nothing is written: NUL characters, non-finite numbers, over-long derived values, ids past
the key type and dates past the calendar arithmetic. The API's length limits are the
columns' own (issue 13 item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.service.schemas import EventCreate, LeadCreate, OutOfOffice, RepUpdate
from leadpilot.store.tables import events, leads, rep_out_of_office, reps

from .conftest import Api, build_api, make_reps, migrated_engine


@pytest.fixture(params=["sqlite", "postgres"])
def both(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Api]:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else sqlite_url
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(2))
    with api.client:
        yield api
    engine.dispose()


def _raw_post(api: Api, path: str, text: str) -> Any:
    return api.client.post(
        path, content=text, headers=api.headers(**{"Content-Type": "application/json"})
    )


BAD_LEADS: list[tuple[str, dict[str, Any], str]] = [
    ("NUL in a text field", {"lead_id": "n1", "company": "Ac\x00me"}, "body.company"),
    ("NUL in an attribute key", {"lead_id": "n2", "attributes": {"a\x00": 1}}, "body.attributes"),
    (
        "email domain past the column",
        {"lead_id": "n3", "email": "a@" + "x" * 300 + ".com"},
        "email",
    ),
    (
        "website host past the column",
        {"lead_id": "n4", "website": f"https://{'h' * 300}.com/"},
        "website",
    ),
    (
        "a date before 1900",
        {"lead_id": "n5", "created_at": "0001-01-02T00:00:00Z"},
        "body.created_at",
    ),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_LEADS, ids=[c[0] for c in BAD_LEADS])
def test_unstorable_lead_fields_are_422_and_nothing_is_stored(
    both: Api, case: str, body: dict[str, Any], field: str
) -> None:
    r = both.post("/v1/leads", body)
    assert r.status_code == 422, (case, r.status_code, r.text)
    assert r.json()["error"]["field"] == field
    with both.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar() == 0


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_are_422(both: Api, number: str) -> None:
    r = _raw_post(both, "/v1/leads", f'{{"lead_id": "f1", "attributes": {{"x": {number}}}}}')
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"].startswith("body.attributes")
    r = _raw_post(both, "/v1/leads", f'{{"lead_id": "f2", "engagement_score": {number}}}')
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "path",
    [
        "/v1/leads/%00",
        "/v1/reps/rep%0001",
        "/v1/decisions?lead_id=%00",
        "/v1/policy/diff?from=a%00&to=b",
        "/v1/decisions?after_id=2147483648",
        f"/v1/decisions?after_id={2**63 + 1}",
        "/v1/kpis?until=0001-01-02T00:00:00Z",
        "/v1/kpis?until=9999-12-31T23:00:00Z",
        f"/v1/reps/{'r' * 200}",
    ],
)
def test_unstorable_paths_and_queries_are_422(both: Api, path: str) -> None:
    r = both.client.get(path, headers=both.headers("admin"))
    assert r.status_code == 422, (path, r.status_code, r.text)
    assert r.json()["error"]["type"] in {"RequestValidationError", "DataValidationError"}


def test_unstorable_rep_and_event_values_are_422_and_nothing_is_stored(both: Api) -> None:
    long_id = "r" * 200
    r = both.client.put(f"/v1/reps/{long_id}", json={"name": "x"}, headers=both.headers())
    assert r.status_code == 422
    r = both.client.put("/v1/reps/rep-01", json={"name": "N\x00"}, headers=both.headers())
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "body.name"
    ooo = {
        "event_id": "e1",
        "type": "rep_out_of_office",
        "rep_id": "rep-01",
        "starts_at": "2026-03-03T00:00:00Z",
        "ends_at": "2026-03-04T00:00:00Z",
        "reason": "x" * 300,  # the schema said 512, the column holds 256
    }
    r = both.post("/v1/events", ooo)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "body.reason"
    with both.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rep_out_of_office)).scalar() == 0
        assert (
            conn.execute(sa.select(reps.c.name).where(reps.c.rep_id == "rep-01")).scalar()
            == "Rep 1"
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0


# Request fields stored in a column of the same name, by model and table.
_STORED = [
    (LeadCreate, leads, ["lead_id", "email", "company", "domain", "external_id"]),
    (
        RepUpdate,
        reps,
        ["name", "email", "pool", "role", "timezone", "working_hours", "backup_rep_id"],
    ),
    (EventCreate, events, ["event_id", "lead_id", "rep_id"]),
    (OutOfOffice, rep_out_of_office, ["reason"]),
    (EventCreate, rep_out_of_office, ["reason"]),
]


@pytest.mark.parametrize(
    ("model", "table", "names"), _STORED, ids=lambda v: getattr(v, "__name__", "")
)
def test_every_stored_text_field_fits_its_column(
    model: Any, table: sa.Table, names: list[str]
) -> None:
    """The OpenAPI schema's maxLength equals the column's length for every stored field."""
    properties = model.model_json_schema()["properties"]
    for name in names:
        spec = json.dumps(properties[name])
        limits = [
            p["maxLength"]
            for p in properties[name].get("anyOf", [properties[name]])
            if "maxLength" in p
        ]
        assert limits == [table.c[name].type.length], (model.__name__, name, spec)
