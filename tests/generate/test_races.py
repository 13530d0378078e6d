"""Money and personal data under overlap and crashes (issue 22): erasure during a generation, a paid
call's cost never lost, reservations that are true upper bounds, deleted items never replayed,
single flight for identical requests, and no personal data in any log line of these faults.

Every test runs on PostgreSQL, SQLite and through PgBouncer (`db`); a slow provider is the local
fake server holding its reply until the test opens a gate (no sleeping on the wall clock).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from decimal import Decimal

import pytest
import requests

from tests.conftest import auth, make_user
from tests.generate.conftest import StubReport, provider_env
from tests.generate.documents import document, sound
from tests.generate.fake_providers import Reply

ERASE = {"confirm": "erase my data"}


def _rows_holding(terms: list[str], database) -> list[str]:
    """Every table with a row holding any of `terms`, read straight off the database (no ORM)."""
    from sqlalchemy import create_engine, select

    from shared.models import Base

    needles = [t.lower() for t in terms if t]
    engine = create_engine(database.direct_url)
    found = []
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    text = json.dumps([str(v) for v in row], ensure_ascii=False).lower()
                    if any(n in text for n in needles):
                        found.append(table.name)
                        break
    finally:
        engine.dispose()
    return found


def _log_lines_holding(terms: list[str], *extra_text: str) -> list[str]:
    """Sources of the log lines (captured raw records, and `extra_text`: servers' stderr) holding a term."""
    from tests.logcapture import CAPTURE

    with CAPTURE._lock:
        lines = list(CAPTURE.lines)
    lines += [("server stderr", text) for text in extra_text]
    return [source for source, text in lines for t in terms if t and t.lower() in text.lower()]


def _ledger():
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        rows = list(s.scalars(select(UsageEvent)))
        s.expunge_all()
    return rows


def test_erasure_during_a_generation_wins_cleanly(db, function_server, fake_server, client_for):
    """The person erases themselves while their generation waits on a slow provider: the receipt is
    verified, the generation ends in a 410 problem (not a 500), the erased key is refused at once
    on the generate instance that still caches it, and afterwards no row anywhere holds their id,
    email, key or topic, while the paid call is in the ledger as an anonymous platform cost."""
    body, good = sound("flashcards")
    gate = threading.Event()
    fake_server.script("openai", Reply(document=good, gate=gate, input_tokens=900, output_tokens=1200))
    env = provider_env(fake_server, "openai", USER_DAILY_BUDGET_USD="5", AUTH_CACHE_SECONDS="30",
                       GENERATION_CACHE="user")
    server = function_server("generate", env={**os.environ, **env, "DATABASE_URL": db.url})
    email = f"erased-{uuid.uuid4().hex[:8]}@example.org"
    uid, key = make_user(email=email)
    from shared.database import session_scope
    from shared.models import ApiKey

    with session_scope() as s:
        key_id = s.query(ApiKey.id).filter(ApiKey.user_id == uid).scalar()
    outcome: dict = {}

    def generate() -> None:
        r = requests.post(server.url + "/v1/content", json=body, timeout=60,
                          headers={**auth(key), "Idempotency-Key": "erase-race-1"})
        outcome["status"], outcome["type"], outcome["body"] = r.status_code, r.headers["Content-Type"], r.json()

    worker = threading.Thread(target=generate)
    worker.start()
    try:
        assert fake_server.arrived.wait(30), "the generation never reached the provider"
        receipt = client_for("gdpr").delete("/v1/me", json=ERASE, headers=auth(key))
        assert receipt.status_code == 200 and receipt.get_json()["verified"] is True, receipt.get_json()
        # The generate instance still holds the key in its cache (AUTH_CACHE_SECONDS=30): nothing passes.
        listing = requests.get(server.url + "/v1/content", headers=auth(key), timeout=30)
        again = requests.post(server.url + "/v1/content", json=body, headers=auth(key), timeout=30)
        assert (listing.status_code, again.status_code) == (401, 401)
    finally:
        gate.set()
        worker.join(60)
    assert outcome["status"] == 410 and outcome["type"] == "application/problem+json", outcome
    assert outcome["body"]["status"] == 410 and "erased" in outcome["body"]["detail"]
    assert len(fake_server.calls("openai")) == 1

    server.stop()  # flushes its buffered request metrics and hands its stderr to the log capture
    terms = [uid, email, body["topic"], key_id]
    assert _rows_holding(terms, db) == []
    [paid] = [e for e in _ledger() if e.kind != "reservation"]
    assert (paid.kind, paid.outcome, paid.user_id, paid.content_id) == ("generation", "success", None, None)
    assert paid.cost_known and paid.cost_usd > 0 and paid.input_tokens == 900
    assert not [e for e in _ledger() if e.outcome == "reserved"]
    assert _log_lines_holding(terms) == []


def _kill_9(pid: int) -> None:
    """SIGKILL `pid` and every process under it (functions-framework serves from gunicorn workers)."""
    import signal
    from pathlib import Path

    family, todo = [], [pid]
    while todo:
        parent = todo.pop()
        family.append(parent)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            todo += [int(c) for c in (task / "children").read_text().split()]
    for member in family:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_after_kill_9_with_generations_in_flight_the_person_is_told_seconds_not_hours(db, function_server,
                                                                                    fake_server):
    """Three generations in flight, their instance killed (SIGKILL), a new instance started: the
    orphaned reservations fill the cap, so the next request is refused, saying calls are in flight,
    with a Retry-After of at most 60 s, not "until midnight". (That they stop counting once older
    than one call plus a margin, ~75 s: test_budget_totals, on an injected clock.)"""
    from functions.generate import budget, content_types, prompts
    from functions.generate.payloads import GenerateRequest

    body, good = sound("flashcards")
    ctype = content_types.get("flashcards")
    prompt = prompts.build(GenerateRequest(**body), weaknesses=[])
    worst = budget.worst_case_usd("openai", "gpt-4o-mini",
                                  budget.input_bound(prompt.system, prompt.user, content_types.json_schema(ctype.id)),
                                  ctype.max_output_tokens)
    gate = threading.Event()
    fake_server.script("openai", *[Reply(document=good, gate=gate) for _ in range(3)])
    env = {**os.environ, **provider_env(fake_server, "openai", USER_DAILY_BUDGET_USD=str(worst * 3 + worst / 2)),
           "DATABASE_URL": db.url}
    doomed = function_server("generate", env=env)
    uid, key = make_user()

    def post() -> None:
        try:
            requests.post(doomed.url + "/v1/content", json=body, headers=auth(key), timeout=60)
        except requests.ConnectionError:
            pass  # its instance was killed

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        import time

        give_up = time.monotonic() + 60
        while len(fake_server.calls("openai")) < 3 and time.monotonic() < give_up:
            time.sleep(0.01)  # a condition (all three calls at the provider), not a duration
        assert len(fake_server.calls("openai")) == 3
        _kill_9(doomed.proc.pid)
        doomed.proc.wait()
        fresh = function_server("generate", env=env)
        refused = requests.post(fresh.url + "/v1/content", json=body, headers=auth(key), timeout=60)
    finally:
        gate.set()
        for t in threads:
            t.join(60)
    assert refused.status_code == 429, refused.json()
    assert refused.json()["reason"] == "budget_in_flight" and "midnight" not in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(fake_server.calls("openai")) == 3  # the refusal made no call
    assert sorted(e.outcome for e in _ledger()) == ["reserved"] * 3


def test_a_generation_erased_before_its_first_call_pays_nothing(db, client_for, use_providers, stub_gate, env):
    """Erased between authentication and the budget reservation: the reservation finds no user (410)."""
    from functions.generate import budget
    from shared.database import session_scope
    from shared.erasure import erase_rows, identifiers
    from functions.generate.errors import AccountErased
    from shared.settings import get_settings

    use_providers("openai", USER_DAILY_BUDGET_USD="1")
    uid, _ = make_user()
    with session_scope() as s:
        erase_rows(s, identifiers(s, uid, lock=True))
    try:
        budget.reserve(get_settings(), user_id=uid, provider="openai", model="gpt-4o-mini", input_tokens=100,
                       max_output_tokens=100, attempt=1)
    except AccountErased:
        pass
    else:
        raise AssertionError("a reservation for an erased user must be refused")
    assert _ledger() == []


def test_a_lone_ledger_row_is_one_statement_and_an_erasure_still_wins(db):
    """Without a cap a settled call's row needs no transaction (`ledger.write_alone`: the owner lock is a
    subquery of its INSERT). A user who exists keeps the row; an erasure holding the user row makes the
    INSERT wait (PostgreSQL) and the row is then written without the user, as `ledger.write` would."""
    from functions.generate import ledger
    from functions.generate.spend import LedgerBooks
    from shared.database import session_scope
    from shared.erasure import erase_rows, identifiers
    from shared.settings import get_settings

    books = LedgerBooks(get_settings())

    def row(user_id: str):
        return ledger.usage_event(user_id=user_id, generation_id=str(uuid.uuid4()), provider="openai",
                                  model="gpt-4o-mini", kind="generation", outcome="success", input_tokens=900,
                                  output_tokens=1200, attempt=1)

    kept_uid, _ = make_user()
    kept = row(kept_uid)
    assert ledger.stands_alone(kept, None)
    books.write(kept, None)
    erased_uid, _ = make_user()
    late = row(erased_uid)
    with session_scope() as s:
        ids = identifiers(s, erased_uid, lock=True)
        if db.backend == "postgresql":  # the erasure holds the user row: the INSERT waits for it
            writer = threading.Thread(target=books.write, args=(late, None))
            writer.start()
            writer.join(0.5)
            assert writer.is_alive(), "the ledger row did not wait for the erasure's lock"
        erase_rows(s, ids)
    if db.backend == "postgresql":
        writer.join(30)
    else:
        books.write(late, None)
    assert (kept.user_id, late.user_id) == (kept_uid, None)
    assert {e.id: (e.user_id, e.cost_usd) for e in _ledger()} == {kept.id: (kept_uid, kept.cost_usd),
                                                                  late.id: (None, late.cost_usd)}
    assert kept.cost_usd and kept.cost_usd > 0


def test_an_unexpected_error_logs_request_id_and_route_never_the_persons_data(db, client_for, use_providers,
                                                                               monkeypatch):
    """A fault whose exception quotes the request (topic, user id, email) is a 500 problem whose log
    record carries the request id, route, exception type and frames: never those values."""
    from functions.generate import quality
    from shared.logs import JsonFormatter

    use_providers("openai")
    email = f"faulty-{uuid.uuid4().hex[:8]}@example.org"
    uid, key = make_user(email=email)
    topic = "Volcanic soils of Lanzarote"

    def broken_gate(content_type, content, *, topic, **request):
        raise RuntimeError(f"gate crashed on {topic!r} for {uid} <{email}>")

    monkeypatch.setattr(quality, "assess", broken_gate)
    app = client_for("generate")
    app.get("/livez")  # the process's first request configures logging: before the handler below joins
    formatted: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(JsonFormatter())
    handler.emit = lambda record: formatted.append(handler.format(record))
    logging.getLogger().addHandler(handler)
    try:
        resp = app.post(
            "/v1/content", headers={**auth(key), "X-Request-ID": "fault-req-1"},
            json={"content_type": "flashcards", "topic": topic, "audience": "general"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert resp.status_code == 500 and resp.headers["Content-Type"] == "application/problem+json"
    assert topic not in resp.get_data(as_text=True)
    errors = [json.loads(line) for line in formatted if '"unhandled error"' in line]
    assert len(errors) == 1
    [record] = errors
    assert record["request_id"] == "fault-req-1" and record["route"] == "/v1/content"
    assert "RuntimeError (message withheld)" in record["traceback"] and "broken_gate" in record["traceback"]
    terms = [uid, email, topic, "Lanzarote"]
    assert [line for line in formatted if any(t.lower() in line.lower() for t in terms)] == []
    assert _log_lines_holding(terms) == []
    [paid] = _ledger()  # the call was paid before the gate failed: it is in the books
    assert paid.outcome == "error" and paid.cost_known


def _honest_maximum(payload, kind):
    """Usage a provider could honestly report: one token per byte of every text and schema it got
    (more than any tokenizer makes), and the whole output allowance."""
    schema = payload["response_format"]["json_schema"]["schema"]
    sent = sum(len(m["content"].encode()) for m in payload["messages"]) + len(json.dumps(schema).encode())
    return sent, payload["max_completion_tokens"]


def test_thirty_at_once_against_a_small_cap_never_overshoot(db, use_providers, stub_gate, client_for):
    """30 concurrent generations, every provider reply reporting the most it honestly could:
    total spend stays under the cap, the running total equals the ledger, nothing stays reserved."""
    from functions.generate import budget, content_types, prompts
    from functions.generate.payloads import GenerateRequest
    from shared.database import session_scope
    from shared.models import SpendTotal

    body = {"content_type": "flashcards", "topic": "Tides and the moon", "audience": "general"}
    ctype = content_types.get("flashcards")
    prompt = prompts.build(GenerateRequest(**body), weaknesses=[])
    worst = budget.worst_case_usd("openai", "gpt-4o-mini",
                                  budget.input_bound(prompt.system, prompt.user, content_types.json_schema(ctype.id)),
                                  ctype.max_output_tokens)
    cap = worst * 5 + worst / 2
    # A connection for each request: under test the budget decides, never a pool wait (503) on a busy machine.
    server = use_providers("openai", USER_DAILY_BUDGET_USD=str(cap), RATE_LIMIT_PER_MINUTE="1000", DB_POOL_SIZE="32")
    server.usage = _honest_maximum
    uid, key = make_user()
    app = client_for("generate")
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        r = app.post("/v1/content", json=body, headers=auth(key))
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(statuses) == 30 and set(statuses) <= {201, 429}, sorted(statuses)
    assert statuses.count(201) >= 5
    rows = _ledger()
    spent = sum(Decimal(e.cost_usd) for e in rows if e.kind != "reservation")
    assert all(e.cost_known for e in rows if e.kind != "reservation")
    assert len([e for e in rows if e.kind == "generation"]) == statuses.count(201) == len(server.calls())
    assert spent <= cap
    assert not [e for e in rows if e.outcome == "reserved"]
    with session_scope() as s:
        [total] = [t for b, t in s.query(SpendTotal.bucket, SpendTotal.total_usd)
                   if b.startswith(SpendTotal.user_prefix(uid))]
    assert Decimal(total) == spent


def test_the_reservation_bound_covers_every_byte_each_provider_is_sent(db, use_providers, stub_gate, client_for):
    """The worst case counts every byte of the request body each wire format carries (the texts,
    the schema in the form sent, and the JSON around them): no tokenizer makes more tokens than that."""
    from functions.generate import budget, content_types, prompts
    from functions.generate.payloads import GenerateRequest

    for name in ("openai", "anthropic", "vertex"):
        server = use_providers(name)
        uid, key = make_user()
        body = {"content_type": "flashcards", "topic": "Ünïcödé fractions — ½ and ¾ 分数", "audience": "general"}
        resp = client_for("generate").post("/v1/content", json=body, headers=auth(key))
        assert resp.status_code == 201, resp.get_json()
        [call] = server.calls(name)
        ctype = content_types.get("flashcards")
        prompt = prompts.build(GenerateRequest(**body), weaknesses=[])
        bound = budget.input_bound(prompt.system, prompt.user, content_types.json_schema(ctype.id))
        sent = len(json.dumps(call["json"], ensure_ascii=False).encode())
        assert bound >= sent, (name, bound, sent)


def test_replaying_the_key_of_a_deleted_item_never_returns_it(db, client_for):
    """DELETE drops the idempotency record's copy in the same transaction; the replay is 410, and the
    key is not reused for a new generation (the client sends a new key for that)."""
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import IdempotencyRecord

    uid, key = make_user()
    admin_id, admin_key = make_user("admin")
    app = client_for("generate")
    body = {"content_type": "flashcards", "topic": "Deleted things stay deleted", "audience": "general"}
    for deleter, idem in ((key, "k-owner"), (admin_key, "k-admin")):
        first = app.post("/v1/content", json=body, headers={**auth(key), "Idempotency-Key": idem})
        assert first.status_code == 201
        replay = app.post("/v1/content", json=body, headers={**auth(key), "Idempotency-Key": idem})
        assert replay.status_code == 201 and replay.get_json() == first.get_json()
        assert app.delete(f"/v1/content/{first.get_json()['id']}", headers=auth(deleter)).status_code == 204
        gone = app.post("/v1/content", json=body, headers={**auth(key), "Idempotency-Key": idem})
        assert gone.status_code == 410 and gone.headers["Content-Type"] == "application/problem+json"
        assert "content" not in gone.get_json() and first.get_json()["id"] not in gone.get_data(as_text=True)
    with session_scope() as s:
        records = list(s.scalars(select(IdempotencyRecord)))
        assert [(r.response_status, r.response_body) for r in records] == [(410, None), (410, None)]
    listing = app.get("/v1/content", headers=auth(key)).get_json()
    assert listing["items"] == []


def test_ten_identical_requests_at_once_make_one_provider_call(db, use_providers, stub_gate, client_for, env):
    """Single flight: the first identical request generates, the other nine wait for it (they are all
    inside the flight before the provider answers) and are served from its cache entry."""
    import time

    from functions.generate import cache

    gate = threading.Event()
    server = use_providers("openai", GENERATION_CACHE="user", RATE_LIMIT_PER_MINUTE="1000")
    server.script("openai", Reply(document=document("flashcards"), gate=gate))
    uid, key = make_user()
    app = client_for("generate")
    body = {"content_type": "flashcards", "topic": "One call for ten", "audience": "general"}
    results: list = []
    lock = threading.Lock()

    def post() -> None:
        r = app.post("/v1/content", json=body, headers=auth(key))
        with lock:
            results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    try:
        give_up = time.monotonic() + 60
        while sum(n for _, n in cache.FLIGHTS._locks.values()) < 10 and time.monotonic() < give_up:
            time.sleep(0.01)  # waiting for a condition (all ten inside the flight), not for time to pass
        assert sum(n for _, n in cache.FLIGHTS._locks.values()) == 10
    finally:
        gate.set()
        for t in threads:
            t.join(60)
    assert [status for status, _ in results] == [201] * 10, results
    assert len(server.calls("openai")) == 1
    assert sorted(item["cached"] for _, item in results) == [False] + [True] * 9
    assert len({json.dumps(item["content"], sort_keys=True) for _, item in results}) == 1
    assert len(cache.FLIGHTS) == 0  # nothing left behind


def test_a_failed_leader_hands_the_flight_to_the_next_request(db, use_providers, stub_gate, client_for):
    """The first request's document fails the gate (no cache entry): the next identical request
    generates itself rather than being served nothing."""
    server = use_providers("openai", GENERATION_CACHE="user")
    stub_gate(StubReport(overall=0.2, passed=False, weaknesses=["w"]), StubReport(overall=0.2, passed=False),
              StubReport(overall=0.2, passed=False))
    uid, key = make_user()
    app = client_for("generate")
    body = {"content_type": "flashcards", "topic": "Leader fails", "audience": "general"}
    first = app.post("/v1/content", json=body, headers=auth(key))
    assert first.status_code == 201 and first.get_json()["quality"]["passed"] is False
    second = app.post("/v1/content", json=body, headers=auth(key))
    assert second.status_code == 201 and second.get_json()["cached"] is False
    assert len(server.calls("openai")) == 4  # three generations for the first, one for the second


@pytest.mark.parametrize("store", ["database", "redis"])
def test_an_erased_key_still_cached_writes_no_counter_on_any_route(store, db, client_for, env):
    """An instance that cached the key before an erasure elsewhere: every keyed route answers 401
    and no rate-limit counter is created, in the database (the counter's own live-key condition)
    or in Redis (the erasure's tombstone), besides the fresh check on money/personal-data routes."""
    import redis
    from sqlalchemy import select

    from shared.auth import key_cache
    from shared.database import session_scope
    from shared.models import RateLimitCounter
    from shared.ratelimit import user_bucket_prefix
    from tests.conftest import REDIS_TEST_URL

    env(auth_cache_seconds="30", redis_url=REDIS_TEST_URL if store == "redis" else None)
    uid, key = make_user()
    app = client_for("generate")
    assert app.get("/v1/content", headers=auth(key)).status_code == 200  # now cached here
    cached = dict(key_cache._entries)
    receipt = client_for("gdpr").delete("/v1/me", json=ERASE, headers=auth(key))  # as on another instance
    assert receipt.status_code == 200 and receipt.get_json()["verified"] is True
    key_cache._entries.update(cached)  # this instance never heard of it
    assert app.get("/v1/content", headers=auth(key)).status_code == 401
    assert app.post("/v1/content", json={"content_type": "flashcards", "topic": "x y", "audience": "general"},
                    headers=auth(key)).status_code == 401
    with session_scope() as s:
        assert list(s.scalars(select(RateLimitCounter))) == []
    if store == "redis":
        client = redis.Redis.from_url(REDIS_TEST_URL)
        assert list(client.scan_iter(match=user_bucket_prefix(uid) + "*")) == []
        client.close()


def test_an_in_progress_key_of_a_dead_instance_frees_after_the_deadline(db, env):
    """After kill -9 the key's in-progress record blocks retries (409) only until the request's
    deadline plus a margin could have passed, not for a quarter of an hour."""
    from datetime import timedelta

    from sqlalchemy import update

    from functions.generate import idempotency
    from shared.database import session_scope
    from shared.errors import Conflict
    from shared.models import IdempotencyRecord, utcnow
    from shared.settings import get_settings

    settings = get_settings()
    uid, _ = make_user()
    assert idempotency.begin(uid, "k", "h", settings) is None  # the request that died
    try:
        idempotency.begin(uid, "k", "h", settings)
    except Conflict:
        pass
    else:
        raise AssertionError("a live in-progress key must be 409")
    assert idempotency.stale_in_progress(settings) <= timedelta(seconds=settings.generation_deadline_seconds + 30)
    with session_scope() as s:
        s.execute(update(IdempotencyRecord).values(
            created_at=utcnow() - idempotency.stale_in_progress(settings) - timedelta(seconds=1)))
    assert idempotency.begin(uid, "k", "h", settings) is None  # the retry runs
