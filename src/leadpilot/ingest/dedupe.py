"""Duplicate leads: exact identity keys, then probabilistic record linkage, then clusters.

Batch use: ``find_duplicates(history_frame)`` (canonical leads) or ``find_duplicate_records``
(any record table: people, organisations). Online use at intake: ``LeadIdentityIndex``.
Every merge is a row of ``DedupeResult.pairs`` with the method, a 0-100 score and an
explanation; clusters are the connected components of those merges, split by average linkage
where only a chain of pairwise matches holds them together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.dedupe_clusters import clusters_of, components, split_chains
from leadpilot.ingest.identity import FREE_MAIL_DOMAINS, normalize_email, normalize_external_id
from leadpilot.ingest.linkage import (
    FieldRule,
    LinkageModel,
    LinkageSpec,
    ScoredPairs,
    score_pairs,
)
from leadpilot.ingest.quality import wilson_interval

__all__ = [
    "LEAD_FIELDS",
    "DedupeResult",
    "LeadIdentityIndex",
    "find_duplicate_records",
    "find_duplicates",
    "find_repeats",
    "identity_keys",
    "lead_linkage_frame",
]

PAIR_COLUMNS = ("a", "b", "method", "score", "explanation")

# Probabilistic fields for leads, compared on columns derived by ``lead_linkage_frame``.
# Mailbox and name are compared twice: an exact agreement (after normalisation) identifies
# the person; a near one ("mark.harris" / "mary.harris") is weak evidence only, because at a
# company with many leads colleagues with names one letter apart are more common than
# re-submissions with a typo. A mailbox is usually made of the name, so a name agreeing
# with an agreeing mailbox adds nothing new. A pair must agree exactly on one identifying
# field (mailbox, name, phone) to merge: colleagues share company and domain, none of these.
# The same name and mailbox at another company is another lead for routing purposes.
LEAD_FIELDS: tuple[FieldRule, ...] = (
    FieldRule("email_local", "exact", 1.0, identifying=True),
    FieldRule("email_local_near", "initial", 0.8, redundant_with="email_local"),
    FieldRule("person_name", "token_sort", 1.0, identifying=True, redundant_with="email_local"),
    FieldRule("person_name_near", "jarowinkler", 0.9, redundant_with="person_name"),
    FieldRule("phone", "phone", 0.9, "digits", identifying=True),
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
    model (``None`` when the probabilistic step did not run); ``notes`` say what could not
    be compared and why.
    """

    clusters: list[list[str]]
    pairs: pd.DataFrame
    n_records: int
    model: LinkageModel | None = None
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()

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
        estimate = wilson_interval(self.n_duplicates, self.n_records, confidence)
        return (estimate.low, estimate.high) if estimate is not None else (0.0, 1.0)

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
        out["email_local"] = emails.map(_mailbox, na_action="ignore")
        out["email_local_near"] = out["email_local"]
        # a shared gmail.com says nothing: free-mail domains count as missing (no evidence)
        domains = emails.map(lambda e: e.split("@", 1)[1] if e else None)
        out["email_domain"] = domains.where(~domains.isin(FREE_MAIL_DOMAINS), None)
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
    if "person_name" in out:
        out["person_name_near"] = out["person_name"]
    phone_col = _first_column(frame, _PHONE_COLUMNS)
    if phone_col is not None:
        out["phone"] = frame[phone_col]
    if "company" in frame:
        out["company"] = frame["company"]
    return out


def _mailbox(email: str | None) -> str | None:
    """The person part of an email: "Jane.Doe+news@x.com" -> "janedoe" (separators and
    sub-address tags say nothing about who it is). The "initial" comparison then tolerates one
    typo in five characters while "mia.lewis" / "uma.lewis" (two edits in eight) and
    "kharris" / "jharris" (another initial) stay apart."""
    if not email:
        return None
    local = email.split("@", 1)[0].split("+", 1)[0]
    return re.sub(r"[._\-]", "", local) or None


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
    notes: tuple[str, ...] = ()
    if not any(r.identifying for r in rules):
        # company or domain alone cannot tell one person from a colleague
        spec = None
        notes = (
            "no person identifier (email, name or phone) in the data: only exact keys "
            "(email, external id) were compared",
        )
    result = _dedupe(ids, exact, linkable, spec, threshold)
    return replace(result, notes=notes) if notes else result


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
    exact_labels = components(n, left, right)
    model = None
    scored: ScoredPairs | None = None
    if spec is not None and n > 1:

        def already_linked(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.bool_]:
            return np.asarray(exact_labels[a] == exact_labels[b])

        scored = score_pairs(linkable, spec, exclude=already_linked)
        model = scored.model
        accepted = np.flatnonzero(scored.probability >= threshold).tolist()
        for k, why in zip(accepted, scored.explain_many(accepted), strict=True):
            a, b = int(scored.left[k]), int(scored.right[k])
            left.append(a)
            right.append(b)
            rows.append((ids[a], ids[b], "probabilistic", 100 * scored.probability[k], why))
    labels = components(n, left, right)
    if scored is not None:
        labels = split_chains(labels, exact_labels, scored, threshold)
        keep = [labels[a] == labels[b] for a, b in zip(left, right, strict=True)]
        rows = [row for row, kept in zip(rows, keep, strict=True) if kept]
    clusters = clusters_of(ids, labels)
    pairs = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    return DedupeResult(clusters, pairs, n, model, spec.fields if spec else ())


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
    repeated = ids[ids.duplicated()]
    if len(repeated):
        first = str(repeated.iloc[0])
        rows = (np.flatnonzero((ids == first).to_numpy()) + 1).tolist()
        raise DataValidationError(
            f"{id_column} {first!r} appears in records {rows[0]} and {rows[1]}; "
            f"{len(repeated)} ids repeat in all",
            hint="ids must be unique (read files with leadpilot's intake, which keeps the "
            "first row of a repeated lead id and reports the others)",
        )
    return np.asarray(ids.to_numpy(), dtype=object)


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(
            f"threshold is a match probability in (0, 1], got {threshold}",
            hint="0.5 merges pairs more likely duplicates than not; 0.9 is stricter",
        )


REPEAT_COLUMNS = ("lead_id", "first_lead_id", "method", "score", "explanation")


def find_repeats(
    known: pd.DataFrame,
    incoming: pd.DataFrame,
    *,
    threshold: float = 0.5,
    id_column: str = "lead_id",
) -> pd.DataFrame:
    """Which incoming leads repeat a lead seen before (a known one, or an earlier incoming)?

    Runs :func:`find_duplicates` on ``known`` followed by ``incoming`` and returns one row
    per incoming lead that is not the first of its cluster: ``lead_id``, ``first_lead_id``
    (the cluster's first record, which keeps its routing), and the ``method, score,
    explanation`` of the incoming lead's strongest merge. A batch router skips these, as the
    service does at intake. Ids must be unique across both frames.
    """
    if id_column in known and id_column in incoming:
        shared = set(known[id_column].astype(str)) & set(incoming[id_column].astype(str))
        if shared:
            raise DataValidationError(
                f"{len(shared)} {id_column}s are in both the known and the incoming leads, "
                f"e.g. {sorted(shared)[0]!r}",
                hint="pass the leads already routed as known and only the new ones as incoming",
            )
    both = pd.concat([known, incoming], ignore_index=True)
    result = find_duplicates(both, threshold=threshold, id_column=id_column)
    new_ids = set(incoming[id_column].astype(str))
    best: dict[str, tuple[str, float, str]] = {}
    for a, b, method, score, why in result.pairs.itertuples(index=False, name=None):
        for me in (str(a), str(b)):
            if me in new_ids and (me not in best or float(score) > best[me][1]):
                best[me] = (str(method), float(score), str(why))
    rows = []
    for cluster in result.clusters:
        for rid in cluster[1:]:
            if rid in new_ids:
                method, score, why = best[rid]
                rows.append((rid, cluster[0], method, score, why))
    return pd.DataFrame(rows, columns=list(REPEAT_COLUMNS))


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
