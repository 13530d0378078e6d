"""Idempotency-Key for POST /v1/content: a replay returns the stored response.

A record per (user, key) holds the request's hash and a state. `begin`
claims the key (in_progress) or returns the stored response of a completed
request; the same key with another body is 422; a duplicate while the first
is still in flight is 409 (the unique constraint arbitrates between
instances). Records expire after 24 h (`RETENTION_IDEMPOTENCY_HOURS`) and an
expired one is replaced; an in-progress record older than the generation
deadline plus `STALE_MARGIN` (its instance died: no request runs longer) is
replaced too, so a retry after a crash waits minutes at most, not a quarter
of an hour. A request that ends in an error releases its key so the client's
retry really runs again.

Deleting an item forgets the document its record kept (`forget_item`): the
record stays (the key still names that request, so a replay never generates
again), and a replay answers 410 Gone, never the deleted content.
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
STALE_MARGIN = timedelta(seconds=30)  # storing the item after the deadline
DELETED_STATUS = 410  # `response_status` of a record whose item was deleted (its body is gone)
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


def stale_in_progress(settings) -> timedelta:
    """How old an in-progress record must be before its request is known dead."""
    return timedelta(seconds=settings.generation_deadline_seconds) + STALE_MARGIN


def begin(user_id: str, key: str, digest: str, settings) -> tuple[int, dict[str, Any]] | None:
    """Claim `key` for this request, or return (status, body) of the completed original.

    Raises 410 when the original's item was deleted, 409 while it is in flight."""
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
                    record.status == "in_progress" and record.created_at <= now - stale_in_progress(settings))):
                session.delete(record)
                session.flush()
                record = None
            if record is None:
                session.add(IdempotencyRecord(
                    user_id=user_id, key=key, request_hash=digest, status="in_progress", created_at=now,
                    expires_at=now + timedelta(hours=settings.retention_idempotency_hours)))
                session.flush()
                return None
            if record.request_hash != digest:
                raise errors.ValidationFailed(
                    [{"field": HEADER, "message": "was already used with a different request body"}],
                    "This Idempotency-Key was used with a different request body.")
            if record.status != "completed":
                raise errors.Conflict("A request with this Idempotency-Key is still in progress.",
                                      headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)})
            if record.response_status == DELETED_STATUS or record.response_body is None:
                raise errors.Gone("The content this Idempotency-Key created has been deleted; "
                                  "send a new key to generate again.")
            status = record.response_status
            assert status is not None, "a completed record keeps the status it answered with"
            return status, record.response_body
    except IntegrityError:
        raise errors.Conflict("A request with this Idempotency-Key is still in progress.",
                              headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)}) from None


def complete(user_id: str, key: str, status: int, body: dict[str, Any] | None) -> None:
    """Store the response for replays; an item deleted before this (listed and deleted while the
    response was on its way) is recorded as deleted, never kept."""
    from sqlalchemy import select, update

    from shared.database import session_scope
    from shared.models import ContentItem

    with session_scope() as session:
        if body and "id" in body and session.execute(select(ContentItem.id).where(ContentItem.id == body["id"])
                                            .with_for_update(read=True, key_share=True)).first() is None:
            status, body = DELETED_STATUS, None
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


def forget_item(session, user_id: str, item_id: str) -> int:
    """Drop the stored document of `user_id`'s records that created `item_id` (in the caller's
    transaction: the item's delete); a replay then gets 410. Returns how many records."""
    from sqlalchemy import update

    r = IdempotencyRecord
    result = session.execute(
        update(r).where(r.user_id == user_id, r.status == "completed",
                        r.response_body["id"].as_string() == item_id)
        .values(response_status=DELETED_STATUS, response_body=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
