"""Kinds of synthetic world (``leadpilot synth --kind``): which rep-specific structure the
truth holds beyond today's additive rep x industry and rep x size-band affinities.

- ``additive``: the affinities alone (the project's original world, unchanged per seed).
- ``interactions``: each rep also has three non-additive effects drawn from six forms: a
  sweet spot in company size (a smooth bump in log employees), a hot- or cold-lead touch (a
  step in the engagement score), and combinations: industry x source, region x size band,
  product x industry x size band, industry x engagement.
- ``drift``: as ``interactions``, but skills change mid-history: some effects only start,
  others stop, at a change date 55% through the history.
- ``thin``: as ``interactions`` with 12,000 past leads (a mid-size team's year).

The additive affinities are scaled down in the non-additive kinds so the combinations,
not the additive cells, hold most of a rep's comparative advantage. Effects are drawn from
their own random stream, so the rest of the world (leads, history, roster) is the additive
world of the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from leadpilot.errors import ConfigError
from leadpilot.synth.catalog import INDUSTRIES, PRODUCTS, REGIONS, SIZE_BAND_LABELS, SOURCES
from leadpilot.synth.rep_effects import RepEffect
from leadpilot.synth.truth import RepTruth

__all__ = ["KINDS", "WorldKind", "check_kind", "rep_effects_for"]

EFFECTS_PER_REP = 3
ADDITIVE_SCALE = 0.6  # the additive affinities' share kept in the non-additive kinds
CHANGE_AT = 0.55  # drift: where in the history skills change
_STREAM = 17  # the effects' own random stream: default_rng([seed, _STREAM])


@dataclass(frozen=True)
class WorldKind:
    """What a kind of world adds: its effects, the additive part kept, its default size."""

    description: str
    default_leads: int = 20_000
    effects: bool = False
    drift: bool = False


KINDS: dict[str, WorldKind] = {
    "additive": WorldKind("rep x industry and rep x size-band affinities only"),
    "interactions": WorldKind(
        "rep-specific curves in company size and engagement, and combinations of attributes",
        effects=True,
    ),
    "drift": WorldKind(
        "as interactions, with skills that start or stop 55% through the history",
        effects=True,
        drift=True,
    ),
    "thin": WorldKind(
        "as interactions, with 12,000 past leads", default_leads=12_000, effects=True
    ),
}


def check_kind(kind: str) -> WorldKind:
    """The registered kind, or a ``ConfigError`` naming the allowed ones."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ConfigError(
            f"unknown kind of world {kind!r}", hint=f"use one of: {', '.join(KINDS)}"
        ) from None


def rep_effects_for(
    kind: str, seed: int, reps: tuple[RepTruth, ...], start: date, end: date
) -> tuple[tuple[RepTruth, ...], tuple[RepEffect, ...]]:
    """The reps' truths (additive part scaled for non-additive kinds) and their effects."""
    spec = check_kind(kind)
    if not spec.effects:
        return reps, ()
    rng = np.random.default_rng([seed, _STREAM])
    change = date.fromordinal(start.toordinal() + round(CHANGE_AT * (end - start).days))
    scaled = tuple(
        replace(
            rep,
            industry_affinity={
                k: round(v * ADDITIVE_SCALE, 6) for k, v in rep.industry_affinity.items()
            },
            size_affinity={k: round(v * ADDITIVE_SCALE, 6) for k, v in rep.size_affinity.items()},
        )
        for rep in reps
    )
    effects: list[RepEffect] = []
    for rep in reps:
        for form in rng.choice(len(_FORMS), EFFECTS_PER_REP, replace=False):
            effect = _FORMS[int(form)](rng, rep.rep_id)
            if spec.drift:
                u, day = rng.random(), change.isoformat()
                if u < 0.3:
                    effect = replace(effect, since=day, label=f"{effect.label}, since {day}")
                elif u < 0.5:
                    effect = replace(effect, until=day, label=f"{effect.label}, until {day}")
            effects.append(effect)
    return scaled, tuple(effects)


def _amp(rng: np.random.Generator, low: float, high: float, positive: float = 0.75) -> float:
    sign = 1.0 if rng.random() < positive else -1.0
    return round(sign * rng.uniform(low, high), 3)


def _pick(rng: np.random.Generator, levels: list[str], k: int) -> tuple[str, ...]:
    return tuple(str(v) for v in sorted(rng.choice(levels, k, replace=False)))


def _bands(rng: np.random.Generator, k: int) -> tuple[str, ...]:
    first = int(rng.integers(0, len(SIZE_BAND_LABELS) - k + 1))
    return SIZE_BAND_LABELS[first : first + k]


def _signed(a: float) -> str:
    return f"{a:+.2f}"


def _size_curve(rng: np.random.Generator, rep: str) -> RepEffect:
    a, c, w = (
        round(rng.uniform(0.7, 1.2), 3),
        round(rng.uniform(0.8, 3.8), 3),
        rng.uniform(0.3, 0.6),
    )
    label = f"{rep}: {_signed(a)} at companies of about {10**c:,.0f} employees (a sweet spot)"
    return RepEffect(rep, a, column="company_size", curve="bump", centre=c, width=round(w, 3),
                     label=label)  # fmt: skip


def _engagement_step(rng: np.random.Generator, rep: str) -> RepEffect:
    a, c = _amp(rng, 0.5, 0.9, 0.6), round(rng.uniform(35, 65), 1)
    w = round(rng.uniform(8, 15), 1)
    label = f"{rep}: {_signed(a)} on engaged leads (score above {c:.0f}), {_signed(-a)} below"
    return RepEffect(rep, a, column="engagement_score", curve="step", centre=c, width=w,
                     label=label)  # fmt: skip


def _industry_source(rng: np.random.Generator, rep: str) -> RepEffect:
    ind, src = _pick(rng, list(INDUSTRIES), 1), _pick(rng, list(SOURCES), 3)
    a = _amp(rng, 0.8, 1.4)
    label = f"{rep}: {_signed(a)} on {ind[0]} leads from {' / '.join(src)}"
    return RepEffect(rep, a, where={"industry": ind, "source": src}, label=label)


def _region_size(rng: np.random.Generator, rep: str) -> RepEffect:
    reg, bands = _pick(rng, list(REGIONS), 1), _bands(rng, 3)
    a = _amp(rng, 0.7, 1.2)
    label = f"{rep}: {_signed(a)} on {reg[0]} companies of {bands[0]} to {bands[-1]} employees"
    return RepEffect(rep, a, where={"region": reg, "size_band": bands}, label=label)


def _product_industry_size(rng: np.random.Generator, rep: str) -> RepEffect:
    prod, ind = _pick(rng, list(PRODUCTS), 1), _pick(rng, list(INDUSTRIES), 3)
    bands = _bands(rng, 4)
    a = _amp(rng, 0.9, 1.5)
    label = (
        f"{rep}: {_signed(a)} selling {prod[0]} to {' / '.join(ind)} companies of "
        f"{bands[0]} to {bands[-1]} employees"
    )
    return RepEffect(rep, a, where={"product": prod, "industry": ind, "size_band": bands},
                     label=label)  # fmt: skip


def _industry_engagement(rng: np.random.Generator, rep: str) -> RepEffect:
    ind = _pick(rng, list(INDUSTRIES), 2)
    a, c = _amp(rng, 0.9, 1.4), round(rng.uniform(30, 70), 1)
    label = f"{rep}: {_signed(a)} on {' / '.join(ind)} leads with engagement near {c:.0f}"
    return RepEffect(rep, a, where={"industry": ind}, column="engagement_score", curve="bump",
                     centre=c, width=12.0, label=label)  # fmt: skip


_FORMS: tuple[Callable[[np.random.Generator, str], RepEffect], ...] = (
    _size_curve,
    _engagement_step,
    _industry_source,
    _region_size,
    _product_industry_size,
    _industry_engagement,
)
