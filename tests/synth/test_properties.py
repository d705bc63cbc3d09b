"""Invariants of generated worlds over random sizes and seeds (Hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from leadpilot.synth import generate_world


@settings(max_examples=12, deadline=None)
@given(
    n_leads=st.integers(100, 800),
    n_reps=st.integers(2, 9),
    n_new=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
)
def test_world_invariants(n_leads: int, n_reps: int, n_new: int, seed: int) -> None:
    w = generate_world(n_leads=n_leads, n_reps=n_reps, n_new_leads=n_new, seed=seed)
    h, reps = w.history, w.reps.set_index("rep_id")
    assert len(h) == n_leads
    assert len(w.new_leads) == n_new
    assert len(reps) == n_reps
    # Every past lead went to a rep of the roster who had started by then.
    assert set(h["rep_id"]) <= set(reps.index)
    started = reps.loc[h["rep_id"], "start_date"].to_numpy()
    assert (h["created_at"].dt.tz_localize(None).to_numpy() >= started).all()
    assert not ((h["closed_won"] == True) & (h["converted"] != True)).any()  # noqa: E712
    assert (h["time_to_contact_hours"] > 0).all()
    assert (reps["max_leads_per_day"] >= 1).all()
    assert reps["active"].any()
    assert set(reps["backup_rep_id"].dropna()) <= set(reps.index)
    p = w.truth.true_probability(w.new_leads, w.active_rep_ids)
    assert p.shape == (n_new, len(w.active_rep_ids))
    assert np.all((p > 0) & (p < 1))
    assert set(w.truth.duplicates) <= set(h["lead_id"]) | set(w.new_leads["lead_id"])
    hours = w.new_leads["created_at"].dt.hour
    assert hours.between(9, 20).all()
    assert w.new_leads["created_at"].min() > h["created_at"].max()


def test_demo_section_writes_the_world_and_prints_the_yardsticks(tmp_path: Path) -> None:
    from leadpilot.cli.synth import demo_section

    out = tmp_path
    console = Console(record=True, width=120)
    world = demo_section(console, out, seed=5)
    text = console.export_text()
    assert (out / "truth.json").exists()
    assert len(world.history) == 20_000
    assert "Best capacity-feasible (LP)" in text
    assert "Synthetic world" in text
