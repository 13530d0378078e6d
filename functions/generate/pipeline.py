"""One generation request end to end: failover, retries, repair, quality gate, budgets, ledger.

The loop is flat and bounded: providers are tried once each in `AI_PROVIDERS`
order (never recursively); each HTTP call gets at most `MAX_RETRIES` retries
on 429/5xx honouring Retry-After; schema-invalid output gets one repair call,
then the next provider; a document below the quality gate is regenerated with
the gate's weaknesses in the prompt, at most `MAX_GENERATIONS` in total,
moving on to the next provider after `LOW_SCORES_BEFORE_FAILOVER` low scores
from one provider. Every call writes one ledger row; the last one is written
in the same transaction as the item (see `store.persist`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from functions.generate import budget, circuit, content_types, prompts, sanitize
from functions.generate.providers import Call, Completion, ProviderError, get_provider
from shared import errors, tracing
from functions.generate.ledger import usage_event, write_event
from shared.logs import get_logger
from shared.models import utcnow

log = get_logger("lafactoria.generate")

MAX_RETRIES = 2  # per HTTP call, on 429/5xx/connection errors
MAX_RETRY_WAIT_SECONDS = 10.0  # a longer Retry-After means: go to the next provider instead
MAX_GENERATIONS = 3  # quality gate: the first generation plus at most 2 more
LOW_SCORES_BEFORE_FAILOVER = 2
UNAVAILABLE_RETRY_AFTER = 30


class _ProviderFailed(Exception):
    """This provider cannot serve this request now; try the next one."""

    def __init__(self, reason: str, *, outage: bool) -> None:
        super().__init__(reason)
        self.outage = outage  # counts against the circuit breaker (invalid output does not)


@dataclass
class Attempt:
    """One settled provider call, as summed into the item's usage."""

    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None


@dataclass
class Candidate:
    content: dict[str, Any]
    report: Any  # QualityReport
    provider: str
    model: str
    pending: dict[str, Any] | None = None  # ledger fields not yet written (the final success row)


@dataclass
class Generated:
    """The result handed to storage: the chosen document and the whole request's usage."""

    content: dict[str, Any]
    report: Any
    provider: str
    model: str
    prompt_version: str
    attempts: list[Attempt]
    final_event: Any | None  # the UsageEvent row to write with the item (or None if already written)
    reservation_id: str | None

    @property
    def input_tokens(self) -> int | None:
        return _sum_or_none(a.input_tokens for a in self.attempts)

    @property
    def output_tokens(self) -> int | None:
        return _sum_or_none(a.output_tokens for a in self.attempts)

    @property
    def cost_usd(self) -> Decimal | None:
        return _sum_or_none(a.cost_usd for a in self.attempts)


def _sum_or_none(values):
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _assess(content_type: str, content: dict[str, Any], request) -> Any:
    from functions.generate import quality

    return quality.assess(content_type, content, topic=request.topic, audience=request.audience,
                          learning_objectives=list(request.learning_objectives or []))


@dataclass
class Run:
    """State of one request's generation (not shared between requests)."""

    request: Any
    user_id: str
    request_id: str
    settings: Any
    scorer: Callable[..., Any] | None = None  # default: the real quality gate
    sleep: Callable[[float], None] = time.sleep
    attempts: list[Attempt] = field(default_factory=list)
    call_count: int = 0
    retry_hint: float | None = None

    # --- ledger -----------------------------------------------------------------------------------

    def _ledger_fields(self, provider, kind: str, outcome: str, completion: Completion | None = None,
                       error: ProviderError | None = None, latency_ms: float | None = None,
                       note: str | None = None) -> dict[str, Any]:
        if completion is not None:
            tokens_in, tokens_out = completion.input_tokens, completion.output_tokens
        elif error is not None and error.status is not None:
            # An HTTP error response: the provider refused the request and bills nothing.
            tokens_in = error.input_tokens if error.input_tokens is not None else 0
            tokens_out = error.output_tokens if error.output_tokens is not None else 0
        else:
            tokens_in = tokens_out = None  # timeout or broken connection: what was billed is unknown
        return {
            "user_id": self.user_id, "request_id": self.request_id, "content_type": self.request.content_type,
            "provider": provider.name, "model": provider.model, "attempt": self.call_count, "kind": kind,
            "outcome": outcome, "input_tokens": tokens_in, "output_tokens": tokens_out,
            "latency_ms": latency_ms, "error": note or (str(error) if error else None),
        }

    def _settle(self, reservation_id: str | None, fields: dict[str, Any], *, write: bool = True):
        """Turn the call's reservation (if any) into its ledger row, or add the row; returns the row."""
        event = usage_event(**fields)
        self.attempts.append(Attempt(event.input_tokens, event.output_tokens, event.cost_usd))
        if not write:
            return event
        from shared.database import session_scope

        with session_scope() as session:
            write_event(session, event, reservation_id)
        return event

    # --- one HTTP call with bounded retries ---------------------------------------------------------

    def _call(self, provider, call: Call, kind: str) -> tuple[Completion, str | None, float, str]:
        for retry in range(MAX_RETRIES + 1):
            self.call_count += 1
            this_kind = kind if retry == 0 else "retry"
            try:
                reservation = budget.reserve(
                    self.settings, user_id=self.user_id, provider=provider.name, model=provider.model,
                    prompt_chars=len(call.prompt.text), max_output_tokens=call.max_output_tokens,
                    request_id=self.request_id, content_type=self.request.content_type,
                    attempt=self.call_count)
            except budget.Unpriceable:
                self.call_count -= 1
                log.warning("provider skipped: no price for its model under a budget cap",
                            extra={"provider": provider.name})
                raise _ProviderFailed("unpriceable model under a budget cap", outage=False) from None
            started = time.perf_counter()
            try:
                with tracing.genai_call(provider.name, provider.model) as span:
                    completion = provider.complete(call)
                    span.usage(completion.input_tokens, completion.output_tokens, completion.model)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000
                self._settle(reservation, self._ledger_fields(provider, this_kind, exc.outcome, error=exc,
                                                              latency_ms=latency))
                log.warning("provider call failed", extra={"provider": provider.name, "outcome": exc.outcome,
                                                           "status": exc.status, "retry": retry})
                if not exc.retryable or retry == MAX_RETRIES:
                    if exc.retry_after:
                        self.retry_hint = min(self.retry_hint or exc.retry_after, exc.retry_after)
                    raise _ProviderFailed(str(exc), outage=True) from None
                wait = exc.retry_after if exc.retry_after is not None else 0.25 * 2**retry + random.random() * 0.1
                if wait > MAX_RETRY_WAIT_SECONDS:
                    self.retry_hint = min(self.retry_hint or wait, wait)
                    raise _ProviderFailed(f"Retry-After {wait:.0f}s is too long", outage=True) from None
                self.sleep(wait)
                continue
            return completion, reservation, (time.perf_counter() - started) * 1000, this_kind
        raise AssertionError("unreachable")  # pragma: no cover

    # --- parsing and validation -------------------------------------------------------------------

    def _parse(self, completion: Completion) -> tuple[dict[str, Any] | None, list[str], str]:
        raw = completion.text or ""
        if completion.truncated:
            return None, ["the reply was cut off at the output length limit; write a shorter document"], raw
        data = completion.data
        if data is None:
            text = raw.strip()
            if text.startswith("```"):
                text = text.strip("`").removeprefix("json").strip()
            try:
                data = json.loads(text)
            except ValueError:
                return None, ["the reply was not valid JSON"], raw
        if not isinstance(data, dict):
            return None, ["the reply must be one JSON object"], raw
        from pydantic import ValidationError

        try:
            return content_types.validate(self.request.content_type, sanitize.clean(data)), [], raw
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
                        for e in exc.errors(include_url=False, include_input=False)]
            return None, problems, raw

    # --- one generation on one provider (with one repair) -----------------------------------------

    def _generate_once(self, provider, generation: int, weaknesses: list[str]) -> Candidate:
        ctype = content_types.get(self.request.content_type)
        prompt = prompts.build(self.request, weaknesses=weaknesses)
        call = Call(ctype.id, self.request, prompt, content_types.json_schema(ctype.id), ctype.max_output_tokens,
                    generation)
        kind = "initial" if generation == 1 else "regeneration"
        for stage in ("first", "repair"):
            completion, reservation, latency, used_kind = self._call(provider, call, kind)
            content, problems, raw = self._parse(completion)
            if content is not None:
                try:
                    report = (self.scorer or _assess)(ctype.id, content, self.request)
                except Exception:
                    # The call happened and cost money: record it before the error becomes a 500.
                    self._settle(reservation, self._ledger_fields(provider, used_kind, "error", completion,
                                                                  latency_ms=latency, note="quality assessment failed"))
                    raise
                fields = self._ledger_fields(provider, used_kind, "success" if report.passed else "low_quality",
                                             completion, latency_ms=latency)
                pending = {"fields": fields, "reservation": reservation}
                if not report.passed:
                    self._settle(reservation, fields)
                    pending = None
                return Candidate(content, report, provider.name, completion.model, pending)
            self._settle(reservation, self._ledger_fields(provider, used_kind, "invalid_output", completion,
                                                          latency_ms=latency, note="; ".join(problems)[:500]))
            log.warning("provider output failed validation", extra={"provider": provider.name, "stage": stage})
            if stage == "first":
                call = Call(ctype.id, self.request, prompts.repair(prompt, raw, problems), call.schema,
                            call.max_output_tokens, generation)
                kind = "repair"
        raise _ProviderFailed("output invalid after one repair", outage=False)

    # --- the whole request -------------------------------------------------------------------------

    def execute(self) -> Generated:
        names = self.settings.providers
        states = circuit.states(names)
        now = utcnow()
        providers = []
        for name in names:
            provider = get_provider(name, self.settings)
            if not provider.configured():
                log.warning("provider in AI_PROVIDERS is not configured", extra={"provider": name})
                continue
            if states[name].is_open(now):
                wait = (states[name].open_until - now).total_seconds()
                self.retry_hint = min(self.retry_hint or wait, wait)
                log.info("provider skipped: circuit open", extra={"provider": name})
                continue
            providers.append(provider)

        best: Candidate | None = None
        generations = 0
        weaknesses: list[str] = []
        budget_problem: errors.Problem | None = None
        for provider in providers:
            low_scores = 0
            while generations < MAX_GENERATIONS:
                try:
                    candidate = self._generate_once(provider, generations + 1, weaknesses)
                except _ProviderFailed as exc:
                    if exc.outage:
                        circuit.record_failure(provider.name)
                    break
                except errors.Problem as problem:  # a budget cap: no more calls for this request
                    budget_problem = problem
                    break
                circuit.record_success(provider.name, states[provider.name])
                generations += 1
                if best is None or candidate.report.overall > best.report.overall:
                    best = candidate
                if candidate.report.passed:
                    return self._result(candidate)
                weaknesses = list(candidate.report.weaknesses)
                low_scores += 1
                if low_scores >= LOW_SCORES_BEFORE_FAILOVER:
                    break
            if budget_problem is not None or generations >= MAX_GENERATIONS:
                break
        if best is not None:
            return self._result(best)
        if budget_problem is not None:
            raise budget_problem
        retry_after = int(max(1, min(self.retry_hint or UNAVAILABLE_RETRY_AFTER, 300)))
        raise errors.ServiceUnavailable("No AI provider could serve this request; try again later.",
                                        retry_after=retry_after)

    def _result(self, chosen: Candidate) -> Generated:
        final_event = reservation = None
        if chosen.pending is not None:
            final_event = self._settle(chosen.pending["reservation"], chosen.pending["fields"], write=False)
            reservation = chosen.pending["reservation"]
        return Generated(chosen.content, chosen.report, chosen.provider, chosen.model, prompts.PROMPT_VERSION,
                         self.attempts, final_event, reservation)


def generate(request, *, user_id: str, request_id: str, settings=None,
             scorer: Callable[..., Any] | None = None, sleep: Callable[[float], None] | None = None) -> Generated:
    """Generate a document for `request` (a validated GenerateRequest) or raise a Problem (503/429)."""
    from shared.settings import get_settings

    run = Run(request, user_id, request_id, settings or get_settings())
    if scorer is not None:
        run.scorer = scorer
    if sleep is not None:
        run.sleep = sleep
    return run.execute()
