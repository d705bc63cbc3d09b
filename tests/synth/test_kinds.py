"""Kinds of world (`--kind`): the additive world is unchanged, the non-additive effects are
what their definition says, and every scorer of the truth agrees with it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.ingest import leads_from_frame
from leadpilot.synth import World, generate_world, load_truth, write_world
from leadpilot.synth.kinds import ADDITIVE_SCALE, KINDS
from leadpilot.synth.rep_effects import RepEffect

# md5 of the files of generate_world(n_leads=3000, n_reps=10, n_new_leads=300, seed=3),
# taken from main before kinds existed: the additive world must not change.
ADDITIVE_MD5 = {
    "accounts.csv": "217e2c3683bb4a50cbfd82309c4dad67",
    "history.csv": "a00d58d8f55ea6c0ea1cc415fb48b0ed",
    "new_leads.csv": "9ed708fbaef29ee9ded7213e94a266c0",
    "reps.csv": "f1ec7ac5b660f3d461a902af86f6a8ba",
    "truth.json": "f393ed1273ee929c651e44d9ca9f2fb3",
}
SMALL = {"n_leads": 3000, "n_reps": 10, "n_new_leads": 300, "seed": 3}


@pytest.fixture(scope="module")
def drift() -> World:
    return generate_world(**SMALL, kind="drift")  # type: ignore[arg-type]


def test_additive_world_files_are_unchanged(tmp_path: Path) -> None:
    write_world(generate_world(**SMALL, kind="additive"), tmp_path)  # type: ignore[arg-type]
    got = {n: hashlib.md5((tmp_path / n).read_bytes()).hexdigest() for n in ADDITIVE_MD5}
    assert got == ADDITIVE_MD5


def test_non_additive_kinds_share_the_additive_leads(drift: World) -> None:
    additive = generate_world(**SMALL)  # type: ignore[arg-type]
    cols = ["lead_id", "created_at", "industry", "company_size", "engagement_score", "rep_id"]
    pd.testing.assert_frame_equal(drift.history[cols], additive.history[cols])
    rep, rep_a = drift.truth.reps[0], additive.truth.reps[0]
    for k, v in rep_a.industry_affinity.items():
        assert rep.industry_affinity[k] == pytest.approx(v * ADDITIVE_SCALE, abs=1e-6)
    assert len(drift.truth.rep_effects) == 3 * SMALL["n_reps"]
    assert any(e.since for e in drift.truth.rep_effects)
    assert any(e.until for e in drift.truth.rep_effects)
    assert len(generate_world(n_reps=4, n_new_leads=50, kind="thin").history) == 12_000


def test_an_effect_adds_its_hand_computed_log_odds() -> None:
    world = generate_world(**SMALL)  # type: ignore[arg-type]
    leads = world.new_leads.iloc[:40].copy()
    leads["company_size"] = np.geomspace(2, 20_000, 40)
    leads["size_band"] = None  # derived from company_size by the truth
    leads.loc[leads.index[:20], "industry"] = "Retail"
    leads.loc[leads.index[20:], "industry"] = "Media"
    rep = world.truth.rep_ids[2]
    effect = RepEffect(rep, 0.8, where={"industry": ("Retail",)}, column="company_size",
                       curve="bump", centre=2.0, width=0.5)  # fmt: skip
    from dataclasses import replace

    truth = replace(world.truth, rep_effects=(effect,), kind="interactions")
    reps = list(world.truth.rep_ids[:4])
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    diff = logit(truth.true_probability(leads, reps)) - logit(
        world.truth.true_probability(leads, reps)
    )
    x = np.log10(leads["company_size"].to_numpy())
    expected = 0.8 * np.exp(-0.5 * ((x - 2.0) / 0.5) ** 2) * (np.arange(40) < 20)
    np.testing.assert_allclose(diff[:, 2], expected, atol=1e-9)
    np.testing.assert_allclose(diff[:, [0, 1, 3]], 0.0, atol=1e-12)


def test_drift_effects_apply_only_inside_their_window(drift: World) -> None:
    effect = next(e for e in drift.truth.rep_effects if e.until is not None)
    from dataclasses import replace

    truth = replace(drift.truth, rep_effects=(effect,))
    base = replace(drift.truth, rep_effects=())
    h = drift.history
    diff = (
        truth.true_probability(h, [effect.rep_id])[:, 0]
        - base.true_probability(h, [effect.rep_id])[:, 0]
    )
    before = (h["created_at"] < pd.Timestamp(effect.until, tz="UTC")).to_numpy()
    assert np.abs(diff[before]).max() > 0.01
    assert np.abs(diff[~before]).max() == 0.0
    # new leads come after the change: an effect that stopped is gone for them
    new = truth.true_probability(drift.new_leads, [effect.rep_id])
    np.testing.assert_allclose(new, base.true_probability(drift.new_leads, [effect.rep_id]))


def test_scorer_assigned_and_file_agree_with_true_probability(drift: World, tmp_path: Path) -> None:
    truth = drift.truth
    reps = drift.active_rep_ids
    leads = drift.new_leads.iloc[:60]
    p = truth.true_probability(leads, reps)
    records = leads_from_frame(leads)
    scorer = truth.as_scorer()
    one = np.vstack([scorer.score_candidates(lead, reps).p for lead in records])
    np.testing.assert_allclose(one, p, rtol=1e-12)
    np.testing.assert_allclose(scorer.score_batch(records, reps).p, p, rtol=1e-12)
    h = drift.history.iloc[:500]
    col = {r: i for i, r in enumerate(truth.rep_ids)}
    full = truth.true_probability(h, truth.rep_ids, h["time_to_contact_hours"].to_numpy())
    own = full[np.arange(len(h)), [col[r] for r in h["rep_id"]]]
    assigned = truth.true_probability_assigned(
        h, time_to_contact_hours=h["time_to_contact_hours"].to_numpy()
    )
    np.testing.assert_allclose(assigned, own, rtol=1e-12)
    write_world(drift, tmp_path)
    back = load_truth(tmp_path / "truth.json")
    assert back.kind == "drift"
    np.testing.assert_allclose(back.true_probability(leads, reps), p, rtol=1e-12)
    assert json.loads((tmp_path / "truth.json").read_text())["rep_effects"][0]["label"]


def test_cli_kind(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["synth", "--out", str(tmp_path), "--leads", "1000", "--reps", "6", "--new-leads", "200"]
    result = runner.invoke(build_app(), [*args, "--kind", "interactions", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["kind"], data["rep_effects"]) == ("interactions", 18)
    bad = runner.invoke(build_app(), [*args, "--kind", "nonlinear"])
    assert bad.exit_code == 2
    assert "unknown kind of world 'nonlinear'" in bad.output
    for kind in KINDS:
        assert kind in bad.output
