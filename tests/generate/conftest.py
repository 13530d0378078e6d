"""Fixtures for the generate function: a fake provider server, provider settings, a stand-in gate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.generate.documents import content_type_of, document
from tests.generate.fake_providers import FakeProviderServer


@dataclass
class StubReport:
    """The quality gate's report interface (functions.generate.quality.QualityReport)."""

    overall: float = 0.9
    passed: bool = True
    dimensions: dict = field(default_factory=lambda: {"structure": 1.0})
    thresholds: dict = field(default_factory=lambda: {"overall": 0.7})
    weaknesses: list = field(default_factory=list)
    confident: bool = True  # failed beyond doubt: worth a regeneration

    def confident_failure(self) -> bool:
        return not self.passed and self.confident

    def failed_thresholds(self) -> list[str]:
        return [] if self.passed else ["overall"]

    def as_dict(self):
        return {"overall": self.overall, "passed": self.passed, "dimensions": self.dimensions,
                "thresholds": self.thresholds}


def _default_document(payload, kind):
    ctype = content_type_of(payload) or "flashcards"
    return document(ctype)


@pytest.fixture
def fake_server():
    server = FakeProviderServer(default_document=_default_document)
    yield server
    server.stop()


def provider_env(server, providers: str, **extra) -> dict[str, str]:
    env = {
        "AI_PROVIDERS": providers,
        "OPENAI_API_KEY": "sk-test-openai-key-000000", "OPENAI_BASE_URL": server.url + "/v1",
        "ANTHROPIC_API_KEY": "test-anthropic-key", "ANTHROPIC_BASE_URL": server.url,
        "GOOGLE_API_KEY": "test-google-key", "VERTEX_BASE_URL": server.url,
        "PROVIDER_TIMEOUT_SECONDS": "5",
        # Every paid provider has credentials here, so QUALITY_JUDGE=auto would add a review call to each
        # generation; the judge's own tests turn it on.
        "QUALITY_JUDGE": "off",
    }
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def use_providers(fake_server, env):
    """`use_providers("openai,anthropic", PROVIDER_TIMEOUT_SECONDS=1)` points the providers at the fake server."""
    def apply(providers: str, **extra):
        env(**provider_env(fake_server, providers, **extra))
        return fake_server
    return apply


@pytest.fixture
def stub_gate(monkeypatch):
    """Replace the quality gate by a scripted one: `stub_gate(StubReport(...), ...)`; default passes.

    The pipeline's default assessor is the gate's public entry, `functions.generate.quality.assess`;
    requests made through the HTTP app reach it there (unit tests pass `assess=` to the pipeline)."""
    from functions.generate import quality

    reports: list[StubReport] = []
    seen: list[dict] = []

    def assess(content_type, content, **request):
        seen.append({"content_type": content_type, "content": content})
        return reports.pop(0) if reports else StubReport()

    monkeypatch.setattr(quality, "assess", assess)

    def script(*items: StubReport):
        reports.extend(items)
        return seen
    return script
