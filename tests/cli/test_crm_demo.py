"""``leadpilot demo --crm-stub``: the round trip runs and leaves the expected records."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.store.crm_tables import crm_inbox, crm_outbox
from leadpilot.store.tables import events


def test_crm_stub_demo_round_trip(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["demo", "--crm-stub", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps lines
    assert "delivered again: {'received': 1, 'new': 0, 'duplicates': 1}" in text
    assert "altered body: HTTP 401" in text
    assert "The rep clicks Accept: HTTP 200; the same link again: HTTP 409" in text
    assert "SOAP Ack sent" in text
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm-demo.db'}")
    with engine.connect() as conn:
        writes = conn.execute(
            sa.select(
                crm_outbox.c.crm,
                crm_outbox.c.status,
                crm_outbox.c.attempts,
                crm_outbox.c.rep_id,
                crm_outbox.c.owner_id,
            ).order_by(crm_outbox.c.id)
        ).all()
        inbox = conn.execute(sa.select(crm_inbox.c.crm, crm_inbox.c.status)).all()
        kinds = conn.execute(sa.select(events.c.type).order_by(events.c.received_at)).scalars()
        kinds = list(kinds)
    engine.dispose()
    # One write per decision, each sent once; the reassignment's write needed 2 attempts (429).
    assert [(w.crm, w.status, w.attempts) for w in writes] == [
        ("hubspot", "sent", 1),
        ("salesforce", "sent", 1),
        ("salesforce", "sent", 2),
    ]
    # The owner ids are the reps' columns: rep-<i> -> 700<i> / 0055e000001AAAAAA<i>.
    for w in writes:
        i = w.rep_id.removeprefix("rep-")
        assert w.owner_id == (f"700{i}" if w.crm == "hubspot" else f"0055e000001AAAAAA{i}")
    assert writes[1].rep_id != writes[2].rep_id  # declined: someone else
    assert sorted(inbox) == [("hubspot", "done"), ("salesforce", "done")]
    assert kinds == ["accepted", "declined"]
