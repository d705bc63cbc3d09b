"""``leadpilot simulate`` end to end on a small synthetic world, checked by hand recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
from leadpilot.synth import World, generate_world, write_world

runner = CliRunner()
REPLAY_FROM = "2026-04-01"


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(n_leads=3_000, n_reps=5, n_new_leads=100, seed=4)


@pytest.fixture(scope="module")
def folder(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("simworld")
    write_world(world, out)
    # The history as leadpilot would have logged it: with each assignment's propensity.
    hist = pd.read_csv(out / "history.csv")
    hist["propensity"] = world.history_propensity
    hist.to_csv(out / "history.csv", index=False)
    early = world.history[world.history["created_at"] < pd.Timestamp(REPLAY_FROM, tz="UTC")]
    fast = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}  # behaviour, not quality
    ConversionModel(**fast).fit(early, world.reps).save(out / "model_early")
    ConversionModel(**fast).fit(world.history, world.reps).save(out / "model_all")
    return out


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run(folder: Path) -> dict[str, object]:
    code, output = _invoke(
        "simulate", str(folder / "history.csv"), "--reps", str(folder / "reps.csv"),
        "--model", str(folder / "model_early"), "--strategy", "round_robin",
        "--strategy", "predictive", "--from", REPLAY_FROM, "--to", "2026-05-31",
        "--json", str(folder / "sim.json"), "--out", str(folder / "sim.html"),
        "--decisions-dir", str(folder / "decisions"), "--bootstrap", "100",
    )  # fmt: skip
    assert code == 0, output
    return {"output": output, "doc": json.loads((folder / "sim.json").read_text())}


def test_weighting_estimates_match_a_hand_recomputation(folder: Path, run: dict) -> None:
    doc = run["doc"]
    assert doc["replay"]["propensity_source"] == "recorded"
    assert doc["replay"]["outcome_model"] == "cross-fitted in 2 folds within each block"
    assert doc["warnings"] == []
    hist = pd.read_csv(folder / "history.csv", parse_dates=["created_at"])
    window = hist[(hist["created_at"] >= pd.Timestamp(REPLAY_FROM, tz="UTC"))
                  & (hist["created_at"] < pd.Timestamp("2026-06-01", tz="UTC"))]  # fmt: skip
    settled = window[window["converted"].notna()]
    assert doc["replay"]["settled_leads"] == len(settled)
    for policy in doc["policies"]:
        dec = pd.read_csv(folder / "decisions" / f"{policy['name']}.csv")
        assert list(dec.columns) == ["lead_id", "rep_id", "propensity", "reasons"]
        rows = settled.merge(dec, on="lead_id", suffixes=("", "_sim"))
        hit = (rows["rep_id"] == rows["rep_id_sim"]).to_numpy()
        y = rows["converted"].astype(float).to_numpy()
        w = hit / rows["propensity"].to_numpy()
        est = policy["estimates"]
        assert est["ips"]["rate"] == pytest.approx((w * y).mean())
        assigned = rows["rep_id_sim"].notna().mean()  # a lead left with nobody converts nothing
        assert est["snips"]["rate"] == pytest.approx((w * y).sum() / w.sum() * assigned)
        assert est["ips"]["ci_low"] <= est["ips"]["rate"] <= est["ips"]["ci_high"]
        assert policy["lift_vs_logged"]["ips"]["rate"] == pytest.approx(
            (w * y).mean() / y.mean() - 1
        )
        assert policy["overlap"]["ess"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
        assert 0 < est["dm"]["rate"] < 1
        assert set(est) == {"dm", "ips", "snips", "dr", "switch_dr", "sndr", "dr_os"}
        dr = est["dr"]
        rel = (dr["ci_high"] - dr["ci_low"]) / 2 / dr["rate"]
        precision = policy["precision"]["dr"]
        assert precision["relative_half_width"] == pytest.approx(rel)
        assert precision["resolves_10pct"] == (rel <= 0.10)
        assert precision["leads_for_10pct"] == int(np.ceil(len(settled) * (rel / 0.10) ** 2))
        assert sum(policy["leads_per_rep"].values()) + policy["unassigned"] == len(window)
        # the default policy's one lane has a 4-hour SLA: every assigned lead carries it
        sla = policy["sla_attainment"]
        assert sla["decisions_with_sla"] == sum(policy["leads_per_rep"].values())
        assert 0 < sla["attainment"] < 1


def test_moves_and_reports(folder: Path, run: dict) -> None:
    doc = run["doc"]
    rr, pred = doc["policies"]
    assert rr["moved_vs_first"] is None
    a = pd.read_csv(folder / "decisions" / "round_robin.csv").set_index("lead_id")["rep_id"]
    b = pd.read_csv(folder / "decisions" / "predictive.csv").set_index("lead_id")["rep_id"]
    assert pred["moved_vs_first"]["leads"] == int((a.fillna("-") != b.fillna("-")).sum())
    page = (folder / "sim.html").read_text()
    assert "predictive" in page
    assert "<script" not in page
    assert "Estimated conversion rate" in run["output"]


def test_model_trained_on_the_replay_window_is_flagged(folder: Path) -> None:
    code, output = _invoke(
        "simulate", str(folder / "history.csv"), "--reps", str(folder / "reps.csv"),
        "--model", str(folder / "model_all"), "--strategy", "round_robin",
        "--from", "2026-05-01", "--to", "2026-05-31", "--json", str(folder / "flag.json"),
        "--bootstrap", "50", "--outcome-folds", "0",  # the warning, not the outcome models
    )  # fmt: skip
    assert code == 0, output
    warnings = json.loads((folder / "flag.json").read_text())["warnings"]
    assert any("overlaps the replay window" in w for w in warnings)
    assert "--cross-fit" in output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no policy to simulate"),
        (["--strategy", "fastest"], "'fastest' is not a strategy"),
        (["--strategy", "round_robin", "--from", "yesterday"], "is not a date"),
        (["--strategy", "round_robin", "--from", "2031-01-01"], "no lead of the history"),
        (["--strategy", "round_robin"], "needs an outcome model"),
        (["--strategy", "round_robin", "--cross-fit", "--outcome-folds", "1"], "cannot cross-fit"),
    ],
)
def test_bad_invocations_say_what_to_fix(folder: Path, extra: list[str], message: str) -> None:
    code, output = _invoke(
        "simulate", str(folder / "history.csv"), "--reps", str(folder / "reps.csv"), *extra
    )
    assert code == 2
    assert message in " ".join(output.split())


def test_estimates_stay_finite(run: dict) -> None:
    for policy in run["doc"]["policies"]:
        assert all(np.isfinite(v["rate"]) for v in policy["estimates"].values())


@pytest.mark.slow  # routes a week of leads 5 designs x 2 seeds
def test_holdout_designs_from_the_world_files_match_the_world_in_memory(
    world: World, folder: Path
) -> None:
    from leadpilot.evaluate.holdout_designs import compare_designs
    from leadpilot.ingest import reps_from_frame
    from leadpilot.synth import expected_conversions
    from leadpilot.synth.truth import GroundTruthScorer

    code, output = _invoke(
        "simulate", str(folder / "history.csv"), "--reps", str(folder / "reps.csv"),
        "--model", str(folder / "model_early"), "--strategy", "round_robin",
        "--from", "2026-05-04", "--to", "2026-05-17", "--bootstrap", "50",
        "--outcome-folds", "0", "--holdout-designs", "--designs-seeds", "2",
        "--json-out", str(folder / "designs.json"), "--out", str(folder / "designs.html"),
    )  # fmt: skip
    assert code == 0, output
    assert "Holdout designs vs the true lift" in output
    got = json.loads((folder / "designs.json").read_text())["holdout_designs"]
    hist = world.history
    lo, hi = pd.Timestamp("2026-05-04", tz="UTC"), pd.Timestamp("2026-05-18", tz="UTC")
    window = hist[(hist["created_at"] >= lo) & (hist["created_at"] < hi)]
    # --designs-capacity 1.2 (the default): the team takes 1.2x the average day's leads
    per_day = len(window) / window["created_at"].dt.floor("D").nunique()
    cap_scale = 1.2 * per_day / world.reps["max_leads_per_day"].sum()
    expected = compare_designs(
        window.reset_index(drop=True),
        reps_from_frame(world.reps),
        GroundTruthScorer(world.truth),
        lambda leads, rep_ids: expected_conversions(world, leads, rep_ids),
        history=hist[hist["created_at"] < lo],
        cap_scale=cap_scale,
        replications=2,
    )
    assert got["leads"] == len(window)
    assert got["cap_scale"] == pytest.approx(cap_scale)
    assert got["true_lift"] == pytest.approx(expected.truth)
    assert set(got["designs"]) == {"per-lead 50%", "switchback daily", "switchback hourly"}
    for name, row in expected.summary().items():
        assert got["designs"][name] == pytest.approx(row, nan_ok=True), name
    page = (folder / "designs.html").read_text()
    assert "Holdout designs vs the true lift" in page


def test_a_block_with_fewer_settled_leads_than_folds_uses_the_routing_model(
    folder: Path,
) -> None:
    code, output = _invoke(
        "simulate", str(folder / "history.csv"), "--reps", str(folder / "reps.csv"),
        "--model", str(folder / "model_early"), "--strategy", "round_robin",
        "--from", "2026-05-04", "--to", "2026-05-10", "--bootstrap", "50",
        "--outcome-folds", "1000", "--json-out", str(folder / "few.json"),
    )  # fmt: skip
    assert code == 0, output
    doc = json.loads((folder / "few.json").read_text())
    assert doc["replay"]["settled_leads"] < 1000
    assert doc["replay"]["outcome_model"] == "the routing model of each block"
