"""``leadpilot crm check``: settings, API permissions (through the official clients against
the loopback stub, see ``crm_stub`` for the documented shapes) and the roster's owner ids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.crm.stub import CrmStub, StubServer, self_signed
from leadpilot.schema import Rep
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import upsert_reps
from tests.service.conftest import migrated_engine

TOKEN = "pat-na1-never-printed"
runner = CliRunner()


def roster(url: str, *, with_ids: bool) -> None:
    engine = migrated_engine(url)
    reps = [
        Rep(
            rep_id=f"rep-{i}",
            name=f"Rep {i}",
            pool="sdr",
            timezone="UTC",
            attributes={"hubspot_owner_id": str(7000 + i)} if with_ids or i == 1 else {},
        )
        for i in (1, 2)
    ]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
    engine.dispose()


@pytest.fixture
def hubspot_env(monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET", "HUBSPOT_BASE_URL"):
        monkeypatch.delenv(f"LEADPILOT_{name}", raising=False)
    return "ok"


def test_hubspot_check_passes_and_names_what_is_missing(
    sqlite_url: str, hubspot_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster(sqlite_url, with_ids=True)
    stub = CrmStub()
    with StubServer(stub) as hs:
        monkeypatch.setenv("LEADPILOT_HUBSPOT_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("LEADPILOT_HUBSPOT_BASE_URL", hs.url)
        result = runner.invoke(build_app(), ["crm", "check", "hubspot", "--db", sqlite_url])
        assert result.exit_code == 2, result.output
        assert "missing  LEADPILOT_HUBSPOT_CLIENT_SECRET" in result.output
        assert "ok  read contacts" in result.output
        assert "ok  read owners" in result.output
        monkeypatch.setenv("LEADPILOT_HUBSPOT_CLIENT_SECRET", "s")
        result = runner.invoke(build_app(), ["crm", "check", "hubspot", "--db", sqlite_url])
        assert result.exit_code == 0, result.output
        assert "hubspot: every check passed" in result.output
        assert {c.path for c in stub.calls} == {"/crm/v3/objects/contacts", "/crm/v3/owners/"}
        assert TOKEN not in result.output


def test_hubspot_check_names_reps_without_owner_id(
    sqlite_url: str, hubspot_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster(sqlite_url, with_ids=False)
    with StubServer(CrmStub()) as hs:
        monkeypatch.setenv("LEADPILOT_HUBSPOT_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("LEADPILOT_HUBSPOT_CLIENT_SECRET", "s")
        monkeypatch.setenv("LEADPILOT_HUBSPOT_BASE_URL", hs.url)
        result = runner.invoke(build_app(), ["crm", "check", "hubspot", "--db", sqlite_url])
    assert result.exit_code == 2
    assert "1 of 2 active reps have no hubspot_owner_id column value: rep-2" in result.output


def test_hubspot_check_reports_a_refused_token(
    sqlite_url: str, hubspot_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster(sqlite_url, with_ids=True)
    monkeypatch.setenv("LEADPILOT_HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("LEADPILOT_HUBSPOT_CLIENT_SECRET", "s")
    monkeypatch.setenv("LEADPILOT_HUBSPOT_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    result = runner.invoke(build_app(), ["crm", "check", "hubspot", "--db", sqlite_url])
    assert result.exit_code == 2
    assert "failed  read contacts (scope crm.objects.contacts.read): HubSpot" in result.output
    assert TOKEN not in result.output


@pytest.mark.parametrize("updateable", [True, False])
def test_salesforce_check_reads_lead_describe(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, updateable: bool
) -> None:
    engine = migrated_engine(sqlite_url)
    with write_transaction(engine) as conn:
        upsert_reps(
            conn,
            [
                Rep(
                    rep_id="rep-1",
                    name="R",
                    pool="sdr",
                    timezone="UTC",
                    attributes={"salesforce_user_id": "0055e000001AAAAAA1"},
                )
            ],
        )
    engine.dispose()
    cert = self_signed(tmp_path)
    stub = CrmStub(owner_updateable=updateable)
    with StubServer(stub, tls=cert) as sf:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert[0]))  # trust the stub's certificate
        monkeypatch.setenv("LEADPILOT_SALESFORCE_INSTANCE_URL", sf.url)
        monkeypatch.setenv("LEADPILOT_SALESFORCE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("LEADPILOT_SALESFORCE_ORGANIZATION_ID", "00D5e000000KQ2eEAG")
        result = runner.invoke(build_app(), ["crm", "check", "salesforce", "--db", sqlite_url])
    assert result.exit_code == (0 if updateable else 2), result.output
    assert "ok  read the Lead object" in result.output
    if not updateable:
        assert "OwnerId field is not updateable by this user" in result.output
    assert [c.path for c in stub.calls] == ["/services/data/v59.0/sobjects/Lead/describe"]


def test_roster_crm_columns_become_rep_attributes(tmp_path: Path) -> None:
    from leadpilot.ingest.roster import read_reps, reps_from_frame

    path = tmp_path / "reps.csv"
    path.write_text(
        "rep_id,name,pool,timezone,hubspot_owner_id,salesforce_user_id,notify_webhook_url\n"
        "r1,Ann,sdr,UTC,7001,0055e000001AAAAAA1,https://hooks.example/r1\n"
        "r2,Bo,sdr,UTC,,,\n",
        encoding="utf-8",
    )
    reps = reps_from_frame(read_reps(path))
    assert [dict(r.attributes) for r in reps] == [
        {
            "hubspot_owner_id": "7001",
            "salesforce_user_id": "0055e000001AAAAAA1",
            "notify_webhook_url": "https://hooks.example/r1",
        },
        {},
    ]


def test_sync_command_reports_and_refuses_a_bad_since(
    sqlite_url: str, hubspot_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster(sqlite_url, with_ids=True)
    stub = CrmStub(
        contacts={"5": {"email": "a@b.io", "lastmodifieddate": "2026-03-02T10:00:00+00:00"}}
    )
    with StubServer(stub) as hs:
        monkeypatch.setenv("LEADPILOT_HUBSPOT_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("LEADPILOT_HUBSPOT_BASE_URL", hs.url)
        bad = runner.invoke(
            build_app(), ["sync", "hubspot", "--since", "yesterday", "--db", sqlite_url]
        )
        assert bad.exit_code == 2
        assert "is not an ISO date" in bad.output
        result = runner.invoke(
            build_app(), ["sync", "hubspot", "--since", "2026-03-01", "--db", sqlite_url]
        )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 changed records, 0 events recorded, 0 already known, 1 not leadpilot leads" in text
    assert "next sync starts at 2026-03-02T10:00:00+00:00" in text
    [search] = [c for c in stub.calls if c.path.endswith("/search")]
    assert search.body["filterGroups"][0]["filters"][0]["value"] == str(
        int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    )


def test_a_malformed_crm_setting_is_named_not_echoed(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster(sqlite_url, with_ids=True)
    monkeypatch.setenv("LEADPILOT_NOTIFY_POOL_WEBHOOKS", "sdr=https://hooks.example/secret-path")
    result = runner.invoke(build_app(), ["crm", "check", "hubspot", "--db", sqlite_url])
    assert result.exit_code == 2
    assert "LEADPILOT_NOTIFY_POOL_WEBHOOKS" in result.output
    assert "secret-path" not in result.output
