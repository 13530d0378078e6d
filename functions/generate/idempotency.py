"""Idempotency-Key for POST /v1/content: a replay returns the stored response.

A record per (user, key) holds the request's hash and a state. `begin`
claims the key (in_progress) or returns the stored response of a completed
request; the same key with another body is 422; a duplicate while the first
is still in flight is 409 (the unique constraint arbitrates between
instances). Records expire after 24 h (`RETENTION_IDEMPOTENCY_HOURS`) and an
expired one is replaced; an in-progress record older than `STALE_IN_PROGRESS`
(its instance died) is replaced too. A request that ends in an error releases
its key so the client's retry really runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from shared import errors
from shared.models import IdempotencyRecord, utcnow

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
STALE_IN_PROGRESS = timedelta(minutes=15)
IN_FLIGHT_RETRY_AFTER = 5  # seconds: a generation takes seconds; the replay is ready soon after


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.match(value):
        raise errors.ValidationFailed([{"field": HEADER, "message": "must be 1-255 visible ASCII characters"}])
    return value


def request_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def begin(user_id: str, key: str, digest: str, ttl_hours: int) -> tuple[int, dict[str, Any]] | None:
    """Claim `key` for this request, or return (status, body) of the completed original."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from shared.database import session_scope

    now = utcnow()
    try:
        with session_scope() as session:
            record = session.execute(
                select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
                .with_for_update()
            ).scalar_one_or_none()
            if record is not None and (record.expires_at <= now or (
                    record.status == "in_progress" and record.created_at <= now - STALE_IN_PROGRESS)):
                session.delete(record)
                session.flush()
                record = None
            if record is None:
                session.add(IdempotencyRecord(user_id=user_id, key=key, request_hash=digest, status="in_progress",
                                              created_at=now, expires_at=now + timedelta(hours=ttl_hours)))
                session.flush()
                return None
            if record.request_hash != digest:
                raise errors.ValidationFailed(
                    [{"field": HEADER, "message": "was already used with a different request body"}],
                    "This Idempotency-Key was used with a different request body.")
            if record.status != "completed":
                raise errors.Conflict("A request with this Idempotency-Key is still in progress.",
                                      headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)})
            return int(record.response_status), record.response_body
    except IntegrityError:
        raise errors.Conflict("A request with this Idempotency-Key is still in progress.",
                              headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)}) from None


def complete(user_id: str, key: str, status: int, body: dict[str, Any]) -> None:
    from sqlalchemy import update

    from shared.database import session_scope

    with session_scope() as session:
        session.execute(update(IdempotencyRecord)
                        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
                               IdempotencyRecord.status == "in_progress")
                        .values(status="completed", response_status=status, response_body=body))


def release(user_id: str, key: str) -> None:
    from sqlalchemy import delete

    from shared.database import session_scope

    with session_scope() as session:
        session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
            IdempotencyRecord.status == "in_progress"))
