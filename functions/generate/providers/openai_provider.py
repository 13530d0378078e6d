"""OpenAI (or a compatible endpoint) through the official SDK, with a strict JSON-schema response format.

Strict mode makes the schema binding rather than a hint, but accepts only a
subset of JSON Schema (`strict_schema`); the full pydantic validation still runs
on the reply. A `message.refusal` is its own outcome: the model declined.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from functions.generate.providers.base import Call, Completion, ProviderError, count
from functions.generate.providers.sdk_errors import provider_error

# Keywords strict mode rejects; the pipeline's pydantic validation enforces them after the call.
_UNSUPPORTED = frozenset({"minLength", "maxLength", "default", "examples", "minProperties", "maxProperties",
                          "uniqueItems", "contains", "patternProperties", "unevaluatedProperties"})


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, timeout: float):
    import openai  # lazy: ~0.5 s, only on this provider's call path

    return openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


def strict_schema(schema: Any) -> Any:
    """`schema` rewritten to what OpenAI's strict structured outputs accept.

    Every object closes (`additionalProperties: false`) and lists every property
    as required; a property that was optional becomes nullable instead (the reply's
    nulls are dropped before validation, see `drop_nulls`). `$ref` stands alone.
    """
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return {"$ref": schema["$ref"]}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _UNSUPPORTED:
            continue
        if key in ("properties", "$defs", "definitions"):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        else:
            out[key] = strict_schema(value)
    if out.get("type") == "object" or "properties" in out:
        props = out.setdefault("properties", {})
        required = set(out.get("required", []))
        for name in props:
            if name not in required:
                props[name] = {"anyOf": [props[name], {"type": "null"}]}
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


_STRICT: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema, its strict form)


def strict_form(schema: Any) -> Any:
    """`strict_schema(schema)`, rewritten once per schema object: the content types' schemas are
    built once per process, and the rewrite walks the whole schema (it was done on every call)."""
    entry = _STRICT.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_STRICT) >= 64:  # callers passing fresh schemas (tests): stay bounded
            _STRICT.clear()
        entry = _STRICT[id(schema)] = (schema, strict_schema(schema))
    return entry[1]


def drop_nulls(value: Any) -> Any:
    """Remove the nulls strict mode makes the model write for optional properties."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


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
        import json

        from openai.types.chat import ChatCompletion

        client = _client(self._key, self._base_url, self._timeout)
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": call.prompt.system},
                {"role": "user", "content": call.prompt.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": call.content_type, "schema": strict_form(call.schema), "strict": True},
            },
            "max_completion_tokens": call.max_output_tokens,
        }
        try:
            # The SDK's request path without `chat.completions.create`'s per-call transform of the
            # parameters against its TypedDicts (~0.4 ms of CPU before every call, for a body that is
            # plain JSON already): same endpoint, auth, errors and typed `ChatCompletion` reply.
            response = client.post("/chat/completions", body=body, cast_to=ChatCompletion,
                                   options={"timeout": call.timeout or self._timeout})
        except Exception as exc:  # noqa: BLE001 - every SDK failure is a provider error (sdk_errors)
            raise provider_error(self.name, exc) from None
        try:
            choice = response.choices[0]
            message = choice.message
            text = message.content
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            raise ProviderError("openai: response without a choice") from None
        data = None
        if text and finish != "length":
            try:
                parsed = json.loads(text)
                data = drop_nulls(parsed) if isinstance(parsed, dict) else None
            except ValueError:
                data = None  # the pipeline reports invalid JSON and repairs
        usage = getattr(response, "usage", None)
        prompt_details = getattr(usage, "prompt_tokens_details", None)
        completion_details = getattr(usage, "completion_tokens_details", None)
        return Completion(
            text=text,
            data=data,
            input_tokens=getattr(usage, "prompt_tokens", None),  # cached tokens included
            output_tokens=getattr(usage, "completion_tokens", None),  # reasoning tokens included
            cached_input_tokens=count(getattr(prompt_details, "cached_tokens", None)),
            reasoning_tokens=count(getattr(completion_details, "reasoning_tokens", None)),
            model=self.model,  # the configured name: the price table is keyed by it
            truncated=finish == "length",
            refusal=getattr(message, "refusal", None) or None,
        )
