"""Cost honesty: every token class priced, every ledger row its owner's, and the totals reconcile.

All provider calls go through the real SDKs against the local wire-format
server; expected costs are worked out by hand from functions/generate/prices.json.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.conftest import auth
from tests.generate.conftest import StubReport
from tests.generate.documents import document
from tests.generate.fake_providers import Reply

BODY = {"content_type": "flashcards", "topic": "Photosynthesis", "audience": "high_school",
        "learning_objectives": ["Explain the light reactions"], "language": "en"}
OUTAGE = {"status": 503, "headers": {"Retry-After": "60"}}  # too long to wait: one call, then fail over


def _events(**where):
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        stmt = select(UsageEvent).order_by(UsageEvent.created_at, UsageEvent.attempt)
        for name, value in where.items():
            stmt = stmt.where(getattr(UsageEvent, name) == value)
        rows = list(s.execute(stmt).scalars())
        s.expunge_all()
        return rows


def _post(client, key, body=BODY, **headers):
    return client.post("/v1/content", json=body, headers={**auth(key), **headers})


# --- 1. token classes, per provider, through the real SDKs ----------------------------------------------

GOLDEN = {
    # OpenAI gpt-4o-mini: 6,000 fresh x $0.15 + 4,000 cached x $0.075 + 3,000 output (1,000 reasoning) x $0.60
    "openai": (Reply(document=document("flashcards"), input_tokens=10_000, cached_tokens=4_000,
                     output_tokens=3_000, reasoning_tokens=1_000),
               {"cached_input_tokens": 4_000, "cache_write_tokens": 0, "cache_write_1h_tokens": 0,
                "reasoning_tokens": 1_000}, Decimal("0.00300000")),
    # Anthropic claude-sonnet-4-5: 4,500 fresh x $3 + 4,000 reads x $0.30 + 1,000 5-min writes x $3.75
    # + 500 1-hour writes x $6 + 3,000 output (1,000 thinking) x $15
    "anthropic": (Reply(document=document("flashcards"), input_tokens=10_000, cached_tokens=4_000,
                        cache_write_5m=1_000, cache_write_1h=500, output_tokens=3_000, reasoning_tokens=1_000),
                  {"cached_input_tokens": 4_000, "cache_write_tokens": 1_000, "cache_write_1h_tokens": 500,
                   "reasoning_tokens": 1_000}, Decimal("0.06645000")),
    # Vertex gemini-2.5-flash: 6,000 fresh x $0.30 + 4,000 cached x $0.03 + (2,000 candidates + 1,000
    # thoughts, not inside candidatesTokenCount) x $2.50
    "vertex": (Reply(document=document("flashcards"), input_tokens=10_000, cached_tokens=4_000,
                     output_tokens=3_000, reasoning_tokens=1_000),
               {"cached_input_tokens": 4_000, "cache_write_tokens": 0, "cache_write_1h_tokens": 0,
                "reasoning_tokens": 1_000}, Decimal("0.00942000")),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_every_token_class_is_read_and_priced(name, db, users, client_for, use_providers, stub_gate):
    reply, classes, cost = GOLDEN[name]
    server = use_providers(name)
    server.script(name, reply)
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["usage"] == {"input_tokens": 10_000, "output_tokens": 3_000, "cached_input_tokens": 4_000,
                             "reasoning_tokens": 1_000, "cost_usd": float(cost)}
    [event] = _events()
    assert (event.input_tokens, event.output_tokens) == (10_000, 3_000)
    assert {k: getattr(event, k) for k in classes} == classes
    assert event.cost_usd == cost and event.cost_known

    # ... and on to /metrics as the OTel GenAI usage counters, cache and reasoning as parts
    from prometheus_client.parser import text_string_to_metric_families

    _, ops_key = users("ops")
    text = client_for("health").get("/metrics", headers=auth(ops_key)).get_data(as_text=True)
    provider = {"openai": "openai", "anthropic": "anthropic", "vertex": "gcp.vertex_ai"}[name]
    counters = {f.name.removeprefix("gen_ai_client_inference_usage_"): s.value
                for f in text_string_to_metric_families(text) if f.name.startswith("gen_ai_client_inference_usage_")
                for s in f.samples if s.labels["gen_ai_provider_name"] == provider}
    assert counters == {"input_tokens": 10_000, "output_tokens": 3_000, "cache_read_input_tokens": 4_000,
                        "cache_write_input_tokens": classes["cache_write_tokens"] + classes["cache_write_1h_tokens"],
                        "reasoning_output_tokens": 1_000}


@pytest.mark.parametrize("name", ["openai", "anthropic", "vertex"])
def test_plain_usage_without_cache_fields_still_prices(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, Reply(document=document("flashcards"), input_tokens=1_000, output_tokens=2_000))
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["usage"]["cached_input_tokens"] == 0 and item["usage"]["reasoning_tokens"] == 0
    [event] = _events()
    assert event.cost_known and event.cost_usd > 0


def test_long_context_tier_applies_to_the_whole_call():
    from functions.generate.ledger import price_table

    table = price_table()
    # claude-sonnet-4-5 above 200k input tokens: $6 input, $22.50 output for the whole call
    assert table.cost("anthropic", "claude-sonnet-4-5", 200_000, 1_000) == Decimal("0.61500000")
    assert table.cost("anthropic", "claude-sonnet-4-5", 250_000, 1_000) == Decimal("1.52250000")
    # gemini-2.5-pro: cached input has its own long-context rate
    assert table.cost("vertex", "gemini-2.5-pro", 300_000, 0, cached_input_tokens=100_000) == Decimal("0.52500000")
    # cache writes are billed once, at their rate, never again as fresh input (LiteLLM #9812)
    assert table.cost("anthropic", "claude-haiku-4-5", 1_000, 0, cache_write_tokens=1_000) == Decimal("0.00125000")


def test_every_price_row_names_its_source_and_date():
    import json

    from functions.generate.ledger import PRICES_PATH

    raw = json.loads(PRICES_PATH.read_text())
    for key, row in raw["models"].items():
        assert row["source"] and row["checked"], key
        datetime.strptime(row["checked"], "%Y-%m-%d")
        assert isinstance(row["confirmed"], bool), key
        if not key.startswith("mock/"):
            assert row["source"].startswith("https://"), key


def test_unknown_model_is_cost_unknown_with_an_info_alert_never_zero(db, users, client_for, use_providers,
                                                                     stub_gate):
    server = use_providers("openai", OPENAI_MODEL="gpt-unlisted-9")
    server.script("openai", Reply(document=document("flashcards"), input_tokens=1_000, output_tokens=2_000))
    _, key = users()
    client = client_for("generate")
    item = _post(client, key).get_json()
    assert item["usage"]["cost_usd"] is None and item["usage"]["input_tokens"] == 1_000
    [event] = _events()
    assert event.cost_known is False and event.cost_usd is None
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Alert

    _post(client, key, {**BODY, "topic": "Respiration"})
    with session_scope() as s:
        alerts = list(s.execute(select(Alert).where(Alert.rule == "price_unknown")).scalars())
        assert len(alerts) == 1 and alerts[0].severity == "info" and alerts[0].status == "open"
        assert "openai/gpt-unlisted-9" in alerts[0].message


# --- 3. ledger ownership --------------------------------------------------------------------------------

def test_another_users_request_id_never_links_their_rows_to_my_item(db, users, client_for, use_providers,
                                                                    stub_gate):
    """bob's failed attempts and alice's failover share an X-Request-ID; bob's rows stay bob's and unlinked."""
    server = use_providers("openai,anthropic")
    bob, bob_key = users()
    alice, alice_key = users()
    client = client_for("generate")
    shared_id = "req-chosen-by-the-client-0001"
    server.script("openai", Reply(**OUTAGE))
    server.script("anthropic", Reply(**OUTAGE))
    resp = _post(client, bob_key, **{"X-Request-ID": shared_id})
    assert resp.status_code == 503
    server.script("openai", Reply(**OUTAGE))
    resp = _post(client, alice_key, **{"X-Request-ID": shared_id})
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    bob_rows = _events(user_id=bob)
    alice_rows = _events(user_id=alice)
    assert len(bob_rows) == 2 and all(r.content_id is None for r in bob_rows)
    assert len(alice_rows) == 2 and all(r.content_id == item["id"] for r in alice_rows)
    assert all(r.request_id == shared_id for r in bob_rows + alice_rows)  # the label is kept, but only a label
    assert len({r.generation_id for r in bob_rows}) == 1 and len({r.generation_id for r in alice_rows}) == 1
    assert bob_rows[0].generation_id != alice_rows[0].generation_id
    export = client_for("gdpr").get("/v1/me/export", headers=auth(bob_key)).get_json()
    assert len(export["usage"]) == 2 and all(u["content_id"] is None for u in export["usage"])
    assert item["id"] not in str(export)


# --- 4. providers: strict schema, refusals, 4xx, credentials ---------------------------------------------

def test_openai_gets_a_strict_schema_and_pydantic_still_validates(db, users, client_for, use_providers,
                                                                  stub_gate):
    server = use_providers("openai")
    bad = document("flashcards")
    bad["items"] = bad["items"][:3]  # below minItems: strict mode would not allow it; pydantic catches it
    server.script("openai", Reply(document=bad))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201
    first, repair = server.calls("openai")
    fmt = first["json"]["response_format"]["json_schema"]
    assert fmt["strict"] is True
    schema = fmt["schema"]

    def walk(node):
        if isinstance(node, dict):
            assert "minLength" not in node and "maxLength" not in node
            if "properties" in node:
                assert node["additionalProperties"] is False and set(node["required"]) == set(node["properties"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(schema)
    assert [(e.kind, e.outcome) for e in _events()] == [("generation", "invalid_output"), ("repair", "success")]


def test_strict_schema_makes_optional_properties_nullable():
    from functions.generate.providers.openai_provider import drop_nulls, strict_schema

    schema = {"type": "object", "properties": {"a": {"type": "string", "minLength": 1},
                                               "b": {"type": "integer", "default": 3}},
              "required": ["a"]}
    assert strict_schema(schema) == {
        "type": "object", "additionalProperties": False, "required": ["a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}
    assert drop_nulls({"a": "x", "b": None, "c": [{"d": None}]}) == {"a": "x", "c": [{}]}


def test_the_strict_form_and_the_input_bound_are_worked_out_once_per_schema_object():
    import json

    from functions.generate import budget
    from functions.generate.providers.openai_provider import strict_form, strict_schema

    one = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    two = {"type": "object", "properties": {"a": {"type": "string"}, "bb": {"type": "integer"}}}
    assert strict_form(one) == strict_schema(one) and strict_form(one) is strict_form(one)
    assert strict_form(two) == strict_schema(two) != strict_form(one)  # another schema: its own form
    longest = len(json.dumps(strict_schema(two), separators=(",", ":")).encode())
    assert budget.input_bound("sys", "usé", two) == 3 + 4 + longest + budget.FRAMING_TOKENS
    assert budget.input_bound("sys", "usé", one) < budget.input_bound("sys", "usé", two)
    for _ in range(70):  # fresh schema objects past the memo's bound: still right, still bounded
        fresh = {"type": "object", "properties": {"x": {"type": "string"}}}
        assert strict_form(fresh) == strict_schema(fresh)
    assert budget.input_bound("sys", "usé", two) == 3 + 4 + longest + budget.FRAMING_TOKENS


@pytest.mark.parametrize("name", ["openai", "anthropic", "vertex"])
def test_a_refusal_goes_to_the_next_provider_without_retry_or_repair(name, db, users, client_for, use_providers,
                                                                     stub_gate):
    other = "anthropic" if name != "anthropic" else "openai"
    server = use_providers(f"{name},{other}")
    server.script(name, Reply(refusal="I can't help with that.", input_tokens=500, output_tokens=20))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201 and resp.get_json()["provider"] == other
    assert len(server.calls(name)) == 1
    events = _events()
    assert [(e.provider, e.outcome) for e in events] == [(name, "refused"), (other, "success")]
    assert events[0].cost_known and events[0].cost_usd > 0  # a refusal is still billed
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    with session_scope() as s:
        assert s.get(ProviderCircuit, name) is None  # not an outage


def test_a_4xx_request_error_never_opens_the_circuit(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai,anthropic")
    server.script("openai", *[Reply(status=400) for _ in range(4)])
    _, key = users()
    client = client_for("generate")
    for n in range(4):
        assert _post(client, key, {**BODY, "topic": f"Topic {n}"}).get_json()["provider"] == "anthropic"
    assert len(server.calls("openai")) == 4  # tried every time: our request was wrong, not the provider
    assert {e.outcome for e in _events(provider="openai")} == {"rejected"}
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    with session_scope() as s:
        assert s.get(ProviderCircuit, "openai") is None


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_raise_a_configuration_alert(status, db, users, client_for, use_providers,
                                                          stub_gate):
    server = use_providers("openai,anthropic")
    server.script("openai", Reply(status=status))
    _, key = users()
    assert _post(client_for("generate"), key).get_json()["provider"] == "anthropic"
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Alert, ProviderCircuit

    with session_scope() as s:
        [alert] = s.execute(select(Alert).where(Alert.rule == "provider_credentials:openai")).scalars()
        assert alert.status == "open" and str(status) in alert.message and "sk-" not in alert.message
        assert s.get(ProviderCircuit, "openai") is None


# --- 4. the deadline across attempts and providers ------------------------------------------------------

def test_the_deadline_bounds_the_whole_request(db, users, client_for, use_providers, stub_gate):
    import time

    server = use_providers("openai,anthropic", PROVIDER_TIMEOUT_SECONDS=10, GENERATION_DEADLINE_SECONDS=1.5)
    server.script("openai", Reply(document=document("flashcards"), delay=4))
    _, key = users()
    started = time.monotonic()
    resp = _post(client_for("generate"), key)
    elapsed = time.monotonic() - started
    assert resp.status_code == 503 and "deadline" in resp.get_json()["detail"]
    assert elapsed < 3.5  # the call was cut at what remained (1.5 s), not PROVIDER_TIMEOUT_SECONDS (10 s)
    assert server.calls("anthropic") == []  # nothing left to give the next provider
    [event] = _events()
    assert event.outcome == "timeout" and event.cost_known is False
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    with session_scope() as s:
        assert s.get(ProviderCircuit, "openai") is None  # a call we cut short is not the provider's outage


def test_each_attempt_gets_only_what_remains():
    from functions.generate.deadline import Deadline

    now = [100.0]
    deadline = Deadline(120, clock=lambda: now[0])
    assert deadline.timeout(60) == 60
    now[0] += 90
    assert deadline.timeout(60) == 30 and not deadline.exhausted()
    now[0] += 29.5
    assert deadline.exhausted() and deadline.remaining() == 0.5
    now[0] += 5
    assert deadline.remaining() == 0


# --- 4. half-open: one probe across all instances ---------------------------------------------------------

def _half_open(name: str) -> None:
    from datetime import timedelta

    from shared.database import session_scope
    from shared.models import ProviderCircuit, utcnow

    with session_scope() as s:
        s.merge(ProviderCircuit(provider=name, failures=3, open_until=utcnow() - timedelta(seconds=1),
                                probe_until=None, updated_at=utcnow()))


def test_half_open_admits_exactly_one_probe(db):
    from concurrent.futures import ThreadPoolExecutor

    from functions.generate import circuit

    _half_open("openai")
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda _: circuit.claim_probe("openai", 30), range(8)))
    assert won.count(True) == 1
    assert circuit.claim_probe("openai", 30) is False
    circuit.release_probe("openai", circuit.CircuitState(failures=3))
    assert circuit.claim_probe("openai", 30) is True


def test_while_another_request_probes_the_others_fail_over(db, users, client_for, use_providers, stub_gate):
    from functions.generate import circuit
    from shared.database import session_scope
    from shared.models import ProviderCircuit

    server = use_providers("openai,anthropic")
    _, key = users()
    client = client_for("generate")
    _half_open("openai")
    assert circuit.claim_probe("openai", 30)  # another instance holds the probe
    assert _post(client, key).get_json()["provider"] == "anthropic"
    assert server.calls("openai") == []
    _half_open("openai")  # the lease is free again: this request is the probe, and its success closes it
    assert _post(client, key, {**BODY, "topic": "Respiration"}).get_json()["provider"] == "openai"
    with session_scope() as s:
        row = s.get(ProviderCircuit, "openai")
        assert (row.failures, row.open_until, row.probe_until) == (0, None, None)


def test_a_failed_probe_reopens_the_circuit(db, users, client_for, use_providers, stub_gate):
    from shared.database import session_scope
    from shared.models import ProviderCircuit, utcnow

    server = use_providers("openai,anthropic")
    _, key = users()
    _half_open("openai")
    server.script("openai", Reply(**OUTAGE))
    assert _post(client_for("generate"), key).get_json()["provider"] == "anthropic"
    with session_scope() as s:
        row = s.get(ProviderCircuit, "openai")
        assert row.failures == 4 and row.probe_until is None
        open_until = row.open_until if row.open_until.tzinfo else row.open_until.replace(tzinfo=timezone.utc)
        assert open_until > utcnow()


# --- 5. the generation cache ----------------------------------------------------------------------------

def test_an_identical_request_is_served_from_the_users_earlier_result(db, users, client_for, use_providers,
                                                                      stub_gate, env):
    server = use_providers("openai", GENERATION_CACHE="user")
    server.script("openai", Reply(document=document("flashcards"), input_tokens=1_000, output_tokens=2_000))
    alice, key = users()
    _, other_key = users()
    client = client_for("generate")
    first = _post(client, key).get_json()
    second = _post(client, key)
    assert second.status_code == 201
    hit = second.get_json()
    assert len(server.calls("openai")) == 1
    assert hit["cached"] is True and first["cached"] is False and hit["id"] != first["id"]
    assert hit["content"] == first["content"] and hit["provider"] == "openai" and hit["attempts"] == 0
    assert hit["usage"]["cost_usd"] == 0
    assert client.get(f"/v1/content/{hit['id']}", headers=auth(key)).get_json()["cached"] is True
    row = _events(kind="cache_hit")[0]
    assert (row.user_id, row.content_id, row.cost_usd, row.cost_known) == (alice, hit["id"], 0, True)
    assert row.cost_avoided_usd == Decimal(str(first["usage"]["cost_usd"]))
    # another user, a changed input, or no-cache: a real call each
    assert _post(client, other_key).get_json()["cached"] is False
    assert _post(client, key, {**BODY, "audience": "college"}).get_json()["cached"] is False
    assert _post(client, key, **{"Cache-Control": "no-cache"}).get_json()["cached"] is False
    assert len(server.calls("openai")) == 4
    # a different failover list or model is a different key
    env(GENERATION_CACHE="user", OPENAI_MODEL="gpt-4.1-mini")
    assert _post(client, key).get_json()["cached"] is False


def test_no_store_keeps_a_result_out_of_the_cache_and_off_means_off(db, users, client_for, use_providers,
                                                                    stub_gate, env):
    server = use_providers("openai", GENERATION_CACHE="user")
    _, key = users()
    client = client_for("generate")
    _post(client, key, **{"Cache-Control": "no-store"})
    assert _post(client, key).get_json()["cached"] is False
    env(GENERATION_CACHE="off")
    assert _post(client, key).get_json()["cached"] is False
    assert len(server.calls("openai")) == 3


def test_low_quality_results_are_not_served_again(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai", GENERATION_CACHE="user")
    stub_gate(*[StubReport(overall=0.5, passed=False) for _ in range(3)])
    _, key = users()
    client = client_for("generate")
    assert _post(client, key).get_json()["quality"]["passed"] is False
    assert _post(client, key).get_json()["cached"] is False
    assert len(server.calls("openai")) == 4


def test_global_scope_shares_results_and_erasure_removes_the_persons_entries(db, users, client_for,
                                                                            use_providers, stub_gate):
    server = use_providers("openai", GENERATION_CACHE="global")
    _, alice_key = users()
    _, bob_key = users()
    client = client_for("generate")
    assert _post(client, alice_key).get_json()["cached"] is False
    assert _post(client, bob_key).get_json()["cached"] is True
    assert len(server.calls("openai")) == 1
    resp = client_for("gdpr").delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(alice_key))
    assert resp.status_code == 200, resp.get_json()
    # alice's entry is gone; bob's copy is his own item, but never an entry itself
    assert _post(client, bob_key).get_json()["cached"] is False
    assert len(server.calls("openai")) == 2


def test_the_cache_default_is_per_user(monkeypatch):
    from shared.settings import Settings

    monkeypatch.delenv("GENERATION_CACHE", raising=False)
    assert Settings(_env_file=None).generation_cache == "user"


# --- 6. reconciliation ----------------------------------------------------------------------------------

def test_cost_report_metrics_and_ledger_agree_to_the_cent(db, users, client_for, use_providers, stub_gate, env):
    """Retries, failovers, repairs, a judge row and cache hits: three views of spend, one figure."""
    from sqlalchemy import func, select

    from functions.generate import ledger
    from shared.database import session_scope
    from shared.models import UsageEvent

    today = datetime.now(timezone.utc).date()
    server = use_providers("openai,anthropic,vertex", GENERATION_CACHE="user", COST_REPORT_DAY=today.isoformat())
    alice, key = users()
    _, ops_key = users("ops")
    client = client_for("generate")
    server.script("openai", Reply(status=429, headers={"Retry-After": "0"}),
                  Reply(document=document("flashcards"), input_tokens=1_234, cached_tokens=1_000,
                        output_tokens=5_678, reasoning_tokens=77))  # a retry
    assert _post(client, key).status_code == 201
    server.script("openai", Reply(**OUTAGE))
    server.script("anthropic", Reply(text="not json", input_tokens=3_333, output_tokens=111),
                  Reply(document=document("flashcards"), input_tokens=4_321, cached_tokens=321, cache_write_5m=999,
                        output_tokens=2_345))  # a failover and a repair
    assert _post(client, key, {**BODY, "topic": "Respiration"}).status_code == 201
    server.script("openai", Reply(**OUTAGE))
    server.script("anthropic", Reply(**OUTAGE))
    server.script("vertex", Reply(document=document("flashcards"), input_tokens=7_777, output_tokens=3_333,
                                  reasoning_tokens=1_111))
    assert _post(client, key, {**BODY, "topic": "Osmosis"}).status_code == 201
    for _ in range(3):
        assert _post(client, key).get_json()["cached"] is True  # cache hits: $0
    with session_scope() as s:  # a quality judge's call, as the judge records it
        ledger.write(s, ledger.usage_event(user_id=alice, provider="anthropic", model="claude-haiku-4-5", kind="judge",
                      outcome="success", input_tokens=2_222, output_tokens=333, attempt=1))
    with session_scope() as s:
        kinds = {k for k, in s.execute(select(UsageEvent.kind).distinct())}
        ledger_sum = Decimal(s.scalar(select(func.sum(UsageEvent.cost_usd)).where(
            UsageEvent.kind != "reservation", UsageEvent.cost_known.is_(True))))
    assert kinds == {"generation", "repair", "judge", "cache_hit"}
    assert ledger_sum > Decimal("0.01")

    from jobs.runner import run_job

    code, summary = run_job("cost-report")
    assert code == 0, summary
    metrics = client_for("health").get("/v1/metrics?window=1h", headers=auth(ops_key)).get_json()
    cent = Decimal("0.01")
    assert Decimal(summary["spend_usd_day"]).quantize(cent) == ledger_sum.quantize(cent)
    assert Decimal(str(metrics["cost_usd"])).quantize(cent) == ledger_sum.quantize(cent)
    assert abs(Decimal(summary["spend_usd_day"]) - ledger_sum) < Decimal("0.000001")
