"""Optional narrative of the audit: what is sent (the computed audit, never raw rows) and
what the model is asked; the request itself is ``leadpilot.llm_narrative``'s, shared with
the weekly review."""

from __future__ import annotations

from typing import Any

import httpx

from leadpilot.llm_narrative import chat_narrative

__all__ = ["SYSTEM_PROMPT", "narrative_payload", "request_narrative"]

SYSTEM_PROMPT = (
    "You are a revenue-operations analyst. You receive the JSON results of a lead-routing "
    "audit computed by leadpilot. Write a short narrative for a sales leader (150-250 words, "
    "plain paragraphs, no headings, no tables). Use only numbers that appear in the JSON, keep "
    "their uncertainty (intervals, p-values) when you cite them, follow the verdict exactly, "
    "and do not promise improvements the verdict does not support."
)

# Parts of the audit that are bulky and add nothing a narrative needs.
_DROP = ("segment_heatmaps",)


def narrative_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """The subset of the audit sent to the model: aggregates only, no lead-level data."""
    out = {k: v for k, v in doc.items() if k not in _DROP}
    ttc = dict(out.get("time_to_contact", {}))
    if isinstance(ttc.get("fit"), dict):
        ttc["fit"] = {k: v for k, v in ttc["fit"].items() if k != "curve"}
    out["time_to_contact"] = ttc
    rec = dict(out.get("recommendations", {}))
    rec.pop("plan", None)
    out["recommendations"] = rec
    quality = dict(out.get("data_quality", {}))
    quality.pop("validate", None)
    out["data_quality"] = quality
    out["best_matches"] = list(out.get("best_matches", []))[:15]
    return out


def request_narrative(
    doc: dict[str, Any],
    *,
    url: str,
    model: str,
    api_key: str | None = None,
    timeout: float = 120.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, str]:
    """POST the audit's aggregates (``narrative_payload``) to ``url`` (``.../v1`` or the
    full ``/chat/completions`` address) and return ``{"model": ..., "text": ...}``. Raises
    ``ConfigError`` when the endpoint fails (``llm_narrative.chat_narrative``)."""
    return chat_narrative(
        narrative_payload(doc),
        system_prompt=SYSTEM_PROMPT,
        url=url,
        model=model,
        api_key=api_key,
        timeout=timeout,
        transport=transport,
    )
