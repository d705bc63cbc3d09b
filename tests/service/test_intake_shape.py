"""One intake shape for CSV, CLI and API (issue 13, item 12): size bands, custom fields at top
level, and the CRM record id kept and usable to find the lead."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from leadpilot.cli.route import _read_lead
from leadpilot.ingest import leads_from_frame
from leadpilot.ingest.values import parse_size_column

from .conftest import Api
from .policies import HOT_SLA


def test_api_takes_a_size_band_and_top_level_custom_fields(api: Api) -> None:
    resp = api.post("/v1/policy", {"policy": HOT_SLA.format(notify_url="")}, role="admin")
    assert resp.status_code == 201, resp.text
    body = {"lead_id": "L1", "company_size": "51-200", "demo_request": True, "utm": "ads"}
    resp = api.post("/v1/leads", body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["decision"]["lane"] == "hot"  # the hot lane keys on demo_request
    fields = api.get("/v1/leads/L1").json()["fields"]
    # A band stands for its midpoint: (51 + 200) / 2.
    assert fields["company_size"] == 125.5
    assert fields["size_band"] == "51-200"
    assert fields["attributes"] == {"demo_request": True, "utm": "ads"}


def test_api_cli_and_csv_read_a_lead_the_same_way(api: Api, tmp_path: Path) -> None:
    raw = {"lead_id": "L2", "company_size": "1000+", "demo_request": True}
    path = tmp_path / "lead.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    cli = _read_lead(path)
    sizes, bands = parse_size_column(pd.Series([raw["company_size"]], dtype=object))
    csv = leads_from_frame(
        pd.DataFrame(
            [
                {
                    "lead_id": "L2",
                    "company_size": sizes.values.iloc[0],
                    "size_band": bands.iloc[0],
                    "demo_request": True,
                }
            ]
        )
    )[0]
    assert api.post("/v1/leads", raw).status_code == 201
    fields = api.get("/v1/leads/L2").json()["fields"]
    # "1000+" is an open band, read as twice its floor: 2000 employees, band 1001-5000.
    assert fields["company_size"] == cli.company_size == csv.company_size == 2000.0
    assert fields["size_band"] == cli.size_band == csv.size_band == "1001-5000"
    assert fields["attributes"]["demo_request"] is cli.attributes["demo_request"] is True


def test_a_custom_field_given_twice_or_a_bad_band_is_a_clear_422(api: Api) -> None:
    both = api.post("/v1/leads", {"lead_id": "L3", "tier": "1", "attributes": {"tier": "2"}})
    assert both.status_code == 422
    assert "'tier'" in both.json()["error"]["message"]
    assert "attributes" in both.json()["error"]["message"]
    band = api.post("/v1/leads", {"lead_id": "L4", "company_size": "lots"})
    assert band.status_code == 422
    assert band.json()["error"]["field"] == "body.company_size"
    assert "51-200" in band.json()["error"]["message"]


def test_crm_record_id_is_kept_and_finds_the_lead(api: Api) -> None:
    hub = {"id": "901", "properties": {"email": "jo@globex.io", "numberofemployees": "11-50"}}
    resp = api.post("/v1/leads?format=hubspot", hub)
    assert resp.status_code == 201, resp.text
    assert resp.json()["lead_id"] == "hubspot:901"
    lead = api.get("/v1/leads/hubspot:901").json()
    assert lead["fields"]["external_id"] == "hubspot:901"
    assert lead["fields"]["size_band"] == "11-50"
    # A canonical lead with its own id is still found by its CRM id.
    resp = api.post("/v1/leads", {"lead_id": "L5", "external_id": "salesforce:00Q9"})
    assert resp.status_code == 201
    found = api.get("/v1/leads/salesforce:00Q9").json()
    assert found["lead_id"] == "L5"
    assert [d["lead_id"] for d in found["decisions"]] == ["L5"]
    assert api.get("/v1/leads/salesforce:nope").status_code == 404
