"""Reasons in a sales manager's words, from LightGBM's own SHAP values (``pred_contrib``)."""

from __future__ import annotations

import math

from leadpilot.model.features import SEGMENTS
from leadpilot.model.fitted import FittedConversion
from leadpilot.model.scoring import candidate_matrix, candidate_probabilities, contributions
from leadpilot.schema import Lead, size_band_of

__all__ = ["describe_feature", "explain_pair"]

_SEGMENT_WORDS = {
    "industry": "industry",
    "size_band": "company size",
    "source": "lead source",
    "region": "region",
    "product": "product",
}
_MEANINGS = {
    "source": "lead source",
    "industry": "industry",
    "size_band": "company size band",
    "region": "region",
    "country": "country",
    "product": "product of interest",
    "rep_id": "who the rep is",
    "rep_role": "the rep's role",
    "rep_pool": "the rep's team",
    "log_company_size": "number of employees",
    "log_annual_revenue": "annual revenue",
    "engagement_score": "engagement score",
    "created_hour": "hour the lead came in",
    "created_weekday": "weekday the lead came in",
    "log_time_to_contact": "time to first contact",
    "company_domain": "company email address (vs a personal one)",
    "rep_tenure_days": "the rep's time with the team",
    "rep_log_volume": "how many leads the rep has handled",
    "rep_rate": "the rep's overall conversion rate",
    "rep_covers_industry": "the rep declares the lead's industry as a specialty",
    "rep_covers_region": "the rep covers the lead's region",
}


def describe_feature(name: str) -> str:
    """Plain-words meaning of a model input."""
    if name in _MEANINGS:
        return _MEANINGS[name]
    for s in SEGMENTS:
        if name.startswith(f"rep_x_{s}"):
            return f"the rep's track record with leads of the same {_SEGMENT_WORDS[s]}"
    if name.startswith("x_"):
        return f"lead field {name[2:]!r}"
    if name.startswith("rep_role_x_"):
        return f"the rep's role combined with the lead's {name[len('rep_role_x_') :]}"
    return name


def _group(name: str) -> str:
    if name.startswith("rep_role_x_"):
        return "role"
    if name in ("rep_id", "rep_rate", "rep_log_volume", "rep_role", "rep_pool"):
        return "overall"
    for s in SEGMENTS:
        if name.startswith(f"rep_x_{s}"):
            return s
    if name in ("rep_tenure_days", "rep_covers_industry", "rep_covers_region"):
        return name
    if name == "log_time_to_contact":
        return "response"
    return "fit"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def explain_pair(
    fitted: FittedConversion, lead: Lead, rep_id: str, versus: str | None = None, top: int = 3
) -> list[str]:
    """Top ``top`` reasons why ``rep_id``'s score for ``lead`` differs from ``versus``'s (or
    from an average rep's), each with its size in percentage points."""
    st = fitted.state
    reps = [rep_id] if versus is None else [rep_id, versus]
    X, rep_n = candidate_matrix(fitted, lead, reps, None)
    rows = X[[0, 1]] if versus is not None else X[[0, len(reps)]]
    contrib = contributions(fitted.glm, fitted.boosters, fitted.feature_names, rows)
    p = float(candidate_probabilities(fitted, lead, reps, None)[1][0])
    slope = p * (1 - p)  # d p / d log-odds: turns log-odds contributions into points
    groups: dict[str, float] = {}
    for name, c in contrib.items():
        groups[_group(name)] = groups.get(_group(name), 0.0) + float(c[0] - c[1])
    other = "an average rep" if versus is None else versus
    ridx = int(st.rep_indices([rep_id])[0])
    g = (st.global_k + 1) / (st.global_n + 2)
    band = lead.size_band or size_band_of(lead.company_size)
    vidx = int(st.rep_indices([versus])[0]) if versus is not None else None
    reasons: list[tuple[float, str]] = []
    for key, d in groups.items():
        pts = 100 * slope * d
        if abs(pts) < 0.05:
            continue
        verb = "raises" if pts > 0 else "lowers"
        head = f"{verb} {rep_id}'s chance vs {other} by about {abs(pts):.1f} points"
        record: tuple[float, float] | None = None  # (this rep's rate, the rate it is held to)
        if key == "overall":
            n, k = st.rep_n[ridx], st.rep_k[ridx]
            rate = _pct(k / n) if n else "no record"
            text = f"{rep_id} converted {k:.0f} of {n:.0f} leads overall ({rate}"
            if vidx is not None:
                vn, vk = st.rep_n[vidx], st.rep_k[vidx]
                text += f"; {versus}: {vk:.0f} of {vn:.0f}, {_pct(vk / vn) if vn else 'n/a'}"
                record = (k / n, vk / vn) if n and vn else None
            else:
                record = (k / n, g) if n else None
            text += f"; team {_pct(g)})"
        elif key in SEGMENTS:
            value = band if key == "size_band" else getattr(lead, key)
            code = st.code(key, value)
            if math.isnan(code):
                text = f"no history for this {_SEGMENT_WORDS[key]}"
            else:
                lev = int(code)
                n, k = st.rep_seg_n[key][ridx, lev], st.rep_seg_k[key][ridx, lev]
                sn, sk = st.seg_n[key][lev], st.seg_k[key][lev]
                rate = _pct(k / n) if n else "no record"
                text = f"{rep_id} converted {k:.0f} of {n:.0f} {value} leads ({rate})"
                if vidx is not None:
                    vn, vk = st.rep_seg_n[key][vidx, lev], st.rep_seg_k[key][vidx, lev]
                    text += f" against {versus}'s {vk:.0f} of {vn:.0f} ("
                    text += f"{_pct(vk / vn) if vn else 'no record'}); "
                    record = (k / n, vk / vn) if n and vn else None
                else:
                    text += " against "
                    record = (k / n, sk / sn) if n and sn else None
                text += f"{_pct(sk / sn) if sn else 'n/a'} for all reps ({_SEGMENT_WORDS[key]})"
        elif key == "role":
            role_code = st.rep_role[ridx]
            role = "?" if math.isnan(role_code) else st.levels["rep_role"][int(role_code)]
            text = f"how {role}s do with {lead.industry or 'this'} leads of {band or 'this'} size"
        elif key == "rep_tenure_days":
            text = f"{rep_id}'s time with the team"
        elif key == "rep_covers_industry":
            text = f"whether {rep_id} declares {lead.industry} as a specialty"
        elif key == "rep_covers_region":
            text = f"whether {rep_id} covers {lead.region}"
        elif key == "response":
            text = f"{rep_id}'s expected time to first contact"
        else:
            text = "how this lead's profile (industry, size, source, engagement) suits the rep"
        if record is not None and (record[0] - record[1]) * pts < 0:
            # The record and the model's effect point opposite ways (the model pulls small
            # records toward the average and weighs them with the rep's other results):
            # say so, instead of a sentence that contradicts itself.
            head = (
                f"even so, once small samples are pulled toward the average and the rep's "
                f"other results are counted, the model's use of it {head}"
            )
        reasons.append((abs(pts), f"{text}: {head}"))
    reasons.sort(key=lambda t: -t[0])
    out = [r for _, r in reasons[:top]]
    suff = float(rep_n[0] / (rep_n[0] + fitted.rep_prior_strength))
    if suff < 0.5:
        out.append(
            f"{rep_id} has only {rep_n[0]:.0f} leads with known outcomes, so the score is "
            f"pulled {100 * (1 - suff):.0f}% of the way toward an average rep"
        )
    return out
