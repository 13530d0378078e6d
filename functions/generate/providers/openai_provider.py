"""OpenAI (or a compatible endpoint) through the official SDK, with a JSON-schema response format."""

from __future__ import annotations

from functools import lru_cache

from functions.generate.providers.base import Call, Completion, ProviderError, error_for_status


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, timeout: float):
    import openai  # lazy: ~0.5 s, only on this provider's call path

    return openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings) -> None:
        self.model = settings.openai_model
        self._key = settings.openai_api_key
        self._base_url = settings.openai_base_url
        self._timeout = settings.provider_timeout_seconds

    def configured(self) -> bool:
        return bool(self._key)

    def complete(self, call: Call) -> Completion:
        import openai

        client = _client(self._key, self._base_url, self._timeout)
        try:
            response = client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": call.prompt.system},
                    {"role": "user", "content": call.prompt.user},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": call.content_type, "schema": call.schema, "strict": False},
                },
                max_completion_tokens=call.max_output_tokens,
            )
        except openai.APITimeoutError:
            raise ProviderError("openai: request timed out", outcome="timeout") from None
        except openai.APIStatusError as exc:
            raise error_for_status(exc.status_code, exc.response.headers, f"openai: HTTP {exc.status_code}") from None
        except openai.APIConnectionError:
            raise ProviderError("openai: connection failed", retryable=True) from None
        except Exception as exc:  # noqa: BLE001 - malformed bodies and SDK surprises are provider errors
            raise ProviderError(f"openai: bad response ({type(exc).__name__})") from None
        try:
            choice = response.choices[0]
            text = choice.message.content
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            raise ProviderError("openai: response without a choice") from None
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=getattr(usage, "completion_tokens", None),
            model=self.model,  # the configured name: the price table is keyed by it
            truncated=finish == "length",
        )
