"""Seeding for the GDPR tests: one person with a row in every table that can refer to them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import create_engine, func, inspect, select, text

from shared.database import session_scope
from shared.identity import create_key
from shared.models import (
    Alert,
    ApiKey,
    AuditEntry,
    Consent,
    ConsentEvent,
    ContentItem,
    Feedback,
    IdempotencyRecord,
    JobCheckpoint,
    JobRun,
    ProviderCircuit,
    RateLimitCounter,
    RequestMetric,
    UsageEvent,
    utcnow,
)
from shared.pseudonyms import pseudonym
from shared.ratelimit import daily_generation_bucket, minute_bucket


def content_row(user_id: str, n: int = 0, **overrides) -> ContentItem:
    values = dict(
        user_id=user_id, content_type="flashcards", topic=f"Photosynthesis {n}", audience="general",
        request={"topic": f"Photosynthesis {n}", "content_type": "flashcards"},
        content={"title": f"Cards {n}", "items": [{"term": "ATP", "definition": "energy carrier", "difficulty": "easy"}]},
        quality={"overall": 0.9, "passed": True, "dimensions": {"structure": 1.0}},
        quality_overall=0.9, quality_passed=True, provider="mock", model="mock-1", prompt_version="v1",
        input_tokens=100 + n, output_tokens=200 + n, cost_usd=Decimal("0.00123400"), attempts=1,
    )
    values.update(overrides)
    return ContentItem(**values)


def seed_person(user_id: str, tag: str) -> dict:
    """Rows about `user_id` in every table that can hold them; returns their key ids and content ids."""
    now = utcnow()
    subject = pseudonym(user_id)
    with session_scope() as s:
        extra_key = create_key(s, user_id, name=f"second key {tag}")
        s.get(ApiKey, extra_key.key_id).revoked_at = now
        key_ids = list(s.scalars(select(ApiKey.id).where(ApiKey.user_id == user_id)))
        items = [content_row(user_id, i, topic=f"{tag} topic {i}") for i in range(3)]
        s.add_all(items)
        s.flush()
        s.add(Feedback(content_id=items[0].id, user_id=user_id, rating=4, comment=f"useful ({tag})"))
        for i, item in enumerate(items):
            s.add(UsageEvent(user_id=user_id, content_id=item.id, request_id=uuid.uuid4().hex,
                             content_type="flashcards", provider="mock", model="mock-1", outcome="success",
                             input_tokens=100 + i, output_tokens=200 + i, cost_usd=Decimal("0.00100000") * (i + 1)))
        s.add(UsageEvent(user_id=user_id, provider="openai", model="gpt", outcome="error", kind="generation",
                         cost_known=False, error="timeout"))
        s.add(Consent(user_id=user_id, purpose="analytics", granted=True))
        s.add(ConsentEvent(user_id=user_id, purpose="analytics", granted=True, actor_role="self", actor=subject))
        s.add(IdempotencyRecord(user_id=user_id, key=f"idem-{tag}", request_hash="0" * 64, status="completed",
                                response_status=201, response_body={"id": items[0].id, "topic": f"{tag} topic 0"},
                                expires_at=now + timedelta(hours=24)))
        for kid in key_ids:  # the rate limiter's own bucket names
            bucket, expires = minute_bucket(user_id, kid, "generate", now)
            s.add(RateLimitCounter(bucket=bucket, count=3, expires_at=expires))
        bucket, expires = daily_generation_bucket(user_id, now)
        s.add(RateLimitCounter(bucket=bucket, count=7, expires_at=expires))
        # and one keyed by a key id alone (any other counter scheme)
        s.add(RateLimitCounter(bucket=f"quota:k:{key_ids[0]}", count=1, expires_at=now + timedelta(minutes=2)))
        s.add(RequestMetric(function="generate", route="/v1/content", method="POST", status=201,
                            latency_ms=12.5, user_id=user_id))
        s.add(AuditEntry(action="auth.key_created", actor=subject, actor_role="user", subject=subject,
                         details={"key": "created"}))
    return {"key_ids": key_ids, "content_ids": [i.id for i in items]}


def seed_unrelated() -> None:
    """Rows in the tables no person owns, so 'every table' really has data."""
    with session_scope() as s:
        s.add(ProviderCircuit(provider="openai", failures=1))
        s.add(JobRun(job="backup", status="ok", exit_code=0, summary={"tables": 12}))
        s.add(JobCheckpoint(job="retention-expiry", key="content", value={"after": "x"}))
        s.add(Alert(rule="error_rate", severity="warning", message="error rate 6%", details={"rate": 0.06}))
        s.add(RequestMetric(function="health", route="/livez", method="GET", status=200, latency_ms=1.0))


def occurrences(url: str, terms: list[str], exclude: tuple[str, ...] = ()) -> dict[str, int]:
    """Independent proof: every column of every table in the database, cast to text, searched for each term."""
    engine = create_engine(url)
    found: dict[str, int] = {}
    try:
        insp = inspect(engine)
        with engine.connect() as conn:
            for table in insp.get_table_names():
                if table in exclude:
                    continue
                for col in insp.get_columns(table):
                    for term in terms:
                        n = conn.execute(text(
                            f'SELECT count(*) FROM "{table}" WHERE lower(CAST("{col["name"]}" AS TEXT)) LIKE :t'
                        ), {"t": f"%{term.lower()}%"}).scalar_one()
                        if n:
                            found[f"{table}.{col['name']}"] = found.get(f"{table}.{col['name']}", 0) + n
    finally:
        engine.dispose()
    return found


def ledger_totals() -> tuple:
    with session_scope() as s:
        return s.execute(select(func.count(), func.sum(UsageEvent.cost_usd), func.sum(UsageEvent.input_tokens),
                                func.sum(UsageEvent.output_tokens))).one()._tuple()


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in inspect(engine).get_table_names() if t != "alembic_version"}
    finally:
        engine.dispose()
