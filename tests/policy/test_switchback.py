"""The switchback holdout's blocks, washouts, policy validation and lint."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from leadpilot.errors import PolicyError
from leadpilot.policy.lint import lint_policy
from leadpilot.policy.policy_file import parse_policy
from leadpilot.policy.switchback import switchback_slot
from leadpilot.schema import Rep

POOLS = [{"name": "sdr", "strategy": "round_robin"}]


def _policy(**predictive: object):  # type: ignore[no-untyped-def]
    return parse_policy({"pools": POOLS, "predictive": predictive})


def _off(seed: int, block: int, share: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{block}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def test_blocks_washouts_and_off_share() -> None:
    policy = _policy(
        holdout=0.3,
        holdout_design="switchback",
        switchback={"block_minutes": 30, "washout_minutes": 5, "seed": 9},
    )
    start = datetime(2026, 3, 2, tzinfo=UTC)  # a multiple of 30 minutes since the epoch
    first = int((start - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1800)
    offs = 0
    for k in range(2000):
        block = first + k
        switched = _off(9, block, 0.3) != _off(9, block - 1, 0.3)
        at_start = switchback_slot(policy.predictive, start + timedelta(minutes=30 * k))
        inside = switchback_slot(policy.predictive, start + timedelta(minutes=30 * k + 4.9))
        after = switchback_slot(policy.predictive, start + timedelta(minutes=30 * k + 5))
        assert at_start.block == inside.block == after.block == block
        assert at_start.off == _off(9, block, 0.3)
        assert at_start.washout == inside.washout == switched
        assert not after.washout
        offs += at_start.off
    assert 0.26 < offs / 2000 < 0.34  # about the holdout share of blocks
    assert at_start.reasons[0] == f"SWITCHBACK_{'OFF' if at_start.off else 'ON'}:{block}"


def test_washout_must_be_shorter_than_a_block() -> None:
    with pytest.raises(PolicyError, match="washout_minutes"):
        _policy(
            holdout=0.5,
            holdout_design="switchback",
            switchback={"block_minutes": 10, "washout_minutes": 10},
        )
    with pytest.raises(PolicyError, match="holdout_design"):
        _policy(holdout=0.5, holdout_design="hourly")


def test_lint_flags_short_blocks_under_daily_caps_and_no_off_blocks() -> None:
    reps = [Rep(rep_id="a", pool="sdr", max_leads_per_day=5), Rep(rep_id="b", pool="sdr")]
    hourly = _policy(holdout=0.5, holdout_design="switchback")
    paths = {f.path for f in lint_policy(hourly, reps) if f.level == "warning"}
    assert "predictive.switchback.block_minutes" in paths
    daily = _policy(holdout=0.0, holdout_design="switchback", switchback={"block_minutes": 1440})
    paths = {f.path for f in lint_policy(daily, reps) if f.level == "warning"}
    assert paths >= {"predictive.holdout"}
    assert "predictive.switchback.block_minutes" not in paths


def test_default_design_keeps_the_hash_of_policies_stored_before_it() -> None:
    import hashlib as h
    import json

    policy = _policy(holdout=0.2)
    data = policy.model_dump(
        mode="json",
        by_alias=True,
        exclude={"alerts", "retrain", "targets", "objective", "development"},
    )
    del data["predictive"]["holdout_design"], data["predictive"]["switchback"]
    before = h.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert policy.policy_hash == before
    assert _policy(holdout=0.2, holdout_design="switchback").policy_hash != before
