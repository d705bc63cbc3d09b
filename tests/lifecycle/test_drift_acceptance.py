"""Done-when of the model lifecycle: a synthetic world driven through the service over
simulated months in which rep skills change. The champion trained before the change loses
to the challenger trained after it, retrain promotes the challenger, and routing quality
against the ground truth recovers; a challenger trained on corrupted labels is rejected
with its reason recorded."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.lifecycle.registry import load_version
from leadpilot.lifecycle.retrain import RetrainOptions, retrain
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.models import active_model_row, events_of, get_version
from leadpilot.store.tables import leads, models

from .conftest import FAST
from .drift_world import build, expected_log_loss, routing_quality, simulate

pytestmark = pytest.mark.slow

# Five months: the team changed, older outcomes mislead. The default window (18 months) on
# the same scenario is test_drift_default_window.py: promoted too, and the stale year does
# not measurably dilute the challenger.
WINDOW = timedelta(days=150)
DAYS, PER_DAY = 60, 40


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("drift")
    sim = build(root)
    options = RetrainOptions(params=FAST, window=WINDOW, min_holdout=300)
    first = retrain(sim.engine, sim.store, options, now=sim.history_end + timedelta(days=1))
    assert first.action == "first_champion"
    with sim.engine.connect() as conn:
        champion = load_version(active_model_row(conn))
    eval_leads = sim.world.new_leads
    q_before = routing_quality(champion, sim.world.truth, eval_leads, sim.reps)
    q_stale = routing_quality(champion, sim.truth_after, eval_leads, sim.reps)
    start = sim.history_end + timedelta(days=1)
    routed = simulate(sim, start=start, days=DAYS, per_day=PER_DAY)
    end = start + timedelta(days=DAYS * 7 // 5 + 3)
    second = retrain(sim.engine, sim.store, options, now=end)
    with sim.engine.connect() as conn:
        promoted = load_version(active_model_row(conn))
    q_after = routing_quality(promoted, sim.truth_after, eval_leads, sim.reps)
    ll_stale = expected_log_loss(champion, sim.truth_after, eval_leads, sim.reps)
    ll_after = expected_log_loss(promoted, sim.truth_after, eval_leads, sim.reps)
    return {
        "sim": sim, "first": first, "second": second, "routed": routed, "end": end,
        "q_before": q_before, "q_stale": q_stale, "q_after": q_after, "root": root,
        "options": options, "ll_stale": ll_stale, "ll_after": ll_after,
    }  # fmt: skip


def test_challenger_after_the_change_beats_the_champion_and_is_promoted(drifted) -> None:
    second = drifted["second"]
    print({k: drifted[k] for k in ("q_before", "q_stale", "q_after", "routed")})
    print(second.reason)
    assert drifted["routed"] >= DAYS * PER_DAY * 0.95
    assert second.action == "promoted", second.reason
    comp = second.comparison
    # Compared on leads neither model learned from, all after the change.
    assert comp["holdout_note"] == ""
    assert comp["holdout_from"] > str(drifted["sim"].history_end)
    # The challenger ranks the new leads better, predicts them better and its routing is
    # estimated to convert more (doubly robust; the interval is wide: 20% exploration over
    # seven reps leaves few leads with the reps the challenger prefers). Here AUC 0.736 vs
    # 0.652, log loss 0.408 vs 0.428 (-0.020, -0.060 to +0.023). Until the calibration test
    # counted leads rather than rows the challenger's log loss was the worse (+0.025): its
    # 300-row calibration slice held 112 leads (inverse-propensity copies), a spurious
    # Platt map passed the test and kept its newest 30% of rows, all after the change, out
    # of its fit (AUC 0.685). Over the world's seeds 1-7 the challenger's log loss is now
    # lower at every seed (by 0.016 to 0.045; main: higher at 2 of 7, rejected at seed 7)
    # and its AUC higher by 0.033 to 0.110; the bootstrap, drawing leads, not their copies
    # (529 rows of 207 leads), puts the AUC difference's lower bound above zero at 2 of
    # the 7 seeds only (here +0.017; -0.065 to +0.026), so it is not asserted.
    assert comp["differences"]["auc"] > 0.02
    assert comp["differences"]["log_loss"] <= 0
    assert comp["n_holdout_leads"] < comp["n_holdout"]  # copies counted as their leads
    assert comp["dr"]["challenger"]["rate"] > comp["dr"]["champion"]["rate"]
    with drifted["sim"].engine.connect() as conn:
        row = active_model_row(conn)
        assert row.version == second.challenger
        trail = [(e.action, e.reason) for e in events_of(conn, row.version)]
    assert trail[-1][0] == "promoted"
    assert trail[-1][1].startswith("challenger promoted")


def test_routing_quality_against_the_truth_recovers(drifted) -> None:
    """Share of the best rep's advantage over the average rep that the model's top pick
    captures, under the world's true probabilities."""
    q_before, q_stale, q_after = drifted["q_before"], drifted["q_stale"], drifted["q_after"]
    assert q_before > 0.4  # the first champion routed well before the change
    assert q_stale < q_before - 0.3  # the change made it route badly
    assert q_after > q_stale + 0.3  # the promoted challenger recovers most of it
    assert q_after > 0.6 * q_before


def test_promoted_model_predicts_the_new_world_better(drifted) -> None:
    """In expectation under the changed truth, over every (lead, rep) pair of the world's
    new leads (seeds 1-7: lower than the stale champion's at each, by 0.010 to 0.050)."""
    assert drifted["ll_after"] < drifted["ll_stale"]


def test_challenger_on_corrupted_labels_is_rejected_with_its_reason(drifted, tmp_path) -> None:
    """A CRM sync bug inverted the outcomes of every lead older than the last two weeks:
    the challenger learns from them and is rejected; the champion stays."""
    sim = drifted["sim"]
    shutil.copy(Path(sim.url.removeprefix("sqlite:///")), tmp_path / "lp.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    end = drifted["end"]
    cutoff = end - timedelta(days=20)
    with write_transaction(engine) as conn:
        rows = conn.execute(sa.select(leads.c.lead_id, leads.c.status, leads.c.fields,
                                      leads.c.meeting_at, leads.c.created_at)).all()  # fmt: skip
        for r in rows:
            if r.created_at >= cutoff:
                continue
            if r.status == "history":
                fields = dict(r.fields)
                attrs = dict(fields["attributes"])
                if attrs.get("converted") is not None:
                    attrs["converted"] = not attrs["converted"]
                fields["attributes"] = attrs
                conn.execute(leads.update().where(leads.c.lead_id == r.lead_id)
                             .values(fields=fields))  # fmt: skip
            elif r.meeting_at is not None:
                conn.execute(leads.update().where(leads.c.lead_id == r.lead_id)
                             .values(meeting_at=None, closed_won=False, status="closed",
                                     closed_at=r.created_at))  # fmt: skip
            else:
                conn.execute(leads.update().where(leads.c.lead_id == r.lead_id)
                             .values(meeting_at=r.created_at))  # fmt: skip
        before = conn.execute(sa.select(models.c.version).where(models.c.active)).scalar_one()
    store = tmp_path / "models"
    shutil.copytree(sim.store, store)
    with write_transaction(engine) as conn:
        for v in conn.execute(sa.select(models.c.version)).scalars().all():
            conn.execute(models.update().where(models.c.version == v)
                         .values(path=str(store / v)))  # fmt: skip
    result = retrain(engine, store, drifted["options"], now=end + timedelta(days=1))
    print(result.reason)
    assert result.action == "rejected"
    with engine.connect() as conn:
        assert active_model_row(conn).version == before  # the champion stays
        row = get_version(conn, result.challenger)
        trail = [(e.action, e.reason) for e in events_of(conn, result.challenger)]
    assert row.status == "rejected"
    assert row.reason.startswith("challenger rejected, the champion stays: it ")
    # Its log loss is worse far beyond noise (+0.996, +0.743 to +1.251); its AUC too
    # (0.362 vs 0.610) but, the bootstrap drawing leads rather than their copies, that
    # interval ends just below zero (-0.447 to -0.008), so the reason is checked on the
    # log loss and the AUC on its point.
    assert "it predicts worse: log loss" in row.reason
    assert result.comparison["differences"]["auc"] < -0.1
    assert trail[-1] == ("rejected", row.reason)
    engine.dispose()
