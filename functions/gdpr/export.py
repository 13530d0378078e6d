"""Export (Art. 15, 20): one JSON document of everything held about a person, streamed.

The document is written incrementally from server-side cursors (`yield_per`;
on PostgreSQL a named cursor), a batch of rows at a time, so memory stays flat
whether the person has ten items or a hundred thousand. On PostgreSQL the
whole export reads one REPEATABLE READ snapshot, so its sections agree.

A streamed response cannot change its status once the first byte is out, so
everything that can fail cleanly happens before: authentication, the subject
look-up (404), the audit entry and the first query. A failure after that
aborts the connection (the client sees a truncated, invalid document, never a
silently incomplete valid one) and is logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from flask import Response
from sqlalchemy import Row, Select, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from shared.database import DatabaseUnavailable, get_engine, is_outage, is_postgres, session_scope
from shared.http import RequestContext
from shared.logs import get_logger
from shared.models import (
    CONSENT_PURPOSES,
    ApiKey,
    AuditEntry,
    Consent,
    ConsentEvent,
    ContentItem,
    Feedback,
    UsageEvent,
    User,
)

from functions.gdpr import subjects

log = get_logger("lafactoria.gdpr.export")

FORMAT_VERSION = "1.0"
BATCH_ROWS = 500
CHUNK_CHARS = 64 * 1024


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- one renderer per section: what the person gets for each stored row --------------------------

def render_user(user: User, keys: list[ApiKey]) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "restricted": user.restricted_at is not None,
        "restricted_at": user.restricted_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "api_keys": [
            {"id": k.id, "prefix": k.prefix, "name": k.name, "created_at": k.created_at,
             "last_used_at": k.last_used_at, "revoked_at": k.revoked_at}
            for k in keys
        ],
    }


_CONTENT = ContentItem.__table__.c
_FEEDBACK = Feedback.__table__.c
_USAGE = UsageEvent.__table__.c
_AUDIT = AuditEntry.__table__.c


def render_content(r: Row[Any]) -> dict[str, Any]:
    return {
        "id": r.id, "content_type": r.content_type, "topic": r.topic, "audience": r.audience,
        "language": r.language, "request": r.request, "content": r.content, "quality": r.quality,
        "provider": r.provider, "model": r.model, "prompt_version": r.prompt_version,
        "usage": {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
                  "cached_input_tokens": r.cached_input_tokens, "reasoning_tokens": r.reasoning_tokens,
                  "cost_usd": _money(r.cost_usd)},
        "cached": r.cached,
        "attempts": r.attempts, "created_at": r.created_at,
    }


def render_feedback(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "content_id": r.content_id, "rating": r.rating, "comment": r.comment,
            "created_at": r.created_at}


def render_usage(r: Row[Any]) -> dict[str, Any]:
    return {
        "id": r.id, "content_id": r.content_id, "request_id": r.request_id, "content_type": r.content_type,
        "provider": r.provider, "model": r.model, "attempt": r.attempt, "kind": r.kind, "outcome": r.outcome,
        "generation_id": r.generation_id, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cached_input_tokens": r.cached_input_tokens, "cache_write_tokens": r.cache_write_tokens,
        "cache_write_1h_tokens": r.cache_write_1h_tokens, "reasoning_tokens": r.reasoning_tokens,
        "cost_usd": _money(r.cost_usd), "cost_avoided_usd": _money(r.cost_avoided_usd),
        "reserved_usd": _money(r.reserved_usd), "cost_known": r.cost_known, "price_version": r.price_version,
        "latency_ms": r.latency_ms, "error": r.error, "created_at": r.created_at,
    }


def render_audit(r: Row[Any], subject: str) -> dict[str, Any]:
    """Audit entries about the person; an admin actor is shown by role, not by pseudonym."""
    return {"id": r.id, "created_at": r.created_at, "action": r.action,
            "actor": "self" if r.actor == subject else r.actor_role, "request_id": r.request_id,
            "count": r.count, "details": r.details}


def consents_section(session: Session, user_id: str) -> dict[str, Any]:
    rows = {c.purpose: c for c in session.scalars(select(Consent).where(Consent.user_id == user_id))}
    current = {p: {"granted": rows[p].granted if p in rows else False,
                   "updated_at": rows[p].updated_at if p in rows else None} for p in CONSENT_PURPOSES}
    history = [
        {"purpose": e.purpose, "granted": e.granted, "actor_role": e.actor_role, "created_at": e.created_at}
        for e in session.scalars(
            select(ConsentEvent).where(ConsentEvent.user_id == user_id)
            .order_by(ConsentEvent.created_at, ConsentEvent.id)
        )
    ]
    return {"current": current, "history": history}


# --- streaming ---------------------------------------------------------------------------------

def _array(session: Session, stmt: Select[Any], render: Callable[[Row[Any]], dict[str, Any]]) -> Iterator[str]:
    """A JSON array body (without brackets) in chunks of about CHUNK_CHARS."""
    buf: list[str] = []
    size = 0
    sep = ""
    for row in session.execute(stmt.execution_options(yield_per=BATCH_ROWS)):
        piece = sep + dumps(render(row))
        sep = ","
        buf.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


def _sections(session: Session, user_id: str, subject: str, head: str) -> Iterator[str]:
    yield head
    yield from _array(session, select(ContentItem.__table__).where(_CONTENT.user_id == user_id)
                      .order_by(_CONTENT.created_at, _CONTENT.id), render_content)
    yield '],"feedback":['
    yield from _array(session, select(Feedback.__table__).where(_FEEDBACK.user_id == user_id)
                      .order_by(_FEEDBACK.created_at, _FEEDBACK.id), render_feedback)
    yield '],"usage":['
    yield from _array(session, select(UsageEvent.__table__).where(_USAGE.user_id == user_id)
                      .order_by(_USAGE.created_at, _USAGE.id), render_usage)
    yield '],"consents":' + dumps(consents_section(session, user_id)) + ',"audit":['
    yield from _array(session, select(AuditEntry.__table__).where(_AUDIT.subject == subject)
                      .order_by(_AUDIT.created_at, _AUDIT.id), lambda r: render_audit(r, subject))
    yield "]}"


def _stream(session: Session, user_id: str, subject: str, head: str) -> Iterator[bytes]:
    try:
        for chunk in _sections(session, user_id, subject, head):
            yield chunk.encode()
    except GeneratorExit:  # client went away
        raise
    except Exception:
        log.exception("export aborted mid-stream")
        raise
    finally:
        session.rollback()
        session.close()


def _open_snapshot() -> Session:
    session = Session(get_engine(), expire_on_commit=False)
    if is_postgres():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session


def export(ctx: RequestContext, user_id: str | None = None) -> Response:
    who = subjects.acting(ctx, user_id)
    with session_scope() as s:
        subjects.load_user(s, who)
        subjects.audit(s, ctx, who, "gdpr.export", {"format_version": FORMAT_VERSION})
    try:
        session = _open_snapshot()
    except (OperationalError, InterfaceError) as exc:
        if is_outage(exc):  # the one outage check (shared.database)
            raise DatabaseUnavailable("database unreachable") from exc
        raise
    try:
        user = subjects.load_user(session, who)
        keys = list(session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at)))
        exported_at = datetime.now(timezone.utc)
        head = ('{"format_version":' + dumps(FORMAT_VERSION) + ',"exported_at":' + dumps(exported_at)
                + ',"user":' + dumps(render_user(user, keys)) + ',"content":[')
    except BaseException:
        session.close()
        raise
    filename = f"lafactoria-export-{exported_at:%Y%m%dT%H%M%SZ}.json"
    response = Response(
        _stream(session, who.user_id, who.subject, head),
        status=200,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
    response.call_on_close(session.close)  # also when the body is never iterated
    return response
