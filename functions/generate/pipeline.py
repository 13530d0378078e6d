"""One generation request end to end: the orchestrator of the generate function's parts.

The loop is flat and bounded: providers are tried once each in `AI_PROVIDERS`
order (never recursively; `failover.Rotation`, with each provider's circuit);
each HTTP call gets at most `attempts.MAX_RETRIES` retries on 429/5xx honouring
Retry-After (`attempts.Attempts`, the policy of `shared.retry`); schema-invalid
or truncated output (`parsing`) gets one repair call, then the next provider; a
refusal goes to the next provider at once; a document that fails the quality
gate beyond doubt (a confirmed or far below-threshold failure:
`QualityReport.confident_failure`; a near miss is returned as it is, with its
reasons, rather than paid for again) is regenerated with the gate's weaknesses
in the prompt, at most `MAX_GENERATIONS` in total, and each regeneration goes to
the next provider in `AI_PROVIDERS` (quality-aware failover). A passing or
reviewable document is reviewed by the quality judge (`judging.Judge`) when one
is configured. `GENERATION_DEADLINE_SECONDS` bounds the whole request, judge
included (`Run.deadline`).

Every call writes one ledger row under the request's server-side
`generation_id` and its user as soon as the call returns (`spend.Spend`: its
budget reservation lives no longer than the call, and a paid call is in the
books whatever happens next); `store.persist` links them to the item.

The parts take their collaborators as arguments, so each is unit-tested with
fakes and no database: the assessor (`Assessor`; default the real gate,
`quality_gate`), the books (`spend.Books`), the circuit (`failover.Circuit`),
the clock and `sleep`. Errors are the domain's (`functions.generate.errors`);
the handler maps them to problem+json.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from functions.generate import content_types, prompts
from functions.generate.attempts import Answer, Attempts, DeadlineReached, ProviderFailed
from functions.generate.deadline import Deadline
from functions.generate.errors import NoProviderAvailable, SpendRefused
from functions.generate.failover import DATABASE_CIRCUIT, Circuit, Rotation
from functions.generate.judging import Judge, Report
from functions.generate.parsing import parse
from functions.generate.providers import Call, Provider, get_provider
from functions.generate.spend import Attempt, Books, LedgerBooks, Spend
from shared.logs import get_logger
from shared.models import new_id

if TYPE_CHECKING:
    from functions.generate.payloads import GenerateRequest
    from shared.settings import Settings

log = get_logger("lafactoria.generate")

MAX_GENERATIONS = 3  # quality gate: the first generation plus at most 2 more
UNAVAILABLE_RETRY_AFTER = 30
MAX_UNAVAILABLE_RETRY_AFTER = 300


class Assessor(Protocol):
    """The quality gate: scores a valid document of `content_type` written for `request`."""

    def __call__(self, content_type: str, content: dict[str, Any], request: GenerateRequest) -> Report: ...


def quality_gate(content_type: str, content: dict[str, Any], request: GenerateRequest) -> Report:
    """The real gate (`functions.generate.quality.assess`): the pipeline's default assessor."""
    from functions.generate import quality

    return quality.assess(content_type, content, topic=request.topic, audience=request.audience,
                          learning_objectives=list(request.learning_objectives or []), language=request.language)


@dataclass
class Candidate:
    content: dict[str, Any]
    report: Report
    provider: str
    model: str


@dataclass
class Generated:
    """The result handed to storage: the chosen document and the whole request's usage."""

    content: dict[str, Any]
    report: Report
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


N = TypeVar("N", int, Decimal)


def _sum_or_none(values: Iterable[N | None]) -> N | None:
    total: Any = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


@dataclass
class Run:
    """One request's generation (not shared between requests): wires the parts and runs the loop."""

    request: GenerateRequest
    user_id: str
    request_id: str
    settings: Settings
    assess: Assessor = quality_gate
    sleep: Callable[[float], None] = time.sleep
    books: Books | None = None  # default: the budget and ledger in the database
    breakers: Circuit = DATABASE_CIRCUIT
    providers: Callable[[str, Settings], Provider] = get_provider
    generation_id: str = field(default_factory=new_id)  # server-side owner of this request's ledger rows
    deadline: Deadline | None = None

    def __post_init__(self) -> None:
        deadline = self.deadline or Deadline(self.settings.generation_deadline_seconds)
        self.deadline = deadline
        self.spend = Spend(self.books or LedgerBooks(self.settings), self.user_id, self.request_id,
                           self.generation_id, self.request.content_type)
        self.attempts = Attempts(self.spend, deadline, self.settings.provider_timeout_seconds, self.sleep)
        self.judge = Judge(self.settings, self.request, self.attempts, self.spend, self.breakers, self.providers)

    def execute(self) -> Generated:
        """The best document the providers and the gate allow, or a domain error saying why none."""
        rotation = Rotation(self._configured(), self.breakers, self.attempts.deadline.remaining, self.attempts.hint)
        best: Candidate | None = None
        weaknesses: list[str] = []
        stopped: DeadlineReached | SpendRefused | None = None
        for generation in range(1, MAX_GENERATIONS + 1):
            try:
                candidate = self._candidate(rotation, generation, weaknesses)
            except (DeadlineReached, SpendRefused) as stop:  # no more calls for this request
                stopped = stop
                break
            if candidate is None:
                break
            report = candidate.report
            if best is None or report.overall > best.report.overall:
                best = candidate
            if report.passed:
                return self._result(candidate)
            if not report.confident_failure():
                # A near miss is as likely the gate's doubt as the document's fault: another full
                # provider call is not worth it. The item is returned as it is, failed, with its reasons.
                log.info("quality near miss: not regenerated", extra={"overall": report.overall})
                return self._result(best)
            weaknesses = list(report.weaknesses)
            rotation.rejected()
        return self._result(best) if best is not None else self._unserved(stopped)

    def _candidate(self, rotation: Rotation, generation: int, weaknesses: list[str]) -> Candidate | None:
        """Generation number `generation` from the first provider in the rotation that can serve it;
        None when none can. A deadline or a spend refusal propagates (the provider's probe given back)."""
        while (provider := rotation.next()) is not None:
            try:
                candidate = self._generate_once(provider, generation, weaknesses)
            except ProviderFailed as exc:
                rotation.failed(provider, outage=exc.outage)
                continue
            except (DeadlineReached, SpendRefused):
                rotation.stopped(provider)
                raise
            rotation.served(provider)
            return candidate
        return None

    def _configured(self) -> list[Provider]:
        providers = []
        for name in self.settings.providers:
            provider = self.providers(name, self.settings)
            if provider.configured():
                providers.append(provider)
            else:
                log.warning("provider in AI_PROVIDERS is not configured", extra={"provider": name})
        return providers

    def _generate_once(self, provider: Provider, generation: int, weaknesses: list[str]) -> Candidate:
        """One generation on `provider`, with one repair of an unusable reply; judged when it parses."""
        ctype = content_types.get(self.request.content_type)
        prompt = prompts.build(self.request, weaknesses=weaknesses)
        call = Call(ctype.id, self.request, prompt, content_types.json_schema(ctype.id), ctype.max_output_tokens,
                    generation)
        for kind in ("generation", "repair"):
            answer = self.attempts.call(provider, call, kind)
            completion = answer.completion
            if completion.refusal:
                self.spend.settle(answer.reservation, self.spend.fields(
                    provider, kind, "refused", completion, latency_ms=answer.latency_ms, note=completion.refusal[:500]))
                log.warning("provider refused the request", extra={"provider": provider.name})
                raise ProviderFailed("the model refused the request", outage=False)
            parsed = parse(ctype.id, completion)
            if parsed.content is not None:
                return self._assessed(provider, kind, ctype.id, parsed.content, answer)
            outcome = "truncated" if completion.truncated else "invalid_output"
            self.spend.settle(answer.reservation, self.spend.fields(
                provider, kind, outcome, completion, latency_ms=answer.latency_ms,
                note="; ".join(parsed.problems)[:500]))
            log.warning("provider output failed validation", extra={"provider": provider.name,
                                                                    "stage": "first" if kind == "generation" else kind,
                                                                    "outcome": outcome})
            call = Call(ctype.id, self.request, prompts.repair(prompt, parsed.raw, parsed.problems), call.schema,
                        call.max_output_tokens, generation)
        raise ProviderFailed("output invalid after one repair", outage=False)

    def _assessed(self, provider: Provider, kind: str, content_type: str, content: dict[str, Any],
                  answer: Answer) -> Candidate:
        """The gate's verdict on a valid document, settled before the judge runs (the reservation ends with
        its call), then informed by the judge; the ledger row's outcome follows a changed verdict."""
        completion = answer.completion
        try:
            report = self.assess(content_type, content, self.request)
        except Exception:
            # The call happened and cost money: record it before the error becomes a 500.
            self.spend.settle(answer.reservation, self.spend.fields(
                provider, kind, "error", completion, latency_ms=answer.latency_ms,
                note="quality assessment failed"))
            raise
        event = self.spend.settle(answer.reservation, self.spend.fields(
            provider, kind, "success" if report.passed else "low_quality", completion,
            latency_ms=answer.latency_ms))
        judged = self.judge.review(provider, content_type, content, report)
        if judged.passed != report.passed:
            self.spend.relabel(event, "success" if judged.passed else "low_quality")
        return Candidate(content, judged, provider.name, completion.model)

    def _unserved(self, stopped: DeadlineReached | SpendRefused | None) -> Generated:
        """Nothing to return: why, as the domain's error (the handler makes it problem+json)."""
        if isinstance(stopped, SpendRefused):
            raise stopped
        retry_after = int(max(1, min(self.attempts.hint.seconds or UNAVAILABLE_RETRY_AFTER,
                                     MAX_UNAVAILABLE_RETRY_AFTER)))
        if stopped is not None:
            log.warning("generation deadline reached", extra={"deadline_s": self.settings.generation_deadline_seconds})
        raise NoProviderAvailable(retry_after, out_of_time=stopped is not None)

    def _result(self, chosen: Candidate) -> Generated:
        return Generated(chosen.content, chosen.report, chosen.provider, chosen.model, prompts.PROMPT_VERSION,
                         self.spend.attempts, self.generation_id)


def generate(request: GenerateRequest, *, user_id: str, request_id: str, settings: Settings | None = None,
             assess: Assessor = quality_gate, sleep: Callable[[float], None] = time.sleep) -> Generated:
    """Generate a document for `request` (a validated GenerateRequest); raises `SpendRefused` or
    `NoProviderAvailable` (`functions.generate.errors`) when none can be returned."""
    from shared.settings import get_settings

    return Run(request, user_id, request_id, settings or get_settings(), assess=assess, sleep=sleep).execute()
