"""Optional narrative: send the computed audit (never raw rows) to an OpenAI-compatible
chat endpoint and return its prose, to be shown clearly marked as generated."""

from __future__ import annotations

import json
from typing import Any

import httpx

from leadpilot.errors import ConfigError

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


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def request_narrative(
    doc: dict[str, Any],
    *,
    url: str,
    model: str,
    api_key: str | None = None,
    timeout: float = 120.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, str]:
    """POST the audit to ``url`` (``.../v1`` or the full ``/chat/completions`` address) and
    return ``{"model": ..., "text": ...}``. Raises ``ConfigError`` when the endpoint fails."""
    body = {
        "model": model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(narrative_payload(doc), allow_nan=False)},
        ],
    }
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    endpoint = _endpoint(url)
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(endpoint, json=body, headers=headers)
            response.raise_for_status()
            data = response.json()
        text = data["choices"][0]["message"]["content"]
    except httpx.HTTPStatusError as exc:
        raise ConfigError(
            f"the narrative endpoint {endpoint} answered HTTP {exc.response.status_code}",
            hint="check --llm-url, --llm-model and LEADPILOT_LLM_API_KEY; the report itself "
            "does not need the narrative (leave the flags out)",
        ) from None
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"could not reach the narrative endpoint {endpoint}: {type(exc).__name__}",
            hint="check --llm-url (an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1)",
        ) from None
    except (KeyError, IndexError, TypeError, ValueError):
        raise ConfigError(
            f"the narrative endpoint {endpoint} did not answer like an OpenAI chat completion",
            hint="use a server that implements POST /chat/completions",
        ) from None
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            f"the narrative endpoint {endpoint} returned an empty message",
            hint="try another --llm-model",
        )
    return {"model": model, "text": text.strip()}
