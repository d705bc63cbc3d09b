"""Rows that are copies of one lead, and how much evidence they hold.

The trainer takes no case weights, so the retrain's inverse-propensity weights become row
counts (:mod:`leadpilot.lifecycle.trainset`): a lead is kept once under its own id and its
further copies as ``<lead id>#<k>``. A copy repeats the lead's features and outcome, not a
new observation: a test or a bootstrap over rows would take one explored lead kept five
times for five independent outcomes. Evidence is therefore counted in leads: Kish's
effective sample size of the rows' copy counts, and bootstraps that draw leads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

NDI = NDArray[np.int64]

__all__ = [
    "COPY_MARK",
    "LeadBootstrap",
    "copy_id",
    "effective_size",
    "lead_groups",
    "source_id",
]

COPY_MARK = "#"


def copy_id(lead_id: str, k: int) -> str:
    """The id of a lead's ``k``-th copy (``k = 0``: the lead's own id)."""
    return lead_id if k == 0 else f"{lead_id}{COPY_MARK}{k}"


def source_id(row_id: str, known: Callable[[str], bool]) -> str:
    """The lead a row stands for: ``row_id`` itself when ``known`` has it, else the id
    before a trailing ``#<k>`` copy mark (an id that merely contains the mark is kept)."""
    if known(row_id):
        return row_id
    base, mark, k = row_id.rpartition(COPY_MARK)
    return base if mark and k.isdigit() else row_id


def lead_groups(ids: Iterable[object]) -> NDI:
    """One code per row, shared by a lead and its copies (numbered in order of first
    appearance). ``X#k`` is a copy only when a row ``X`` is there too, so an id that merely
    contains the mark stays a lead of its own; missing ids are each their own lead."""
    raw = [None if i is None or i != i else str(i) for i in ids]  # i != i: NaN
    present = {i for i in raw if i is not None}
    codes: dict[str, int] = {}
    out = np.empty(len(raw), dtype=np.int64)
    n = 0
    for row, i in enumerate(raw):
        if i is not None:
            base, mark, k = i.rpartition(COPY_MARK)
            key = base if mark and k.isdigit() and base in present else i
            if key in codes:
                out[row] = codes[key]
                continue
            codes[key] = n
        out[row] = n
        n += 1
    return out


def effective_size(groups: NDI) -> float:
    """Kish's effective sample size of rows grouped into leads: ``(sum c)^2 / sum c^2``
    over the leads' copy counts ``c`` (the row count when every lead is one row)."""
    if len(groups) == 0:
        return 0.0
    counts = np.bincount(np.unique(groups, return_inverse=True)[1]).astype(np.float64)
    return float(counts.sum() ** 2 / (counts**2).sum())


class LeadBootstrap:
    """Bootstrap draws of leads, each drawn lead bringing all its rows: ``draw`` returns row
    indices (a lead drawn twice, its rows twice). With one row per lead a draw is the
    plain row bootstrap's, number for number (the same generator calls)."""

    def __init__(self, groups: NDI) -> None:
        self.order = np.argsort(groups, kind="stable")
        self.counts = np.bincount(groups)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])

    @property
    def n_leads(self) -> int:
        return len(self.counts)

    def draw(self, rng: np.random.Generator) -> NDI:
        picked = rng.integers(0, self.n_leads, self.n_leads)
        c = self.counts[picked]
        first = np.repeat(self.starts[picked], c)
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        return np.asarray(self.order[first + within], dtype=np.int64)
