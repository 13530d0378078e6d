"""Anthropic through the official SDK; structured JSON by forcing one tool whose input schema is the type's.

Usage: Anthropic reports `input_tokens` beside (not including) cache reads and
writes; they are added up here so `input_tokens` means every input token.
A `max_tokens` stop reason is a truncated reply; a `refusal` stop reason a refusal.
"""

from __future__ import annotations

from functools import lru_cache

from functions.generate.providers.base import Call, Completion, count
from functions.generate.providers.sdk_errors import provider_error

TOOL_NAME = "emit_content"


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, timeout: float):
    import anthropic  # lazy: ~1.2 s, only on this provider's call path

    return anthropic.Anthropic(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings) -> None:
        self.model = settings.anthropic_model
        self._key = settings.anthropic_api_key
        self._base_url = settings.anthropic_base_url
        self._timeout = settings.provider_timeout_seconds

    def configured(self) -> bool:
        return bool(self._key)

    def complete(self, call: Call) -> Completion:
        client = _client(self._key, self._base_url, self._timeout)
        try:
            response = client.messages.create(
                model=self.model,
                max_tokens=call.max_output_tokens,
                system=call.prompt.system,
                messages=[{"role": "user", "content": call.prompt.user}],
                tools=[{
                    "name": TOOL_NAME,
                    "description": f"Return the finished {call.content_type} document.",
                    "input_schema": call.schema,
                }],
                tool_choice={"type": "tool", "name": TOOL_NAME},
                timeout=call.timeout or self._timeout,
            )
        except Exception as exc:  # noqa: BLE001 - every SDK failure is a provider error (sdk_errors)
            raise provider_error(self.name, exc) from None
        usage = getattr(response, "usage", None)
        data = None
        text_parts = []
        for block in getattr(response, "content", None) or []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                data = block.input if isinstance(block.input, dict) else None
            elif getattr(block, "type", None) == "text":
                text_parts.append(block.text)
        stop = getattr(response, "stop_reason", None)
        text = "".join(text_parts) or None
        fresh = getattr(usage, "input_tokens", None)
        cache_read = count(getattr(usage, "cache_read_input_tokens", None))
        cache_created = count(getattr(usage, "cache_creation_input_tokens", None))
        split = getattr(usage, "cache_creation", None)  # 5-minute / 1-hour breakdown, when given
        writes_1h = count(getattr(split, "ephemeral_1h_input_tokens", None))
        writes_5m = count(getattr(split, "ephemeral_5m_input_tokens", None)) if split is not None \
            else cache_created
        if split is not None and writes_5m + writes_1h != cache_created:
            writes_5m = max(0, cache_created - writes_1h)  # the total is what is billed
        details = getattr(usage, "output_tokens_details", None)
        return Completion(
            text=text,
            data=data,
            input_tokens=None if fresh is None else fresh + cache_read + cache_created,
            output_tokens=getattr(usage, "output_tokens", None),  # thinking included
            cached_input_tokens=cache_read,
            cache_write_tokens=writes_5m,
            cache_write_1h_tokens=writes_1h,
            reasoning_tokens=count(getattr(details, "thinking_tokens", None)),
            model=self.model,  # the configured name: the price table is keyed by it
            truncated=stop == "max_tokens",
            refusal=(text or "the model refused") if stop == "refusal" else None,
        )
