"""Probabilistic record linkage (Fellegi-Sunter) for batch dedupe of any record table.

Pipeline: clean each compared column -> candidate pairs by sorted-neighbourhood indexing on
several keys (recordlinkage; every pair on tables of up to 200 records) -> per-field
similarity (rapidfuzz, vectorised with ``cpdist``) turned into agree / disagree -> match
weights and P(match) from the Fellegi-Sunter model whose m and u probabilities are estimated
without labels by EM (recordlinkage's ``ECMClassifier``) -> pairs with P(match) >= threshold,
each explained field by field.

EM needs enough candidate pairs to separate the two classes, and can settle on a wrong split;
then (and on small tables) the m/u probabilities are fixed, documented values (see
``_fixed_weights``). A missing value adds no evidence (weight 0); EM itself sees it as a
disagreement, as recordlinkage does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import recordlinkage as rl
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.identity import normalize_company_name

__all__ = [
    "FieldRule",
    "LinkageModel",
    "LinkageSpec",
    "ScoredPairs",
    "clean_column",
    "organisations_spec",
    "people_spec",
    "score_pairs",
]

Method = Literal[
    "jarowinkler",
    "levenshtein",
    "damerau",
    "token_sort",
    "token_set",
    "address",
    "initial",
    "phone",
    "exact",
]
Cleaner = Literal["text", "digits", "company", "address"]

_SCORERS: dict[str, Callable[..., float]] = {
    "jarowinkler": JaroWinkler.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "damerau": DamerauLevenshtein.normalized_similarity,
    "token_sort": fuzz.token_sort_ratio,
    "token_set": fuzz.token_set_ratio,
}

# Below this many candidate pairs EM has too little to learn two classes from.
MIN_PAIRS_FOR_EM = 500
_EM_SAMPLE = 50_000
# A field that agrees in fewer candidate pairs than this keeps its fixed m and u under EM.
_MIN_AGREEMENTS_FOR_EM = 20


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one column is compared: cleaning, similarity measure, and agreement cut-off.

    ``agree_at`` is on the 0-1 scale of the similarity (token_sort is rescaled from 0-100).
    ``identifying`` fields identify the entity itself (a person's name, email local part,
    phone, national id): a pair that agrees on none of them is never merged, whatever the
    other fields say, so that two people at the same company stay apart.
    ``redundant_with`` names a field whose agreement already carries this one's: a stricter
    comparison of the same value, or the value it is made from (a mailbox is made of the
    person's name). This field's agreement then adds nothing when that field agrees too
    (Fellegi-Sunter assumes independent fields; counting one fact twice would overstate it);
    its disagreement still counts.
    """

    column: str
    method: Method = "jarowinkler"
    agree_at: float = 0.85
    clean: Cleaner = "text"
    identifying: bool = False
    redundant_with: str | None = None


@dataclass(frozen=True, slots=True)
class LinkageSpec:
    """Fields to compare and columns to index candidate pairs on (sorted neighbourhood)."""

    fields: tuple[FieldRule, ...]
    blocking: tuple[str, ...]
    window: int = 5


@dataclass(frozen=True, slots=True)
class LinkageModel:
    """The fitted Fellegi-Sunter model: per-field m, u and how they were obtained."""

    estimator: Literal["em", "fixed"]
    m: dict[str, float]
    u: dict[str, float]
    prior: float

    def weight(self, column: str, agree: bool) -> float:
        """Log-likelihood ratio (natural log) contributed by a field's agreement."""
        m, u = self.m[column], self.u[column]
        return math.log(m / u) if agree else math.log((1 - m) / (1 - u))


@dataclass(slots=True)
class ScoredPairs:
    """Candidate pairs with their similarities, agreements and P(match).

    ``left``/``right`` are row positions (shape ``(n_pairs,)``); ``similarity`` and ``agree``
    have shape ``(n_pairs, n_fields)`` (NaN similarity where a value is missing).
    """

    left: NDArray[np.int64]
    right: NDArray[np.int64]
    similarity: NDArray[np.float64]
    agree: NDArray[np.bool_]
    probability: NDArray[np.float64]
    model: LinkageModel
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)

    def explain(self, k: int) -> str:
        """Say field by field why pair ``k`` got its probability."""
        return self.explain_many([k])[0]

    def explain_many(self, ks: Sequence[int]) -> list[str]:
        """``explain`` for several pairs at once (the weights are computed in one go)."""
        rows = np.asarray(ks, dtype=np.int64)
        weights, counted_with = _field_weights(
            self.similarity[rows], self.agree[rows], self.fields, self.model
        )
        out = []
        for i, k in enumerate(rows.tolist()):
            parts = []
            for j, rule in enumerate(self.fields):
                sim = self.similarity[k, j]
                if math.isnan(sim):
                    parts.append(f"{rule.column} missing (+0.0)")
                    continue
                verdict = "agrees" if self.agree[k, j] else "differs"
                if counted_with[i, j] is not None:
                    parts.append(f"{rule.column} {verdict} (counted with {counted_with[i, j]})")
                    continue
                parts.append(
                    f"{rule.column} {verdict} ({rule.method} {sim:.2f}, {weights[i, j]:+.1f})"
                )
            out.append(f"P(match)={self.probability[k]:.3f}: " + "; ".join(parts))
        return out


_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "road": "rd",
    "drive": "dr",
    "place": "pl",
    "parkway": "pkwy",
    "court": "ct",
    "lane": "ln",
    "south": "s",
    "north": "n",
    "east": "e",
    "west": "w",
}


def clean_column(values: pd.Series, how: Cleaner) -> pd.Series:
    """Return comparable strings (object dtype, ``None`` where missing) for one column."""
    text = values.astype("string").str.strip().str.lower()
    if how == "digits":
        text = text.str.replace(r"\.0$", "", regex=True).str.replace(r"\D+", "", regex=True)
    elif how == "company":
        text = text.map(normalize_company_name, na_action="ignore").astype("string")
    elif how == "address":
        text = text.str.replace(r"[^a-z0-9 ]+", " ", regex=True).map(
            lambda s: " ".join(_ADDRESS_WORDS.get(w, w) for w in s.split()),
            na_action="ignore",
        )
    else:
        text = text.str.replace(r"\s+", " ", regex=True)
    out = text.astype(object).where(text.notna() & (text != ""), None)
    return out


def _similarity(
    values: pd.Series, left: NDArray[np.int64], right: NDArray[np.int64], method: Method
) -> NDArray[np.float64]:
    """Similarity in [0, 1] of ``values[left[k]]`` and ``values[right[k]]`` for every pair
    (NaN where either is missing). Per-record work (digits, house numbers) is done once per
    record, not once per pair."""
    column = values.to_numpy(dtype=object)
    missing = pd.isna(values).to_numpy()
    present = ~(missing[left] | missing[right])
    sim = np.full(len(left), np.nan)
    if not present.any():
        return sim
    li, ri = left[present], right[present]
    a, b = column[li].tolist(), column[ri].tolist()
    if method == "exact":
        sim[present] = column[li] == column[ri]
        return sim
    scorer = _SCORERS.get(method, JaroWinkler.normalized_similarity)
    if method == "initial":
        scorer = DamerauLevenshtein.normalized_similarity
    elif method == "phone":
        scorer = Levenshtein.normalized_similarity
    scores = np.asarray(process.cpdist(a, b, scorer=scorer, workers=1), dtype=np.float64)
    if method.startswith("token_"):
        scores /= 100.0
    if method == "initial":
        # "kharris" / "jharris" are two people, and so are "ana.moore4673" / "ana.moore4613"
        # (free-mail numbering); "janedoe" / "janedeo" (a swap is one typo) are one.
        text = values.astype("string")
        first = text.str[:1].to_numpy(dtype=object)
        digits = text.str.replace(r"\D+", "", regex=True).to_numpy(dtype=object)
        scores[(first[li] != first[ri]) | (digits[li] != digits[ri])] = 0.0
    elif method == "phone":
        # "+1 555 0100" and "555-0100": the same line with and without the country code
        x, y = column[li], column[ri]
        suffix = np.array(
            [
                min(len(p), len(q)) >= 7 and (p.endswith(q) or q.endswith(p))
                for p, q in zip(x, y, strict=True)
            ],
            dtype=bool,
        )
        scores[suffix] = 1.0
    elif method == "address":
        # "6225 S Wabash" and "6245 S Wabash" are neighbours, not the same site
        number = values.astype("string").str.extract(r"^(\d+)")[0]
        has = number.notna().to_numpy()
        num = number.fillna("").to_numpy(dtype=object)
        scores[has[li] & has[ri] & (num[li] != num[ri])] = 0.0
    sim[present] = scores
    return sim


# Up to this many records every pair is compared: blocking exists to avoid n^2 comparisons,
# which at 200 records are 19,900 (milliseconds), while recordlinkage's sorted-neighbourhood
# indexer costs ~50 ms per key on any frame, small ones included.
_FULL_INDEX_MAX = 200


def _candidate_pairs(cleaned: pd.DataFrame, spec: LinkageSpec) -> pd.MultiIndex:
    if len(cleaned) <= _FULL_INDEX_MAX:
        left, right = np.triu_indices(len(cleaned), k=1)
        return pd.MultiIndex.from_arrays([left, right])
    indexer = rl.Index()
    usable = [c for c in spec.blocking if cleaned[c].notna().sum() >= 2]
    if not usable:
        return pd.MultiIndex.from_arrays([[], []])
    for column in usable:
        indexer.add(rl.index.SortedNeighbourhood(column, window=spec.window))
    return indexer.index(cleaned)


def _fixed_weights(fields: Sequence[FieldRule]) -> LinkageModel:
    # Small tables: m = 0.95 (a typo-tolerant comparison agrees on 95% of true duplicates, the
    # usual textbook value), u = 1% for identifying fields (two different people rarely share
    # a name or email local part) and 20% for descriptive ones (colleagues share a company,
    # domain, city). Prior 10%: the share of matches among candidate pairs that
    # recordlinkage's ECM also starts from. Conservative by design: without data to learn
    # from, a merge needs several agreeing fields including an identifying one.
    m = {f.column: 0.95 for f in fields}
    u = {f.column: (0.01 if f.identifying else 0.2) for f in fields}
    return LinkageModel("fixed", m, u, 0.1)


class _DropRecordLinkageNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("ECM algorithm")


def _em_weights(agree: NDArray[np.bool_], fields: Sequence[FieldRule]) -> LinkageModel | None:
    columns = [f.column for f in fields]
    if len(agree) > _EM_SAMPLE:
        # m, u and the prior are proportions: a fixed random sample of 50,000 pairs pins
        # them to about +-0.5 percentage points and makes EM several times faster.
        rows = np.random.default_rng(0).choice(len(agree), _EM_SAMPLE, replace=False)
        agree = agree[np.sort(rows)]
    features = pd.DataFrame(agree.astype(np.int64), columns=columns)
    ecm = rl.ECMClassifier(binarize=None)
    # A degenerate split (one class empty) makes recordlinkage take log(0) and log a
    # warning on the root logger; both are handled below (NaN m/u fail the sanity check),
    # so keep them off the user's console.
    quiet = _DropRecordLinkageNoise()
    logging.getLogger().addFilter(quiet)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            ecm.fit(features)
    finally:
        logging.getLogger().removeFilter(quiet)
    m_probs, u_probs = ecm.m_probs, ecm.u_probs
    fixed = _fixed_weights(fields)
    agreements = agree.sum(axis=0)
    m: dict[str, float] = {}
    u: dict[str, float] = {}
    eps = 1e-6
    for j, c in enumerate(columns):
        if agreements[j] < _MIN_AGREEMENTS_FOR_EM:
            # too rare to estimate (one shared email among 14,000 pairs gives m = 0, which
            # would make that agreement count against a match): keep the fixed values
            m[c], u[c] = fixed.m[c], fixed.u[c]
            continue
        m[c] = float(np.clip(m_probs[c].get(1, eps), eps, 1 - eps))
        u[c] = float(np.clip(u_probs[c].get(1, eps), eps, 1 - eps))
    prior = float(ecm.p)
    # EM can lock onto the wrong split: "same company" as the match class when most
    # candidate pairs are colleagues, or "same name" when a few names are common across
    # companies. Every compared field describes the entity, so in a sane solution agreement
    # is more likely among matches than non-matches for every field; otherwise the fixed
    # weights are used.
    if not (0 < prior < 0.5 and all(m[c] > u[c] for c in columns)):  # False for NaN too
        return None
    return LinkageModel("em", m, u, prior)


def score_pairs(
    frame: pd.DataFrame,
    spec: LinkageSpec,
    *,
    estimator: Literal["auto", "em", "fixed"] = "auto",
    exclude: Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.bool_]] | None = None,
) -> ScoredPairs:
    """Index, compare and score candidate pairs of ``frame`` (rows by position).

    ``estimator="auto"`` fits m/u by EM when there are at least ``MIN_PAIRS_FOR_EM``
    candidate pairs and EM gives a sane solution, else uses the fixed values.
    ``exclude(left, right)`` may drop pairs already known (e.g. linked by an exact key).
    """
    missing = sorted({f.column for f in spec.fields} - set(frame.columns))
    if missing:
        raise DataValidationError(
            f"dedupe fields not in the data: {', '.join(missing)}",
            hint=f"columns found: {', '.join(map(str, frame.columns))}",
        )
    if not spec.fields:
        raise ConfigError("no fields to compare", hint="give at least one FieldRule")
    rules = {f.column: f for f in spec.fields}
    cleaned = pd.DataFrame(
        {c: clean_column(frame[c], r.clean) for c, r in rules.items()}, index=range(len(frame))
    )
    for c in spec.blocking:
        if c not in cleaned:
            cleaned[c] = clean_column(frame[c], "text").to_numpy()
    pairs = _candidate_pairs(cleaned, spec)
    left = np.asarray(pairs.get_level_values(0), dtype=np.int64)
    right = np.asarray(pairs.get_level_values(1), dtype=np.int64)
    swap = left > right
    left, right = np.where(swap, right, left), np.where(swap, left, right)
    if exclude is not None and len(left):
        keep = ~exclude(left, right)
        left, right = left[keep], right[keep]
    n_pairs, fields = len(left), tuple(spec.fields)
    similarity = np.empty((n_pairs, len(fields)))
    for j, rule in enumerate(fields):
        similarity[:, j] = _similarity(cleaned[rule.column], left, right, rule.method)
    with np.errstate(invalid="ignore"):
        agree = np.nan_to_num(similarity, nan=-1.0) >= np.array([f.agree_at for f in fields])
    model = None
    if estimator == "em" or (estimator == "auto" and n_pairs >= MIN_PAIRS_FOR_EM):
        model = _em_weights(agree, fields) if n_pairs else None
    if model is None:
        model = _fixed_weights(fields)
    log_odds = np.full(n_pairs, math.log(model.prior / (1 - model.prior)))
    log_odds += _field_weights(similarity, agree, fields, model)[0].sum(axis=1)
    probability = 1.0 / (1.0 + np.exp(-log_odds))
    identifying = [j for j, f in enumerate(fields) if f.identifying]
    if identifying:
        probability = np.where(agree[:, identifying].any(axis=1), probability, 0.0)
    return ScoredPairs(left, right, similarity, agree, probability, model, fields)


def _field_weights(
    similarity: NDArray[np.float64],
    agree: NDArray[np.bool_],
    fields: Sequence[FieldRule],
    model: LinkageModel,
) -> tuple[NDArray[np.float64], NDArray[np.object_]]:
    """Log-likelihood ratio per pair and field, shape ``(n_pairs, n_fields)``, and for each
    weight set to 0 by a redundancy the field it was counted with (else ``None``).

    Linked fields (``redundant_with``) are one piece of evidence: both agree -> only the
    stricter field's agreement counts; both disagree -> only the looser field's
    disagreement counts; otherwise both count (e.g. mailbox differs, near-mailbox agrees:
    together the weight of a near match).
    """
    index = {f.column: j for j, f in enumerate(fields)}
    present = ~np.isnan(similarity)
    weights = np.zeros(similarity.shape)
    for j, rule in enumerate(fields):
        w = np.where(agree[:, j], model.weight(rule.column, True), model.weight(rule.column, False))
        # a missing value is no evidence either way (weight 0), not a disagreement
        weights[:, j] = np.where(present[:, j], w, 0.0)
    counted_with = np.full(similarity.shape, None, dtype=object)
    for j, rule in enumerate(fields):
        x = index.get(rule.redundant_with or "")
        if x is None:
            continue
        both = present[:, j] & present[:, x]
        both_agree = both & agree[:, j] & agree[:, x]
        both_differ = both & ~agree[:, j] & ~agree[:, x]
        weights[both_agree, j] = 0.0
        counted_with[both_agree, j] = fields[x].column
        weights[both_differ, x] = 0.0
        counted_with[both_differ, x] = rule.column
    return weights, counted_with


def _present(columns: Sequence[str], rules: Sequence[FieldRule]) -> tuple[FieldRule, ...]:
    return tuple(r for r in rules if r.column in columns)


def people_spec(columns: Sequence[str]) -> LinkageSpec:
    """A spec for person records using whichever of these columns exist: ``given_name,
    surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth,
    soc_sec_id, phone, email``."""
    rules = _present(
        columns,
        [
            FieldRule("given_name", "jarowinkler", 0.85, identifying=True),
            FieldRule("surname", "jarowinkler", 0.85, identifying=True),
            FieldRule("street_number", "levenshtein", 0.8, "digits"),
            FieldRule("address_1", "jarowinkler", 0.85, "address"),
            FieldRule("address_2", "jarowinkler", 0.85, "address"),
            FieldRule("suburb", "jarowinkler", 0.85),
            FieldRule("postcode", "levenshtein", 0.75, "digits"),
            FieldRule("state", "exact"),
            FieldRule("date_of_birth", "levenshtein", 0.75, "digits", identifying=True),
            FieldRule("soc_sec_id", "levenshtein", 0.8, "digits", identifying=True),
            FieldRule("phone", "phone", 0.9, "digits", identifying=True),
            FieldRule("email", "jarowinkler", 0.92, identifying=True),
        ],
    )
    blocking = tuple(
        c
        for c in ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode", "address_1")
        if c in columns
    )
    return LinkageSpec(rules, blocking)


def organisations_spec(columns: Sequence[str]) -> LinkageSpec:
    """A spec for organisation records using whichever of ``name, address, zip, phone,
    email, website`` exist."""
    rules = _present(
        columns,
        [
            FieldRule("name", "token_sort", 0.8, "company", identifying=True),
            FieldRule("address", "address", 0.9, "address", identifying=True),
            FieldRule("zip", "exact", 1.0, "digits"),
            FieldRule("phone", "phone", 0.85, "digits", identifying=True),
            FieldRule("email", "jarowinkler", 0.95, identifying=True),
            FieldRule("website", "jarowinkler", 0.95),
        ],
    )
    blocking = tuple(c for c in ("name", "address", "phone") if c in columns)
    return LinkageSpec(rules, blocking)
