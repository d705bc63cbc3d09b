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
from leadpilot.ingest.linkage import FieldRule, organisations_spec, people_spec

DATA = Path(os.environ["LEADPILOT_DATA_DIR"])
FEBRL3 = DATA / "dedupe-febrl3" / "febrl_dataset3.csv"
CHICAGO = DATA / "dedupe-chicago-early-childhood" / "csv_example_input_with_true_ids.csv"


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


def test_typo_in_email_merges_when_the_name_agrees() -> None:
    df = _leads(
        [
            {"email": "jane.doe@acme.com", "company": "Acme", "name": "Jane Doe"},
            {"email": "jane.deo@acme.com", "company": "Acme, Inc.", "name": "jane  doe"},
            {"email": "zed@initech.com", "company": "Initech", "name": "Zed Z"},
        ]
    )
    result = find_duplicates(df)
    assert result.clusters == [["L1", "L2"]]
    row = result.pairs.iloc[0]
    assert row.method == "probabilistic"
    # fixed-weight model (small table): prior 0.1, m=0.95, u=0.01 (identifying) / 0.2.
    # mailbox exact differs, mailbox near agrees, name exact agrees (its near level is then
    # not counted again), company and domain agree.
    log_odds = (
        math.log(0.1 / 0.9)
        + math.log(0.05 / 0.99)
        + math.log(0.95 / 0.2)
        + math.log(0.95 / 0.01)
        + 2 * math.log(0.95 / 0.2)
    )
    assert row.score == pytest.approx(100 / (1 + math.exp(-log_odds)))
    assert row.score == pytest.approx(98.28, abs=0.01)
    assert "email_local differs" in row.explanation
    assert "email_local_near agrees" in row.explanation
    assert "person_name agrees" in row.explanation
    assert "person_name_near agrees (counted with person_name)" in row.explanation
    assert result.model is not None
    assert result.model.estimator == "fixed"


def test_typo_alone_is_not_enough() -> None:
    # "mark.harris" / "mary.harris" at one company: a typo or two colleagues? Without a
    # second identifier the conservative answer is two people:
    # -2.2 (prior) - 3.0 (mailbox differs) + 1.6 (near) + 1.6 (company) + 1.6 (domain) < 0
    df = _leads(
        [
            {"email": "mark.harris@acme.com", "company": "Acme"},
            {"email": "mary.harris@acme.com", "company": "Acme"},
        ]
    )
    assert find_duplicates(df).clusters == []


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


def test_repeated_ids_are_rejected() -> None:
    df = pd.DataFrame({"lead_id": ["a", "b", "a"], "email": ["x@y.com", "z@y.com", "q@y.com"]})
    with pytest.raises(DataValidationError, match="'a' appears in records 1 and 3"):
        find_duplicates(df)


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


@pytest.mark.shared_data(FEBRL3.relative_to(DATA).as_posix())
def test_febrl3_sample_reaches_published_quality() -> None:
    # The full set (5,000 records) reaches pairwise F1 0.998 (benchmarks/dedupe_benchmark.py).
    # A third of the entities keeps the test under a second; requiring precision and recall
    # >= 0.97 leaves room for EM estimates on the smaller sample and still fails if any stage
    # breaks (exact keys alone find no pair here; blocking on one key loses ~10% recall).
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

    from leadpilot.ingest.dedupe_clusters import split_chains
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
    out = split_chains(labels, exact, scored, 0.5)
    assert out[0] == out[1] != out[2] == out[3] != out[4]
    # an exact-key link B=C holds them together: {B,C} at 0, then A and D join at average
    # distance (0.05 + 1) / 2 = 0.525 > 0.5 -> A and D become singletons of their own
    exact_bc = np.array([0, 1, 1, 3, 4])
    out = split_chains(labels, exact_bc, scored, 0.5)
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
    assert {r.column for r in result.fields} == {"person_name", "person_name_near", "phone"}


@pytest.mark.parametrize(
    ("a", "b", "merged"),
    [
        ("kharris@yvoyi.com", "jharris@yvoyi.com", False),  # another initial: another person
        ("mia.lewis@kndcfx.com", "uma.lewis@kndcfx.com", False),
        ("jane+news@acme.com", "jane@acme.com", True),  # sub-address tag
        ("jane.doe@acme.com", "jane_doe@acme.com", True),  # separators
        ("margaret.o@acme.com", "margarte.o@acme.com", False),  # a typo alone: not enough
    ],
)
def test_mailbox_comparison(a: str, b: str, merged: bool) -> None:
    df = _leads([{"email": a, "company": "Acme"}, {"email": b, "company": "Acme"}])
    assert (find_duplicates(df).clusters == [["L1", "L2"]]) is merged


def test_synthetic_lead_population() -> None:
    # 600 people at 120 companies (unique names per company), 5% entered twice: half with
    # the email re-cased and padded, half with one letter of the mailbox dropped (not the
    # first) but the same name. Colleagues share company and domain, often a surname and
    # mailboxes one letter apart ("ben.lee" / "bo.lee"); none of them may be merged.
    import random
    import string

    rng = random.Random(11)
    firsts = ["anna", "ben", "bo", "carla", "dev", "emma", "fred", "gina", "hugo", "ines"]
    lasts = ["smith", "jones", "brown", "lee", "garcia", "miller", "davis", "wilson"]
    companies = ["".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(120)]
    rows: list[dict[str, object]] = []
    entity: list[int] = []
    seen: set[tuple[str, ...]] = set()
    while len(rows) < 600:
        c, first, last = rng.choice(companies), rng.choice(firsts), rng.choice(lasts)
        local = rng.choice(["{f}.{l}", "{f}{l}", "{i}{l}"]).format(f=first, l=last, i=first[0])
        if (first, last, c) in seen or (local.replace(".", ""), c) in seen:
            continue
        seen |= {(first, last, c), (local.replace(".", ""), c)}
        name = f"{first.title()} {last.title()}"
        rows.append({"email": f"{local}@{c}.com", "company": c.title(), "name": name})
        entity.append(len(entity))
        if rng.random() < 0.05:
            if rng.random() < 0.5:
                dup = f"  {local.upper()}@{c}.COM"
            else:
                j = rng.randrange(1, len(local))
                dup = f"{local[:j]}{local[j + 1 :]}@{c}.com"
            rows.append({"email": dup, "company": f"{c.upper()} Inc", "name": name.upper()})
            entity.append(entity[-1])
    df = _leads(rows)
    truth = dict(zip(df.lead_id, map(str, entity), strict=True))
    result = find_duplicates(df)
    precision, recall = _pairwise_f1(result.clusters, truth)
    assert precision == 1.0
    assert recall >= 0.95


def test_free_mail_numbered_mailboxes_are_different_people() -> None:
    df = _leads(
        [
            {"email": "barbara.gonzalez5080@outlook.com", "company": "Vegastar Technologies"},
            {"email": "barbara.gonzalez5040@outlook.com", "company": "Lionville Dynamics"},
            {"email": "ana.moore@gmail.com", "company": "Acme"},
            {"email": "ana.moore@yahoo.com", "company": "Globex"},
        ]
    )
    result = find_duplicates(df)
    # L3/L4: mailbox agrees (+4.6), company differs (-2.8), free-mail domains are no
    # evidence (0): log-odds -2.2 + 4.6 - 2.8 = -0.4 -> P 0.40 < 0.5, kept apart
    assert result.clusters == []


_EMAILS = [
    "ann.lee@acme.com",
    "ANN.LEE@acme.com ",
    "ann.le@acme.com",
    "bo.lee@acme.com",
    "ann.lee@gmail.com",
    "cy@globex.com",
    None,
]
_lead_rows = st.lists(
    st.fixed_dictionaries(
        {
            "email": st.sampled_from(_EMAILS),
            "company": st.sampled_from(["Acme", "Acme Inc", "Globex", None]),
            "name": st.sampled_from(["Ann Lee", "Bo Lee", "ann lee", None]),
            "external_id": st.sampled_from(["SF1", "SF2", None, None]),
        }
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(_lead_rows)
def test_cluster_invariants(rows: list[dict[str, object]]) -> None:
    df = _leads(rows)
    result = find_duplicates(df)
    ids = [rid for c in result.clusters for rid in c]
    assert len(ids) == len(set(ids))  # clusters are disjoint
    assert all(len(c) >= 2 for c in result.clusters)
    assert result.n_duplicates == len(ids) - len(result.clusters)
    assert result.duplicate_rate == (result.n_duplicates / len(df) if len(df) else 0.0)
    cluster_of = {rid: k for k, c in enumerate(result.clusters) for rid in c}
    # every merge lies inside one cluster and has an explanation
    for a, b, why in zip(result.pairs.a, result.pairs.b, result.pairs.explanation, strict=True):
        assert cluster_of[a] == cluster_of[b]
        assert why
    # every cluster is connected by its merges (union-find, a second implementation)
    parent = {rid: rid for rid in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in zip(result.pairs.a, result.pairs.b, strict=True):
        parent[find(a)] = find(b)
    for c in result.clusters:
        assert len({find(rid) for rid in c}) == 1
    # exact keys are never split
    emails = df["email"].map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    for values in (emails, df["external_id"]):
        for _, group in df.lead_id.groupby(values.to_numpy()):
            if len(group) > 1:
                assert len({cluster_of.get(rid) for rid in group}) == 1
    # deterministic
    again = find_duplicates(df)
    assert again.clusters == result.clusters


def test_company_alone_never_merges_people() -> None:
    # an opportunity export: many rows per account and no person identifier
    df = _leads([{"company": "Acme"}] * 6 + [{"company": "Globex"}] * 3)
    result = find_duplicates(df)
    assert result.clusters == []
    assert result.model is None
    assert "no person identifier" in result.notes[0]


@pytest.mark.shared_data(CHICAGO.relative_to(DATA).as_posix())
def test_chicago_sample_organisations() -> None:
    # Full set: precision 0.968, recall 0.954 (benchmarks/dedupe_benchmark.py); the three
    # thirds by entity id give 0.978-0.995 / 0.923-0.962. The bounds below leave that
    # spread's margin and fail if names, addresses or phones stop being compared well.
    raw = pd.read_csv(CHICAGO, dtype=str)
    raw = raw[raw["True Id"].astype(int) % 3 == 0]
    frame = pd.DataFrame(
        {
            "id": raw["Id"],
            "name": raw["Site name"],
            "address": raw["Address"],
            "zip": raw["Zip"],
            "phone": raw["Phone"],
            "email": raw["Email Address"],
        }
    ).reset_index(drop=True)
    result = find_duplicate_records(frame, organisations_spec(frame.columns), id_column="id")
    truth = dict(zip(raw["Id"], raw["True Id"], strict=True))
    precision, recall = _pairwise_f1(result.clusters, truth)
    assert result.model is not None
    assert result.model.estimator == "em"
    assert precision >= 0.97
    assert recall >= 0.92


def test_find_repeats_against_the_synthetic_truth() -> None:
    from leadpilot.ingest.dedupe import find_repeats
    from leadpilot.synth import generate_world

    world = generate_world(n_leads=3_000, n_reps=8, n_new_leads=1_000, seed=4)
    repeats = find_repeats(world.history, world.new_leads)
    new_ids = set(world.new_leads.lead_id)
    truth = {d: o for d, o in world.truth.duplicates.items() if d in new_ids}
    assert len(truth) == 20  # 2% of 1,000 new leads repeat an earlier lead
    assert set(repeats.lead_id) == set(truth)
    # the first lead of each cluster is the original or that original's own original
    history_original = world.truth.duplicates
    for lead, first in zip(repeats.lead_id, repeats.first_lead_id, strict=True):
        assert first in {truth[lead], history_original.get(truth[lead])}
    assert (repeats.method == "email").all()


def test_find_repeats_needs_distinct_ids() -> None:
    from leadpilot.ingest.dedupe import find_repeats

    known = _leads([{"email": "a@x.com"}])
    with pytest.raises(DataValidationError, match="in both the known and the incoming"):
        find_repeats(known, known)
