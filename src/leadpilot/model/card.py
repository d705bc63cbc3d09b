"""``model_card.md`` and ``metrics.json``: what a trained model is, how well it does, and
what it cannot tell, for RevOps readers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from leadpilot.model.estimator import ConversionModel
from leadpilot.model.evaluation import EvaluationReport
from leadpilot.model.explain import describe_feature
from leadpilot.model.metrics import jsonable

__all__ = [
    "metrics_document",
    "render_card",
    "rep_structure_lines",
    "structure_summary",
    "write_reports",
]


def _f(x: Any, fmt: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return format(x, fmt)


def metrics_document(
    model: ConversionModel,
    report: EvaluationReport,
    confidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``metrics.json`` holds: the fitted model's version, window and settings,
    the evaluation's metrics, comparisons, breakdowns and reliability table, and the
    router's confidence on the test slice (``None`` when not computed)."""
    fitted = model.fitted_
    return jsonable(
        {
            "model_version": fitted.version,
            "target": model.target,
            "training_window": fitted.training_window,
            "dropped_columns": fitted.dropped_columns,
            "guards": fitted.guards,
            **report.to_json(),
            "calibration_method": fitted.calibrator.method_,
            "n_rounds": fitted.n_rounds,
            "n_bags": fitted.glm.n_models - 1,
            "glm_c": fitted.glm_c,
            "glm_interactions": [p[0] for p in fitted.glm.spec.pairs],
            "importance": fitted.importance,
            "confidence": dict(confidence) if confidence is not None else None,
            "rep_effects": fitted.rep_effects,
        }
    )


def _confidence_lines(conf: Mapping[str, Any] | None) -> list[str]:
    if not conf:
        return []
    q = conf["quantiles"]
    lines = [
        "",
        "## Router confidence (test slice)",
        "",
        "The router's confidence in a predictive choice is the probability, from the spread of "
        "the ensemble's bags, that the chosen rep converts the lead better than the rep the "
        "fallback strategy would have picked (conversion probabilities, not price-adjusted "
        "scores). Below the policy's `min_confidence` the lead goes to the fallback. On "
        f"{conf['leads']:,} test leads x {conf['reps']} reps, the model's top rep against "
        f"a {conf['fallback']} pick (each rep equally likely):",
        "",
        "| percentile | 1st | 10th | 25th | median | 75th | 90th |",
        "|---|---|---|---|---|---|---|",
        "| confidence | "
        + " | ".join(f"{q[k]:.2f}" for k in ("0.01", "0.1", "0.25", "0.5", "0.75", "0.9"))
        + " |",
        "",
        "| min_confidence | " + " | ".join(conf["fallback_share"]) + " |",
        "|---|" + "---|" * len(conf["fallback_share"]),
        "| share sent to the fallback | "
        + " | ".join(f"{v:.0%}" for v in conf["fallback_share"].values())
        + " |",
    ]
    return lines


def render_card(
    model: ConversionModel,
    report: EvaluationReport,
    confidence: Mapping[str, Any] | None = None,
) -> str:
    """Markdown model card of a fitted ``model`` and its out-of-time ``report`` (with the
    router's confidence distribution when given)."""
    ev = metrics_document(model, report, confidence)
    win = ev["training_window"]
    res = ev["metrics"]
    lines = [
        f"# Conversion model {model.version}",
        "",
        f"Predicts P({model.target} | lead, rep). A ridge-penalised logistic regression "
        f"(penalty C = {ev.get('glm_c')}) on lead attributes, the rep, rep x segment and role x "
        "segment cells and the reps' leak-free track records, plus "
        f"{ev['n_rounds']} LightGBM trees boosted from its log-odds. Confidence comes from "
        f"{ev['n_bags']} refits of the linear part on random halves of the training period. "
        f"Calibration on the later slice: {ev['calibration_method']}.",
        "",
    ]
    block = model.fitted_.routing_block
    if block:
        lines += [
            f"> **WARNING: this model is worse than a baseline.** {block}. The router falls "
            "back to the policy's rules for it unless forced (`--force-model`).",
            "",
        ]
    lines += [
        "## Data and split (by time, never random)",
        "",
        f"- History rows: {win['history_rows']:,}; with a known outcome: {win['labelled_rows']:,}",
        f"- Time order: {win['time_column']}",
    ]
    for part in ("train", "calibration", "test"):
        w = win[part]
        lines.append(f"- {part}: {w['rows']:,} leads, {w.get('first')} to {w.get('last')}")
    final = win.get("final_fit_rows")
    if final and final > win["train"]["rows"] + win["calibration"]["rows"]:
        lines.append(
            f"- The saved model was refit on all {final:,} settled leads (test slice "
            "included) after the evaluation below, with the same settings: the figures "
            "describe the model without the test slice."
        )
    lines += [
        "",
        "## Test metrics (latest slice)",
        "",
        "| model | AUC | model's AUC edge (95% CI) | log loss | Brier | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in res.items():
        if name == "model (uncalibrated)" and ev["calibration_method"] == "none":
            continue
        comp = ev["comparisons"].get(name)
        diff = (
            f"{comp['auc_diff']:+.3f} ({comp['auc_diff_low']:+.3f} to {comp['auc_diff_high']:+.3f})"
            if comp
            else ""
        )
        lines.append(
            f"| {name} | {_f(m['auc'])} | {diff} | {_f(m['log_loss'], '.4f')} | "
            f"{_f(m['brier'], '.4f')} | {_f(m['ece'], '.4f')} |"
        )
    lines += [
        "",
        "AUC: how well the score ranks converting leads above the others (0.5 = chance). "
        "Log loss and Brier: accuracy of the probabilities (lower is better). ECE: average gap "
        "between predicted and observed conversion (a predicted 30% should convert 30%).",
        "",
        "## Reliability (test slice)",
        "",
        "![reliability plot](reliability.svg)",
        "",
        "| predicted | leads | mean predicted | observed (95% CI) |",
        "|---|---|---|---|",
    ]
    for r in ev["reliability"]:
        lines.append(
            f"| {r['bin_low']:.1f}-{r['bin_high']:.1f} | {r['n']:,} | {r['predicted']:.3f} | "
            f"{r['observed']:.3f} ({r['observed_low']:.3f}-{r['observed_high']:.3f}) |"
        )
    reps = ev["by_group"].get("rep_id", [])
    if reps:
        lines += [
            "",
            "## Per rep (test slice, reps with at least 30 test leads)",
            "",
            "| rep | leads | observed | mean predicted | AUC within the rep | log loss | "
            "log loss of per-rep rate |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in reps[:40]:
            lines.append(
                f"| {r['group']} | {r['n']:.0f} | {_f(r['rate'])} | {_f(r['mean_p'])} | "
                f"{_f(r['auc'])} | {_f(r['log_loss'], '.4f')} | "
                f"{_f(r.get('log_loss_per_rep_baseline'), '.4f')} |"
            )
    lines += _confidence_lines(ev["confidence"])
    imp = model.feature_importance().head(10)
    lines += ["", "## What drives the scores (share of mean absolute contribution)", ""]
    for _, row in imp.iterrows():
        lines.append(f"- {row['meaning']} (`{row['feature']}`): {row['share']:.1%}")
    lines += rep_structure_lines(model.fitted_.rep_effects, model.rep_trees)
    if ev["guards"]:
        lines += ["", "## Guards (checks before and after training)", ""]
        lines += ["| guard | verdict | detail |", "|---|---|---|"]
        for g in ev["guards"]:
            lines.append(f"| {g['guard']} | {g['verdict']} | {g['detail']} |")
    if ev["dropped_columns"]:
        lines += ["", "## Columns dropped as outcome in disguise", ""]
        for d in ev["dropped_columns"]:
            lines.append(
                f"- `{d['column']}`: its {d['how']} predicts the outcome (AUC {d['auc']:.3f})"
            )
    lines += [
        "",
        "## Limits",
        "",
        "- The model learns from who was assigned in the past. If assignment was not random "
        "(e.g. senior reps got the big accounts), part of a rep's apparent edge may come from "
        "the leads they were given; randomized holdouts measure the true lift.",
        "- Reps with little history are pulled toward the average rep "
        f"(weight n / (n + {model.rep_prior_strength:g})); the router's confidence says how "
        "sure the ensemble is that its rep beats the fallback's pick for the lead.",
        "- Per-rep and per-segment rates in features use only leads before each lead.",
    ]
    return "\n".join(lines) + "\n"


# The lead attributes a RevOps reader thinks in: company size, however the model sees it.
_KIND_OF = {"log_company_size": "company size", "size_band": "company size"}


def _kind(feature: str) -> str:
    return _KIND_OF.get(feature) or describe_feature(feature)


def _attribute_effects(effects: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in effects if e.get("kind", "attribute") == "attribute"]


def _of_kind(effects: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [e for e in effects if e.get("kind") == kind]


def _level_words(feature: str, level: str) -> str:
    """One attribute's group in words: "Healthcare" (industry), "engagement score 61 to 90"."""
    if feature in ("source", "industry", "region", "country", "product", "size_band"):
        return f"{level} (company size)" if feature == "size_band" else level
    return f"{_kind(feature)} {level}"


def structure_summary(effects: Sequence[Mapping[str, Any]]) -> str:
    """One sentence naming the kinds of rep-specific structure among ``effects`` (the
    card's tables): per lead attribute, how many reps' edges depend on it and the largest
    edge in percentage points, most reps first; then how many edges live in a combination
    of two attributes and how many reps' edges changed over the history."""
    by_kind: dict[str, tuple[set[str], float]] = {}
    for e in _attribute_effects(effects):
        kind = _kind(str(e["feature"]))
        reps, most = by_kind.get(kind, (set(), 0.0))
        size = max(abs(float(e["best_points"])), abs(float(e["worst_points"])))
        by_kind[kind] = (reps | {str(e["rep"])}, max(most, size))
    ranked = sorted(by_kind.items(), key=lambda kv: (-len(kv[1][0]), -kv[1][1]))
    parts = [
        f"{kind} ({len(reps)} rep{'s' if len(reps) > 1 else ''}, up to {most:.1f} points)"
        for kind, (reps, most) in ranked
    ]
    text = (
        "**In short:** in the largest effects below, reps do better or worse than the "
        "team model predicts depending on " + "; ".join(parts) + "."
    )
    combos = _of_kind(effects, "combination")
    if combos:
        most = max(abs(float(e["joint_points"])) for e in combos)
        n = len(combos)
        text += (
            f" {n} rep{'s' if n > 1 else ''} also {'have' if n > 1 else 'has'} an edge that "
            f"only shows in a combination of two attributes (up to {most:.1f} points beyond "
            "what each gives alone)."
        )
    changes = _of_kind(effects, "change")
    if changes:
        n = len(changes)
        most = max(abs(float(e["points"])) for e in changes)
        who = f"{n} reps' edges" if n > 1 else "1 rep's edge"
        text += (
            f" {who} changed over the history (up to {most:.1f} points); the model scores "
            f"{'them' if n > 1 else 'it'} as {'they are' if n > 1 else 'it is'} now."
        )
    return text


def _combination_lines(combos: Sequence[Mapping[str, Any]]) -> list[str]:
    if not combos:
        return []
    lines = [
        "",
        "Edges in a combination of two attributes: where the rep's trees score a pair of "
        "attributes together differently from what each gives alone (on the latest settled "
        "leads of that combination, against the rep's average; in brackets the part that "
        "only the combination explains):",
        "",
    ]
    for e in combos:
        what = " and ".join(
            _level_words(str(f), str(v)) for f, v in zip(e["features"], e["levels"], strict=True)
        )
        better = "better" if float(e["points"]) > 0 else "worse"
        lines.append(
            f"- {e['rep']} does {better} on {what}: {float(e['points']):+.1f} points "
            f"({float(e['joint_points']):+.1f} from the combination; {e['rows']} leads)"
        )
    return lines


def _change_lines(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    if not changes:
        return []
    lines = [
        "",
        "Skills that changed: the trees also read when each lead came in, because that "
        "lowered the log loss on each rep's latest leads (the out-of-time check); leads are "
        "scored as the rep is now. Each rep's edge now against the start of the history, "
        "on the latest settled leads, and where it moved most:",
        "",
    ]
    for e in changes:
        where = _level_words(str(e["feature"]), str(e["level"])) if e["feature"] else "all leads"
        lines.append(
            f"- {e['rep']}: {float(e['mean_points']):+.1f} points on average, "
            f"{float(e['points']):+.1f} points on {where}"
        )
    return lines


def rep_structure_lines(effects: Sequence[Mapping[str, Any]], enabled: bool) -> list[str]:
    """The card's "rep-specific structure" section: a plain-words summary of the kinds of
    structure found, then the rep-aware trees' largest effects (where each rep beats or
    trails the team's prediction, and by how much), edges in combinations of two
    attributes, and skills that changed over the history."""
    lines = ["", "## Rep-specific structure the model found", ""]
    if not enabled:
        return [*lines, "Rep-aware trees were switched off for this model (`rep_trees=False`)."]
    if not effects:
        return [
            *lines,
            "Beyond each rep's overall level and the rep x segment cells, the per-rep trees "
            "found nothing the out-of-time check could confirm: no round of them lowered the "
            "log loss on each rep's latest leads, so the model routes on the cells alone.",
        ]
    lines += [
        structure_summary(effects),
        "",
        "Each rep has a few small trees that learn where that rep converts better or worse "
        "than the team model predicts for the same lead, over every lead attribute and their "
        "combinations (nobody listed them); for a rep with up to 2,500 leads they are grown "
        "five times on different samples of the rep's leads and averaged, so one lucky run of "
        "deals does not make an edge (fewer times above that, once above 6,250 leads). The "
        "largest effects on the latest settled leads (points: percentage points of conversion "
        "against the team model's prediction for that rep; size: the gap between best and "
        "worst in log-odds, 1.0 is large):",
        "",
        "| rep | by | does best with | vs team | does worst with | vs team | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in _attribute_effects(effects):
        lines.append(
            f"| {e['rep']} | {describe_feature(str(e['feature']))} | {e['best']} | "
            f"{e['best_points']:+.1f} pts | {e['worst']} | {e['worst_points']:+.1f} pts | "
            f"{e['spread_log_odds']:.2f} |"
        )
    lines += _combination_lines(_of_kind(effects, "combination"))
    lines += _change_lines(_of_kind(effects, "change"))
    lines += [
        "",
        "A row of the table shows an edge averaged over the other attributes; the trees split "
        "on several at once. Effects are "
        "learned from a few hundred leads per rep; small ones (under ~0.3) may be noise, and "
        "a rep with under 300 labelled leads gets no trees of their own.",
    ]
    return lines


def reliability_svg(rows: Sequence[Mapping[Any, Any]], *, title: str = "Reliability") -> str:
    """A reliability plot as a standalone SVG: observed rate (with its 95% interval) against
    the mean prediction per bin, the diagonal of perfect calibration, and ticks with
    percentage labels on both axes. Hand-written SVG because it is 40 lines and spares a
    plotting dependency."""
    size, left, top_pad, bottom = 360, 52, 36, 48
    plot = size - left - 16
    top = max(
        [0.1] + [float(r["observed_high"]) for r in rows] + [float(r["predicted"]) for r in rows]
    )
    top = min(1.0, math.ceil(top * 10) / 10)
    step = 0.05 if top <= 0.3 else 0.1
    scale = plot / top

    def xy(px: float, py: float) -> tuple[float, float]:
        return left + px * scale, top_pad + plot - py * scale

    height = top_pad + plot + bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{height}" '
        f'viewBox="0 0 {size} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="8" y="18" font-size="13">{escape(title)}</text>',
        f'<rect x="{left}" y="{top_pad}" width="{plot}" height="{plot}" fill="none" '
        'stroke="#999"/>',
    ]
    for k in range(round(top / step) + 1):
        v = k * step
        x, y = xy(v, v)
        bottom_y = top_pad + plot
        label = f"{v:.0%}"
        parts += [
            f'<line x1="{x:.1f}" y1="{bottom_y}" x2="{x:.1f}" y2="{bottom_y + 5}" stroke="#666"/>',
            f'<text x="{x:.1f}" y="{bottom_y + 17}" text-anchor="middle" fill="#444">'
            f"{label}</text>",
            f'<line x1="{left - 5}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#666"/>',
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{label}</text>',
        ]
        if k > 0:
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot}" y2="{y:.1f}" stroke="#eee"/>'
            )
    (x0, y0), (x1, y1) = xy(0, 0), xy(top, top)
    parts.append(
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#bbb" stroke-dasharray="4"/>'
    )
    for r in rows:
        cx, cy = xy(float(r["predicted"]), float(r["observed"]))
        _, lo = xy(0, float(r["observed_low"]))
        _, hi = xy(0, float(r["observed_high"]))
        parts.append(
            f'<line x1="{cx:.1f}" y1="{lo:.1f}" x2="{cx:.1f}" y2="{hi:.1f}" stroke="#369"/>'
        )
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="#369"><title>'
            f"{r['n']} leads: predicted {r['predicted']:.3f}, observed "
            f"{r['observed']:.3f}</title></circle>"
        )
    mid = top_pad + plot / 2
    parts.append(
        f'<text x="{left + plot / 2}" y="{height - 12}" text-anchor="middle">'
        "mean predicted conversion</text>"
    )
    parts.append(
        f'<text x="14" y="{mid}" text-anchor="middle" transform="rotate(-90 14 {mid})">'
        "observed conversion (95% interval)</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_reports(
    model: ConversionModel,
    report: EvaluationReport,
    directory: Path,
    *,
    confidence: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``model_card.md``, ``metrics.json`` and ``reliability.svg`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "reliability.svg").write_text(
        reliability_svg(report.reliability, title=f"Reliability, {model.version}")
    )
    card = directory / "model_card.md"
    card.write_text(render_card(model, report, confidence))
    metrics_path = directory / "metrics.json"
    metrics_path.write_text(json.dumps(metrics_document(model, report, confidence), indent=1))
    return card, metrics_path
