"""Duplicate detection: exact keys, probabilistic linkage, clusters, explanations."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.dedupe import (
    LeadIdentityIndex,
    find_duplicate_records,
    find_duplicates,
    identity_keys,
)
from leadpilot.ingest.identity import normalize_external_id
from leadpilot.ingest.linkage import FieldRule, people_spec

DATA = Path(os.environ.get("LEADPILOT_DATA_DIR", "/work/shared/data"))
FEBRL3 = DATA / "dedupe-febrl3" / "febrl_dataset3.csv"


def _leads(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([{"lead_id": f"L{i + 1}", **r} for i, r in enumerate(rows)])


def test_exact_email_duplicates_ignore_case_and_spaces() -> None:
    df = _leads(
        [
            {"email": "Jane.Doe@Acme.com", "company": "Acme"},
            {"email": "  jane.doe@acme.COM ", "company": "Acme Inc"},
            {"email": "bob@globex.com", "company": "Globex"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    assert result.n_duplicates == 1
    assert result.duplicate_rate == pytest.approx(1 / 3)
    row = result.pairs.iloc[0]
    assert (row.a, row.b, row.method, row.score) == ("L1", "L2", "email", 100.0)
    assert row.explanation == "same email 'jane.doe@acme.com'"


def test_external_id_links_different_emails() -> None:
    df = _leads(
        [
            {"email": "a@one.com", "external_id": "00Q5e000001"},
            {"email": "b@two.com", "external_id": " 00Q5e000001 "},
            {"email": "c@three.com", "external_id": "00q5e000001"},  # case matters in SF ids
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    assert result.pairs.method.tolist() == ["external_id"]


def test_colleagues_at_the_same_company_are_not_merged() -> None:
    df = _leads(
        [
            {"email": "jane.doe@acme.com", "company": "Acme Corp"},
            {"email": "john.smith@acme.com", "company": "Acme Corp"},
            {"email": "p.jones@acme.com", "company": "ACME Corporation"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == []
    assert result.duplicate_rate == 0.0
    assert result.pairs.empty


def test_same_first_name_at_other_company_is_not_merged() -> None:
    df = _leads(
        [
            {"email": "jane@acme.com", "company": "Acme"},
            {"email": "jane@globex.com", "company": "Globex"},
        ]
    )
    assert find_duplicates(df).clusters == []


def test_typo_in_email_is_merged_probabilistically_with_explanation() -> None:
    df = _leads(
        [
            {"email": "jane.doe@acme.com", "company": "Acme"},
            {"email": "jane.deo@acme.com", "company": "Acme, Inc."},
            {"email": "zed@initech.com", "company": "Initech"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    row = result.pairs.iloc[0]
    assert row.method == "probabilistic"
    # fixed-weight model (small table): prior 0.1, m=0.95, u=0.01 (identifying) / 0.2
    log_odds = math.log(0.1 / 0.9) + math.log(0.95 / 0.01) + 2 * math.log(0.95 / 0.2)
    assert row.score == pytest.approx(100 / (1 + math.exp(-log_odds)))
    assert "email_local agrees" in row.explanation
    assert "company agrees" in row.explanation
    assert result.model is not None
    assert result.model.estimator == "fixed"


def test_person_name_and_phone_columns_are_used() -> None:
    df = _leads(
        [
            {"email": "jdoe@gmail.com", "name": "Jane Doe", "phone": "+1 (555) 010-2030"},
            {"email": "jane@acme.com", "name": "Jane Doe", "phone": "15550102030"},
            {"email": "mary@acme.com", "name": "Mary Major", "phone": "15550109999"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    assert "person_name agrees" in result.pairs.explanation.iloc[0]


def test_every_merge_is_explained_and_clusters_follow_merges() -> None:
    df = _leads(
        [
            {"email": "a@x.com", "external_id": "1"},
            {"email": "A@x.com", "external_id": "2"},
            {"email": "b@y.com", "external_id": "2"},
            {"email": "c@z.com", "external_id": "3"},
        ]
    )
    result = find_duplicates(df)
    # chain L1 -email- L2 -external_id- L3 makes one cluster of three
    assert result.clusters == [["L1", "L2", "L3"]]
    assert set(result.pairs.method) == {"email", "external_id"}
    assert result.pairs.explanation.str.len().gt(0).all()
    table = result.cluster_table()
    assert table.keep.tolist() == [True, False, False]
    lo, hi = result.duplicate_rate_interval()
    assert lo < 0.5 < hi


def test_missing_id_column_and_bad_threshold() -> None:
    with pytest.raises(DataValidationError, match="'lead_id' not found"):
        find_duplicates(pd.DataFrame({"email": ["a@b.com"]}))
    with pytest.raises(ConfigError, match="match probability"):
        find_duplicates(_leads([{"email": "a@b.com"}]), threshold=1.5)
    with pytest.raises(DataValidationError, match="person_name"):
        find_duplicates(
            _leads([{"email": "a@b.com"}]), fields=[FieldRule("person_name", identifying=True)]
        )


def test_empty_frame() -> None:
    result = find_duplicates(pd.DataFrame({"lead_id": [], "email": []}))
    assert (result.clusters, result.duplicate_rate, result.n_records) == ([], 0.0, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a@x.com", "b@x.com", "c@y.com", None]), max_size=12))
def test_exact_email_clusters_match_a_groupby(emails: list[str | None]) -> None:
    # second implementation: group positions by email with pandas
    variants = [e.upper() if e and i % 2 else e for i, e in enumerate(emails)]
    df = pd.DataFrame({"lead_id": [str(i) for i in range(len(emails))], "email": variants})
    result = find_duplicates(df)
    expected = [
        [str(i) for i in g]
        for _, g in pd.Series(range(len(emails)), index=emails).dropna().groupby(level=0)
        if len(g) > 1
    ]
    assert sorted(result.clusters) == sorted(expected)
    assert result.n_duplicates == sum(len(g) - 1 for g in expected)


def _pairwise_f1(clusters: list[list[str]], entity: dict[str, str]) -> tuple[float, float]:
    predicted = {tuple(sorted(p)) for c in clusters for p in itertools.combinations(c, 2)}
    by_entity: dict[str, list[str]] = {}
    for rid, ent in entity.items():
        by_entity.setdefault(ent, []).append(rid)
    truth = {tuple(sorted(p)) for g in by_entity.values() for p in itertools.combinations(g, 2)}
    tp = len(predicted & truth)
    precision, recall = tp / len(predicted), tp / len(truth)
    return precision, recall


def test_febrl3_sample_reaches_published_quality() -> None:
    # The full set (5,000 records) reaches pairwise F1 0.998 (benchmarks/dedupe_benchmark.py).
    # A third of the entities keeps the test under a second; requiring precision and recall
    # >= 0.97 leaves room for EM estimates on the smaller sample and still fails if any stage
    # breaks (exact keys alone find no pair here; blocking on one key loses ~10% recall).
    if not FEBRL3.exists():
        pytest.skip(f"{FEBRL3} not found; set LEADPILOT_DATA_DIR to the shared data folder")
    df = pd.read_csv(FEBRL3, skipinitialspace=True, dtype=str)
    entity = df.rec_id.str.extract(r"rec-(\d+)-")[0]
    sample = df[entity.astype(int) < 700].reset_index(drop=True)
    result = find_duplicate_records(sample, people_spec(sample.columns), id_column="rec_id")
    truth = dict(zip(sample.rec_id, sample.rec_id.str.extract(r"rec-(\d+)-")[0], strict=True))
    precision, recall = _pairwise_f1(result.clusters, truth)
    assert result.model is not None
    assert result.model.estimator == "em"
    assert precision >= 0.97
    assert recall >= 0.97
    assert (result.pairs.method == "probabilistic").all()
    assert result.pairs.explanation.str.contains("soc_sec_id").all()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" 00Q5e ", "00Q5e"), (1234.0, "1234"), (float("nan"), None), ("", None), (None, None)],
)
def test_normalize_external_id(raw: object, expected: str | None) -> None:
    assert normalize_external_id(raw) == expected


def test_lead_identity_index() -> None:
    idx = LeadIdentityIndex()
    idx.add("L1", " Ann@Acme.com", "SF-1")
    idx.add("L2", "bob@acme.com", None)
    idx.add("L3", "ann@acme.com", None)  # duplicate: the first owner keeps the key
    assert idx.find("ANN@acme.com") == "L1"
    assert idx.find("someone@else.com", "SF-1") == "L1"
    assert idx.find("bob@acme.com", "SF-2") == "L2"
    assert idx.find("new@acme.com", "SF-9") is None
    assert idx.find(None, None) is None
    assert len(idx) == 2
    assert identity_keys("A@B.com", 7.0) == [("external_id", "7"), ("email", "a@b.com")]


def test_chains_of_pairwise_matches_are_split_by_average_linkage() -> None:
    import numpy as np

    from leadpilot.ingest.dedupe import _split_chains
    from leadpilot.ingest.linkage import LinkageModel, ScoredPairs

    # A-B 0.95, B-C 0.6, C-D 0.95, A-C / B-D / A-D never compared (distance 1).
    # Components: {A,B,C,D}. Average linkage: {A,B} at 0.05, {C,D} at 0.05, then
    # {A,B}-{C,D} average distance (1 + 0.4 + 1 + 1) / 4 = 0.85 > 0.5: stays apart.
    left = np.array([0, 1, 2])
    right = np.array([1, 2, 3])
    prob = np.array([0.95, 0.6, 0.95])
    scored = ScoredPairs(
        left,
        right,
        np.zeros((3, 0)),
        np.zeros((3, 0), bool),
        prob,
        LinkageModel("fixed", {}, {}, 0.1),
    )
    labels = np.array([0, 0, 0, 0, 1])
    exact = np.arange(5)
    out = _split_chains(labels, exact, scored, 0.5)
    assert out[0] == out[1] != out[2] == out[3] != out[4]
    # an exact-key link B=C holds them together: {B,C} at 0, then A and D join at average
    # distance (0.05 + 1) / 2 = 0.525 > 0.5 -> A and D become singletons of their own
    exact_bc = np.array([0, 1, 1, 3, 4])
    out = _split_chains(labels, exact_bc, scored, 0.5)
    assert out[1] == out[2]
    assert len({out[0], out[1], out[3]}) == 3


def test_extra_columns_from_intake_are_used() -> None:
    df = _leads(
        [
            {"email": None, "x_first_name": "Ann", "x_last_name": "Lee", "x_phone": "555-0101"},
            {"email": None, "x_first_name": "Ann", "x_last_name": "Lee", "x_phone": "5550101"},
            {"email": None, "x_first_name": "Bo", "x_last_name": "Chen", "x_phone": "5550199"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    assert {r.column for r in result.fields} == {"person_name", "phone"}
