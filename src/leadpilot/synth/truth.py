"""The ground truth of a synthetic world: the true P(convert | lead, rep, time to contact).

The true log-odds of conversion for lead ``i`` handled by rep ``r`` after ``t`` hours is::

    intercept + source[i] + region[i] + industry[i] + size_band[i] + product[i]
    + engagement_per_10 * (engagement_score[i] - 50) / 10 + free_mail * (domain[i] is missing)
    + skill[r] + industry_affinity[r, industry[i]] + size_affinity[r, size_band[i]]
    - decay[i] * log(1 + t)

with ``decay[i] = max(0, contact_decay + contact_decay_per_10 * (engagement_score[i] - 50) / 10)``
(engaged leads go cold faster), plus, in the non-additive kinds of world, the rep-specific
effects of ``rep_effects`` (smooth curves in a numeric attribute, combinations of
attributes, effects that start or stop mid-history: :mod:`leadpilot.synth.rep_effects`), and
``P(closed_won) = P(convert) * sigmoid(win_intercept + win_size[size_band] + win_skill[r])``.
Everything is computed from the lead's canonical columns and the parameters stored here, so a
truth file read back with :func:`load_truth` gives the same probabilities as the generator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.schema import CandidateScores, ColumnScores, Lead, Scorer, size_band_of
from leadpilot.synth.rep_effects import (
    CATEGORICAL_COLUMNS,
    RepEffect,
    effect_matrix,
    lead_columns,
)

__all__ = ["GroundTruth", "GroundTruthScorer", "RepTruth", "load_truth", "size_bands_of"]

Target = Literal["converted", "closed_won"]
_NEUTRAL_ENGAGEMENT = 50.0
_BAND_EDGES = np.array([10, 50, 200, 500, 1000, 5000], dtype=np.float64)


@dataclass(frozen=True)
class RepTruth:
    """One rep's true parameters (log-odds units; ``response_hours`` is the typical delay)."""

    rep_id: str
    skill: float
    response_hours: float
    industry_affinity: Mapping[str, float]
    size_affinity: Mapping[str, float]
    win_skill: float


@dataclass(frozen=True)
class GroundTruth:
    """Parameters of the true conversion model of a synthetic world (JSON-serialisable)."""

    seed: int
    intercept: float
    source_effects: Mapping[str, float]
    region_effects: Mapping[str, float]
    industry_effects: Mapping[str, float]
    size_band_effects: Mapping[str, float]
    product_effects: Mapping[str, float]
    engagement_per_10: float
    free_mail_effect: float
    contact_decay: float
    win_intercept: float
    win_size_effects: Mapping[str, float]
    reps: tuple[RepTruth, ...]
    duplicates: Mapping[str, str] = field(default_factory=dict)
    version: str = "synth-1"
    contact_decay_per_10: float = 0.0
    # The kind of world (``leadpilot synth --kind``) and its non-additive rep effects; an
    # additive world has none and writes neither (its truth.json is unchanged).
    kind: str = "additive"
    rep_effects: tuple[RepEffect, ...] = ()
    # Deal size per rep and segment (``synth.values``): rep -> segment -> log-multiplier;
    # empty: deal size follows the company alone.
    value_effects: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Derived arrays for fast scoring; rebuilt from the fields above, never serialised.
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _industries: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _bands: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _skill: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _response: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _win_skill: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _aff_industry: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _aff_size: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        industries = tuple(self.industry_effects)
        bands = tuple(self.size_band_effects)
        # One extra zero column: an unknown industry or band gets no affinity.
        aff_i = np.zeros((len(self.reps), len(industries) + 1))
        aff_s = np.zeros((len(self.reps), len(bands) + 1))
        for r, rep in enumerate(self.reps):
            aff_i[r, :-1] = [rep.industry_affinity.get(k, 0.0) for k in industries]
            aff_s[r, :-1] = [rep.size_affinity.get(k, 0.0) for k in bands]
        setattr_ = object.__setattr__
        setattr_(self, "_index", {rep.rep_id: r for r, rep in enumerate(self.reps)})
        setattr_(self, "_industries", industries)
        setattr_(self, "_bands", bands)
        setattr_(self, "_skill", np.array([rep.skill for rep in self.reps], dtype=np.float64))
        setattr_(self, "_response", np.array([rep.response_hours for rep in self.reps]))
        setattr_(self, "_win_skill", np.array([rep.win_skill for rep in self.reps]))
        setattr_(self, "_aff_industry", aff_i)
        setattr_(self, "_aff_size", aff_s)

    # ----------------------------------------------------------------------------- reps
    @property
    def rep_ids(self) -> tuple[str, ...]:
        """Every rep of the world, in roster order."""
        return tuple(rep.rep_id for rep in self.reps)

    def rep_positions(self, rep_ids: Sequence[str]) -> NDArray[np.intp]:
        """Positions of ``rep_ids`` in the roster; an unknown id raises ``DataValidationError``."""
        try:
            return np.array([self._index[r] for r in rep_ids], dtype=np.intp)
        except KeyError as exc:
            raise DataValidationError(
                f"rep {exc.args[0]!r} is not part of this synthetic world",
                hint=f"use one of the world's reps: {', '.join(self.rep_ids[:5])}, ...",
            ) from None

    def expected_response_hours(self, rep_ids: Sequence[str]) -> NDArray[np.float64]:
        """Each rep's typical hours to first contact, shape ``(n_reps,)``."""
        return self._response[self.rep_positions(rep_ids)].copy()

    # ---------------------------------------------------------------------- probability
    def true_probability(
        self,
        leads: pd.DataFrame,
        rep_ids: Sequence[str],
        time_to_contact_hours: float | NDArray[np.float64] | None = None,
        *,
        target: Target = "converted",
    ) -> NDArray[np.float64]:
        """True probability that each rep converts each lead, shape ``(n_leads, n_reps)``.

        ``leads`` needs the canonical columns source, region, industry, size_band (or
        company_size), product, engagement_score and domain; missing columns or values count
        as neutral. ``time_to_contact_hours``: ``None`` uses each rep's typical response time;
        a scalar applies to every pair; shape ``(n_leads,)`` is one delay per lead (e.g. the
        delay observed in history); a 2-D array broadcasts to ``(n_leads, n_reps)``.
        ``target="closed_won"`` gives P(converted and won).
        """
        pos = self.rep_positions(rep_ids)
        n = len(leads)
        base = self._lead_logit(leads)
        ind = self._codes(leads.get("industry"), self._industries, n)
        band = self._codes(self._size_bands(leads), self._bands, n)
        logit = (
            base[:, None]
            + self._skill[pos][None, :]
            + self._aff_industry[pos][:, ind].T
            + self._aff_size[pos][:, band].T
        )
        if self.rep_effects:
            cols = lead_columns(leads, self._size_bands(leads))
            logit = logit + effect_matrix(self.rep_effects, cols, [self.rep_ids[i] for i in pos])
        hours = self._hours(time_to_contact_hours, pos, n)
        logit = logit - self._decay(leads)[:, None] * np.log1p(hours)
        p = _sigmoid(logit)
        if target == "closed_won":
            win_size = np.append([self.win_size_effects.get(b, 0.0) for b in self._bands], 0.0)
            win = self.win_intercept + win_size[band][:, None] + self._win_skill[pos][None, :]
            p = p * _sigmoid(win)
        elif target != "converted":
            raise DataValidationError(
                f"unknown target {target!r}", hint="use 'converted' or 'closed_won'"
            )
        return np.ascontiguousarray(p)

    def true_probability_assigned(
        self,
        leads: pd.DataFrame,
        rep_ids: Sequence[str | None] | None = None,
        time_to_contact_hours: float | NDArray[np.float64] | None = None,
        *,
        target: Target = "converted",
    ) -> NDArray[np.float64]:
        """True probability of each lead with its own rep, shape ``(n_leads,)``.

        ``rep_ids`` (one per lead, default ``leads["rep_id"]``; ``None`` gives NaN) and
        ``time_to_contact_hours`` (scalar or one per lead; ``None`` uses the rep's typical
        response time). Use it to score what a routing policy achieved.
        """
        n = len(leads)
        ids = pd.Series(list(leads["rep_id"]) if rep_ids is None else list(rep_ids), dtype=object)
        if len(ids) != n:
            raise DataValidationError(
                f"{len(ids)} rep ids for {n} leads", hint="pass one rep id per lead"
            )
        known = ids.notna().to_numpy()
        codes = pd.Categorical(ids, categories=list(self.rep_ids)).codes.astype(np.intp)
        unknown = known & (codes < 0)
        if unknown.any():
            self.rep_positions([str(ids.iloc[np.flatnonzero(unknown)[0]])])  # raises, names it
        pos = np.where(known, codes, 0)
        ind = self._codes(leads.get("industry"), self._industries, n)
        band = self._codes(self._size_bands(leads), self._bands, n)
        logit = (
            self._lead_logit(leads)
            + self._skill[pos]
            + self._aff_industry[pos, ind]
            + self._aff_size[pos, band]
        )
        if self.rep_effects:
            cols = lead_columns(leads, self._size_bands(leads))
            for effect in self.rep_effects:
                mine = known & (pos == self._index[effect.rep_id])
                if mine.any():
                    logit[mine] += effect.values({k: v[mine] for k, v in cols.items()})
        if time_to_contact_hours is None:
            hours = self._response[pos]
        else:
            hours = np.broadcast_to(np.asarray(time_to_contact_hours, dtype=np.float64), (n,))
            if np.any(hours < 0):
                raise DataValidationError(
                    "time_to_contact_hours has negative values", hint="delays are hours >= 0"
                )
            hours = np.nan_to_num(hours, nan=0.0)
        p = _sigmoid(logit - self._decay(leads) * np.log1p(hours))
        if target == "closed_won":
            win_size = np.append([self.win_size_effects.get(b, 0.0) for b in self._bands], 0.0)
            p = p * _sigmoid(self.win_intercept + win_size[band] + self._win_skill[pos])
        return np.where(known, p, np.nan)

    def as_scorer(self) -> GroundTruthScorer:
        """An oracle ``Scorer`` (version ``ground-truth``, confidence 1.0) for router tests."""
        return GroundTruthScorer(self)

    def _hours(
        self, value: float | NDArray[np.float64] | None, pos: NDArray[np.intp], n: int
    ) -> NDArray[np.float64]:
        if value is None:
            return np.broadcast_to(self._response[pos][None, :], (n, len(pos)))
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            if arr.shape[0] != n:
                raise DataValidationError(
                    f"time_to_contact_hours has {arr.shape[0]} values for {n} leads",
                    hint="pass one delay per lead, a scalar, or an (n_leads, n_reps) array",
                )
            arr = arr[:, None]
        if np.any(arr < 0):
            raise DataValidationError(
                "time_to_contact_hours has negative values", hint="delays are hours >= 0"
            )
        return np.broadcast_to(np.nan_to_num(arr, nan=0.0), (n, len(pos)))

    def _lead_logit(self, leads: pd.DataFrame) -> NDArray[np.float64]:
        n = len(leads)
        out = np.full(n, self.intercept, dtype=np.float64)
        for column, effects in (
            ("source", self.source_effects),
            ("region", self.region_effects),
            ("industry", self.industry_effects),
            ("product", self.product_effects),
        ):
            if column in leads:
                out += leads[column].map(effects).to_numpy(dtype=np.float64, na_value=0.0)
        bands = self._size_bands(leads)
        if bands is not None:
            out += bands.map(self.size_band_effects).to_numpy(dtype=np.float64, na_value=0.0)
        if "engagement_score" in leads:
            eng = leads["engagement_score"].to_numpy(dtype=np.float64, na_value=np.nan)
            out += self.engagement_per_10 * np.nan_to_num(eng - _NEUTRAL_ENGAGEMENT) / 10.0
        if "domain" in leads:
            out += self.free_mail_effect * leads["domain"].isna().to_numpy()
        return out

    def _decay(self, leads: pd.DataFrame) -> NDArray[np.float64]:
        """Per-lead log-odds lost per unit of log(1 + hours), shape ``(n_leads,)``."""
        decay = np.full(len(leads), self.contact_decay, dtype=np.float64)
        if "engagement_score" in leads and self.contact_decay_per_10:
            eng = leads["engagement_score"].to_numpy(dtype=np.float64, na_value=np.nan)
            decay += self.contact_decay_per_10 * np.nan_to_num(eng - _NEUTRAL_ENGAGEMENT) / 10.0
        return np.maximum(decay, 0.0)

    @staticmethod
    def _size_bands(leads: pd.DataFrame) -> pd.Series | None:
        if "size_band" in leads and leads["size_band"].notna().all():
            return leads["size_band"]
        if "company_size" not in leads:
            return leads.get("size_band")
        size = leads["company_size"].to_numpy(dtype=np.float64, na_value=np.nan)
        derived = pd.Series(size_bands_of(size), index=leads.index)
        if "size_band" in leads:
            return leads["size_band"].where(leads["size_band"].notna(), derived)
        return derived

    @staticmethod
    def _codes(values: pd.Series | None, levels: tuple[str, ...], n: int) -> NDArray[np.intp]:
        """Level positions of ``values``; unknown or missing -> the extra zero column."""
        if values is None:
            return np.full(n, len(levels), dtype=np.intp)
        codes = pd.Categorical(values, categories=list(levels)).codes.astype(np.intp)
        codes[codes < 0] = len(levels)
        return codes

    # --------------------------------------------------------------------- one lead fast
    def _one_lead_logit(self, lead: Lead) -> tuple[float, int, int, float]:
        band = lead.size_band or size_band_of(lead.company_size)
        logit = self.intercept
        logit += self.source_effects.get(lead.source or "", 0.0)
        logit += self.region_effects.get(lead.region or "", 0.0)
        logit += self.industry_effects.get(lead.industry or "", 0.0)
        logit += self.product_effects.get(lead.product or "", 0.0)
        logit += self.size_band_effects.get(band or "", 0.0)
        eng = lead.engagement_score
        decay = self.contact_decay
        if eng is not None and not math.isnan(eng):
            logit += self.engagement_per_10 * (eng - _NEUTRAL_ENGAGEMENT) / 10.0
            decay += self.contact_decay_per_10 * (eng - _NEUTRAL_ENGAGEMENT) / 10.0
        if lead.domain is None:
            logit += self.free_mail_effect
        ind = _position(self._industries, lead.industry)
        return logit, ind, _position(self._bands, band), max(decay, 0.0)

    # ------------------------------------------------------------------------- storage
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every parameter (what ``truth.json`` holds)."""
        return {
            "version": self.version,
            "seed": self.seed,
            "intercept": self.intercept,
            "source_effects": dict(self.source_effects),
            "region_effects": dict(self.region_effects),
            "industry_effects": dict(self.industry_effects),
            "size_band_effects": dict(self.size_band_effects),
            "product_effects": dict(self.product_effects),
            "engagement_per_10": self.engagement_per_10,
            "free_mail_effect": self.free_mail_effect,
            "contact_decay": self.contact_decay,
            "contact_decay_per_10": self.contact_decay_per_10,
            "win_intercept": self.win_intercept,
            "win_size_effects": dict(self.win_size_effects),
            "reps": [
                {
                    "rep_id": rep.rep_id,
                    "skill": rep.skill,
                    "response_hours": rep.response_hours,
                    "industry_affinity": dict(rep.industry_affinity),
                    "size_affinity": dict(rep.size_affinity),
                    "win_skill": rep.win_skill,
                }
                for rep in self.reps
            ],
            "duplicates": dict(self.duplicates),
        } | self._non_additive_dict()

    def _non_additive_dict(self) -> dict[str, Any]:
        # Only what is set, so additive worlds keep their truth.json byte for byte.
        out: dict[str, Any] = {}
        if self.kind != "additive" or self.rep_effects:
            out = {"kind": self.kind, "rep_effects": [e.to_dict() for e in self.rep_effects]}
        if self.value_effects:
            out["value_effects"] = {k: dict(v) for k, v in self.value_effects.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroundTruth:
        """Rebuild a ``GroundTruth`` from :meth:`to_dict` output."""
        try:
            reps = tuple(RepTruth(**rep) for rep in data["reps"])
            effects = tuple(RepEffect.from_dict(e) for e in data.get("rep_effects", ()))
            fields = {k: v for k, v in data.items() if k not in ("reps", "rep_effects")}
            return cls(reps=reps, rep_effects=effects, **fields)
        except (KeyError, TypeError) as exc:
            raise DataValidationError(
                f"not a leadpilot ground-truth file ({exc})",
                hint="use the truth.json written by `leadpilot synth`",
            ) from None


class GroundTruthScorer(Scorer):
    """Scores one lead against many reps with the true probabilities (an oracle)."""

    def __init__(self, truth: GroundTruth) -> None:
        self._truth = truth

    @property
    def version(self) -> str:
        """Logged as the model version of decisions made with the oracle."""
        return "ground-truth"

    def score_candidates(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> CandidateScores:
        """True P(convert) per rep (the reps' typical response times when none are given)."""
        logit = self._additive_logit(lead, rep_ids, expected_response_hours)
        effects = self._truth.rep_effects
        if effects:
            logit = logit + effect_matrix(effects, _lead_columns([lead]), rep_ids)[0]
        return CandidateScores(p=_sigmoid(logit), confidence=1.0, sufficiency=np.ones(len(logit)))

    def score_batch(
        self,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> ColumnScores:
        """True P(convert) of every lead with every rep (a rep's score ignores the others)."""
        if not leads:
            return ColumnScores(
                p=np.zeros((0, len(rep_ids))), confidence=1.0, sufficiency=np.ones(len(rep_ids))
            )
        logit = np.vstack(
            [self._additive_logit(lead, rep_ids, expected_response_hours) for lead in leads]
        )
        effects = self._truth.rep_effects
        if effects:
            logit = logit + effect_matrix(effects, _lead_columns(leads), rep_ids)
        return ColumnScores(p=_sigmoid(logit), confidence=1.0, sufficiency=np.ones(len(rep_ids)))

    def _additive_logit(
        self, lead: Lead, rep_ids: Sequence[str], hours: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        t = self._truth
        pos = t.rep_positions(rep_ids)
        base, ind, band, decay = t._one_lead_logit(lead)
        hours = t._response[pos] if hours is None else hours
        return np.asarray(
            base
            + t._skill[pos]
            + t._aff_industry[pos, ind]
            + t._aff_size[pos, band]
            - decay * np.log1p(np.asarray(hours, dtype=np.float64)),
            dtype=np.float64,
        )


def _lead_columns(leads: Sequence[Lead]) -> dict[str, NDArray[Any]]:
    """The columns rep effects read, from ``Lead`` records."""
    cols: dict[str, NDArray[Any]] = {}
    for c in CATEGORICAL_COLUMNS:
        if c == "size_band":
            values = [lead.size_band or size_band_of(lead.company_size) for lead in leads]
        else:
            values = [getattr(lead, c) for lead in leads]
        cols[c] = np.array(values, dtype=object)
    for c in ("company_size", "engagement_score"):
        cols[c] = np.array(
            [np.nan if getattr(lead, c) is None else getattr(lead, c) for lead in leads],
            dtype=np.float64,
        )
    cols["created_at"] = np.array(
        [_utc_naive(lead.created_at) for lead in leads], dtype="datetime64[ns]"
    )
    return cols


def _utc_naive(when: Any) -> np.datetime64:
    if when is None:
        return np.datetime64("NaT", "ns")
    ts = pd.Timestamp(when)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.tz_localize(None).to_datetime64().astype("datetime64[ns]")


def load_truth(path: str | Path) -> GroundTruth:
    """Read a ``truth.json`` written by :func:`leadpilot.synth.write_world`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataValidationError(
            f"ground-truth file {str(path)!r} not found",
            hint="run `leadpilot synth --out DIR` and pass DIR/truth.json",
        ) from None
    except json.JSONDecodeError as exc:
        raise DataValidationError(
            f"{str(path)!r} is not JSON (line {exc.lineno}: {exc.msg})",
            hint="use the truth.json written by `leadpilot synth`",
        ) from None
    return GroundTruth.from_dict(data)


def _position(levels: tuple[str, ...], value: str | None) -> int:
    try:
        return levels.index(value) if value is not None else len(levels)
    except ValueError:
        return len(levels)


def size_bands_of(size: NDArray[np.float64]) -> NDArray[np.object_]:
    """Vectorised ``schema.size_band_of``."""
    from leadpilot.synth.catalog import SIZE_BAND_LABELS

    labels = np.array([*SIZE_BAND_LABELS, None], dtype=object)
    idx = np.searchsorted(_BAND_EDGES, size, side="left")
    idx[~(size >= 1)] = len(SIZE_BAND_LABELS)  # NaN or < 1: unknown
    return labels[idx]


def _sigmoid(x: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))
