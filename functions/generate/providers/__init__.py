"""LLM providers behind one small interface; each SDK is imported only on its own call path."""

from __future__ import annotations

from functions.generate.providers.base import Call, Completion, Provider, ProviderError

_CLASSES = {
    "mock": "functions.generate.providers.mock:MockProvider",
    "openai": "functions.generate.providers.openai_provider:OpenAIProvider",
    "anthropic": "functions.generate.providers.anthropic_provider:AnthropicProvider",
    "vertex": "functions.generate.providers.vertex_provider:VertexProvider",
}


def get_provider(name: str, settings) -> Provider:
    """The provider `name` configured from `settings` (constructing one does no I/O and no SDK import)."""
    import importlib

    module_name, _, cls_name = _CLASSES[name].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)(settings)


__all__ = ["Call", "Completion", "Provider", "ProviderError", "get_provider"]
