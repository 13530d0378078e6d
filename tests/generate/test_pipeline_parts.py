"""The pipeline's parts, each with fakes and no database: attempt policy, failover order and circuit,
reservation and settlement, parsing, the judge step, the orchestrator and the edge's problem mapping.

Every test here runs with the database forbidden (`no_database`): a part that reached for it would fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from functions.generate.attempts import MAX_RETRIES, Attempts, DeadlineReached, ProviderFailed, RetryHint
from functions.generate.circuit import FAILURE_THRESHOLD, CircuitState
from functions.generate.deadline import Deadline
from functions.generate.errors import AccountErased, BudgetExhausted, NoProviderAvailable, to_problem
from functions.generate.failover import Rotation
from functions.generate.providers import Call, Completion, ProviderError
from functions.generate.spend import Spend
from tests.generate.conftest import StubReport
from tests.generate.documents import document

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """Any session the code under test opens fails the test."""
    from shared import database

    def forbidden(*args, **kwargs):
        raise AssertionError("a pipeline part reached for the database")

    monkeypatch.setattr(database, "session_scope", forbidden)


# --- fakes -------------------------------------------------------------------------------------------------

@dataclass
class FakeProvider:
    """Replies in order (a Completion, or a ProviderError to raise); then a valid flashcards document."""

    name: str
    replies: list[Any] = field(default_factory=list)
    model: str = "fake-model"
    is_configured: bool = True
    calls: list[Call] = field(default_factory=list)

    def configured(self) -> bool:
        return self.is_configured

    def complete(self, call: Call) -> Completion:
        self.calls.append(call)
        reply = self.replies.pop(0) if self.replies else ok()
        if isinstance(reply, ProviderError):
            raise reply
        return reply


def ok(doc: dict | None = None, **kw: Any) -> Completion:
    return Completion(text=None, data=doc or document("flashcards"), input_tokens=100, output_tokens=50,
                      model="fake-model", **kw)


@dataclass
class FakeBooks:
    """Reservations and ledger rows in lists; after `allow` reservations, `refuse` is raised by the next ones."""

    refuse: list[Exception] = field(default_factory=list)
    allow: int = 0
    reserved: list[dict] = field(default_factory=list)
    written: list[tuple[Any, str | None]] = field(default_factory=list)
    relabelled: list[tuple[str, str]] = field(default_factory=list)

    def reserve(self, **fields: Any) -> str | None:
        if self.refuse and len(self.reserved) >= self.allow:
            raise self.refuse.pop(0)
        self.reserved.append(fields)
        return f"r{len(self.reserved)}"

    def write(self, event, reservation_id: str | None) -> None:
        event.id = reservation_id or f"e{len(self.written)}"
        self.written.append((event, reservation_id))

    def relabel(self, event_id: str, outcome: str) -> None:
        self.relabelled.append((event_id, outcome))

    def rows(self) -> list[tuple[str, str, str]]:
        return [(e.provider, e.kind, e.outcome) for e, _ in self.written]


@dataclass
class FakeCircuit:
    """Circuit states in a dict; every verdict recorded in `log`."""

    known: dict[str, CircuitState] = field(default_factory=dict)
    probe_free: bool = True
    log: list[tuple[str, str]] = field(default_factory=list)

    def states(self, names: list[str]) -> dict[str, CircuitState]:
        return {n: self.known.get(n, CircuitState()) for n in names}

    def record_failure(self, name: str) -> None:
        self.log.append(("failure", name))

    def record_success(self, name: str, previous: CircuitState) -> None:
        self.log.append(("success", name))

    def claim_probe(self, name: str, lease_seconds: float) -> bool:
        self.log.append(("claim", name))
        return self.probe_free

    def release_probe(self, name: str, previous: CircuitState) -> None:
        self.log.append(("release", name))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def request(content_type: str = "flashcards"):
    from functions.generate.payloads import GenerateRequest

    return GenerateRequest(content_type=content_type, topic="Photosynthesis", audience="general")


def spend(books: FakeBooks | None = None) -> Spend:
    return Spend(books or FakeBooks(), "u1", "req1", "gen1", "flashcards")


def attempts(books: FakeBooks | None = None, *, seconds: float = 120, clock: Clock | None = None,
             alerts: list | None = None) -> tuple[Attempts, list[float]]:
    slept: list[float] = []
    clock = clock or Clock()

    def sleep(s: float) -> None:
        slept.append(s)
        clock.t += s

    alert = (lambda p, e: alerts.append((p.name, e.status))) if alerts is not None else (lambda p, e: None)
    return Attempts(spend(books), Deadline(seconds, clock=clock), 60, sleep, alert), slept


def a_call() -> Call:
    from functions.generate import prompts

    return Call("flashcards", request(), prompts.build(request()), {"type": "object"}, 1000)


def rate_limited(retry_after: float | None = None) -> ProviderError:
    return ProviderError("rate limited", outcome="rate_limited", retryable=True, retry_after=retry_after, status=429)


def down() -> ProviderError:
    return ProviderError("HTTP 503", outcome="error", retryable=True, status=503)


# --- attempt policy ----------------------------------------------------------------------------------------

def test_a_rate_limited_call_waits_its_retry_after_then_succeeds():
    books = FakeBooks()
    part, slept = attempts(books)
    provider = FakeProvider("openai", [rate_limited(2)])
    answer = part.call(provider, a_call(), "generation")
    assert answer.completion.output_tokens == 50 and answer.reservation == "r2"
    assert slept == [2.0]
    assert books.rows() == [("openai", "generation", "rate_limited")]  # the success is settled by its caller
    assert [r["attempt"] for r in books.reserved] == [1, 2]


def test_retries_are_bounded_with_exponential_backoff_then_the_provider_fails():
    books = FakeBooks()
    part, slept = attempts(books)
    provider = FakeProvider("openai", [down() for _ in range(MAX_RETRIES + 1)])
    with pytest.raises(ProviderFailed) as failed:
        part.call(provider, a_call(), "generation")
    assert failed.value.outage
    assert len(provider.calls) == MAX_RETRIES + 1 and len(books.written) == MAX_RETRIES + 1
    assert len(slept) == MAX_RETRIES and 0.25 <= slept[0] <= 0.35 and 0.5 <= slept[1] <= 0.6


def test_a_retry_after_beyond_the_longest_wait_goes_to_the_next_provider_at_once():
    part, slept = attempts()
    with pytest.raises(ProviderFailed, match="too long"):
        part.call(FakeProvider("openai", [rate_limited(30)]), a_call(), "generation")
    assert slept == [] and part.hint.seconds == 30


def test_a_retry_that_would_outlast_the_deadline_is_not_waited():
    part, slept = attempts(seconds=5)
    with pytest.raises(ProviderFailed):
        part.call(FakeProvider("openai", [rate_limited(8)]), a_call(), "generation")
    assert slept == [] and part.hint.seconds == 8


def test_a_request_error_is_final_and_not_an_outage():
    part, slept = attempts()
    provider = FakeProvider("openai", [ProviderError("HTTP 400", status=400, outage=False)])
    with pytest.raises(ProviderFailed) as failed:
        part.call(provider, a_call(), "generation")
    assert not failed.value.outage and len(provider.calls) == 1 and slept == []


def test_rejected_credentials_raise_the_operator_alert():
    alerts: list = []
    part, _ = attempts(alerts=alerts)
    with pytest.raises(ProviderFailed):
        part.call(FakeProvider("openai", [ProviderError("HTTP 401", status=401, outage=False)]), a_call(), "generation")
    assert alerts == [("openai", 401)]


def test_no_call_starts_once_the_deadline_is_used_up():
    clock = Clock()
    part, _ = attempts(seconds=10, clock=clock)
    clock.t += 9.5
    provider = FakeProvider("openai")
    with pytest.raises(DeadlineReached):
        part.call(provider, a_call(), "generation")
    assert provider.calls == []


def test_a_timeout_cut_short_by_the_deadline_is_not_the_providers_outage():
    part, _ = attempts(seconds=20)  # the call gets 20 s, not the 60 s limit
    timeout = ProviderError("timed out", outcome="timeout", retryable=False)
    with pytest.raises(ProviderFailed) as failed:
        part.call(FakeProvider("openai", [timeout]), a_call(), "generation")
    assert not failed.value.outage
    part, _ = attempts()  # the full limit: a timeout is the provider's
    with pytest.raises(ProviderFailed) as failed:
        part.call(FakeProvider("openai", [timeout]), a_call(), "generation")
    assert failed.value.outage


def test_each_call_gets_what_the_deadline_leaves():
    provider = FakeProvider("openai")
    part, _ = attempts(seconds=25)
    part.call(provider, a_call(), "generation")
    assert provider.calls[0].timeout == pytest.approx(25)


def test_a_budget_refusal_passes_through_unchanged_and_calls_nobody():
    refusal = BudgetExhausted("user", "budget_spent", 3600)
    part, _ = attempts(FakeBooks(refuse=[refusal]))
    provider = FakeProvider("openai")
    with pytest.raises(BudgetExhausted) as raised:
        part.call(provider, a_call(), "generation")
    assert raised.value is refusal and provider.calls == []


def test_an_unpriceable_model_under_a_cap_skips_the_provider_without_counting_an_attempt():
    from functions.generate.budget import Unpriceable

    part, _ = attempts(FakeBooks(refuse=[Unpriceable("no price")]))
    with pytest.raises(ProviderFailed) as failed:
        part.call(FakeProvider("openai"), a_call(), "generation")
    assert not failed.value.outage and part.spend.call_count == 0


# --- reservation and settlement ----------------------------------------------------------------------------

def test_a_reservation_bounds_every_byte_sent_and_carries_the_requests_context():
    from functions.generate import budget

    books = FakeBooks()
    s = spend(books)
    call = a_call()
    assert s.reserve(FakeProvider("anthropic", model="claude-x"), call) == "r1"
    [held] = books.reserved
    assert held["input_tokens"] == budget.input_bound(call.prompt.system, call.prompt.user, call.schema)
    assert held | {"input_tokens": 0} == {
        "user_id": "u1", "provider": "anthropic", "model": "claude-x", "input_tokens": 0,
        "max_output_tokens": 1000, "request_id": "req1", "generation_id": "gen1", "content_type": "flashcards",
        "attempt": 1}


def test_settling_writes_the_row_into_its_reservation_and_sums_the_usage():
    books = FakeBooks()
    s = spend(books)
    provider = FakeProvider("openai", model="gpt-4o-mini")
    s.call_count = 1
    event = s.settle("r1", s.fields(provider, "generation", "success", ok(), latency_ms=12.0))
    assert books.written == [(event, "r1")] and event.id == "r1"
    assert (event.input_tokens, event.output_tokens, event.cost_known) == (100, 50, True)
    assert [(a.input_tokens, a.output_tokens) for a in s.attempts] == [(100, 50)]
    s.relabel(event, "low_quality")
    assert books.relabelled == [("r1", "low_quality")]


def test_a_refused_http_call_bills_nothing_and_a_broken_one_is_unknown():
    s = spend()
    provider = FakeProvider("openai")
    refused = s.fields(provider, "generation", "rate_limited", error=rate_limited())
    broken = s.fields(provider, "generation", "timeout", error=ProviderError("timed out", outcome="timeout"))
    assert (refused["input_tokens"], refused["output_tokens"]) == (0, 0)
    assert (broken["input_tokens"], broken["output_tokens"]) == (None, None)
    assert broken["error"] == "timed out"


# --- failover order and circuit ----------------------------------------------------------------------------

def rotation(names: list[str], breakers: FakeCircuit) -> Rotation:
    return Rotation([FakeProvider(n) for n in names], breakers, lambda: 60.0, RetryHint(), now=lambda: NOW)


def test_providers_are_tried_in_order_and_an_open_circuit_is_skipped_with_its_wait_as_hint():
    breakers = FakeCircuit({"openai": CircuitState(FAILURE_THRESHOLD, NOW + timedelta(seconds=20))})
    order = rotation(["openai", "anthropic", "vertex"], breakers)
    assert order.next().name == "anthropic"
    assert order.hint.seconds == 20


def test_a_half_open_provider_is_used_only_with_the_probe():
    half_open = {"openai": CircuitState(FAILURE_THRESHOLD, NOW - timedelta(seconds=1))}
    order = rotation(["openai", "anthropic"], FakeCircuit(half_open))
    assert order.next().name == "openai"
    busy = FakeCircuit(half_open, probe_free=False)
    order = rotation(["openai", "anthropic"], busy)
    assert order.next().name == "anthropic" and busy.log == [("claim", "openai")]


def test_an_outage_counts_against_the_circuit_an_answer_closes_it_and_both_leave_the_rotation():
    breakers = FakeCircuit()
    order = rotation(["openai", "anthropic", "vertex"], breakers)
    first = order.next()
    order.failed(first, outage=True)
    second = order.next()
    order.failed(second, outage=False)
    assert order.next().name == "vertex"
    assert breakers.log == [("failure", "openai"), ("success", "anthropic")]
    order.failed(order.next(), outage=True)
    assert order.next() is None


def test_a_rejected_document_sends_the_next_generation_to_the_next_provider_round_robin():
    order = rotation(["openai", "anthropic"], FakeCircuit())
    seen = []
    for _ in range(3):
        provider = order.next()
        seen.append(provider.name)
        order.served(provider)
        order.rejected()
    assert seen == ["openai", "anthropic", "openai"]


# --- parsing -----------------------------------------------------------------------------------------------

def test_parsing_reads_fenced_json_and_says_what_is_wrong_otherwise():
    from functions.generate.parsing import parse

    fenced = "```json\n" + json.dumps(document("flashcards")) + "\n```"
    assert parse("flashcards", Completion(fenced, 1, 1, "m")).content is not None
    assert parse("flashcards", Completion("nope", 1, 1, "m")).problems == ["the reply was not valid JSON"]
    assert parse("flashcards", Completion("[1]", 1, 1, "m")).problems == ["the reply must be one JSON object"]
    assert "cut off" in parse("flashcards", Completion("{", 1, 1, "m", truncated=True)).problems[0]
    invalid = parse("flashcards", Completion("{}", 1, 1, "m"))
    assert invalid.content is None and invalid.problems and invalid.raw == "{}"


# --- the judge step ----------------------------------------------------------------------------------------

def review(factual: float = 0.95, false_claims: int = 0) -> Completion:
    claims = [{"claim": f"claim {i}", "verdict": "false", "correction": "right"} for i in range(false_claims)]
    verdict = {"claims": claims, "mismatched_pairs": [], "order_problems": [], "factual_accuracy": factual,
               "teaching_value": 0.9, "problems": []}
    return Completion(None, 300, 40, "judge-model", data=verdict)


def judge_for(reviewer: FakeProvider, breakers: FakeCircuit, books: FakeBooks, setting: str = "auto"):
    from functions.generate.judging import Judge
    from shared.settings import get_settings

    settings = get_settings().model_copy(update={"quality_judge": setting})
    part, _ = attempts(books)
    registry = {"openai": FakeProvider("openai"), "anthropic": reviewer,
                "vertex": FakeProvider("vertex", is_configured=False)}
    return Judge(settings, request(), part, part.spend, breakers, lambda name, _s: registry[name], now=lambda: NOW)


def real_report():
    """The real gate's report on a document that passes on everything but what a review informs."""
    from functions.generate import quality

    return quality.assess("flashcards", document("flashcards"), topic="Photosynthesis", audience="general",
                          thresholds={"overall": 0.0})


def test_the_judge_reviews_with_another_provider_and_settles_its_row(env):
    env(AI_PROVIDERS="openai,anthropic")
    books, breakers = FakeBooks(), FakeCircuit()
    reviewer = FakeProvider("anthropic", [review()])
    report = real_report()
    judged = judge_for(reviewer, breakers, books).review(FakeProvider("openai"), "flashcards",
                                                        document("flashcards"), report)
    assert judged.factual_verified and judged.judge == "anthropic"
    assert books.rows() == [("anthropic", "judge", "success")] and breakers.log == [("success", "anthropic")]


def test_without_a_judge_or_with_it_down_the_report_stays_unverified(env):
    env(AI_PROVIDERS="openai,anthropic")
    report = real_report()
    reviewer = FakeProvider("anthropic")
    off = judge_for(reviewer, FakeCircuit(), FakeBooks(), setting="off")
    assert off.review(FakeProvider("openai"), "flashcards", document("flashcards"), report) is report
    assert reviewer.calls == []
    breakers = FakeCircuit()
    outage = ProviderError("HTTP 500", outcome="error", retryable=False, status=500)
    down_judge = judge_for(FakeProvider("anthropic", [outage]), breakers, FakeBooks())
    assert down_judge.review(FakeProvider("openai"), "flashcards", document("flashcards"), report) is report
    assert breakers.log == [("failure", "anthropic")]


def test_a_judge_over_budget_gives_back_its_probe_and_a_bad_review_is_booked_as_invalid(env):
    env(AI_PROVIDERS="openai,anthropic")
    report = real_report()
    breakers = FakeCircuit()
    capped = judge_for(FakeProvider("anthropic"), breakers, FakeBooks(refuse=[BudgetExhausted("day", "budget_spent", 9)]))
    assert capped.review(FakeProvider("openai"), "flashcards", document("flashcards"), report) is report
    assert breakers.log == [("release", "anthropic")]
    books = FakeBooks()
    garbled = judge_for(FakeProvider("anthropic", [Completion("not a review", 10, 10, "m")]), FakeCircuit(), books)
    assert garbled.review(FakeProvider("openai"), "flashcards", document("flashcards"), report) is report
    assert books.rows() == [("anthropic", "judge", "invalid_output")]


# --- the orchestrator --------------------------------------------------------------------------------------

def run(providers: list[FakeProvider], reports: list[StubReport] | None = None, books: FakeBooks | None = None,
        breakers: FakeCircuit | None = None):
    from functions.generate.pipeline import Run
    from shared.settings import get_settings

    registry = {p.name: p for p in providers}
    settings = get_settings().model_copy(update={"quality_judge": "off"})
    scripted = list(reports or [])
    seen: list[dict] = []

    def assess(content_type, content, req):
        seen.append(content)
        return scripted.pop(0) if scripted else StubReport()

    clock = Clock()
    return Run(request(), "u1", "req1", settings, assess=assess, sleep=lambda s: setattr(clock, "t", clock.t + s),
               books=books or FakeBooks(), breakers=breakers or FakeCircuit(),
               providers=lambda name, _s: registry.get(name, FakeProvider(name, is_configured=False)),
               deadline=Deadline(120, clock=clock)), seen


def test_a_provider_down_fails_over_to_the_next_and_every_call_is_booked(env):
    env(AI_PROVIDERS="openai,anthropic")
    books, breakers = FakeBooks(), FakeCircuit()
    r, _ = run([FakeProvider("openai", [down(), down(), down()]), FakeProvider("anthropic")], books=books,
               breakers=breakers)
    generated = r.execute()
    assert generated.provider == "anthropic" and len(generated.attempts) == 4
    assert books.rows()[-1] == ("anthropic", "generation", "success")
    assert breakers.log == [("failure", "openai"), ("success", "anthropic")]


def test_invalid_output_gets_one_repair_with_the_problems_in_the_prompt(env):
    env(AI_PROVIDERS="openai")
    books = FakeBooks()
    provider = FakeProvider("openai", [Completion("not json", 10, 10, "m")])
    r, _ = run([provider], books=books)
    assert r.execute().provider == "openai"
    assert books.rows() == [("openai", "generation", "invalid_output"), ("openai", "repair", "success")]
    assert "not valid JSON" in provider.calls[1].prompt.user


def test_a_confident_quality_failure_regenerates_on_the_next_provider_with_its_weaknesses(env):
    env(AI_PROVIDERS="openai,anthropic")
    anthropic = FakeProvider("anthropic")
    r, seen = run([FakeProvider("openai"), anthropic],
                  [StubReport(overall=0.5, passed=False, weaknesses=["coverage: never mentions chlorophyll"])])
    generated = r.execute()
    assert generated.provider == "anthropic" and generated.report.passed and len(seen) == 2
    assert "never mentions chlorophyll" in anthropic.calls[0].prompt.user and anthropic.calls[0].generation == 2


def test_a_near_miss_is_returned_as_it_is_and_three_failures_return_the_best(env):
    env(AI_PROVIDERS="openai,anthropic")
    r, seen = run([FakeProvider("openai"), FakeProvider("anthropic")],
                  [StubReport(overall=0.68, passed=False, confident=False)])
    assert r.execute().report.overall == 0.68 and len(seen) == 1
    r, seen = run([FakeProvider("openai"), FakeProvider("anthropic")],
                  [StubReport(overall=0.5, passed=False), StubReport(overall=0.6, passed=False),
                   StubReport(overall=0.55, passed=False)])
    best = r.execute()
    assert len(seen) == 3 and best.report.overall == 0.6 and best.provider == "anthropic"


def test_nothing_served_is_a_domain_error_with_the_shortest_hint(env):
    env(AI_PROVIDERS="openai,anthropic")
    r, _ = run([FakeProvider("openai", [rate_limited(20)]), FakeProvider("anthropic", [rate_limited(15)])])
    with pytest.raises(NoProviderAvailable) as unserved:
        r.execute()
    assert unserved.value.retry_after == 15 and not unserved.value.out_of_time


def test_a_budget_refusal_stops_the_request_but_keeps_a_document_already_paid_for(env):
    env(AI_PROVIDERS="openai")
    breakers = FakeCircuit()
    r, _ = run([FakeProvider("openai")], books=FakeBooks(refuse=[BudgetExhausted("user", "budget_spent", 60)]),
               breakers=breakers)
    with pytest.raises(BudgetExhausted):
        r.execute()
    assert breakers.log == [("release", "openai")]
    books = FakeBooks(allow=1, refuse=[BudgetExhausted("user", "budget_spent", 60)])
    r, _ = run([FakeProvider("openai")], [StubReport(overall=0.6, passed=False)], books=books)
    assert r.execute().report.overall == 0.6 and len(books.reserved) == 1


def test_a_failing_gate_is_booked_before_the_error_propagates(env):
    from functions.generate.pipeline import Run
    from shared.settings import get_settings

    env(AI_PROVIDERS="openai")
    books = FakeBooks()

    def broken(content_type, content, req):
        raise RuntimeError("gate crashed")

    provider = FakeProvider("openai")
    r = Run(request(), "u1", "req1", get_settings(), assess=broken, books=books, breakers=FakeCircuit(),
            providers=lambda name, _s: provider)
    with pytest.raises(RuntimeError):
        r.execute()
    assert books.rows() == [("openai", "generation", "error")]


# --- the edge: domain errors as the contract's problems ----------------------------------------------------

@pytest.mark.parametrize("exc, status, slug, detail, retry_after, reason", [
    (BudgetExhausted("user", "budget_spent", 3600), 429, "rate-limited",
     "Your daily generation budget is used up; it resets at midnight UTC.", "3600", "budget_spent"),
    (BudgetExhausted("day", "budget_spent", 100), 503, "unavailable",
     "The service's daily generation budget is used up; it resets at midnight UTC.", "100", "budget_spent"),
    (BudgetExhausted("month", "budget_spent", 86400), 503, "unavailable",
     "The service's monthly generation budget is used up; it resets on the 1st (UTC).", "86400", "budget_spent"),
    (BudgetExhausted("user", "budget_in_flight", 12), 429, "rate-limited",
     "Your daily generation budget is held by calls still in flight; it is not used up. Try again in 12 seconds.",
     "12", "budget_in_flight"),
    (BudgetExhausted("month", "budget_in_flight", 7), 503, "unavailable",
     "The service's monthly generation budget is held by calls still in flight; it is not used up. "
     "Try again in 7 seconds.", "7", "budget_in_flight"),
    (NoProviderAvailable(30), 503, "unavailable", "No AI provider could serve this request; try again later.",
     "30", None),
    (NoProviderAvailable(5, out_of_time=True), 503, "unavailable",
     "No AI provider could serve this request within the generation deadline; try again later.", "5", None),
])
def test_domain_errors_map_to_the_contracts_problems(exc, status, slug, detail, retry_after, reason):
    problem = to_problem(exc)
    body = problem.body()
    assert (body["status"], body["type"], body["detail"]) == (status, f"https://lafactoria.dev/problems/{slug}", detail)
    assert problem.headers["Retry-After"] == retry_after and body.get("reason") == reason


def test_an_erased_account_is_gone():
    from functions.generate.ledger import ERASED_DETAIL

    body = to_problem(AccountErased("u1")).body()
    assert (body["status"], body["title"], body["detail"]) == (410, "Gone", ERASED_DETAIL)
