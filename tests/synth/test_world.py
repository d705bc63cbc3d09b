"""The synthetic world: canonical frames, realism properties, determinism, files."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import ConfigError
from leadpilot.schema import ACCOUNT_COLUMNS, HISTORY_COLUMNS, REP_COLUMNS
from leadpilot.synth import EXTRA_COLUMNS, World, generate_world, write_world


def test_frames_have_the_canonical_columns_and_dtypes(world: World) -> None:
    for frame in (world.history, world.new_leads):
        assert list(frame.columns) == [*HISTORY_COLUMNS, "source_row", *EXTRA_COLUMNS]
        for col in ("created_at", "first_contact_at", "converted_at", "closed_at"):
            assert str(frame[col].dtype) == "datetime64[ns, UTC]"
        for col in ("converted", "closed_won", *EXTRA_COLUMNS):
            assert str(frame[col].dtype) == "boolean"
        for col in ("company_size", "annual_revenue", "engagement_score", "deal_value"):
            assert frame[col].dtype == np.float64
        assert frame["lead_id"].is_unique
        assert frame["source_row"].tolist() == list(range(2, len(frame) + 2))
    assert list(world.reps.columns) == list(REP_COLUMNS)
    assert list(world.accounts.columns) == list(ACCOUNT_COLUMNS)
    assert set(world.history["lead_id"]).isdisjoint(world.new_leads["lead_id"])


def test_outcomes_are_consistent_and_in_a_realistic_range(world: World) -> None:
    h = world.history
    rate = h["converted"].mean()
    assert 0.10 <= rate <= 0.25
    won = h["closed_won"] == True  # noqa: E712 - nullable boolean
    assert not (won & (h["converted"] != True)).any()  # noqa: E712
    conv = h["converted_at"].notna()
    assert (h.loc[conv, "converted_at"] > h.loc[conv, "created_at"]).all()
    closed = h["closed_at"].notna()
    assert (h.loc[closed, "closed_at"] > h.loc[closed, "converted_at"]).all()
    assert h.loc[h["converted"] == True, "deal_value"].gt(0).all()  # noqa: E712
    # First contact = creation + time to contact, to the second.
    delta = (h["first_contact_at"] - h["created_at"]).dt.total_seconds() / 3600
    assert np.allclose(delta, h["time_to_contact_hours"], atol=1 / 3600)
    # Outcomes only open near the end of the period.
    end = h["created_at"].max()
    open_ = h["converted"].isna()
    assert 0 < open_.sum() < 0.06 * len(h)
    assert (h.loc[open_, "created_at"] > end - pd.Timedelta(days=120)).all()


def test_outcomes_follow_the_true_probabilities(world: World) -> None:
    """Mean true probability matches the observed rate within 3 standard errors, overall and
    in deciles of the true probability (calibration of the generator against its truth)."""
    h = world.history[world.history["converted"].notna()]
    h = h[h["created_at"] < h["created_at"].max() - pd.Timedelta(days=90)]
    p = world.truth.true_probability_assigned(h, time_to_contact_hours=h["time_to_contact_hours"])
    y = h["converted"].astype(bool).to_numpy()
    se = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(y.mean() - p.mean()) < 3 * se
    deciles = pd.qcut(p, 5, labels=False)
    for q in range(5):
        m = deciles == q
        se_q = np.sqrt(np.sum(p[m] * (1 - p[m]))) / m.sum()
        assert abs(y[m].mean() - p[m].mean()) < 4 * se_q


def test_history_policy_is_confounded_by_managers_beliefs(world: World) -> None:
    h = world.history.merge(world.reps[["rep_id", "role"]], on="rep_id")
    big = h["size_band"].isin(["1001-5000", "5000+"])
    share_enterprise_big = (h.loc[big, "role"] == "Enterprise").mean()
    share_enterprise_small = (h.loc[~big, "role"] == "Enterprise").mean()
    assert share_enterprise_big > 2 * share_enterprise_small
    # Believed industry specialists get more than their share of that industry.
    believed = world.reps.set_index("rep_id")["industries"].str.split(";")
    in_belief = [ind in believed[r] for r, ind in zip(h["rep_id"], h["industry"], strict=True)]
    believers = pd.Series([i for lst in believed for i in lst]).value_counts() / len(believed)
    at_random = h["industry"].map(believers).fillna(0).mean()
    assert np.mean(in_belief) > 1.3 * at_random


def test_late_joiners_have_thin_history_and_the_leaver_is_inactive(world: World) -> None:
    reps = world.reps.set_index("rep_id")
    counts = world.history["rep_id"].value_counts()
    start = pd.Timestamp(world.history["created_at"].min().date())
    late = reps.index[pd.to_datetime(reps["start_date"]) > start]
    assert 1 <= len(late) <= 5
    assert (counts.reindex(late, fill_value=0) < 0.35 * counts.median()).all()
    inactive = reps.index[~reps["active"].astype(bool)]
    assert len(inactive) == 1
    last_lead = world.history.loc[world.history["rep_id"] == inactive[0], "created_at"].max()
    assert last_lead < world.history["created_at"].max() - pd.Timedelta(days=55)


def test_rep_x_industry_cells_have_enough_volume_to_learn(world: World) -> None:
    """Most (rep, industry) cells of established reps hold >= 40 leads (a learner can find
    the affinities), thanks to the logging policy's random share."""
    reps = world.reps.set_index("rep_id")
    start = pd.Timestamp(world.history["created_at"].min().date())
    established = reps.index[pd.to_datetime(reps["start_date"]) <= start]
    cells = pd.crosstab(world.history["rep_id"], world.history["industry"]).loc[established]
    assert (cells >= 40).to_numpy().mean() >= 0.8


def test_comparative_advantage_outweighs_overall_skill(world: World) -> None:
    reps = world.truth.reps
    skill_sd = np.std([r.skill for r in reps])
    ind_sd = np.std([v for r in reps for v in r.industry_affinity.values()])
    size_sd = np.std([v for r in reps for v in r.size_affinity.values()])
    assert np.hypot(ind_sd, size_sd) > skill_sd
    # Each rep's best industry differs across reps: no single rep is best everywhere.
    best = {max(r.industry_affinity, key=r.industry_affinity.__getitem__) for r in reps}
    assert len(best) >= 4


def test_reps_roster_is_realistic(world: World) -> None:
    reps = world.reps
    assert set(reps["role"]) == {"SDR", "AE", "Enterprise"}
    assert reps["working_hours"].str.fullmatch(r"Mon-Fri \d\d:\d\d-\d\d:\d\d").all()
    assert reps["languages"].str.startswith("en").all()
    assert set(reps["backup_rep_id"]) <= set(reps["rep_id"])
    assert (reps["backup_rep_id"] != reps["rep_id"]).all()
    # Capacity on the new-lead days: 1.15-1.5x the daily volume.
    n_days = len(np.unique(world.new_lead_days()))
    ratio = world.daily_capacity().sum() * n_days / len(world.new_leads)
    assert 1.15 <= ratio <= 1.5
    # Every day's volume fits in the team's capacity, and each rep can take 0.8x the average.
    per_day = np.bincount(world.new_lead_days())
    assert per_day.max() <= world.daily_capacity().sum()
    assert per_day.max() <= 1.2 * per_day.mean()
    active = world.daily_capacity() > 0
    assert world.daily_capacity()[active].min() >= 0.8 * per_day.mean() / active.sum()


def test_accounts_match_leads_by_domain(world: World) -> None:
    acc = world.accounts
    assert len(acc) == 300
    assert acc["domain"].is_unique
    assert (acc["tier"] == "strategic").sum() >= 5
    assert set(acc["owner_rep_id"]) <= set(world.reps["rep_id"])
    # Some accounts are still owned by the inactive rep: holds must fall back to a backup.
    inactive = world.reps.loc[~world.reps["active"].astype(bool), "rep_id"]
    assert acc["owner_rep_id"].isin(inactive).sum() >= 3
    hist_hits = world.history["domain"].isin(acc["domain"]).mean()
    new_hits = world.new_leads["domain"].isin(acc["domain"]).sum()
    assert 0.05 < hist_hits < 0.6
    assert new_hits > 10


def test_emails_domains_and_duplicates(world: World) -> None:
    h = world.history
    free = h["domain"].isna()
    assert 0.08 < free.mean() < 0.16
    assert h.loc[~free].apply(lambda r: r["email"].endswith("@" + r["domain"]), axis=1).all()
    dups = world.truth.duplicates
    assert 0.015 < len(dups) / (len(h) + len(world.new_leads)) < 0.025
    everything = pd.concat([h, world.new_leads]).set_index("lead_id")
    for dup, orig in list(dups.items())[:200]:
        assert everything.at[dup, "email"] == everything.at[orig, "email"]
        assert everything.at[dup, "created_at"] > everything.at[orig, "created_at"]
    # Apart from the planted duplicates, emails are unique.
    rest = everything.drop(index=list(dups))
    assert rest["email"].is_unique


def test_new_leads_arrive_in_working_hours_with_nothing_decided(world: World) -> None:
    new = world.new_leads
    assert new["created_at"].is_monotonic_increasing
    assert new["created_at"].min() > world.history["created_at"].max()
    hours = new["created_at"].dt.hour
    assert hours.between(9, 20).all()
    assert (new["created_at"].dt.dayofweek < 5).all()
    assert len(np.unique(world.new_lead_days())) == 20
    for col in ("rep_id", "first_contact_at", "time_to_contact_hours", "converted",
                "converted_at", "closed_won", "closed_at", "deal_value"):  # fmt: skip
        assert new[col].isna().all(), col


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    kwargs = {"n_leads": 1_500, "n_reps": 6, "n_new_leads": 150}
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_world(generate_world(seed=11, **kwargs), a)
    write_world(generate_world(seed=11, **kwargs), b)
    write_world(generate_world(seed=12, **kwargs), c)
    names = ["history.csv", "reps.csv", "accounts.csv", "new_leads.csv", "truth.json"]
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert match == names
    assert not mismatch
    assert not errors
    assert (a / "history.csv").read_bytes() != (c / "history.csv").read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_leads": 10}, "--leads must be at least 100"),
        ({"n_reps": 1}, "--reps must be at least 2"),
    ],
)
def test_bad_sizes_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_world(**kwargs)


def test_pooled_history_stays_inside_each_segment_pool_except_for_holds() -> None:
    kw = {"n_leads": 3_000, "n_reps": 10, "n_new_leads": 200, "seed": 4}
    pooled = generate_world(**kw, history_pools=True, explore_share=1.0)  # type: ignore[arg-type]
    h = pooled.history
    # by company name: a lead from a free-mail address still belongs to its company's account
    owner = dict(zip(pooled.accounts["name"], pooled.accounts["owner_rep_id"], strict=True))
    held = h["rep_id"].to_numpy() == h["company"].map(owner).to_numpy()
    rep_pool = dict(zip(pooled.reps["rep_id"], pooled.reps["pool"], strict=True))
    # examples/policy.yaml's segments: 1-200 employees inbound, 201-1000 mid-market, 1001+
    # enterprise
    size = h["company_size"].to_numpy()
    segment = np.where(size <= 200, "inbound", np.where(size <= 1000, "mid-market", "enterprise"))
    logged_pool = h["rep_id"].map(rep_pool).to_numpy()
    assert (logged_pool[~held] == segment[~held]).all()
    assert held.sum() > 100  # holds still go to the owner, whatever the pool
    # All at random inside the pool, for an account nobody owns: 1 / (pool reps on duty);
    # the leaver is in one pool, and late joiners start later, so sizes vary a little.
    unowned = h["company"].map(owner).isna().to_numpy()
    assert pooled.history_propensity is not None
    sizes = np.round(1 / pooled.history_propensity[unowned]).astype(int)
    members = pooled.reps["pool"].value_counts()
    for pool in ("inbound", "mid-market", "enterprise"):
        in_pool = sizes[segment[unowned] == pool]
        assert set(in_pool) <= set(range(1, members[pool] + 1)), pool
        assert np.bincount(in_pool).argmax() >= members[pool] - 1, pool
    assert np.allclose(1 / sizes, pooled.history_propensity[unowned])


def test_history_pools_off_is_the_same_world_as_before() -> None:
    kw = {"n_leads": 1_500, "n_reps": 8, "n_new_leads": 100, "seed": 9}
    default = generate_world(**kw)  # type: ignore[arg-type]
    off = generate_world(**kw, history_pools=False)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(default.history, off.history)
    pooled = generate_world(**kw, history_pools=True)  # type: ignore[arg-type]
    assert (pooled.history["rep_id"] != default.history["rep_id"]).any()


def test_sharper_beliefs_make_the_history_stick_to_them() -> None:
    kw = {"n_leads": 1_500, "n_reps": 8, "n_new_leads": 100, "seed": 9, "explore_share": 0.01}
    soft = generate_world(**kw)  # type: ignore[arg-type]
    same = generate_world(**kw, belief_sharpness=1.0)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(soft.history, same.history)
    sharp = generate_world(**kw, belief_sharpness=4.0)  # type: ignore[arg-type]
    assert soft.history_propensity is not None
    assert sharp.history_propensity is not None
    # The logged rep was the likelier under sharper beliefs: its propensity is higher.
    assert np.median(sharp.history_propensity) > 1.5 * np.median(soft.history_propensity)
    with pytest.raises(ConfigError, match="belief_sharpness"):
        generate_world(**kw, belief_sharpness=0.0)  # type: ignore[arg-type]
