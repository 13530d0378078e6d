"""Storage and retrieval of generated items, their ledger link, and feedback.

Visibility rule in one place (`visible_item`): the owner sees an item, an
admin sees any item, anyone else gets 404 so existence is not revealed.
Listing is keyset-paginated on (created_at, id), newest first; the cursor is
an opaque URL-safe token.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import inspect

from shared import errors
from shared.auth import Principal
from shared.models import ContentItem, Feedback, UsageEvent, new_id, utcnow


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def to_item(row: ContentItem, *, summary: bool = False) -> dict[str, Any]:
    """The API shape of an item (DESIGN.md); `summary` leaves out `content` (never reading it, so a
    list can leave the column unloaded)."""
    return {
        "id": row.id,
        "content_type": row.content_type,
        "topic": row.topic,
        "audience": row.audience,
        **({} if summary else {"content": row.content}),
        # Items stored before `reasons` existed read as having none.
        "quality": {**row.quality, "reasons": row.quality.get("reasons", [])} if isinstance(row.quality, dict)
        else row.quality,
        "provider": row.provider,
        "model": row.model,
        "usage": {
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "cached_input_tokens": row.cached_input_tokens,
            "reasoning_tokens": row.reasoning_tokens,
            "cost_usd": float(row.cost_usd) if row.cost_usd is not None else None,
        },
        "attempts": row.attempts,
        "cached": bool(row.cached),
        "created_at": _iso(row.created_at),
    }


def persist(generated, request, *, user_id: str, request_id: str, cache_key: str | None = None) -> dict[str, Any]:
    """Store the item and link the request's ledger rows to it, in one transaction; returns the item.

    The ledger rows (written as each call returned) are linked by the request's
    server-side generation id and its user, never by the client's `X-Request-ID`
    (a label anyone can reuse). `cache_key` makes a passing item a generation-cache
    entry. A user erased while the generation ran gets 410 and nothing is stored
    (`ledger.owner` locks the user row first; their calls stay in the ledger unlinked).
    """
    from functions.generate import ledger
    from shared.database import transaction

    report = generated.report
    quality = report.as_dict()
    item = ContentItem(
        id=new_id(), user_id=user_id, content_type=request.content_type, topic=request.topic,
        audience=request.audience, language=request.language, request=request.model_dump(mode="json"),
        content=generated.content, quality=quality, quality_overall=float(quality["overall"]),
        quality_passed=bool(quality["passed"]), provider=generated.provider, model=generated.model,
        prompt_version=generated.prompt_version, input_tokens=generated.input_tokens,
        output_tokens=generated.output_tokens, cost_usd=generated.cost_usd,
        cached_input_tokens=generated.cached_input_tokens, reasoning_tokens=generated.reasoning_tokens,
        attempts=max(1, len(generated.attempts)), created_at=utcnow(), cached=False,
        cache_key=cache_key if quality["passed"] else None,
    )
    # Core statements built once, on one connection: the ORM's unit of work for one INSERT and the
    # bulk UPDATE's session synchronisation were most of this transaction's CPU.
    insert_item, link_rows = _persist_statements()
    with transaction() as connection:
        if ledger.owner(connection, user_id) is None:
            raise errors.Gone(ledger.ERASED_DETAIL)
        connection.execute(insert_item, {k: v for k, v in inspect(item).dict.items() if k in _ITEM_COLUMNS})
        connection.execute(link_rows, {"item": item.id, "generation": generated.generation_id, "user": user_id})
    return to_item(item)


_ITEM_COLUMNS = frozenset(ContentItem.__table__.c.keys())


@cache
def _persist_statements() -> tuple[Any, Any]:
    """`persist`'s INSERT of the item and the UPDATE linking the request's ledger rows to it."""
    from sqlalchemy import bindparam, insert, update

    e = UsageEvent
    link = (update(e.__table__)
            .where(e.generation_id == bindparam("generation"), e.user_id == bindparam("user"), e.content_id.is_(None))
            .values(content_id=bindparam("item")))
    return insert(ContentItem.__table__), link


def visible_item(session, item_id: str, principal: Principal) -> ContentItem:
    """The item if the caller may see it; an uppercase UUID addresses the same item (ids are stored lowercase)."""
    row = session.get(ContentItem, item_id.lower()) if _is_uuid(item_id) else None
    if row is None or (row.user_id != principal.user_id and not principal.is_admin):
        raise errors.NotFound("No such content item.")
    return row


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = json.dumps([_iso(created_at), item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, item_id = json.loads(raw)
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if when.tzinfo is None or not isinstance(item_id, str) or not _is_uuid(item_id):
            raise ValueError
        return when, item_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.ValidationFailed([{"field": "cursor", "message": "is not a cursor this API issued"}]) from None


def list_items(user_id: str, *, limit: int, cursor: str | None, content_type: str | None,
               summary: bool = False) -> dict[str, Any]:
    """A page of the user's items, newest first; `summary` leaves out each item's `content`
    (the heavy part) for list screens, keeping every other key."""
    from sqlalchemy import and_, or_, select
    from sqlalchemy.orm import defer

    from shared.database import session_scope

    # The stored request is never part of an item; a summary page does not read the documents either.
    unread = [ContentItem.request, *([ContentItem.content] if summary else [])]
    stmt = select(ContentItem).options(*[defer(c, raiseload=True) for c in unread]) \
        .where(ContentItem.user_id == user_id)
    if content_type:
        stmt = stmt.where(ContentItem.content_type == content_type)
    if cursor:
        when, item_id = decode_cursor(cursor)
        stmt = stmt.where(or_(ContentItem.created_at < when,
                              and_(ContentItem.created_at == when, ContentItem.id < item_id)))
    stmt = stmt.order_by(ContentItem.created_at.desc(), ContentItem.id.desc()).limit(limit + 1)
    with session_scope() as session:
        rows = list(session.execute(stmt).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return {"items": [to_item(r, summary=summary) for r in rows], "next_cursor": next_cursor}


def _audit_admin_access(session, row: ContentItem, principal: Principal, action: str) -> None:
    """An admin reading or deleting another user's item is audited (pseudonyms only)."""
    if row.user_id != principal.user_id:
        from shared.audit import audit_admin_action
        from shared.logs import request_id_var

        audit_admin_action(session, action, principal, row.user_id,
                           details={"content_id": row.id}, request_id=request_id_var.get())


def get_item(item_id: str, principal: Principal) -> dict[str, Any]:
    from shared.database import session_scope

    with session_scope() as session:
        row = visible_item(session, item_id, principal)
        _audit_admin_access(session, row, principal, "admin.content.read")
        return to_item(row)


def delete_item(item_id: str, principal: Principal) -> None:
    """Delete the item and, in the same transaction, the copy its Idempotency-Key record kept."""
    from functions.generate import idempotency
    from shared.database import session_scope

    with session_scope() as session:
        row = visible_item(session, item_id, principal)
        _audit_admin_access(session, row, principal, "admin.content.delete")
        idempotency.forget_item(session, row.user_id, row.id)
        session.delete(row)


def _owned_item(session, item_id: str, principal: Principal) -> ContentItem:
    """Feedback is the owner's alone: an admin gets 404 on another user's item here."""
    row = visible_item(session, item_id, principal)
    if row.user_id != principal.user_id:
        raise errors.NotFound("No such content item.")
    return row


def _feedback_view(fb: Feedback) -> dict[str, Any]:
    return {"id": fb.id, "content_id": fb.content_id, "rating": fb.rating, "comment": fb.comment,
            "created_at": _iso(fb.created_at)}


def _own_feedback(session, row: ContentItem, principal: Principal) -> list[Feedback]:
    from sqlalchemy import select

    return list(session.scalars(select(Feedback).where(
        Feedback.content_id == row.id, Feedback.user_id == principal.user_id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())))


def add_feedback(item_id: str, principal: Principal, rating: int, comment: str | None) -> dict[str, Any]:
    from shared.database import session_scope

    with session_scope() as session:
        row = _owned_item(session, item_id, principal)
        fb = Feedback(content_id=row.id, user_id=principal.user_id, rating=rating, comment=comment or None,
                      created_at=utcnow())
        session.add(fb)
        session.flush()
        return _feedback_view(fb)


def get_feedback(item_id: str, principal: Principal) -> dict[str, Any]:
    """The owner's current rating of the item (the newest), or 404 when they gave none."""
    from shared.database import session_scope

    with session_scope() as session:
        found = _own_feedback(session, _owned_item(session, item_id, principal), principal)
        if not found:
            raise errors.NotFound("You have not rated this item.")
        return _feedback_view(found[0])


def replace_feedback(item_id: str, principal: Principal, rating: int, comment: str | None) -> tuple[dict[str, Any], bool]:
    """Replace the owner's rating of the item (all earlier ones go); (feedback, whether it is new)."""
    from shared.database import session_scope

    with session_scope() as session:
        row = _owned_item(session, item_id, principal)
        earlier = _own_feedback(session, row, principal)
        for old in earlier:
            session.delete(old)
        fb = Feedback(content_id=row.id, user_id=principal.user_id, rating=rating, comment=comment or None,
                      created_at=utcnow())
        session.add(fb)
        session.flush()
        return _feedback_view(fb), not earlier
