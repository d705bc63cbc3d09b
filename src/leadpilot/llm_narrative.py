"""Optional narratives from a language model: POST computed figures (never lead rows) to an
OpenAI-compatible chat endpoint and return its prose, to be shown marked as generated.

Shared by the audit (``analyze.narrative``) and the weekly review
(``service.weekly_narrative``); each decides what it sends (its own payload builder) and
what the model is asked (its own system prompt). The ``--llm-url`` / ``--llm-model`` flags
go together; the API key comes from ``LEADPILOT_LLM_API_KEY``, never from a flag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from leadpilot.errors import ConfigError

__all__ = ["API_KEY_ENV", "chat_narrative", "narrative_requested", "narrative_section"]

API_KEY_ENV = "LEADPILOT_LLM_API_KEY"


def narrative_requested(url: str | None, model: str | None) -> bool:
    """Whether ``--llm-url`` and ``--llm-model`` ask for a narrative; ``ConfigError`` when
    only one of them is given."""
    if url is None and model is None:
        return False
    if not url or not model:
        raise ConfigError(
            "--llm-url and --llm-model go together",
            hint="give both (e.g. --llm-url http://127.0.0.1:8080/v1 --llm-model llama3), "
            "or neither to keep everything on this machine",
        )
    return True


def narrative_section(narrative: Mapping[str, str]) -> dict[str, Any]:
    """The narrative as a report's JSON holds it: model, text, and ``generated: true``."""
    return {"model": narrative["model"], "text": narrative["text"], "generated": True}


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def chat_narrative(
    payload: Mapping[str, Any],
    *,
    system_prompt: str,
    url: str,
    model: str,
    api_key: str | None = None,
    timeout: float = 120.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, str]:
    """POST ``payload`` as JSON (the user message, after ``system_prompt``) to ``url``
    (``.../v1`` or the full ``/chat/completions`` address) and return
    ``{"model": ..., "text": ...}``. ``api_key`` defaults to ``LEADPILOT_LLM_API_KEY``.
    Raises ``ConfigError`` when the endpoint fails or answers oddly."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    body = {
        "model": model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": json.dumps(payload, allow_nan=False, default=str)},
        ],
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
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
            hint=f"check --llm-url, --llm-model and {API_KEY_ENV}; the report itself "
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
