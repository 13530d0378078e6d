"""Vertex AI through google-genai in Vertex mode, with a response JSON schema.

An API key alone selects express mode (project and location are not passed);
otherwise a project and location use application default credentials.
`VERTEX_BASE_URL` goes to `http_options.base_url` (a proxy or a test server).

Usage: `promptTokenCount` includes cached content; thinking tokens
(`thoughtsTokenCount`, on by default for Gemini 2.5) are billed as output but
are not inside `candidatesTokenCount`, so they are added to `output_tokens` here.
A SAFETY / PROHIBITED_CONTENT finish is a refusal.
"""

from __future__ import annotations

from functools import lru_cache

from functions.generate.providers.base import Call, Completion, count
from functions.generate.providers.sdk_errors import provider_error


@lru_cache(maxsize=8)
def _client(api_key: str | None, project: str | None, location: str, base_url: str | None, timeout: float):
    from google import genai  # lazy: ~0.4 s, only on this provider's call path
    from google.genai import types

    http_options = types.HttpOptions(
        base_url=base_url or None,
        timeout=int(timeout * 1000),  # milliseconds
        retry_options=None,  # None = a single attempt; the pipeline owns retries
    )
    if api_key:
        return genai.Client(vertexai=True, api_key=api_key, http_options=http_options)
    return genai.Client(vertexai=True, project=project, location=location, http_options=http_options)


_REFUSALS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})


class VertexProvider:
    name = "vertex"

    def __init__(self, settings) -> None:
        self.model = settings.vertex_model
        self._key = settings.google_api_key
        self._project = settings.google_cloud_project
        self._location = settings.google_cloud_location
        self._base_url = settings.vertex_base_url
        self._timeout = settings.provider_timeout_seconds

    def configured(self) -> bool:
        return bool(self._key or self._project)

    def complete(self, call: Call) -> Completion:
        from google.genai import types

        client = _client(self._key, self._project, self._location, self._base_url, self._timeout)
        try:
            response = client.models.generate_content(
                model=self.model,
                contents=call.prompt.user,
                config=types.GenerateContentConfig(
                    system_instruction=call.prompt.system,
                    response_mime_type="application/json",
                    response_json_schema=call.schema,
                    max_output_tokens=call.max_output_tokens,
                    http_options=types.HttpOptions(timeout=int((call.timeout or self._timeout) * 1000)),
                ),
            )
        except Exception as exc:  # noqa: BLE001 - API errors, transport errors, malformed bodies (sdk_errors)
            raise provider_error(self.name, exc) from None
        usage = getattr(response, "usage_metadata", None)
        candidates = getattr(response, "candidates", None) or []
        finish = getattr(candidates[0], "finish_reason", None) if candidates else None
        try:
            text = response.text
        except Exception:  # noqa: BLE001 - no text part
            text = None
        finish_name = str(getattr(finish, "value", finish) or "")
        prompt = getattr(usage, "prompt_token_count", None)
        candidates = getattr(usage, "candidates_token_count", None)
        thoughts = count(getattr(usage, "thoughts_token_count", None))
        tool_prompt = count(getattr(usage, "tool_use_prompt_token_count", None))
        if candidates is None and usage is not None and prompt is not None:
            candidates = 0  # an empty (e.g. blocked) candidate: only the prompt and thoughts are billed
        return Completion(
            text=text,
            input_tokens=None if prompt is None else prompt + tool_prompt,
            output_tokens=None if candidates is None else candidates + thoughts,
            cached_input_tokens=count(getattr(usage, "cached_content_token_count", None)),
            reasoning_tokens=thoughts,
            model=self.model,  # the configured name: the price table is keyed by it
            truncated=finish_name == "MAX_TOKENS",
            refusal=f"blocked ({finish_name})" if finish_name in _REFUSALS else None,
        )
