"""The fast lane's compiled loops (``fast_kernels``) give the numpy code's outputs bit for bit:
numpy's pairwise sum, the fairness guard (``guard_mask``), the argmax with its guard test and
the decision's top candidates (``decision_candidates``), on random inputs with ties, caps
without a limit, -1 places and NaNs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.policy import fast_kernels
from leadpilot.policy.batch_fast import _argmax, _candidates, _guard_acted, _kept
from leadpilot.policy.fairness import (
    DAY_END,
    LATER_CAUTION,
    LATER_DAYS,
    TODAY_CAUTION,
    TODAY_LOW_Z,
    WINDOW_END,
    WINDOW_END_HIGH,
    fair_shares,
    guard_band,
)
from leadpilot.policy.pool_load import PoolLoad
from leadpilot.policy.router import TOP_CANDIDATES, decision_candidates
from leadpilot.policy.strategies.predictive import guard_mask
from leadpilot.schema import Rep

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True, scope="module")
def _compiled() -> None:
    """numba imported, as in a batch router that scored a big replay: the compiled loops."""
    assert fast_kernels.compiled() is not None


def test_sum_is_numpys_pairwise_sum() -> None:
    compiled = fast_kernels.compiled()
    assert compiled is not None
    rng = np.random.default_rng(0)
    for n in [*range(0, 300), 511, 1000, 1037, 4099]:
        # magnitudes over 16 decades: any other order of additions shows in the bits
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 9, n)
        assert fast_kernels._np_sum(a) == float(a.sum()), n


class _Policy:
    """The fields ``guard_mask`` reads."""

    def __init__(self, band: tuple[float, float]) -> None:
        self.fairness = type("F", (), {"band": band})()


def _guard_case(
    rng: np.random.Generator, n_roster: int
) -> tuple[dict[str, float], tuple[Any, ...], tuple[float, float]]:
    """A pool of a roster of ``n_roster``: the price snapshot's horizon, the arrays the
    kernel reads (window, members, shares, daily caps, today's counts, places) and a band."""
    members = np.sort(rng.choice(n_roster, size=rng.integers(1, n_roster + 1), replace=False))
    window = rng.integers(0, 40, n_roster).astype(float)
    cap_day = rng.choice([5.0, 10.0, 20.0, 60.0, np.inf], n_roster)
    daily = np.minimum(rng.integers(0, 25, n_roster).astype(float), np.minimum(cap_day, 1e6))
    shares = fair_shares(cap_day[members] if rng.random() < 0.5 else np.ones(len(members)))
    held = float(window[members].sum())
    end = held + float(rng.choice([0.0, 0.5, 3.0, 40.0, 400.0, rng.uniform(0, 2000)]))
    if rng.random() < 0.3:  # a member at the band's top or bottom, to within the margins
        j = int(rng.integers(0, len(members)))
        near = float(rng.choice([0.0, 5e-10, -5e-10, 5e-8, -5e-8]))
        end = (window[members[j]] + 1 + near) / (1.1 * shares[j])
    prices: dict[str, float] = {WINDOW_END: end}
    if rng.random() < 0.8:
        prices[LATER_DAYS] = float(rng.choice([0.0, 1.0, 2.5, rng.uniform(0, 6)]))
    if rng.random() < 0.8:
        today = rng.uniform(0, max(end - held, 0.0) + 5)
        prices[DAY_END] = held + float(rng.choice([0.0, 1.0, today]))
    if rng.random() < 0.8:
        prices[WINDOW_END_HIGH] = end + float(rng.choice([0.0, rng.uniform(0, 300)]))
    if rng.random() < 0.3:  # a member short of the band's bottom by about a whole lead
        j = int(rng.integers(0, len(members)))
        near = float(rng.choice([0.0, 5e-10, -5e-10, 5e-8, -5e-8]))
        high_end = (window[members[j]] + 2 + near) / (0.9 * shares[j])
        prices[WINDOW_END_HIGH] = high_end
        prices[WINDOW_END] = end = min(end, high_end)
    low = float(rng.choice([0.9, 0.8, 0.5, 1.0, rng.uniform(0, 1)]))
    high = float(rng.choice([1.1, 1.2, 1.0, 2.0, low + rng.uniform(0, 1)]))
    if rng.random() < 0.5:
        low, high = 0.9, 1.1
    k = int(rng.integers(1, len(members) + 1))
    at = np.sort(rng.choice(len(members), size=k, replace=False)).astype(np.int64)
    if rng.random() < 0.2:
        at[rng.integers(0, k)] = -1  # a candidate outside the pool
    arrays = (window, members.astype(np.int64), shares, cap_day, daily, at)
    return prices, arrays, (low, high)


def _check_guard(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_roster = int(rng.integers(1, 300))
    prices, (window, members, shares, cap_day, daily, at), band = _guard_case(rng, n_roster)
    reps = [Rep(rep_id=f"r{i}", name=f"r{i}") for i in members.tolist()]
    load = PoolLoad(reps, window[members], cap_day[members], shares)
    ids = [f"c{i}" for i in range(len(at))]
    want = guard_mask(prices, _Policy(band), load, daily[members], ids, at=at)  # type: ignore[arg-type]
    keep = np.empty(len(at), dtype=bool)
    end = prices[WINDOW_END]
    low, high = guard_band(band)  # the band the guard holds, as the fast lane passes it
    got = fast_kernels.guard(
        window, members, shares, cap_day, daily, at, low, high, end,
        prices.get(LATER_DAYS, 0.0), prices.get(DAY_END, end), prices.get(WINDOW_END_HIGH, end),
        TODAY_CAUTION, LATER_CAUTION, TODAY_LOW_Z, keep,
    )  # fmt: skip
    if want is None:
        assert not got
    else:
        assert got
        assert keep.tolist() == want.tolist()


def test_guard_is_guard_mask_on_many_pools() -> None:
    for seed in range(3000):
        _check_guard(seed)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_guard_is_guard_mask(seed: int) -> None:
    _check_guard(seed)


def _choose_case(rng: np.random.Generator) -> tuple[Any, Any, Any]:
    n = int(rng.integers(1, 40))
    # few distinct values: ties between reps, and within the argmax's 1e-12
    p = rng.choice([0.1, 0.2, 0.3, 0.2 + 5e-13, rng.uniform()], n)
    price = rng.choice([0.0, -0.0, 0.1, 0.05, rng.uniform(-0.2, 0.2)], n)
    if rng.random() < 0.05:
        price[rng.integers(0, n)] = np.inf
    if rng.random() < 0.05:
        p[rng.integers(0, n)] = np.nan
    keep = rng.random(n) < 0.6 if rng.random() < 0.7 else None
    if keep is not None and not keep.any():
        keep[rng.integers(0, n)] = True
    return p, price, keep


def _check_choose(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, price, keep = _choose_case(rng)
    n = len(p)
    dist = np.empty(n)
    order = np.empty(TOP_CANDIDATES, dtype=np.int64)
    mask = keep if keep is not None else np.ones(n, dtype=bool)
    top, winner, acted = fast_kernels.choose(
        p, price, mask, keep is not None, TOP_CANDIDATES, dist, order
    )
    if np.isnan(p - price).any():
        assert top == -1  # numpy's code decides
        return
    want_dist, want_winner = _argmax(_kept(p - price, keep))
    assert dist.tolist() == want_dist.tolist()
    assert (winner if winner >= 0 else None) == want_winner
    assert acted == _guard_acted(p - price, keep, want_dist)
    ids = [f"r{i}" for i in range(n)]
    for chosen in {0, n - 1, int(rng.integers(0, n))}:
        want = decision_candidates(ids, p, price, want_dist, chosen, None)
        assert _candidates(ids, p, price, order[:top], chosen) == want


def test_choose_is_numpys_choice_on_many_draws() -> None:
    for seed in range(5000):
        _check_choose(seed)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_choose_is_numpys_choice(seed: int) -> None:
    _check_choose(seed)


def test_plain_loops_without_numba_give_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where numba is not loaded the plain loops run: the same answers (checked on the
    compiled ones' cases)."""
    monkeypatch.setattr(fast_kernels, "compiled", lambda: None)
    for seed in range(30):
        _check_guard(seed)
        _check_choose(seed)


def _screen_by_numpy(
    open_: Any, cap_open: Any, daily: Any, cap_day: Any, static: Any
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The fast lane's screen as it was written with numpy (the reference)."""
    code = np.where(open_ >= cap_open, 2, 0)
    code[daily >= cap_day] = 1
    return np.where(static == 0, code, static)


def _check_screen(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 130))
    # counts at, under and over their caps; caps of none (inf) and of zero
    cap_day = rng.choice([0.0, 1.0, 3.0, 5.0, np.inf], size=n)
    cap_open = rng.choice([0.0, 2.0, 4.0, np.inf], size=n)
    daily = rng.integers(0, 7, size=n).astype(float)
    open_ = rng.integers(0, 7, size=n).astype(float)
    static = np.where(rng.random(n) < 0.3, rng.integers(4, 9, size=n), 0).astype(np.int64)
    want = _screen_by_numpy(open_, cap_open, daily, cap_day, static)
    code = np.full(n, -7, dtype=np.int64)
    fast_kernels.screen(open_, cap_open, daily, cap_day, static, 1, 2, code)
    assert code.tolist() == want.tolist()


def test_screen_is_numpys_screen() -> None:
    for seed in range(2000):
        _check_screen(seed)
    # by hand: static first, then the daily cap, then the open-lead cap
    code = np.empty(4, dtype=np.int64)
    fast_kernels.screen(
        np.array([9.0, 9.0, 9.0, 0.0]), np.array([1.0, 1.0, 10.0, 1.0]),
        np.array([9.0, 0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0, 1.0]),
        np.array([5, 0, 0, 0], dtype=np.int64), 1, 2, code,
    )  # fmt: skip
    assert code.tolist() == [5, 2, 0, 0]


def test_plain_screen_without_numba_gives_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_kernels, "compiled", lambda: None)
    for seed in range(50):
        _check_screen(seed)


def _check_gather(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 130))
    price_all = rng.normal(0.0, 0.05, n)
    credits = rng.choice([-np.inf, 0.0, 1.0, 2.0, 3.5], size=n)  # ties: the first
    open_ = rng.integers(0, 9, size=n).astype(float)
    cap_day = rng.choice([0.0, 2.0, 5.0, np.inf], size=n)
    typical = rng.lognormal(0.0, 1.0, n)
    per_lead = float(rng.uniform(0.01, 2.0))
    eligible = np.flatnonzero(rng.random(n) < 0.7).astype(np.int64)
    if not len(eligible):
        eligible = np.array([n - 1], dtype=np.int64)
    for aware in (True, False):
        price = np.full(len(eligible), np.nan)
        hours = np.full(len(eligible), -1.0)
        idx = fast_kernels.gather(
            eligible, price_all, credits, open_, cap_day, typical, per_lead, aware, price, hours
        )
        assert idx == int(np.argmin(credits[eligible]))
        assert price.tobytes() == price_all[eligible].tobytes()
        if aware:  # the numpy expression, bit for bit
            backlog = np.maximum(0.0, open_[eligible] - cap_day[eligible])
            assert hours.tobytes() == (typical[eligible] + backlog * per_lead).tobytes()
        else:
            assert (hours == -1.0).all()


def test_gather_is_numpys_gather() -> None:
    for seed in range(2000):
        _check_gather(seed)


def test_plain_gather_without_numba_gives_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_kernels, "compiled", lambda: None)
    for seed in range(50):
        _check_gather(seed)
