"""Rep-aware trees: one small LightGBM booster per rep, boosted from the team model's
log-odds on that rep's own leads, so it learns where this rep does better or worse than
the team predicts, over every lead attribute and their combinations, without being told
which.

Why per rep rather than one more global booster with the rep as a feature: what the team
model leaves over is a rep x attribute interaction with no rep main effect (the linear part
already has each rep's level), so a global tree's first split on the rep gains nothing and
greedy growth rarely finds it. Conditioning on the rep first makes such an effect a main
effect of the rep's own data. Thin reps shrink toward the team: leaves are ridge-penalised
(few leads, small leaves), reps with too few leads get no trees, and the score still mixes
each rep with an average rep by ``n / (n + rep_prior_strength)``. The number of rounds is
chosen once for all reps by their pooled out-of-time log loss (each rep's latest 15%).

Each rep's booster is the average of ``bags`` boosters (fewer for a rep with more than
``bag_full_rows`` leads, see ``RepTreesConfig.bags_for``) grown on random 70% subsamples of the
rep's leads (stitched into one LightGBM model, leaf values divided by ``bags``, so it scores
and explains exactly as the average does at the cost of one booster call). With a rep's
~1,000 leads a single booster's splits are noisy; averaging lets the out-of-time check keep
more rounds (less shrunk effects) for the same noise. Router benchmark, 5 seeds: +0.7, +0.8
and +1.8 points of the best lift on the interactions, drift and thin worlds, additive
unchanged (README, "Worlds that are not additive").

With the leads' creation times the trees may also read the clock (one more column, the
lead's day): a rep whose skills changed mid-history is learnt as they are now, since every
scored lead is given the history's last day. The out-of-time check keeps the clock only
where it lowers the pooled log loss by ``clock_min_gain`` nats (on the drift worlds it
raised the best assignment on the model's p from 56.2% to 58.8% of the true best lift,
seeds 0-4; on the other worlds it was not kept or changed nothing).

``RepTrees`` scores like a LightGBM booster (``predict`` with ``raw_score`` or
``pred_contrib``), so the ensemble, SHAP contributions, artifacts and the version hash treat
it as one more booster; a row of the "average rep" (rep unknown) gets 0.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray

from leadpilot.model.raw_predict import raw_scores

__all__ = [
    "HEADER",
    "RepTrees",
    "RepTreesConfig",
    "Trees",
    "average_boosters",
    "fit_rep_trees",
    "found_changes",
    "found_combinations",
    "found_effects",
    "leaf_values",
    "tree_outputs",
]

HEADER = "leadpilot-rep-trees v1"
TIME_FEATURE = "lead_time_days"  # the trees' own extra column (see ``RepTrees.now``)
_REP_MARK = "=== rep "
NDF = NDArray[np.float64]


@dataclass(frozen=True)
class RepTreesConfig:
    """How the per-rep boosters grow (ridge-penalised small trees, slow learning rate)."""

    learning_rate: float = 0.05
    num_leaves: int = 6
    min_data_in_leaf: int = 40
    lambda_l2: float = 30.0
    max_rounds: int = 200
    min_rep_rows: int = 300  # fewer labelled leads: no trees, the team model alone
    min_rep_positives: int = 20
    validation_share: float = 0.15
    path_smooth: float = 0.0
    extra_trees: bool = False
    bags: int = 5  # boosters averaged per rep, each on a random subsample of its leads
    bagging_fraction: float = 0.7
    # A rep with more leads than this gets fewer boosters (see ``bags_for``); above every
    # rep of the 20,000-lead benchmark worlds (at most 2,031), whose models stay the same.
    bag_full_rows: int = 2_500
    # The trees also see when each lead came in (days), and score every lead as of the end
    # of the history: a rep whose skills changed mid-history is scored as they are now.
    time_feature: bool = True
    # ... kept only when it lowers the pooled out-of-time log loss by this many nats: one
    # more input must earn its keep (AIC's charge for one parameter). On a history whose
    # skills did not change a lucky draw otherwise keeps it (thin world seed 0: 0.45 nats,
    # -1.0 point of the best assignment's lift); the drift worlds gain 1.9 nats or more.
    clock_min_gain: float = 1.0

    def bags_for(self, n_rows: int) -> int:
        """Boosters averaged for a rep with ``n_rows`` leads: all ``bags`` up to
        ``bag_full_rows`` leads, then ``floor(bags * bag_full_rows / n_rows)`` (at least 1).
        Averaging cuts the split noise of a booster grown on few leads; a rep with many
        leads has little of it, so a bag there costs a booster's time for almost nothing."""
        if self.bags <= 1 or n_rows <= self.bag_full_rows:
            return max(1, self.bags)
        return max(1, min(self.bags, self.bags * self.bag_full_rows // n_rows))


class RepTrees:
    """Per-rep boosters, keyed by the rep's code in column ``rep_column`` of the matrix."""

    def __init__(
        self,
        rep_column: int,
        boosters: Mapping[int, lgb.Booster],
        feature_names: Sequence[str],
        now: float | None = None,
    ) -> None:
        self.rep_column = rep_column
        self.boosters = dict(sorted(boosters.items()))
        self._names = list(feature_names)
        # With ``now`` the boosters read one more column after the model's features, the
        # lead's time (days since 1970): every scored row is given ``now``, the history's end.
        self.now = now

    def rows_as_now(self, X: NDF, at: float | None = None) -> NDF:
        """``X`` with the time column the boosters read (``now``, or the day ``at``), when
        they read one."""
        if self.now is None:
            return X
        return np.hstack([X, np.full((X.shape[0], 1), self.now if at is None else at)])

    def feature_name(self) -> list[str]:
        """The matrix columns the trees read (the model's features, in order)."""
        return list(self._names)

    def num_trees(self) -> int:
        """Trees over every rep."""
        return sum(b.num_trees() for b in self.boosters.values())

    def predict(
        self,
        X: NDF,
        *,
        raw_score: bool = True,
        pred_contrib: bool = False,
        num_threads: int = 1,
    ) -> NDF:
        """Each row's rep booster's raw score, shape ``(n_rows,)`` (0 for a rep without
        trees or an unknown rep); with ``pred_contrib`` the SHAP values, shape
        ``(n_rows, n_features + 1)`` (last column: the booster's expected value)."""
        del raw_score  # always log-odds, like the ensemble's other boosters
        n = X.shape[0]
        out = np.zeros((n, X.shape[1] + 1)) if pred_contrib else np.zeros(n)
        codes = X[:, self.rep_column]
        for code, booster in self.boosters.items():
            rows = np.flatnonzero(codes == code)
            if len(rows):
                got = np.asarray(
                    booster.predict(
                        self.rows_as_now(X[rows]),
                        raw_score=True,
                        pred_contrib=pred_contrib,
                        num_threads=num_threads,
                    ),
                    dtype=np.float64,
                )
                if pred_contrib and self.now is not None:
                    # the time column is "now" for every scored row: its share goes to the
                    # constant column, so the contributions still add up to the score
                    got = np.column_stack([got[:, :-2], got[:, -2] + got[:, -1]])
                out[rows] = got
        return out

    def raw_scores(self, X: NDF) -> NDF:
        """``predict(X)`` (raw scores, one thread) bit for bit, with one low-overhead call
        per rep present in ``X`` (see :mod:`leadpilot.model.raw_predict`) rather than a
        ``predict`` per rep of the model: what the router pays for a few rows per lead."""
        out = np.zeros(X.shape[0])
        codes = X[:, self.rep_column]
        for code in np.unique(codes[~np.isnan(codes)]).tolist():
            booster = self.boosters.get(int(code)) if float(code).is_integer() else None
            if booster is not None:
                rows = np.flatnonzero(codes == code)
                out[rows] = raw_scores(booster, self.rows_as_now(X[rows]))
        return out

    def model_to_string(self) -> str:
        """Text form: a header, then each rep's LightGBM model text."""
        parts = [HEADER, f"rep_column={self.rep_column}", "feature_names=" + "\t".join(self._names)]
        if self.now is not None:
            parts.append(f"now={self.now!r}")
        for code, booster in self.boosters.items():
            parts.append(f"{_REP_MARK}{code}")
            parts.append(booster.model_to_string())
        return "\n".join(parts) + "\n"

    def save_model(self, filename: str) -> None:
        """Write :meth:`model_to_string` to ``filename``."""
        Path(filename).write_text(self.model_to_string(), encoding="utf-8")

    @classmethod
    def from_string(cls, text: str) -> RepTrees:
        """Inverse of :meth:`model_to_string` (``ValueError`` on anything else)."""
        lines = text.split("\n")
        if not lines or lines[0] != HEADER:
            raise ValueError("not a leadpilot rep-trees file")
        rep_column = int(lines[1].partition("=")[2])
        names = lines[2].partition("=")[2].split("\t")
        now = float(lines[3].partition("=")[2]) if lines[3].startswith("now=") else None
        boosters: dict[int, lgb.Booster] = {}
        code: int | None = None
        chunk: list[str] = []
        for line in [*lines[3 + (now is not None) :], _REP_MARK + "end"]:
            if line.startswith(_REP_MARK):
                if code is not None:
                    boosters[code] = lgb.Booster(model_str="\n".join(chunk))
                mark = line[len(_REP_MARK) :]
                code, chunk = (None if mark == "end" else int(mark)), []
            else:
                chunk.append(line)
        return cls(rep_column, boosters, names, now)


def _params(cfg: RepTreesConfig, seed: int, bags: int) -> dict[str, Any]:
    """A rep's booster parameters; subsampled rows only when it averages ``bags`` > 1."""
    bagging = (
        {"bagging_fraction": cfg.bagging_fraction, "bagging_freq": 1, "bagging_seed": seed}
        if bags > 1
        else {}
    )
    return bagging | {
        "objective": "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "lambda_l2": cfg.lambda_l2,
        "feature_fraction": 0.8,
        "path_smooth": cfg.path_smooth,
        "extra_trees": cfg.extra_trees,
        "cat_smooth": 10.0,
        "cat_l2": 10.0,
        "min_data_per_group": 30,
        "max_cat_to_onehot": 4,
        "max_bin": 63,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
    }


def _bag_seeds(bags: int, seed: int) -> list[int]:
    return [seed + 7919 * k for k in range(max(1, bags))]


def average_boosters(boosters: Sequence[lgb.Booster]) -> lgb.Booster:
    """One LightGBM booster whose raw score (and SHAP values) is the average of
    ``boosters``' (trained on one Dataset, so they share the header): every tree of each,
    its leaf and internal values divided by their number."""
    if len(boosters) == 1:
        return boosters[0]
    k = len(boosters)
    texts = [b.model_to_string() for b in boosters]
    head, _, _ = texts[0].partition("\nTree=0\n")
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    trees: list[list[str]] = []
    for text in texts:
        _, found, rest = text.partition("\nTree=0\n")
        if not found:
            continue
        body = "Tree=0\n" + rest.partition("\nend of trees")[0]
        for block in re.split(r"\n(?=Tree=\d+\n)", body.strip("\n")):
            lines = []
            for line in block.strip("\n").split("\n")[1:]:
                key, eq, value = line.partition("=")
                if eq and key in ("leaf_value", "internal_value"):
                    line = key + "=" + " ".join(repr(float(v) / k) for v in value.split(" "))
                lines.append(line)
            trees.append(lines)
    parts = [head.rstrip("\n"), ""]
    parts += [f"Tree={i}\n" + "\n".join(lines) + "\n" for i, lines in enumerate(trees)]
    parts.append("end of trees\n")
    return lgb.Booster(model_str="\n".join(parts))


def _bag_boosters(
    cfg: RepTreesConfig,
    seed: int,
    n_rows: int,
    data: lgb.Dataset,
    rounds: int,
    *,
    scratch: bool = False,
) -> list[lgb.Booster]:
    """A rep's ``cfg.bags_for(n_rows)`` boosters (one on all its rows when that is 1).
    ``scratch``: boosters only read in this process (the round search), kept as trained
    instead of LightGBM's round trip through the model text (the same trees: the text
    holds every value to 17 digits), which cost ~1 s a fit in the search's ~170 boosters."""
    bags = cfg.bags_for(n_rows)
    params = _params(cfg, seed, bags)
    return [
        lgb.train(
            params | {"seed": s} | ({"bagging_seed": s} if bags > 1 else {}),
            data,
            rounds,
            keep_training_booster=scratch,
        )
        for s in _bag_seeds(bags, seed)
    ]


def fit_rep_trees(
    X: NDF,
    y: NDF,
    init: NDF,
    *,
    rep_column: int,
    ignore: Sequence[int],
    feature_names: Sequence[str],
    categorical: Sequence[str],
    rounds: int | None = None,
    config: RepTreesConfig | None = None,
    seed: int = 0,
    times: NDF | None = None,
    clock: bool | None = None,
) -> tuple[RepTrees | None, int]:
    """Fit one booster per rep on ``X``'s time-ordered rows from the team model's log-odds
    ``init``; columns ``ignore`` (the rep's own descriptors, clock features) are hidden from
    the trees. ``rounds=None`` chooses the rounds by the reps' pooled out-of-time log loss
    on each rep's latest rows; returns the trees (``None`` when no round helps) and it.

    ``times`` (each row's time in days; with ``config.time_feature``) can become one more
    column the trees read, so a skill that changed mid-history is learnt as it is now: the
    trees then score every later row as of the latest time (``RepTrees.now``). Whether they
    read it is ``clock``, or with ``clock=None`` (and ``rounds=None``) whether it lowers the
    pooled out-of-time log loss by ``config.clock_min_gain`` or more (tried only where trees
    blind to time keep a round): on a history whose skills did not change the clock's splits
    are noise."""
    cfg = config or RepTreesConfig()
    Xt = X.copy()
    Xt[:, list(ignore)] = np.nan
    codes = X[:, rep_column]
    reps = []
    for code in np.unique(codes[~np.isnan(codes)]):
        rows = np.flatnonzero(codes == code)
        if len(rows) >= cfg.min_rep_rows and y[rows].sum() >= cfg.min_rep_positives:
            reps.append((int(code), rows))
    if not reps:
        return None, 0
    names = list(feature_names)
    timed = times is not None and cfg.time_feature and bool(np.isfinite(times).any())
    now = float(np.nanmax(times)) if timed and times is not None else None
    Xc = np.hstack([Xt, times[:, None]]) if timed and times is not None else Xt
    names_c = [*names, TIME_FEATURE]
    if rounds is None:
        rounds, loss = _choose_rounds(cfg, seed, Xt, y, init, reps, names, categorical)
        # Trees that found nothing blind to time are not grown again with the clock.
        if timed and clock is not False and rounds > 0:
            # grown to twice the blind trees' rounds (+25), not ``max_rounds``: what the
            # choice costs is the rounds it grows
            short = replace(cfg, max_rounds=min(cfg.max_rounds, 2 * rounds + 25))
            rounds_c, loss_c = _choose_rounds(short, seed, Xc, y, init, reps, names_c, categorical)
            clock = loss_c < loss - cfg.clock_min_gain
            rounds = rounds_c if clock else rounds
        else:
            clock = False
    clock = bool(clock) and timed
    if rounds == 0:
        return None, 0
    if clock:
        Xt, names = Xc, names_c
    else:
        now = None
    boosters = {
        code: average_boosters(
            _bag_boosters(
                cfg,
                seed,
                len(rows),
                _data(Xt[rows], y[rows], init[rows], names, categorical),
                rounds,
            )
        )
        for code, rows in reps
    }
    return RepTrees(rep_column, boosters, feature_names, now), rounds


def _data(
    X: NDF, y: NDF, init: NDF, names: Sequence[str], categorical: Sequence[str]
) -> lgb.Dataset:
    return lgb.Dataset(
        X,
        y,
        init_score=init,
        feature_name=list(names),
        categorical_feature=list(categorical),
        params={"max_bin": 63, "verbose": -1, "min_data_in_leaf": 1},
        free_raw_data=True,
    )


def _choose_rounds(
    cfg: RepTreesConfig,
    seed: int,
    X: NDF,
    y: NDF,
    init: NDF,
    reps: list[tuple[int, NDArray[np.intp]]],
    names: Sequence[str],
    categorical: Sequence[str],
) -> tuple[int, float]:
    """The number of rounds (0 = none) with the least summed out-of-time log loss of the
    bag-averaged boosters, and that loss."""
    total = np.zeros(cfg.max_rounds + 1)
    for _code, rows in reps:
        n_in = int(len(rows) * (1 - cfg.validation_share))
        fit, val = rows[:n_in], rows[n_in:]
        if len(val) < 20:
            continue
        data = _data(X[fit], y[fit], init[fit], names, categorical)
        # the averaged boosters' log-odds on the late rows after each round
        z = np.zeros((cfg.max_rounds, len(val)))
        boosters = _bag_boosters(cfg, seed, len(rows), data, cfg.max_rounds, scratch=True)
        for booster in boosters:
            steps = tree_outputs(booster, X[val])
            if len(steps):
                bag = np.cumsum(steps, axis=0)
                # a booster that stopped growing early keeps its last score
                bag = np.vstack([bag, np.repeat(bag[-1:], cfg.max_rounds - len(bag), axis=0)])
                z += bag / len(boosters)
        total[0] += _logloss(init[val], y[val])
        total[1:] += [_logloss(init[val] + z[i], y[val]) for i in range(cfg.max_rounds)]
    best = int(np.argmin(total))
    return best, float(total[best])


def tree_outputs(booster: lgb.Booster, X: NDF) -> NDF:
    """Each tree's raw output on each row, shape ``(n_trees, n_rows)``: what
    ``predict(X, raw_score=True, start_iteration=i, num_iteration=1)`` gives for tree ``i``,
    from one ``pred_leaf`` call and the leaves' values (not one predict per tree)."""
    n_trees = booster.num_trees()
    if n_trees == 0 or len(X) == 0:
        return np.zeros((n_trees, len(X)))
    leaves = np.asarray(booster.predict(X, pred_leaf=True), dtype=np.int64).reshape(len(X), -1)
    values = leaf_values(booster)
    out = np.empty((n_trees, len(X)))
    for t in range(n_trees):
        out[t] = values[t][leaves[:, t]]
    return out


def leaf_values(booster: lgb.Booster) -> list[NDF]:
    """Each tree's leaf values, as ``booster.get_leaf_output(tree, leaf)`` gives them, read
    from the model text (LightGBM writes them with 17 significant digits, so they parse back
    to the same doubles): one call instead of one per leaf, which in the rep-aware trees'
    round search (200 trees of ~6 leaves per booster, ~170 boosters per fit) took 3.5 s."""
    text = booster.model_to_string(num_iteration=-1)
    values = [
        np.array(line[len("leaf_value=") :].split(), dtype=np.float64)
        for line in text.splitlines()
        if line.startswith("leaf_value=")
    ]
    if len(values) != booster.num_trees():  # pragma: no cover - LightGBM's format changed
        raise RuntimeError(f"{len(values)} leaf_value lines for {booster.num_trees()} trees")
    return values


def _logloss(z: NDF, y: NDF) -> float:
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


# What the ensemble sums: LightGBM boosters and rep-aware trees score alike.
Trees = lgb.Booster | RepTrees


def found_effects(
    trees: RepTrees,
    X: NDF,
    base_p: NDF,
    *,
    rep_names: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    top: int = 12,
) -> list[dict[str, Any]]:
    """What the rep-aware trees found, for the model card: per (rep, lead attribute) the
    spread of the rep's trees' SHAP contribution on ``X``'s rows of that rep, with the
    attribute's value (level or quintile range) where the rep beats the team's prediction
    most and where least, in log-odds and in percentage points at ``base_p`` (each row's
    team probability). Largest ``top`` first."""
    names = trees.feature_name()
    codes = X[:, trees.rep_column]
    out: list[dict[str, Any]] = []
    for code, booster in trees.boosters.items():
        rows = np.flatnonzero(codes == code)
        if len(rows) < 30:
            continue
        shap = np.asarray(booster.predict(trees.rows_as_now(X[rows]), pred_contrib=True))
        shap = shap[:, : len(names)]  # the lead attributes (not the clock, not the constant)
        slope = float(np.mean(base_p[rows] * (1 - base_p[rows])))  # d p / d log-odds
        for j in np.flatnonzero(np.abs(shap).mean(axis=0) > 0):
            groups = _groups(X[rows, j], names[j], levels)
            if len(groups) < 2:
                continue
            means = {label: float(shap[mask, j].mean()) for label, mask in groups.items()}
            best, worst = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
            rep = rep_names[int(code)] if 0 <= int(code) < len(rep_names) else str(int(code))
            out.append(
                {
                    "rep": rep,
                    "feature": names[j],
                    "spread_log_odds": means[best] - means[worst],
                    "best": best,
                    "best_log_odds": means[best],
                    "best_points": 100 * slope * means[best],
                    "worst": worst,
                    "worst_log_odds": means[worst],
                    "worst_points": 100 * slope * means[worst],
                    "rows": len(rows),
                }
            )
    out.sort(key=lambda r: -r["spread_log_odds"])
    return out[:top]


def _groups(x: NDF, name: str, levels: Mapping[str, Sequence[str]]) -> dict[str, NDArray[np.bool_]]:
    """Rows by the attribute's level (categoricals) or quintile range (numerics), each with
    at least 10 rows."""
    known = ~np.isnan(x)
    out: dict[str, NDArray[np.bool_]] = {}
    if name in levels:
        labels = list(levels[name])
        for code in np.unique(x[known]):
            label = labels[int(code)] if 0 <= int(code) < len(labels) else "other"
            out[label] = x == code
    elif known.sum() >= 50:
        edges = np.unique(np.quantile(x[known], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
        raw = np.expm1 if name.startswith("log_") else (lambda v: v)
        whole = raw(edges[-1]) - raw(edges[0]) >= 10  # a 0-100 score reads "61 to 90"
        for lo, hi in itertools.pairwise(edges):
            mask = known & (x >= lo) & ((x < hi) | (hi == edges[-1]))
            out[f"{_number(raw(lo), whole)} to {_number(raw(hi), whole)}"] = mask
    return {k: v for k, v in out.items() if v.sum() >= 10}


def _number(value: float, whole: bool) -> str:
    """A group edge for the card: whole numbers with separators when the attribute spans 10
    or more, else three significant digits (a 0-1 score's quintiles would all read "0 to 1"
    as whole numbers, and groups with one label would overwrite each other)."""
    return f"{value:,.0f}" if whole else f"{value:.3g}"


def _rep_rows(
    trees: RepTrees, X: NDF, rep_names: Sequence[str]
) -> list[tuple[str, lgb.Booster, NDArray[np.intp]]]:
    """(rep name, booster, rows of ``X``) for each rep with trees and 30 or more rows."""
    codes = X[:, trees.rep_column]
    out = []
    for code, booster in trees.boosters.items():
        rows = np.flatnonzero(codes == code)
        if len(rows) >= 30:
            rep = rep_names[int(code)] if 0 <= int(code) < len(rep_names) else str(int(code))
            out.append((rep, booster, rows))
    return out


def found_combinations(
    trees: RepTrees,
    X: NDF,
    base_p: NDF,
    *,
    rep_names: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    top: int = 8,
    min_rows: int = 20,
    min_log_odds: float = 0.15,
) -> list[dict[str, Any]]:
    """Edges that live in a combination of two lead attributes, for the model card: per rep,
    the cell of two attributes (levels or quintile ranges, ``min_rows`` or more of ``X``'s
    rows of that rep) whose average score by the rep's trees departs most from what the two
    attributes give apart (cell - first attribute's group - second's, each against the
    rep's average; at least ``min_log_odds``, the same way as the cell's own edge, which is
    larger than either group's). Reports the cell's edge against the rep's
    average and the part that is the combination's, in log-odds and percentage points at
    ``base_p``; largest ``top`` first."""
    names = trees.feature_name()
    out: list[dict[str, Any]] = []
    for rep, booster, rows in _rep_rows(trees, X, rep_names):
        shap = np.asarray(booster.predict(trees.rows_as_now(X[rows]), pred_contrib=True))
        used = [j for j in range(len(names)) if np.abs(shap[:, j]).max() > 0]
        score = shap[:, : len(names)].sum(axis=1)
        score = score - score.mean()
        groups = {j: _groups(X[rows, j], names[j], levels) for j in used}
        slope = float(np.mean(base_p[rows] * (1 - base_p[rows])))
        best: dict[str, Any] | None = None
        for a, b in itertools.combinations(used, 2):
            for la, ma in groups[a].items():
                for lb, mb in groups[b].items():
                    cell = ma & mb
                    if cell.sum() < min_rows:
                        continue
                    value = float(score[cell].mean())
                    alone = (float(score[ma].mean()), float(score[mb].mean()))
                    joint = value - sum(alone)
                    # an edge of the combination: beyond both attributes' and the same way
                    if (
                        abs(joint) >= min_log_odds
                        and joint * value > 0
                        and abs(value) > max(abs(v) for v in alone)
                        and (best is None or abs(joint) > abs(best["joint_log_odds"]))
                    ):
                        best = {
                            "rep": rep,
                            "kind": "combination",
                            "features": [names[a], names[b]],
                            "levels": [la, lb],
                            "log_odds": value,
                            "points": 100 * slope * value,
                            "joint_log_odds": joint,
                            "joint_points": 100 * slope * joint,
                            "rows": int(cell.sum()),
                        }
        if best is not None:
            out.append(best)
    out.sort(key=lambda r: -abs(r["joint_log_odds"]))
    return out[:top]


def found_changes(
    trees: RepTrees,
    X: NDF,
    base_p: NDF,
    *,
    since: float,
    rep_names: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    top: int = 6,
) -> list[dict[str, Any]]:
    """How reps' edges changed over the history, for the model card (trees that read the
    lead's time only, else ``[]``): per rep, its trees' score of ``X``'s rows of that rep as
    of now minus as of the day ``since`` (days since 1970), on average and in the group of
    one attribute (level or quintile range, 10 or more rows) where it moved most.
    Largest ``top`` first."""
    if trees.now is None:
        return []
    names = trees.feature_name()
    out: list[dict[str, Any]] = []
    for rep, booster, rows in _rep_rows(trees, X, rep_names):
        now = np.asarray(booster.predict(trees.rows_as_now(X[rows]), raw_score=True))
        then = np.asarray(booster.predict(trees.rows_as_now(X[rows], since), raw_score=True))
        moved = now - then
        if not np.abs(moved).max() > 0:
            continue
        slope = float(np.mean(base_p[rows] * (1 - base_p[rows])))
        where, most = "", float(moved.mean())
        for j in range(len(names)):
            for label, mask in _groups(X[rows, j], names[j], levels).items():
                value = float(moved[mask].mean())
                if abs(value) > abs(most):
                    where, most = f"{names[j]}={label}", value
        feature, _, level = where.partition("=")
        out.append(
            {
                "rep": rep,
                "kind": "change",
                "mean_log_odds": float(moved.mean()),
                "mean_points": 100 * slope * float(moved.mean()),
                "feature": feature,
                "level": level,
                "log_odds": most,
                "points": 100 * slope * most,
                "rows": len(rows),
            }
        )
    out.sort(key=lambda r: -abs(r["log_odds"]))
    return out[:top]
