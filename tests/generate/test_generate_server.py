"""End to end over real HTTP: a functions-framework process of `generate` and a fake provider server."""

from __future__ import annotations

import os
from decimal import Decimal

import requests

from functions.generate.ledger import price_table
from tests.conftest import auth
from tests.generate.conftest import provider_env
from tests.generate.documents import sound
from tests.generate.fake_providers import Reply
from tests.generate.test_generate_providers import _events


def test_failover_over_http_records_every_attempt(db, users, function_server, fake_server):
    body, good = sound("faq_collection")  # passes the real gate
    fake_server.script("openai", Reply(status=500), Reply(status=502), Reply(status=503))
    fake_server.script("anthropic", Reply(document=good, input_tokens=1500, output_tokens=2500))
    env = provider_env(fake_server, "openai,anthropic,vertex")
    env["DATABASE_URL"] = db.url
    server = function_server("generate", env={**os.environ, **env})
    _, key = users()
    resp = requests.post(server.url + "/v1/content", json=body, headers=auth(key), timeout=60)
    assert resp.status_code == 201, resp.text
    item = resp.json()
    assert item["provider"] == "anthropic" and item["quality"]["passed"] is True and item["attempts"] == 4
    assert len(fake_server.calls("openai")) == 3 and len(fake_server.calls("anthropic")) == 1
    assert fake_server.calls("vertex") == []
    events = _events()
    assert [(e.provider, e.attempt, e.kind, e.outcome, e.input_tokens, e.output_tokens) for e in events] == [
        ("openai", 1, "generation", "error", 0, 0),
        ("openai", 2, "generation", "error", 0, 0),
        ("openai", 3, "generation", "error", 0, 0),
        ("anthropic", 4, "generation", "success", 1500, 2500),
    ]
    expected = price_table().cost("anthropic", "claude-sonnet-4-5", 1500, 2500)
    assert expected == Decimal("0.042")
    assert [e.cost_usd for e in events] == [0, 0, 0, expected] and all(e.cost_known for e in events)
    assert all(e.content_id == item["id"] and e.request_id == resp.headers["X-Request-ID"] for e in events)
    assert item["usage"] == {"input_tokens": 1500, "output_tokens": 2500, "cached_input_tokens": 0,
                             "reasoning_tokens": 0, "cost_usd": 0.042}
    fetched = requests.get(server.url + f"/v1/content/{item['id']}", headers=auth(key), timeout=10).json()
    assert fetched == item


def test_budget_holds_across_two_instances(db, users, function_server, fake_server):
    """Six concurrent requests over two instances, room for two worst cases: two calls, four 429s."""
    import threading

    from functions.generate import budget

    prompt_chars = 6000  # above any flashcards prompt, so the real reservations are smaller than this bound
    worst = budget.worst_case_usd("openai", "gpt-4o-mini", prompt_chars, 4096)
    env = provider_env(fake_server, "openai", USER_DAILY_BUDGET_USD=str(worst * 2 + worst / 4))
    env["DATABASE_URL"] = db.url
    body, good = sound("flashcards")  # passes the real gate: one call per admitted request
    fake_server.script("openai", *[Reply(document=good, delay=1.5) for _ in range(6)])
    servers = [function_server("generate", env={**os.environ, **env}) for _ in range(2)]
    _, key = users()
    statuses: list[int] = []

    def post(i: int) -> None:
        r = requests.post(servers[i % 2].url + "/v1/content", json=body, headers=auth(key), timeout=60)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 201, 429, 429, 429, 429]
    assert len(fake_server.calls("openai")) == 2
