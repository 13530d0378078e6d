"""OpenTelemetry tracing, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

With it unset nothing here imports `opentelemetry` (the SDK costs cold start
and most deployments do not trace): every entry point returns at once. An app's
`TracingMiddleware` gets a `TracingConfig` built at startup (`TracingConfig.of`:
the endpoint is read before the settings, by `shared.settings.environment`); the
process-wide spans (provider calls, database statements) ask `enabled()`. With it set, the SDK (the optional `otel`
extra) exports over OTLP/HTTP to that endpoint, configured by the standard
`OTEL_*` variables (`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS`, ...):

- a SERVER span per request (`shared.http`'s `TracingMiddleware`): `http.request.method`,
  `http.route` (the template), `http.response.status_code`, error status on 5xx;
  an incoming W3C `traceparent` is continued;
- a CLIENT span per provider call (`genai_call`), with the GenAI attributes
  `gen_ai.provider.name` (OTel's well-known value, `PROVIDER_NAMES`),
  `gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.response.model`,
  `gen_ai.usage.input_tokens` / `output_tokens` and their parts
  `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`
  and `gen_ai.usage.reasoning.output_tokens`;
- a CLIENT span per database statement run inside a request (`instrument_engine`): `db.system.name`,
  `db.namespace`, `db.operation.name` and the parameterised statement text
  (bound values never appear).

Tests install an in-memory exporter with `configure(exporter, simple=True)`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.settings.environment import Environment, read_environment

_STATE_KEY = "otel"
_QUERY_TEXT_MAX = 2000
_lock = threading.Lock()
_provider: Any = None


@dataclass(frozen=True)
class TracingConfig:
    """One app's tracing: on when `endpoint` (the OTLP endpoint) is set. The exporter itself
    reads it and the other `OTEL_*` variables (OpenTelemetry's own, not our settings)."""

    endpoint: str | None = None

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    @classmethod
    def of(cls, environment: Environment) -> "TracingConfig":
        return cls(environment.otlp_endpoint)


def enabled() -> bool:
    """Whether this process traces: a provider is installed, or the endpoint is set."""
    return _provider is not None or read_environment().otlp_endpoint is not None


def configure(exporter: Any = None, *, service_name: str = "lafactoria", simple: bool = False) -> Any:
    """Install this process's tracer provider (once); returns it. Default exporter: OTLP/HTTP."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*
        provider = TracerProvider(resource=Resource.create({"service.name": service_name,
                                                            "service.namespace": "lafactoria"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
        _provider = provider
        return provider


def reset() -> None:
    """Forget the provider (tests), flushing what it holds."""
    global _provider
    with _lock:
        if _provider is not None:
            _provider.shutdown()
        _provider = None


def tracer() -> Any:
    """The tracer of this process's provider (configured on first use)."""
    return configure().get_tracer("lafactoria")


# -- provider calls ----------------------------------------------------------------------
# Our provider names -> OTel's `gen_ai.provider.name` well-known values (a name not listed is
# used as is: the conventions allow a custom value, e.g. `mock`). Metrics use the same mapping.
PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "vertex": "gcp.vertex_ai"}


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


class _NoSpan:
    def usage(self, *args: Any, **kwargs: Any) -> None:
        pass


class _GenAISpan:
    def __init__(self, span: Any) -> None:
        self.span = span

    def usage(self, input_tokens: int | None, output_tokens: int | None, response_model: str | None = None, *,
              cache_read_tokens: int | None = None, cache_write_tokens: int | None = None,
              reasoning_tokens: int | None = None) -> None:
        """Token counts as billed; the cache and reasoning counts are parts of input and output."""
        for name, value in (("gen_ai.usage.input_tokens", input_tokens),
                            ("gen_ai.usage.output_tokens", output_tokens),
                            ("gen_ai.usage.cache_read.input_tokens", cache_read_tokens),
                            ("gen_ai.usage.cache_creation.input_tokens", cache_write_tokens),
                            ("gen_ai.usage.reasoning.output_tokens", reasoning_tokens)):
            if value is not None:
                self.span.set_attribute(name, value)
        if response_model:
            self.span.set_attribute("gen_ai.response.model", response_model)


@contextlib.contextmanager
def genai_call(provider: str, model: str, operation: str = "chat") -> Iterator[_GenAISpan | _NoSpan]:
    """A CLIENT span around one provider call (`provider`: our name); record token usage on what it yields."""
    if not enabled():
        yield _NoSpan()
        return
    from opentelemetry import trace

    with tracer().start_as_current_span(
        f"{operation} {model}", kind=trace.SpanKind.CLIENT, record_exception=True, set_status_on_exception=True,
        attributes={"gen_ai.provider.name": provider_name(provider), "gen_ai.operation.name": operation,
                    "gen_ai.request.model": model},
    ) as span:
        try:
            yield _GenAISpan(span)
        except Exception as exc:
            span.set_attribute("error.type", getattr(exc, "outcome", None) or type(exc).__name__)
            raise


# -- database ---------------------------------------------------------------------------
def instrument_engine(engine: Any) -> None:
    """CLIENT spans for every statement `engine` runs (call only when `enabled()`)."""
    from opentelemetry import trace
    from sqlalchemy import event

    system = engine.dialect.name
    namespace = engine.url.database or ""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return  # outside a request (the metrics writer thread, jobs): no orphan root spans
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "QUERY"
        span = tracer().start_span(f"{operation} {namespace}".strip(), kind=trace.SpanKind.CLIENT, attributes={
            "db.system.name": system, "db.namespace": namespace, "db.operation.name": operation,
            "db.query.text": statement[:_QUERY_TEXT_MAX]})
        conn.info.setdefault(_STATE_KEY, []).append(span)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        stack = conn.info.get(_STATE_KEY)
        if stack:
            stack.pop().end()

    @event.listens_for(engine, "handle_error")
    def _error(exception_context: Any) -> None:
        conn = exception_context.connection
        stack = conn.info.get(_STATE_KEY) if conn is not None else None
        if stack:
            span = stack.pop()
            span.set_attribute("error.type", type(exception_context.original_exception).__name__)
            span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
