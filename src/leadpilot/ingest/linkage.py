"""Probabilistic record linkage (Fellegi-Sunter) for batch dedupe of any record table.

Pipeline: clean each compared column -> candidate pairs by sorted-neighbourhood indexing on
several keys (recordlinkage) -> per-field similarity (rapidfuzz, vectorised with ``cpdist``)
turned into agree / disagree -> match weights and P(match) from the Fellegi-Sunter model whose
m and u probabilities are estimated without labels by EM (recordlinkage's ``ECMClassifier``)
-> pairs with P(match) >= threshold, each explained field by field.

EM needs enough candidate pairs to separate the two classes; on small tables (a hand-made
frame, a short export) the m/u probabilities fall back to fixed, documented values (see
``_fixed_weights``). Missing values count as disagreement, as in recordlinkage's default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import recordlinkage as rl
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

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

Method = Literal["jarowinkler", "levenshtein", "token_sort", "token_set", "address", "exact"]
Cleaner = Literal["text", "digits", "company", "address"]

_SCORERS: dict[str, Callable[..., float]] = {
    "jarowinkler": JaroWinkler.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "token_sort": fuzz.token_sort_ratio,
    "token_set": fuzz.token_set_ratio,
}
_HOUSE_NUMBER = re.compile(r"^\d+")

# Below this many candidate pairs EM has too little to learn two classes from.
MIN_PAIRS_FOR_EM = 500


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one column is compared: cleaning, similarity measure, and agreement cut-off.

    ``agree_at`` is on the 0-1 scale of the similarity (token_sort is rescaled from 0-100).
    ``identifying`` fields identify the entity itself (a person's name, email local part,
    phone, national id): a pair that agrees on none of them is never merged, whatever the
    other fields say, so that two people at the same company stay apart.
    """

    column: str
    method: Method = "jarowinkler"
    agree_at: float = 0.85
    clean: Cleaner = "text"
    identifying: bool = False


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
        parts = []
        for j, rule in enumerate(self.fields):
            sim = self.similarity[k, j]
            agree = bool(self.agree[k, j])
            if math.isnan(sim):
                parts.append(f"{rule.column} missing (+0.0)")
                continue
            w = self.model.weight(rule.column, agree)
            shown = f"{sim:.2f}"
            verdict = "agrees" if agree else "differs"
            parts.append(f"{rule.column} {verdict} ({rule.method} {shown}, {w:+.1f})")
        return f"P(match)={self.probability[k]:.3f}: " + "; ".join(parts)


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


def _similarity(a: list[str | None], b: list[str | None], method: Method) -> NDArray[np.float64]:
    present = np.array([x is not None and y is not None for x, y in zip(a, b, strict=True)])
    sim = np.full(len(a), np.nan)
    if not present.any():
        return sim
    both = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    aa = [x for x, _ in both]
    bb = [y for _, y in both]
    if method == "exact":
        sim[present] = [float(x == y) for x, y in zip(aa, bb, strict=True)]
    elif method == "address":
        sim[present] = _address_similarity(aa, bb)
    else:
        scores = process.cpdist(aa, bb, scorer=_SCORERS[method], workers=1)
        sim[present] = np.asarray(scores, dtype=np.float64)
        if method.startswith("token_"):
            sim[present] /= 100.0
    return sim


def _address_similarity(a: list[str], b: list[str]) -> NDArray[np.float64]:
    """Jaro-Winkler of street addresses, 0 when both start with different house numbers:
    "6225 S Wabash" and "6245 S Wabash" are neighbours, not the same site."""
    sim = np.asarray(
        process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1),
        dtype=np.float64,
    )
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        nx, ny = _HOUSE_NUMBER.match(x), _HOUSE_NUMBER.match(y)
        if nx and ny and nx.group() != ny.group():
            sim[k] = 0.0
    return sim


def _candidate_pairs(cleaned: pd.DataFrame, spec: LinkageSpec) -> pd.MultiIndex:
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


def _em_weights(agree: NDArray[np.bool_], fields: Sequence[FieldRule]) -> LinkageModel | None:
    columns = [f.column for f in fields]
    features = pd.DataFrame(agree.astype(np.int64), columns=columns)
    ecm = rl.ECMClassifier(binarize=None)
    ecm.fit(features)
    m_probs, u_probs = ecm.m_probs, ecm.u_probs
    m: dict[str, float] = {}
    u: dict[str, float] = {}
    eps = 1e-6
    for c in columns:
        m[c] = float(np.clip(m_probs[c].get(1, eps), eps, 1 - eps))
        u[c] = float(np.clip(u_probs[c].get(1, eps), eps, 1 - eps))
    prior = float(ecm.p)
    # EM can lock onto the wrong split (e.g. "same city" as the match class) when fields are
    # few; a sane solution has agreement more likely among matches for most fields.
    if not 0 < prior < 0.5 or sum(m[c] > u[c] for c in columns) <= len(columns) / 2:
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
        col: list[Any] = cleaned[rule.column].tolist()
        similarity[:, j] = _similarity([col[i] for i in left], [col[i] for i in right], rule.method)
    with np.errstate(invalid="ignore"):
        agree = np.nan_to_num(similarity, nan=-1.0) >= np.array([f.agree_at for f in fields])
    model = None
    if estimator == "em" or (estimator == "auto" and n_pairs >= MIN_PAIRS_FOR_EM):
        model = _em_weights(agree, fields) if n_pairs else None
    if model is None:
        model = _fixed_weights(fields)
    log_odds = np.full(n_pairs, math.log(model.prior / (1 - model.prior)))
    for j, rule in enumerate(fields):
        weights = np.where(
            agree[:, j], model.weight(rule.column, True), model.weight(rule.column, False)
        )
        # a missing value is no evidence either way (weight 0), not a disagreement
        log_odds += np.where(np.isnan(similarity[:, j]), 0.0, weights)
    probability = 1.0 / (1.0 + np.exp(-log_odds))
    identifying = [j for j, f in enumerate(fields) if f.identifying]
    if identifying:
        probability = np.where(agree[:, identifying].any(axis=1), probability, 0.0)
    return ScoredPairs(left, right, similarity, agree, probability, model, fields)


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
            FieldRule("phone", "levenshtein", 0.85, "digits", identifying=True),
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
            FieldRule("phone", "levenshtein", 0.85, "digits", identifying=True),
            FieldRule("email", "jarowinkler", 0.95, identifying=True),
            FieldRule("website", "jarowinkler", 0.95),
        ],
    )
    blocking = tuple(c for c in ("name", "address", "phone") if c in columns)
    return LinkageSpec(rules, blocking)
