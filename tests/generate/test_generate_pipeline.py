"""Failover, the quality gate loop, the circuit breaker and budgets, through the function's HTTP interface."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import auth
from tests.generate.conftest import StubReport
from tests.generate.documents import document, sound
from tests.generate.fake_providers import Reply
from tests.generate.test_generate_providers import _events, _post


def test_failover_to_second_provider_records_every_attempt(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic")
    server.script("openai", *[Reply(status=503) for _ in range(3)])
    server.script("anthropic", Reply(document=document("flashcards"), input_tokens=700, output_tokens=900))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["provider"] == "anthropic" and item["attempts"] == 4
    events = _events()
    assert [(e.provider, e.kind, e.outcome) for e in events] == [
        ("openai", "generation", "error"), ("openai", "generation", "error"), ("openai", "generation", "error"),
        ("anthropic", "generation", "success")]
    assert all(e.content_id == item["id"] for e in events)
    assert item["usage"] == {"input_tokens": 700, "output_tokens": 900, "cached_input_tokens": 0,
                             "reasoning_tokens": 0, "cost_usd": pytest.approx(0.0156)}


def test_low_quality_regenerates_with_weaknesses_then_passes(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai")
    stub_gate(StubReport(overall=0.5, passed=False, weaknesses=["coverage: never mentions chlorophyll"]))
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["quality"]["passed"] is True and item["attempts"] == 2
    first, second = server.calls("openai")
    assert "never mentions chlorophyll" not in json.dumps(first["json"])
    assert "never mentions chlorophyll" in json.dumps(second["json"])
    assert [(e.kind, e.outcome) for e in _events()] == [("generation", "low_quality"), ("generation", "success")]


def test_a_near_miss_is_returned_as_it_is_without_paying_for_a_regeneration(
        db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic")
    stub_gate(StubReport(overall=0.68, passed=False, confident=False, weaknesses=["w1"]),
              StubReport(overall=0.99, passed=True))  # a regeneration would pass: it must not be asked for
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["quality"]["passed"] is False and item["quality"]["overall"] == 0.68 and item["attempts"] == 1
    assert [c["kind"] for c in server.calls()] == ["openai"]
    assert [e.outcome for e in _events()] == ["low_quality"]


def test_gate_gives_up_after_three_generations_and_returns_the_best(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic")
    stub_gate(StubReport(overall=0.55, passed=False, weaknesses=["w1"]),
              StubReport(overall=0.65, passed=False, weaknesses=["w2"]),
              StubReport(overall=0.60, passed=False, weaknesses=["w3"]),
              StubReport(overall=0.99, passed=True))  # a 4th generation would pass: it must not happen
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["quality"]["passed"] is False and item["quality"]["overall"] == 0.65
    # each low score moves the next generation to the next provider: openai, anthropic, openai again
    assert [c["kind"] for c in server.calls()] == ["openai", "anthropic", "openai"]
    assert item["provider"] == "anthropic" and item["attempts"] == 3
    assert [e.outcome for e in _events()] == ["low_quality"] * 3


def test_a_provider_writing_nonsense_fails_over_to_the_next_on_quality(db, users, client_for, use_providers):
    """The real gate, two fake providers: openai answers with schema-valid word salad, anthropic with a
    sound document. The salad fails the gate, so the regeneration goes to anthropic, with the gate's
    content problems in its prompt, and both calls are costed in the ledger."""
    import json as _json
    from pathlib import Path

    body, good = sound("faq_collection")
    corpus = _json.loads((Path(__file__).parent.parent / "quality_corpus" / "faq_collection.json").read_text())
    salad = next(e for e in corpus["must_fail"] if e["kind"] == "word_salad" and e["topic"] == body["topic"])
    server = use_providers("openai,anthropic")
    server.script("openai", Reply(document=salad["content"], input_tokens=1000, output_tokens=2000))
    server.script("anthropic", Reply(document=good, input_tokens=1500, output_tokens=2500))
    _, key = users()
    resp = client_for("generate").post("/v1/content", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["provider"] == "anthropic" and item["quality"]["passed"] is True and item["attempts"] == 2
    assert [c["kind"] for c in server.calls()] == ["openai", "anthropic"]
    regeneration_prompt = _json.dumps(server.calls("anthropic")[0]["json"])
    assert "strings of unrelated words" in regeneration_prompt
    events = _events()
    assert [(e.provider, e.kind, e.outcome) for e in events] == [
        ("openai", "generation", "low_quality"), ("anthropic", "generation", "success")]
    assert all(e.cost_known and e.cost_usd > 0 for e in events)
    assert Decimal(str(item["usage"]["cost_usd"])) == sum(e.cost_usd for e in events)


def test_circuit_opens_after_repeated_failures_and_is_shared(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic")
    # An outage whose Retry-After is too long to wait: one call each, counted against the circuit.
    server.script("openai", *[Reply(status=503, headers={"Retry-After": "60"}) for _ in range(3)])
    _, key = users()
    client = client_for("generate")
    for _ in range(3):
        assert _post(client, key).get_json()["provider"] == "anthropic"
    assert len(server.calls("openai")) == 3
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    with session_scope() as s:
        row = s.get(ProviderCircuit, "openai")
        assert row.failures == 3 and row.open_until is not None
    assert _post(client, key).get_json()["provider"] == "anthropic"
    assert len(server.calls("openai")) == 3  # skipped while open: no call reached it


def test_success_closes_the_circuit(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai")
    server.script("openai", Reply(status=503, headers={"Retry-After": "60"}))
    _, key = users()
    client = client_for("generate")
    assert _post(client, key).status_code == 503
    assert _post(client, key).status_code == 201
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    with session_scope() as s:
        assert s.get(ProviderCircuit, "openai").failures == 0


def test_all_providers_down_is_503_with_retry_after(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,vertex")
    server.script("openai", Reply(status=429, headers={"Retry-After": "120"}))
    server.script("vertex", Reply(status=401))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == 503 and "provider" in body["detail"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 120
    assert len(server.calls("openai")) == 1  # a Retry-After beyond the wait cap is not slept on


def test_unconfigured_provider_is_skipped(db, users, client_for, use_providers, env, stub_gate):
    server = use_providers("anthropic,openai")
    env(ANTHROPIC_API_KEY=None)
    _, key = users()
    assert _post(client_for("generate"), key).get_json()["provider"] == "openai"
    assert server.calls("anthropic") == []


# --- budgets -----------------------------------------------------------------------------------------


def _spend(user_id, usd: str, **kw):
    from shared.database import session_scope
    from functions.generate.ledger import usage_event, write

    with session_scope() as s:
        write(s, usage_event(user_id=user_id, provider="openai", model="gpt-4o-mini", kind="generation",
                             outcome="success", input_tokens=1, output_tokens=1, cost_usd=Decimal(usd),
                             cost_known=True, **kw))


def test_user_budget_refuses_before_any_provider_call(db, users, client_for, use_providers, stub_gate):
    server = use_providers("anthropic", USER_DAILY_BUDGET_USD="0.05")
    uid, key = users()
    _spend(uid, "0.04")  # the worst case of a flashcards call on claude (~$0.06) does not fit in the last cent
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 429
    assert "budget" in resp.get_json()["detail"] and int(resp.headers["Retry-After"]) >= 1
    assert server.calls() == []
    assert [e.kind for e in _events()] == ["generation"]  # the refused reservation was rolled back


def test_global_budgets_are_503_and_other_users_spend_counts(db, users, client_for, use_providers, stub_gate):
    server = use_providers("anthropic", DAILY_BUDGET_USD="0.10")
    other, _ = users()
    _, key = users()
    _spend(other, "0.08")
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503 and "daily" in resp.get_json()["detail"]
    assert server.calls() == []


def test_monthly_budget(db, users, client_for, use_providers, stub_gate):
    server = use_providers("anthropic", MONTHLY_BUDGET_USD="0.01")
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503 and "monthly" in resp.get_json()["detail"]
    assert server.calls() == []


def test_within_budget_reserves_then_settles_to_real_cost(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai", USER_DAILY_BUDGET_USD="1.00", DAILY_BUDGET_USD="5", MONTHLY_BUDGET_USD="50")
    server.script("openai", Reply(document=document("flashcards"), input_tokens=1000, output_tokens=1000))
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    [event] = _events()
    assert (event.kind, event.outcome) == ("generation", "success")
    assert event.reserved_usd > event.cost_usd == Decimal("0.00075")  # worst case reserved, real cost settled
    assert event.content_id == item["id"]


def test_unknown_cost_counts_at_its_reserved_worst_case(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai", USER_DAILY_BUDGET_USD="0.004", PROVIDER_TIMEOUT_SECONDS="0.3")
    server.script("openai", Reply(delay=1.0, document={}))
    _, key = users()
    client = client_for("generate")
    assert _post(client, key).status_code == 503  # timed out: cost unknown, worst case stays counted
    resp = _post(client, key)
    assert resp.status_code == 429 and len(server.calls("openai")) == 1


def test_unpriced_model_is_not_called_under_a_cap(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic", OPENAI_MODEL="gpt-unknown-9", DAILY_BUDGET_USD="10")
    _, key = users()
    assert _post(client_for("generate"), key).get_json()["provider"] == "anthropic"
    assert server.calls("openai") == []


def test_unpriced_model_is_recorded_as_unknown_cost_not_zero(db, users, client_for, use_providers, stub_gate):
    use_providers("openai", OPENAI_MODEL="gpt-unknown-9")
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["usage"]["cost_usd"] is None and item["usage"]["input_tokens"] == 120
    [event] = _events()
    assert event.cost_usd is None and event.cost_known is False


def test_concurrent_reservations_never_overspend(db, users, use_providers, stub_gate):
    """Eight threads race for a budget with room for three worst cases: exactly three get through."""
    import threading

    from functions.generate import budget
    from shared.settings import get_settings

    use_providers("anthropic")
    uid, _ = users()
    worst = budget.worst_case_usd("anthropic", "claude-sonnet-4-5", 3000, 4096)
    use_providers("anthropic", USER_DAILY_BUDGET_USD=str(worst * 3 + Decimal("0.001")))
    settings = get_settings()
    results = []

    def reserve():
        try:
            budget.reserve(settings, user_id=uid, provider="anthropic", model="claude-sonnet-4-5",
                           input_tokens=3000, max_output_tokens=4096, attempt=1)
            results.append("ok")
        except Exception as exc:  # noqa: BLE001
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 3 and results.count("BudgetExhausted") == 5


def test_budget_hit_after_a_low_score_returns_that_document(db, users, client_for, use_providers, stub_gate):
    """The cap stops further calls, but the document already paid for is stored and linked to its row."""
    from functions.generate import budget

    server = use_providers("anthropic")
    worst = budget.worst_case_usd("anthropic", "claude-sonnet-4-5", 4000, 4096)
    use_providers("anthropic", USER_DAILY_BUDGET_USD=str(worst + worst / 2))
    server.script("anthropic", Reply(document=document("flashcards"), input_tokens=1500, output_tokens=4096))
    stub_gate(StubReport(overall=0.6, passed=False, weaknesses=["w"]))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["quality"]["passed"] is False and item["attempts"] == 1
    assert len(server.calls("anthropic")) == 1
    [event] = _events()
    assert (event.outcome, event.content_id) == ("low_quality", item["id"])
