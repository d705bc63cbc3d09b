"""Duplicate leads: exact identity keys, then probabilistic record linkage, then clusters.

Batch use: ``find_duplicates(history_frame)`` (canonical leads) or ``find_duplicate_records``
(any record table: people, organisations). Online use at intake: ``LeadIdentityIndex``.
Every merge is a row of ``DedupeResult.pairs`` with the method, a 0-100 score and an
explanation; clusters are the connected components of those merges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from scipy.stats import binomtest

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.identity import normalize_email, normalize_external_id
from leadpilot.ingest.linkage import (
    FieldRule,
    LinkageModel,
    LinkageSpec,
    ScoredPairs,
    score_pairs,
)

__all__ = [
    "LEAD_FIELDS",
    "DedupeResult",
    "LeadIdentityIndex",
    "find_duplicate_records",
    "find_duplicates",
    "identity_keys",
    "lead_linkage_frame",
]

PAIR_COLUMNS = ("a", "b", "method", "score", "explanation")

# Probabilistic fields for leads, compared on columns derived by ``lead_linkage_frame``.
# Identifying fields (email local part, person name, phone) must agree for a merge: two
# colleagues share company and domain but never all of these.
LEAD_FIELDS: tuple[FieldRule, ...] = (
    FieldRule("email_local", "jarowinkler", 0.92, identifying=True),
    FieldRule("person_name", "jarowinkler", 0.9, identifying=True),
    FieldRule("phone", "levenshtein", 0.9, "digits", identifying=True),
    FieldRule("company", "token_sort", 0.9, "company"),
    FieldRule("email_domain", "exact"),
)
_LEAD_BLOCKING = ("email_local", "person_name", "phone", "company")
# Where a person's name and phone may sit: canonical frames keep unmapped source columns as
# ``x_<snake_case header>`` (read_history(keep_extra=True)), so both spellings are looked up.
_NAME_COLUMNS = ("person_name", "full_name", "name", "contact_name", "lead_name")
_FIRST_NAME_COLUMNS = ("first_name", "firstname", "given_name")
_LAST_NAME_COLUMNS = ("last_name", "lastname", "surname", "family_name")
_PHONE_COLUMNS = ("phone", "phone_number", "mobile", "mobile_phone", "mobilephone")


@dataclass(frozen=True)
class DedupeResult:
    """Duplicate clusters and the explained merges behind them.

    ``clusters``: record ids per cluster of two or more, in frame order (the first id is the
    record to keep). ``pairs``: one row per merge with columns ``a, b, method, score,
    explanation``; ``method`` is ``email``, ``external_id`` or ``probabilistic``, ``score``
    is 100 for exact keys and 100 x P(match) otherwise. ``model`` is the fitted linkage
    model (``None`` when the probabilistic step did not run).
    """

    clusters: list[list[str]]
    pairs: pd.DataFrame
    n_records: int
    model: LinkageModel | None = None
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)

    @property
    def n_duplicates(self) -> int:
        """Records that are not the first of their cluster (would be merged away)."""
        return sum(len(c) - 1 for c in self.clusters)

    @property
    def duplicate_rate(self) -> float:
        """Duplicates / total records (0 for an empty table)."""
        return self.n_duplicates / self.n_records if self.n_records else 0.0

    def duplicate_rate_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the duplicate rate, as if records were a sample of the flow."""
        if not self.n_records:
            return (0.0, 1.0)
        ci = binomtest(self.n_duplicates, self.n_records).proportion_ci(confidence, "wilson")
        return (float(ci.low), float(ci.high))

    def cluster_table(self) -> pd.DataFrame:
        """One row per clustered record: ``cluster, record_id, keep`` (keep = first)."""
        rows = [
            (k + 1, rid, i == 0) for k, ids in enumerate(self.clusters) for i, rid in enumerate(ids)
        ]
        return pd.DataFrame(rows, columns=["cluster", "record_id", "keep"])


def lead_linkage_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Derive the compared columns of ``LEAD_FIELDS`` from a canonical leads frame.

    ``person_name`` comes from the first present of ``person_name, full_name, name,
    contact_name, lead_name``, else from first + last name columns; ``phone`` from ``phone``,
    ``mobile``... Each is also found with the ``x_`` prefix that intake gives extra columns.
    """
    out = pd.DataFrame(index=frame.index)
    if "email" in frame:
        emails = frame["email"].map(normalize_email)
        out["email_local"] = emails.map(lambda e: e.split("@", 1)[0] if e else None)
        out["email_domain"] = emails.map(lambda e: e.split("@", 1)[1] if e else None)
    name_col = _first_column(frame, _NAME_COLUMNS)
    first_col = _first_column(frame, _FIRST_NAME_COLUMNS)
    last_col = _first_column(frame, _LAST_NAME_COLUMNS)
    if name_col is not None:
        out["person_name"] = frame[name_col]
    elif first_col is not None and last_col is not None:
        first = frame[first_col].astype("string").fillna("")
        last = frame[last_col].astype("string").fillna("")
        joined = (first + " " + last).str.strip()
        out["person_name"] = joined.where(joined != "", None)
    phone_col = _first_column(frame, _PHONE_COLUMNS)
    if phone_col is not None:
        out["phone"] = frame[phone_col]
    if "company" in frame:
        out["company"] = frame["company"]
    return out


def _first_column(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    for name in names:
        for column in (name, f"x_{name}"):
            if column in frame:
                return column
    return None


def find_duplicates(
    frame: pd.DataFrame,
    *,
    fields: Sequence[FieldRule] | None = None,
    threshold: float = 0.5,
    id_column: str = "lead_id",
) -> DedupeResult:
    """Find duplicate leads in a canonical leads/history frame.

    Exact keys first: the same normalised email (case and spaces ignored) or the same
    ``external_id``. Then Fellegi-Sunter linkage over ``fields`` (default ``LEAD_FIELDS``,
    those whose columns exist) for the rest; a pair merges when P(match) >= ``threshold``.

    >>> df = pd.DataFrame({"lead_id": ["1", "2"], "email": ["A@x.com", " a@X.com"]})
    >>> find_duplicates(df).clusters
    [['1', '2']]
    """
    _check_threshold(threshold)
    ids = _record_ids(frame, id_column)
    exact: dict[str, pd.Series] = {}
    if "email" in frame:
        exact["email"] = frame["email"].map(normalize_email)
    if "external_id" in frame:
        exact["external_id"] = frame["external_id"].map(normalize_external_id)
    linkable = lead_linkage_frame(frame).reset_index(drop=True)
    rules = tuple(fields) if fields is not None else LEAD_FIELDS
    rules = tuple(r for r in rules if r.column in linkable and linkable[r.column].notna().any())
    if fields is not None and len(rules) < len(fields):
        missing = sorted({r.column for r in fields} - {r.column for r in rules})
        raise DataValidationError(
            f"dedupe fields without any value in the data: {', '.join(missing)}",
            hint=f"compare on: {', '.join(linkable.columns)}",
        )
    blocking = tuple(c for c in _LEAD_BLOCKING if c in {r.column for r in rules})
    spec = LinkageSpec(rules, blocking) if rules and blocking else None
    return _dedupe(ids, exact, linkable, spec, threshold)


def find_duplicate_records(
    frame: pd.DataFrame,
    spec: LinkageSpec,
    *,
    id_column: str | None = None,
    exact_keys: Sequence[str] = (),
    threshold: float = 0.5,
) -> DedupeResult:
    """Find duplicates in any record table (people, organisations...) with ``spec``.

    ``exact_keys`` are columns whose equal non-empty values mean the same entity (compared
    after trimming and lower-casing). Build ``spec`` with ``people_spec(frame.columns)`` or
    ``organisations_spec(frame.columns)`` from ``leadpilot.ingest.linkage``, or by hand.
    """
    _check_threshold(threshold)
    ids = (
        _record_ids(frame, id_column)
        if id_column
        else np.array([str(i + 1) for i in range(len(frame))], dtype=object)
    )
    exact = {k: frame[k].astype("string").str.strip().str.lower() for k in exact_keys}
    return _dedupe(ids, exact, frame.reset_index(drop=True), spec, threshold)


def _dedupe(
    ids: NDArray[np.object_],
    exact: dict[str, pd.Series],
    linkable: pd.DataFrame,
    spec: LinkageSpec | None,
    threshold: float,
) -> DedupeResult:
    n = len(ids)
    left: list[int] = []
    right: list[int] = []
    rows: list[tuple[str, str, str, float, str]] = []
    for key, values in exact.items():
        first_of: dict[str, int] = {}
        for pos, value in enumerate(values.tolist()):
            if value is None or value is pd.NA or value == "":
                continue
            anchor = first_of.setdefault(str(value), pos)
            if anchor != pos:
                left.append(anchor)
                right.append(pos)
                rows.append((ids[anchor], ids[pos], key, 100.0, f"same {key} {value!r}"))
    exact_labels = _components(n, left, right)
    model = None
    scored: ScoredPairs | None = None
    if spec is not None and n > 1:

        def already_linked(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.bool_]:
            return np.asarray(exact_labels[a] == exact_labels[b])

        scored = score_pairs(linkable, spec, exclude=already_linked)
        model = scored.model
        for k in np.flatnonzero(scored.probability >= threshold).tolist():
            a, b = int(scored.left[k]), int(scored.right[k])
            left.append(a)
            right.append(b)
            rows.append(
                (ids[a], ids[b], "probabilistic", 100 * scored.probability[k], scored.explain(k))
            )
    labels = _components(n, left, right)
    if scored is not None:
        labels = _split_chains(labels, exact_labels, scored, threshold)
        keep = [labels[a] == labels[b] for a, b in zip(left, right, strict=True)]
        rows = [row for row, kept in zip(rows, keep, strict=True) if kept]
    clusters = _clusters(ids, labels)
    pairs = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    return DedupeResult(clusters, pairs, n, model, spec.fields if spec else ())


def _split_chains(
    labels: NDArray[np.int64],
    exact_labels: NDArray[np.int64],
    scored: ScoredPairs,
    threshold: float,
) -> NDArray[np.int64]:
    """Split connected components that are only chains of pairwise matches.

    Connected components are transitive: A~B and B~C put A with C even when A and C look
    nothing alike, and on real organisation data this chaining costs a quarter of the
    precision. Inside each component of three or more records we therefore cluster by
    average linkage (scipy) on 1 - P(match), with 1 for pairs never compared and 0 within
    exact-key groups, cut at 1 - threshold: two groups join only if their records match on
    average. Exact-key groups are never split; every resulting cluster stays connected by
    accepted pairs (a join at average P >= threshold needs one pair at P >= threshold).
    """
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= 3)
    if not len(big):
        return labels
    out = labels.copy()
    next_label = int(labels.max()) + 1
    pair_labels = labels[scored.left]
    same = pair_labels == labels[scored.right]
    for comp in big.tolist():
        members = np.flatnonzero(labels == comp)
        where = {int(r): i for i, r in enumerate(members.tolist())}
        k = len(members)
        dist = np.ones((k, k))
        np.fill_diagonal(dist, 0.0)
        for e in np.flatnonzero(same & (pair_labels == comp)).tolist():
            i, j = where[int(scored.left[e])], where[int(scored.right[e])]
            dist[i, j] = dist[j, i] = 1.0 - float(scored.probability[e])
        sub_exact = exact_labels[members]
        dist[sub_exact[:, None] == sub_exact[None, :]] = 0.0  # exact keys always hold
        tree = linkage(squareform(dist, checks=False), method="average")
        parts = fcluster(tree, t=1.0 - threshold + 1e-9, criterion="distance")
        for part in np.unique(parts).tolist()[1:]:
            out[members[parts == part]] = next_label
            next_label += 1
    return out


def _components(n: int, left: Iterable[int], right: Iterable[int]) -> NDArray[np.int64]:
    a, b = np.fromiter(left, dtype=np.int64), np.fromiter(right, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _clusters(ids: NDArray[np.object_], labels: NDArray[np.int64]) -> list[list[str]]:
    sizes = np.bincount(labels, minlength=1) if len(labels) else np.array([], dtype=np.int64)
    groups: dict[int, list[str]] = {}
    for pos, label in enumerate(labels.tolist()):
        if sizes[label] > 1:
            groups.setdefault(label, []).append(str(ids[pos]))
    return list(groups.values())  # dicts keep insertion order: clusters by first record


def _record_ids(frame: pd.DataFrame, id_column: str) -> NDArray[np.object_]:
    if id_column not in frame:
        raise DataValidationError(
            f"column {id_column!r} not found; it identifies each record in the dedupe report",
            hint=f"columns found: {', '.join(map(str, frame.columns))}",
        )
    ids = frame[id_column].astype("string")
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 1
        raise DataValidationError(
            f"{id_column} is empty in record {row}",
            hint=f"give every record a {id_column}",
        )
    return np.asarray(ids.to_numpy(), dtype=object)


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(
            f"threshold is a match probability in (0, 1], got {threshold}",
            hint="0.5 merges pairs more likely duplicates than not; 0.9 is stricter",
        )


class LeadIdentityIndex:
    """In-memory exact-key index for intake: has this email or external id been seen?

    The service keeps the same keys in its database (see ``identity_keys``); this class
    serves the CLI, batch routing and tests.

    >>> idx = LeadIdentityIndex()
    >>> idx.add("L1", "Ann@Acme.com", None)
    >>> idx.find(" ann@acme.com", None)
    'L1'
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(set(self._by_key.values()))

    def add(self, lead_id: str, email: object = None, external_id: object = None) -> None:
        """Remember a lead's keys; the first lead to claim a key keeps it."""
        for key in identity_keys(email, external_id):
            self._by_key.setdefault(key, lead_id)

    def find(self, email: object = None, external_id: object = None) -> str | None:
        """Return the first lead with the same external id or email, else ``None``."""
        for key in identity_keys(email, external_id):
            found = self._by_key.get(key)
            if found is not None:
                return found
        return None


def identity_keys(email: object, external_id: object) -> list[tuple[str, str]]:
    """The exact identity keys of a lead, external id first: ``[("external_id", "SF-1"),
    ("email", "ann@acme.com")]``. Store and query these to dedupe at intake."""
    keys: list[tuple[str, str]] = []
    ext = normalize_external_id(external_id)
    if ext is not None:
        keys.append(("external_id", ext))
    mail = normalize_email(email)
    if mail is not None:
        keys.append(("email", mail))
    return keys
