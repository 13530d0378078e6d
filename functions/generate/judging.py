"""The quality judge step (`QUALITY_JUDGE`): another paid provider reviews a generated document.

The review informs the gate's factual and educational_value scores
(`functions.generate.quality.judge`); without a judge, with the judge down,
over budget, out of time, or replying outside its schema, the report is
returned unchanged (factual unverified). The judge's call goes through the
request's `Attempts` (its deadline, budget, retries and ledger rows: kind
`judge`) and its provider's circuit, like any generation call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from functions.generate import prompts
from functions.generate.attempts import Answer, Attempts, DeadlineReached, ProviderFailed
from functions.generate.circuit import CircuitState
from functions.generate.errors import SpendRefused
from functions.generate.failover import Circuit, refusal
from functions.generate.parsing import json_reply
from functions.generate.providers import Call, Provider, get_provider
from functions.generate.spend import Spend
from shared.logs import get_logger
from shared.models import utcnow

if TYPE_CHECKING:
    from functions.generate.payloads import GenerateRequest
    from functions.generate.quality import QualityReport
    from shared.settings import Settings

log = get_logger("lafactoria.generate")
REVIEWABLE_FAILURES = {"factual", "educational_value"}  # what a review can change; other failures it cannot


class Report(Protocol):
    """What the pipeline reads of a quality report (`functions.generate.quality.QualityReport`)."""

    @property
    def overall(self) -> float: ...

    @property
    def passed(self) -> bool: ...

    @property
    def weaknesses(self) -> list[str]: ...

    def confident_failure(self) -> bool: ...

    def failed_thresholds(self) -> list[str]: ...


@dataclass(frozen=True)
class Reviewer:
    name: str
    provider: Provider
    state: CircuitState


@dataclass
class Judge:
    """Reviews one request's documents (not shared between requests)."""

    settings: Settings
    request: GenerateRequest
    attempts: Attempts
    spend: Spend
    breakers: Circuit
    providers: Callable[[str, Settings], Provider] = get_provider
    now: Callable[[], datetime] = utcnow

    def review(self, generator: Provider, content_type: str, content: dict[str, Any], report: Report) -> Report:
        """`report` informed by a review from another paid provider, when one is configured and available."""
        reviewer = self._reviewer(generator, report)
        if reviewer is None:
            return report
        from functions.generate.quality import judge

        system, user = judge.prompt_parts(content_type, content, self.request)
        call = Call(judge.REVIEW_TYPE, self.request, prompts.Prompt(system, user), judge.REVIEW_SCHEMA,
                    judge.MAX_OUTPUT_TOKENS)
        answer = self._call(reviewer, call)
        return report if answer is None else self._verdict(reviewer, answer, report)

    def _reviewer(self, generator: Provider, report: Report) -> Reviewer | None:
        from functions.generate.quality import judge

        configured = [n for n in judge.PAID if self.providers(n, self.settings).configured()]
        chosen = judge.select(self.settings.quality_judge, configured, self.settings.providers, generator.name,
                              self.settings.quality_judge_model)
        if chosen is None:
            return None
        if not (report.passed or set(report.failed_thresholds()) <= REVIEWABLE_FAILURES):
            return None  # fails on what no review can change (nonsense, off-topic, shape): save the call
        name, model = chosen
        state = self.breakers.states([name])[name]
        if refusal(self.breakers, name, state, self.now(), self.attempts.deadline.remaining()) is not None:
            return None
        # The generator's own provider judges only with another model (QUALITY_JUDGE_MODEL).
        settings = self.settings if model is None else self.settings.model_copy(update={f"{name}_model": model})
        return Reviewer(name, self.providers(name, settings), state)

    def _call(self, reviewer: Reviewer, call: Call) -> Answer | None:
        """The review call, or None when the judge could not answer (the report then stays unverified)."""
        name = reviewer.name
        try:
            answer = self.attempts.call(reviewer.provider, call, "judge")
        except ProviderFailed as exc:
            if exc.outage:
                self.breakers.record_failure(name)
            else:
                self.breakers.record_success(name, reviewer.state)
            log.warning("quality judge unavailable; factual stays unverified", extra={"provider": name})
            return None
        except DeadlineReached:
            self.breakers.release_probe(name, reviewer.state)
            log.info("quality judge skipped: generation deadline", extra={"provider": name})
            return None
        except SpendRefused:  # a budget cap (or the user erased): the document keeps its unverified score
            self.breakers.release_probe(name, reviewer.state)
            log.info("quality judge skipped: budget", extra={"provider": name})
            return None
        self.breakers.record_success(name, reviewer.state)
        return answer

    def _verdict(self, reviewer: Reviewer, answer: Answer, report: Report) -> Report:
        from functions.generate.quality import judge

        completion = answer.completion
        try:
            verdict = judge.parse(completion.data if completion.data is not None else json_reply(completion.text))
        except ValueError as exc:
            self.spend.settle(answer.reservation, self.spend.fields(
                reviewer.provider, "judge", "invalid_output", completion, latency_ms=answer.latency_ms,
                note=f"review: {exc}"))
            log.warning("quality judge replied outside its schema", extra={"provider": reviewer.name})
            return report
        self.spend.settle(answer.reservation, self.spend.fields(reviewer.provider, "judge", "success", completion,
                                                                latency_ms=answer.latency_ms))
        # A review informs the real gate's scores: with a judge configured, the assessor's reports are
        # QualityReports (the default gate's always are; a fake assessor's must be one too).
        quality_report: QualityReport = report  # type: ignore[assignment]
        return judge.apply(quality_report, verdict, reviewer.name)
