"""The drift acceptance scenario (``test_drift_acceptance.py``) with the default training
window, 18 months, instead of 150 days: does the stale year before the change dilute the
challenger?

Measured at this seed (109 s CPU): the first champion learns the whole 12-month history and
captures 0.91 of the possible gain over an average rep; after the reps' skills change it
captures 0.23; the challenger retrained on 18 months (8,000 leads from before the change,
~2,400 after) ranks the latest 1,513 settled rows (of some 590 leads, see the test's
comment) better (AUC 0.766 vs 0.741) and is promoted; it captures 0.54. On the same store a
window holding only the leads after the change gives 0.50 (0.59 with a window two days
shorter), 150 days 0.56, 12 months 0.59, and 18 months with recency weights halving every 90
days (tried, not kept) 0.55: refits on near-identical data spread by about +-0.05 and the
18-month window lies inside that spread. The stale year does not measurably dilute the
challenger; what limits the recovery is the ~2,400 leads after the change. (The 150-day
test's bar "recovers 60% of the quality before the change" is missed here by 0.009: 0.537
against 0.546.) Re-measured: the challenger captured 0.59 on 2026-12-04 and 0.52 once the
fairness guard aimed 0.01 inside the band (2026-12-05), whose 60 routed days draw other
outcomes; the champion's 0.91 and 0.23 did not move.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadpilot.lifecycle.registry import load_version
from leadpilot.lifecycle.retrain import RetrainOptions, retrain
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.models import active_model_row
from leadpilot.store.tables import models

from .conftest import FAST
from .drift_world import build, routing_quality, simulate

pytestmark = pytest.mark.slow

DAYS, PER_DAY = 60, 40


def _copy_store(url: str, store: Path, to: Path) -> tuple[sa.Engine, Path]:
    """A copy of the database and model folders (rows pointed at the copied folders)."""
    to.mkdir()
    shutil.copy(Path(url.removeprefix("sqlite:///")), to / "lp.db")
    shutil.copytree(store, to / "models")
    engine = make_engine(f"sqlite:///{to / 'lp.db'}")
    with write_transaction(engine) as conn:
        for v in conn.execute(sa.select(models.c.version)).scalars().all():
            conn.execute(models.update().where(models.c.version == v)
                         .values(path=str(to / "models" / v)))  # fmt: skip
    return engine, to / "models"


def test_the_default_window_promotes_and_the_stale_year_costs_little(tmp_path: Path) -> None:
    (tmp_path / "drift").mkdir()
    sim = build(tmp_path / "drift")
    default = RetrainOptions(params=FAST, min_holdout=300)
    assert default.window == timedelta(days=18 * 30.4375)  # what `retrain` uses by default
    first = retrain(sim.engine, sim.store, default, now=sim.history_end + timedelta(days=1))
    assert first.action == "first_champion"
    with sim.engine.connect() as conn:
        champion = load_version(active_model_row(conn))
    leads = sim.world.new_leads
    q_before = routing_quality(champion, sim.world.truth, leads, sim.reps)
    q_stale = routing_quality(champion, sim.truth_after, leads, sim.reps)
    start = sim.history_end + timedelta(days=1)
    assert simulate(sim, start=start, days=DAYS, per_day=PER_DAY) >= DAYS * PER_DAY * 0.95
    end = start + timedelta(days=DAYS * 7 // 5 + 3)
    recent_engine, recent_store = _copy_store(sim.url, sim.store, tmp_path / "recent")

    second = retrain(sim.engine, sim.store, default, now=end)
    with sim.engine.connect() as conn:
        q_after = routing_quality(load_version(active_model_row(conn)), sim.truth_after, leads,
                                  sim.reps)  # fmt: skip
    # Yardstick on the same store: a window holding only the leads after the change.
    only_after = RetrainOptions(params=FAST, min_holdout=300, window=end - start)
    retrain(recent_engine, recent_store, only_after, now=end)
    with recent_engine.connect() as conn:
        q_recent = routing_quality(load_version(active_model_row(conn)), sim.truth_after, leads,
                                   sim.reps)  # fmt: skip
    recent_engine.dispose()
    print({"q_before": q_before, "q_stale": q_stale, "q_after": q_after, "q_recent": q_recent})
    print(second.reason)

    assert q_stale < q_before - 0.3  # the change made the champion route badly
    assert second.action == "promoted", second.reason
    comp = second.comparison
    assert comp is not None
    assert comp["holdout_note"] == ""  # compared on leads neither model learned from
    # AUC 0.779 vs 0.757, log loss -0.0103 (2026-12-04); 0.767 vs 0.747, -0.0127 once the
    # fairness guard aimed 0.01 inside the band (2026-12-05: the 60 simulated days route
    # differently, so their outcomes are another draw). The latest ~1,510 held-out rows are
    # ~590 leads and their inverse-propensity copies: drawing leads, the AUC difference's
    # interval is about -0.009 to +0.055, so its lower bound is not asserted; the log loss is.
    # The bars sit under both draws by about the spread the docstring measured (+-0.05).
    assert comp["differences"]["auc"] > 0.01
    assert comp["differences"]["log_loss"] <= 0
    assert comp["dr"]["challenger"]["rate"] > comp["dr"]["champion"]["rate"]
    # routing against the truth recovers: 0.23 -> 0.59 on the first draw, 0.52 on the second
    assert q_after > q_stale + 0.25
    assert q_after > q_recent - 0.1  # and the stale year does not dilute it beyond noise
    sim.engine.dispose()
