"""The console overview holds the KPIs to the same targets as the weekly review: the
active policy's ``targets:`` and alert-rule targets, the defaults without a policy."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import build_api, make_reps, migrated_engine

POLICY = """
pools:
  - name: sdr
    strategy: round_robin
targets:
  sla_attainment: 0.925
alerts:
  duplicate_rate: {target: 0.02}
"""


def _targets(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-kpi="([^"]+)"><td>[^<]*</td><td[^>]*>[^<]*</td>'
                      r'<td class="basis">[^<]*</td><td>([^<]*)</td>', page)  # fmt: skip
    return {key: target.replace("&gt;", ">").replace("&lt;", "<") for key, target in rows}


def test_overview_targets_follow_the_active_policy(tmp_path: Path) -> None:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    api = build_api(engine, make_reps(2))
    with api.client:
        before = _targets(api.client.get("/", headers=api.headers("reader")).text)
        resp = api.post("/v1/policy", {"policy": POLICY}, role="admin")
        assert resp.status_code == 201, resp.text
        after = _targets(api.client.get("/", headers=api.headers("reader")).text)
    assert (before["sla"], before["reassignment"], before["duplicate"]) == (">= 90%", "<= 5%",
                                                                           "<= 3%")  # fmt: skip
    assert (after["sla"], after["reassignment"], after["duplicate"]) == (">= 92.5%", "<= 5%",
                                                                         "<= 2%")  # fmt: skip
    engine.dispose()
