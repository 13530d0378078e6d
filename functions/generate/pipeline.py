"""One generation request end to end: failover, retries, repair, quality gate, budgets, ledger, deadline.

The loop is flat and bounded: providers are tried once each in `AI_PROVIDERS`
order (never recursively); each HTTP call gets at most `MAX_RETRIES` retries
on 429/5xx honouring Retry-After; schema-invalid or truncated output gets one
repair call, then the next provider; a refusal goes to the next provider at
once; a document that fails the quality gate beyond doubt (a confirmed or far
below-threshold failure: `QualityReport.confident_failure`; a near miss is
returned as it is, with its reasons, rather than paid for again) is regenerated
with the gate's weaknesses in the prompt, at most `MAX_GENERATIONS` in total, and each
regeneration goes to the next provider in `AI_PROVIDERS` (quality-aware
failover: a provider that wrote a failing document is not simply asked again
while another is available). `GENERATION_DEADLINE_SECONDS` bounds the whole
request, judge included (`Run.deadline`).

Every call writes one ledger row (`functions.generate.ledger.write`) under the
request's server-side `generation_id` and its user, as soon as the call
returns (so its reservation lives no longer than the call, and a paid call is
in the books whatever happens next); `store.persist` links them to the item.
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
from functions.generate.deadline import Deadline
from functions.generate.providers import Call, Completion, ProviderError, get_provider
from functions.generate import ledger
from shared import errors, tracing
from shared.logs import get_logger
from shared.models import new_id, utcnow

log = get_logger("lafactoria.generate")

MAX_RETRIES = 2  # per HTTP call, on 429/5xx/connection errors
MAX_RETRY_WAIT_SECONDS = 10.0  # a longer Retry-After means: go to the next provider instead
MAX_GENERATIONS = 3  # quality gate: the first generation plus at most 2 more
UNAVAILABLE_RETRY_AFTER = 30
CREDENTIALS_ALERT_RULE = "provider_credentials"


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
    cached_input_tokens: int | None = 0
    reasoning_tokens: int | None = 0


@dataclass
class Candidate:
    content: dict[str, Any]
    report: Any  # QualityReport
    provider: str
    model: str


@dataclass
class Generated:
    """The result handed to storage: the chosen document and the whole request's usage."""

    content: dict[str, Any]
    report: Any
    provider: str
    model: str
    prompt_version: str
    attempts: list[Attempt]
    generation_id: str = ""

    @property
    def input_tokens(self) -> int | None:
        return _sum_or_none(a.input_tokens for a in self.attempts)

    @property
    def output_tokens(self) -> int | None:
        return _sum_or_none(a.output_tokens for a in self.attempts)

    @property
    def cached_input_tokens(self) -> int | None:
        return _sum_or_none(a.cached_input_tokens for a in self.attempts)

    @property
    def reasoning_tokens(self) -> int | None:
        return _sum_or_none(a.reasoning_tokens for a in self.attempts)

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
                          learning_objectives=list(request.learning_objectives or []), language=request.language)


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
    generation_id: str = field(default_factory=new_id)  # server-side owner of this request's ledger rows
    deadline: Deadline | None = None

    def __post_init__(self) -> None:
        if self.deadline is None:
            self.deadline = Deadline(self.settings.generation_deadline_seconds)

    # --- ledger -----------------------------------------------------------------------------------

    def ledger_fields(self, provider, kind: str, outcome: str, completion: Completion | None = None,
                      error: ProviderError | None = None, latency_ms: float | None = None,
                      note: str | None = None) -> dict[str, Any]:
        """The ledger row of one call of this request (any kind, `judge` included)."""
        if completion is not None:
            tokens = completion.token_fields()
        elif error is not None and error.status is not None:
            # An HTTP error response: the provider refused the request and bills nothing.
            tokens = {"input_tokens": error.input_tokens if error.input_tokens is not None else 0,
                      "output_tokens": error.output_tokens if error.output_tokens is not None else 0}
        else:
            tokens = {"input_tokens": None, "output_tokens": None}  # timeout or broken connection: unknown
        return {
            "user_id": self.user_id, "generation_id": self.generation_id, "request_id": self.request_id,
            "content_type": self.request.content_type, "provider": provider.name, "model": provider.model,
            "attempt": self.call_count, "kind": kind, "outcome": outcome, **tokens,
            "latency_ms": latency_ms, "error": note or (str(error) if error else None),
        }

    def settle(self, reservation_id: str | None, fields: dict[str, Any]):
        """Turn the call's reservation (if any) into its ledger row, or add the row; returns the row."""
        event = ledger.usage_event(**fields)
        self.attempts.append(Attempt(event.input_tokens, event.output_tokens, event.cost_usd,
                                     event.cached_input_tokens or 0, event.reasoning_tokens or 0))
        from shared.database import session_scope

        with session_scope() as session:
            ledger.write(session, event, reservation_id)
        return event

    @staticmethod
    def relabel(event, outcome: str) -> None:
        """The judge changed a settled generation's verdict: its row's outcome follows (no money moves)."""
        from sqlalchemy import update

        from shared.database import session_scope
        from shared.models import UsageEvent

        with session_scope() as session:
            session.execute(update(UsageEvent).where(UsageEvent.id == event.id).values(outcome=outcome)
                            .execution_options(synchronize_session=False))

    # --- one HTTP call with bounded retries ---------------------------------------------------------

    def call(self, provider, call: Call, kind: str) -> tuple[Completion, str | None, float]:
        """One provider call with its budget reservation, retries and ledger rows for failed tries.

        Returns (completion, reservation id to settle, latency ms); raises
        `_ProviderFailed` when this provider cannot serve, a budget `Problem`, or
        `_DeadlineReached`. The quality judge calls providers through here too.
        """
        limit = self.settings.provider_timeout_seconds
        for retry in range(MAX_RETRIES + 1):
            if self.deadline.exhausted():
                raise _DeadlineReached()
            timeout = self.deadline.timeout(limit)
            self.call_count += 1
            try:
                reservation = budget.reserve(
                    self.settings, user_id=self.user_id, provider=provider.name, model=provider.model,
                    input_tokens=budget.input_bound(call.prompt.system, call.prompt.user, call.schema),
                    max_output_tokens=call.max_output_tokens,
                    request_id=self.request_id, generation_id=self.generation_id,
                    content_type=self.request.content_type, attempt=self.call_count)
            except budget.Unpriceable:
                self.call_count -= 1
                log.warning("provider skipped: no price for its model under a budget cap",
                            extra={"provider": provider.name})
                raise _ProviderFailed("unpriceable model under a budget cap", outage=False) from None
            started = time.perf_counter()
            try:
                with tracing.genai_call(provider.name, provider.model) as span:
                    completion = provider.complete(Call(call.content_type, call.request, call.prompt, call.schema,
                                                        call.max_output_tokens, call.generation, timeout))
                    span.usage(completion.input_tokens, completion.output_tokens, completion.model,
                               cache_read_tokens=completion.cached_input_tokens,
                               cache_write_tokens=completion.cache_write_tokens + completion.cache_write_1h_tokens,
                               reasoning_tokens=completion.reasoning_tokens)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000
                self.settle(reservation, self.ledger_fields(provider, kind, exc.outcome, error=exc,
                                                            latency_ms=latency))
                log.warning("provider call failed", extra={"provider": provider.name, "outcome": exc.outcome,
                                                           "status": exc.status, "retry": retry})
                # A call we cut short to fit the deadline says nothing about the provider's health.
                outage = exc.outage and not (exc.outcome == "timeout" and timeout < limit)
                if exc.misconfigured:
                    _alert_credentials(provider, exc)
                if not exc.retryable or retry == MAX_RETRIES:
                    if exc.retry_after:
                        self.retry_hint = min(self.retry_hint or exc.retry_after, exc.retry_after)
                    raise _ProviderFailed(str(exc), outage=outage) from None
                wait = exc.retry_after if exc.retry_after is not None else 0.25 * 2**retry + random.random() * 0.1
                if wait > MAX_RETRY_WAIT_SECONDS or wait > self.deadline.remaining() - 1.0:
                    self.retry_hint = min(self.retry_hint or wait, wait)
                    raise _ProviderFailed(f"Retry-After {wait:.0f}s is too long", outage=outage) from None
                self.sleep(wait)
                continue
            return completion, reservation, (time.perf_counter() - started) * 1000
        raise AssertionError("unreachable")  # pragma: no cover

    # --- parsing and validation -------------------------------------------------------------------

    def _parse(self, completion: Completion) -> tuple[dict[str, Any] | None, list[str], str]:
        raw = completion.text or ""
        if completion.truncated:
            return None, ["the reply was cut off at the output length limit; write a shorter document"], raw
        data = completion.data
        if data is None:
            try:
                data = _json_reply(raw)
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
        kind = "generation"
        for stage in ("first", "repair"):
            completion, reservation, latency = self.call(provider, call, kind)
            if completion.refusal:
                self.settle(reservation, self.ledger_fields(provider, kind, "refused", completion,
                                                            latency_ms=latency, note=completion.refusal[:500]))
                log.warning("provider refused the request", extra={"provider": provider.name})
                raise _ProviderFailed("the model refused the request", outage=False)
            content, problems, raw = self._parse(completion)
            if content is not None:
                try:
                    report = (self.scorer or _assess)(ctype.id, content, self.request)
                except Exception:
                    # The call happened and cost money: record it before the error becomes a 500.
                    self.settle(reservation, self.ledger_fields(provider, kind, "error", completion,
                                                                latency_ms=latency, note="quality assessment failed"))
                    raise
                # Settled before the judge runs: the reservation ends with its call.
                event = self.settle(reservation, self.ledger_fields(
                    provider, kind, "success" if report.passed else "low_quality", completion, latency_ms=latency))
                judged = self._judged(provider, ctype.id, content, report)
                if judged.passed != report.passed:
                    self.relabel(event, "success" if judged.passed else "low_quality")
                return Candidate(content, judged, provider.name, completion.model)
            outcome = "truncated" if completion.truncated else "invalid_output"
            self.settle(reservation, self.ledger_fields(provider, kind, outcome, completion,
                                                        latency_ms=latency, note="; ".join(problems)[:500]))
            log.warning("provider output failed validation", extra={"provider": provider.name, "stage": stage,
                                                                    "outcome": outcome})
            if stage == "first":
                call = Call(ctype.id, self.request, prompts.repair(prompt, raw, problems), call.schema,
                            call.max_output_tokens, generation)
                kind = "repair"
        raise _ProviderFailed("output invalid after one repair", outage=False)

    # --- the quality judge (QUALITY_JUDGE) ----------------------------------------------------------

    def _judged(self, generator, content_type: str, content: dict[str, Any], report):
        """`report` informed by a review from another paid provider, when one is configured; otherwise
        (no judge, judge down, over budget, unusable review) `report` unchanged: factual unverified."""
        from functions.generate.quality import QualityReport, judge

        if not isinstance(report, QualityReport):  # a caller's own scorer: nothing to inform
            return report
        if not (report.passed or set(report.failed_thresholds()) <= {"factual", "educational_value"}):
            return report  # fails on what no review can change (nonsense, off-topic, shape): save the call
        configured = [n for n in judge.PAID if get_provider(n, self.settings).configured()]
        chosen = judge.select(self.settings.quality_judge, configured, self.settings.providers, generator.name,
                              self.settings.quality_judge_model)
        if chosen is None:
            return report
        name, model = chosen
        state = circuit.states([name])[name]
        now = utcnow()
        if state.is_open(now) or (state.half_open(now) and not circuit.claim_probe(name, self.deadline.remaining())):
            return report
        # The generator's own provider judges only with another model (QUALITY_JUDGE_MODEL).
        reviewer = get_provider(name, self.settings if model is None
                                else self.settings.model_copy(update={f"{name}_model": model}))
        system, user = judge.prompt_parts(content_type, content, self.request)
        call = Call(judge.REVIEW_TYPE, self.request, prompts.Prompt(system, user), judge.REVIEW_SCHEMA,
                    judge.MAX_OUTPUT_TOKENS)
        # `Run.call` gives the judge what the request's deadline leaves, like any other call.
        try:
            completion, reservation, latency = self.call(reviewer, call, "judge")
        except _ProviderFailed as exc:
            if exc.outage:
                circuit.record_failure(name)
            else:
                circuit.record_success(name, state)
            log.warning("quality judge unavailable; factual stays unverified", extra={"provider": name})
            return report
        except _DeadlineReached:
            circuit.release_probe(name, state)
            log.info("quality judge skipped: generation deadline", extra={"provider": name})
            return report
        except errors.Problem:  # a budget cap: the document keeps its unverified score
            circuit.release_probe(name, state)
            log.info("quality judge skipped: budget", extra={"provider": name})
            return report
        circuit.record_success(name, state)
        try:
            verdict = judge.parse(completion.data if completion.data is not None else _json_reply(completion.text))
        except ValueError as exc:
            self.settle(reservation, self.ledger_fields(reviewer, "judge", "invalid_output", completion,
                                                        latency_ms=latency, note=f"review: {exc}"))
            log.warning("quality judge replied outside its schema", extra={"provider": name})
            return report
        self.settle(reservation, self.ledger_fields(reviewer, "judge", "success", completion, latency_ms=latency))
        return judge.apply(report, verdict, name)

    # --- the whole request -------------------------------------------------------------------------

    def _usable(self, provider, state: circuit.CircuitState, now) -> bool:
        """Closed, or half-open with this request holding the single probe (claimed in the database)."""
        if state.is_open(now):
            wait = (state.open_until - now).total_seconds()
            self.retry_hint = min(self.retry_hint or wait, wait)
            log.info("provider skipped: circuit open", extra={"provider": provider.name})
            return False
        if state.half_open(now) and not circuit.claim_probe(provider.name, self.deadline.remaining()):
            self.retry_hint = min(self.retry_hint or circuit.COOL_DOWN_SECONDS, circuit.COOL_DOWN_SECONDS)
            log.info("provider skipped: half-open, another request is probing it", extra={"provider": provider.name})
            return False
        return True

    def execute(self) -> Generated:
        names = self.settings.providers
        states = circuit.states(names)
        providers = []
        for name in names:
            provider = get_provider(name, self.settings)
            if not provider.configured():
                log.warning("provider in AI_PROVIDERS is not configured", extra={"provider": name})
                continue
            providers.append(provider)

        best: Candidate | None = None
        generations = 0
        weaknesses: list[str] = []
        budget_problem: errors.Problem | None = None
        out_of_time = False
        # Quality-aware failover: a document below the gate sends the next generation to the next
        # provider in AI_PROVIDERS order (round robin: one provider alone is simply asked again);
        # a provider that cannot serve (outage, invalid output twice, refusal, no price) leaves the
        # rotation. A provider is admitted once per request: closed, or half-open with our probe.
        rotation = list(providers)
        turn = 0
        admitted: set[str] = set()
        while rotation and generations < MAX_GENERATIONS:
            provider = rotation[turn % len(rotation)]
            state = states[provider.name]
            if provider.name not in admitted:
                if not self._usable(provider, state, utcnow()):
                    turn = rotation.index(provider)
                    rotation.remove(provider)
                    continue
                admitted.add(provider.name)
            try:
                candidate = self._generate_once(provider, generations + 1, weaknesses)
            except _ProviderFailed as exc:
                if exc.outage:
                    circuit.record_failure(provider.name)
                else:  # the provider answered: it is up, whatever was wrong with the answer
                    circuit.record_success(provider.name, state)
                    states[provider.name] = circuit.CircuitState()
                turn = rotation.index(provider)
                rotation.remove(provider)
                continue
            except _DeadlineReached:
                circuit.release_probe(provider.name, state)
                out_of_time = True
                break
            except errors.Problem as problem:  # a budget cap: no more calls for this request
                circuit.release_probe(provider.name, state)
                budget_problem = problem
                break
            circuit.record_success(provider.name, state)
            states[provider.name] = circuit.CircuitState()
            generations += 1
            if best is None or candidate.report.overall > best.report.overall:
                best = candidate
            if candidate.report.passed:
                return self._result(candidate)
            if not _confident_failure(candidate.report):
                # A near miss is as likely the gate's doubt as the document's fault: another full
                # provider call is not worth it. The item is returned as it is, failed, with its reasons.
                log.info("quality near miss: not regenerated", extra={"overall": candidate.report.overall})
                return self._result(best)
            weaknesses = list(candidate.report.weaknesses)
            turn += 1
        if best is not None:
            return self._result(best)
        if budget_problem is not None:
            raise budget_problem
        if out_of_time:
            log.warning("generation deadline reached", extra={"deadline_s": self.settings.generation_deadline_seconds})
            raise errors.ServiceUnavailable(
                "No AI provider could serve this request within the generation deadline; try again later.",
                retry_after=int(max(1, min(self.retry_hint or UNAVAILABLE_RETRY_AFTER, 300))))
        retry_after = int(max(1, min(self.retry_hint or UNAVAILABLE_RETRY_AFTER, 300)))
        raise errors.ServiceUnavailable("No AI provider could serve this request; try again later.",
                                        retry_after=retry_after)

    def _result(self, chosen: Candidate) -> Generated:
        return Generated(chosen.content, chosen.report, chosen.provider, chosen.model, prompts.PROMPT_VERSION,
                         self.attempts, self.generation_id)


class _DeadlineReached(Exception):
    """`GENERATION_DEADLINE_SECONDS` is (nearly) used up: start no further call."""


def _alert_credentials(provider, exc: ProviderError) -> None:
    """A 401/403 means our key is wrong or lacks access: a configuration problem for an operator."""
    from shared.alerts import raise_alert
    from shared.database import session_scope

    try:
        with session_scope() as session:
            raise_alert(session, f"{CREDENTIALS_ALERT_RULE}:{provider.name}", "warning",
                        f"{provider.name} rejected our credentials (HTTP {exc.status}); check its API key "
                        f"and access to {provider.model}",
                        {"provider": provider.name, "model": provider.model, "status": exc.status},
                        deliver_now=False)  # the outbox: delivered outside this request
    except Exception:  # noqa: BLE001 - alerting must not turn a failover into a 500
        log.exception("could not record the provider credentials alert", extra={"provider": provider.name})


def _confident_failure(report: Any) -> bool:
    """Whether a failed report is worth a regeneration (a caller's own scorer without the notion: always)."""
    confident = getattr(report, "confident_failure", None)
    return confident() if callable(confident) else True


def _json_reply(text: str | None) -> Any:
    """The JSON in a model's text reply (Markdown fences tolerated); ValueError if it is not JSON."""
    text = (text or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return json.loads(text)


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
