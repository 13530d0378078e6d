"""Anthropic through the official SDK; structured JSON by forcing one tool whose input schema is the type's."""

from __future__ import annotations

from functools import lru_cache

from functions.generate.providers.base import Call, Completion, ProviderError, error_for_status

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
        import anthropic

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
            )
        except anthropic.APITimeoutError:
            raise ProviderError("anthropic: request timed out", outcome="timeout") from None
        except anthropic.APIStatusError as exc:
            raise error_for_status(exc.status_code, exc.response.headers,
                                   f"anthropic: HTTP {exc.status_code}") from None
        except anthropic.APIConnectionError:
            raise ProviderError("anthropic: connection failed", retryable=True) from None
        except Exception as exc:  # noqa: BLE001
            raise ProviderError(f"anthropic: bad response ({type(exc).__name__})") from None
        usage = getattr(response, "usage", None)
        data = None
        text_parts = []
        for block in getattr(response, "content", None) or []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                data = block.input if isinstance(block.input, dict) else None
            elif getattr(block, "type", None) == "text":
                text_parts.append(block.text)
        return Completion(
            text="".join(text_parts) or None,
            data=data,
            input_tokens=getattr(usage, "input_tokens", None),
            output_tokens=getattr(usage, "output_tokens", None),
            model=self.model,  # the configured name: the price table is keyed by it
            truncated=getattr(response, "stop_reason", None) == "max_tokens",
        )
