"""Erasing a person's rows: delete what is about them, unlink what accounting keeps.

Runs inside the caller's transaction and never commits. Deletes are set-based
(one statement per table, no per-row ORM work) so a user with 100k items
erases in well under the 2 s budget on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from shared.erasure.subjects import Identifiers
from shared.models import (
    ApiKey,
    Base,
    Consent,
    ConsentEvent,
    ContentItem,
    Feedback,
    IdempotencyRecord,
    RateLimitCounter,
    RequestMetric,
    SpendTotal,
    UsageEvent,
    User,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Result


@dataclass
class ErasureCounts:
    """Rows removed per table, and rows kept for accounting with the person unlinked."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)


def _count(result: Result[Any]) -> int:
    # What an UPDATE or DELETE returns is a CursorResult; Session.execute is typed as the general Result.
    result = cast(CursorResult[Any], result)
    return max(int(result.rowcount or 0), 0)


def _delete_where(session: Session, model: type[Base], condition: ColumnElement[bool]) -> int:
    return _count(session.execute(delete(model).where(condition).execution_options(synchronize_session=False)))


def _delete_rate_limit_counters(session: Session, ids: Identifiers) -> int:
    """Counters are keyed by free-form bucket strings that embed a user or key identifier."""
    terms = [ids.user_id, *ids.key_ids, *ids.key_prefixes]
    condition = or_(*[RateLimitCounter.bucket.contains(t, autoescape=True) for t in terms])
    return _delete_where(session, RateLimitCounter, condition)


def _unlink_usage(session: Session, user_id: str) -> int:
    """The usage ledger keeps every row (accounting totals) without the user reference."""
    stmt = update(UsageEvent).where(UsageEvent.user_id == user_id).values(user_id=None)
    return _count(session.execute(stmt.execution_options(synchronize_session=False)))


def _unlink_request_metrics(session: Session, user_id: str) -> int:
    stmt = update(RequestMetric).where(RequestMetric.user_id == user_id).values(user_id=None)
    return _count(session.execute(stmt.execution_options(synchronize_session=False)))


def erase_rows(session: Session, ids: Identifiers) -> ErasureCounts:
    """Delete or unlink every row about the person, children first, in the caller's transaction."""
    uid = ids.user_id
    counts = ErasureCounts()
    d = counts.deleted
    own_content = select(ContentItem.id).where(ContentItem.user_id == uid).scalar_subquery()
    d["feedback"] = _delete_where(
        session, Feedback, or_(Feedback.user_id == uid, Feedback.content_id.in_(own_content))
    )
    d["content_items"] = _delete_where(session, ContentItem, ContentItem.user_id == uid)
    d["consent_events"] = _delete_where(session, ConsentEvent, ConsentEvent.user_id == uid)
    d["consents"] = _delete_where(session, Consent, Consent.user_id == uid)
    d["idempotency_records"] = _delete_where(session, IdempotencyRecord, IdempotencyRecord.user_id == uid)
    # Keys before counters: a request charging a counter holds its key row (`FOR KEY SHARE`), so this
    # delete waits for it and the counters' delete then sees its row; a later one finds no key and
    # writes nothing (shared.ratelimit.database).
    d["api_keys"] = _delete_where(session, ApiKey, ApiKey.user_id == uid)
    d["rate_limit_counters"] = _delete_rate_limit_counters(session, ids)
    # Ledger rows before their running totals: the order every ledger writer locks them in
    # (a reservation released as stale, a settlement), so neither waits on the other in a cycle.
    counts.anonymised["usage_events"] = _unlink_usage(session, uid)
    d["spend_totals"] = _delete_where(session, SpendTotal,  # the budget's per-user running totals
                                      SpendTotal.bucket.startswith(SpendTotal.user_prefix(uid), autoescape=True))
    counts.anonymised["request_metrics"] = _unlink_request_metrics(session, uid)
    d["users"] = _delete_where(session, User, User.id == uid)
    return counts
