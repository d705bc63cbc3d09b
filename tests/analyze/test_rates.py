"""Wilson intervals and grouped rate tables against textbook values and a second implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from leadpilot.analyze import analyze, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo[0] == pytest.approx(low, abs=6e-5)
    assert hi[0] == pytest.approx(high, abs=6e-5)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_agrees_with_scipy_and_contains_the_rate(kn: tuple[int, int]) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(method="wilson")
    assert lo[0] == pytest.approx(ref.low, abs=1e-9)
    assert hi[0] == pytest.approx(ref.high, abs=1e-9)
    assert 0.0 <= lo[0] <= k / n <= hi[0] <= 1.0


def test_zero_trials_give_the_whole_unit_interval() -> None:
    lo, hi = wilson_interval(0, 0)
    assert (lo[0], hi[0]) == (0.0, 1.0)


def _independent(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    known = frame[frame["converted"].notna()]
    g = known.groupby(key)
    out = pd.DataFrame(
        {
            "leads": g.size(),
            "converted": g["converted"].apply(lambda s: int(s.astype(bool).sum())),
            "won": g["closed_won"].apply(lambda s: int(s.fillna(False).astype(bool).sum())),
            # opportunities: converted leads whose deal outcome is known
            "opportunities": (known["converted"].astype(bool) & known["closed_won"].notna())
            .groupby(known[key])
            .sum(),
        }
    )
    out["rate"] = out["converted"] / out["leads"]
    out["win_rate"] = out["won"] / out["opportunities"]
    cis = [
        binomtest(int(c), int(n)).proportion_ci(method="wilson")
        for c, n in zip(out["converted"], out["leads"], strict=True)
    ]
    out["ci_low"] = [c.low for c in cis]
    out["ci_high"] = [c.high for c in cis]
    return out


def test_conversion_tables_equal_an_independent_group_by(history: pd.DataFrame) -> None:
    frame = history.copy()
    # a few open outcomes, which must be left out of every count
    frame.loc[frame.index[:37], "converted"] = pd.NA
    result = analyze(frame, seed=3).to_dict()
    for section, key, col in (
        ("conversion_by_rep", "rep", "rep_id"),
        ("conversion_by_source", "source", "source"),
    ):
        expected = _independent(frame, col)
        got = pd.DataFrame(result[section]).set_index(key)
        assert set(got.index) == set(expected.index)
        for name in ("leads", "converted", "won"):
            assert got[name].to_dict() == expected[name].astype(int).to_dict(), (section, name)
        for name in ("rate", "ci_low", "ci_high", "win_rate"):
            np.testing.assert_allclose(
                got[name].reindex(expected.index), expected[name], rtol=0, atol=1e-12
            )
        for row in result[section]:
            assert set(row) >= {
                key,
                "leads",
                "converted",
                "rate",
                "ci_low",
                "ci_high",
                "won",
                "win_rate",
            }
            assert 0.0 <= row["ci_low"] <= row["rate"] <= row["ci_high"] <= 1.0


def test_public_api_is_complete() -> None:
    import leadpilot.analyze as pkg

    exported = set(pkg.__all__)
    assert exported == {n for n in exported if hasattr(pkg, n)}
    assert {"analyze", "Analysis", "write_html", "write_markdown", "wilson_interval"} <= exported


def test_median_days_to_convert_per_rep(history: pd.DataFrame) -> None:
    frame = history.copy()
    rng = np.random.default_rng(4)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    frame["created_at"] = start + pd.to_timedelta(np.sort(rng.uniform(0, 365, len(frame))), "D")
    days = rng.gamma(2.0, 10.0, len(frame))
    frame["converted_at"] = frame["created_at"] + pd.to_timedelta(days, "D")
    frame.loc[~frame["converted"].astype(bool), "converted_at"] = pd.NaT
    doc = analyze(frame, seed=1).to_dict()
    expected = (
        pd.Series(days, index=frame.index)[frame["converted"].astype(bool)]
        .groupby(frame["rep_id"])
        .median()
    )
    got = {r["rep"]: r["median_days_to_convert"] for r in doc["conversion_by_rep"]}
    for rep, value in expected.items():
        assert got[rep] == pytest.approx(value, rel=1e-9)


def test_vectorised_fisher_matches_scipy_one_table_at_a_time() -> None:
    from scipy.stats import fisher_exact

    from leadpilot.analyze.matches import fisher_two_sided

    rng = np.random.default_rng(2)
    n = rng.integers(5, 200, 300)
    n_total = n + rng.integers(10, 2000, 300)
    k_total = (n_total * rng.uniform(0.05, 0.6, 300)).astype(int)
    low = np.maximum(0, k_total - (n_total - n))  # the other cells cannot go negative
    k = np.clip(rng.binomial(n, k_total / n_total), low, np.minimum(n, k_total))
    got = fisher_two_sided(k, n, k_total, n_total)
    for i in range(300):
        table = [[k[i], n[i] - k[i]], [k_total[i] - k[i], n_total[i] - n[i] - (k_total[i] - k[i])]]
        less = fisher_exact(table, alternative="less").pvalue
        greater = fisher_exact(table, alternative="greater").pvalue
        assert got[i] == pytest.approx(min(1.0, 2 * min(less, greater)), rel=1e-9, abs=1e-15)
