"""The generation cache: an identical request is served from an earlier result at no provider cost.

`GENERATION_CACHE`:
- `user` (default): a user's request is served from their own earlier item;
- `global`: from anyone's earlier item (cheaper; see docs/GENERATE.md for the
  privacy trade-off: a hit tells the caller that someone made this exact request);
- `off`: never.

The key is a SHA-256 over every input of the request, the prompt version, the
failover list with each provider's model, the quality thresholds and (in `user`
scope) the user id. Entries are the original items themselves (`content_items`
with a `cache_key`, `cached = false`, passed the quality gate, younger than
`GENERATION_CACHE_MAX_AGE_HOURS`): no second copy of anyone's content exists, so
deleting an item, retention expiry and GDPR erasure remove its entry with it.
A hit is a new item for the caller (`"cached": true`, never itself an entry)
and a `cache_hit` ledger row at $0 recording the provider cost avoided.

`Cache-Control: no-cache` on the request skips the lookup (the fresh result
still becomes an entry); `no-store` keeps the fresh result out of the cache.
The lookup is one indexed query (`ix_content_items_cache_key`).

Single flight (`flight`): concurrent identical cacheable requests on one
instance make one provider call. The first to miss holds the key's lock while
it generates; the others wait for it (at most the generation deadline plus a
margin), then look up again and are served as cache hits. If the first one
failed or its document did not pass the gate (no entry), the next waiter
generates. Within one instance only: N instances make at most N calls for
one key at a time (a claim across instances would have to outlive a
transaction, which PgBouncer's transaction pooling cannot carry; see
docs/GENERATE.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared import errors
from shared.models import ContentItem, new_id, utcnow


@dataclass(frozen=True)
class Policy:
    lookup: bool
    store: bool


def policy(settings, cache_control: str | None) -> Policy:
    """What this request may do with the cache, from `GENERATION_CACHE` and its `Cache-Control` header."""
    if settings.generation_cache == "off":
        return Policy(False, False)
    directives = {d.strip().split("=", 1)[0].lower() for d in (cache_control or "").split(",") if d.strip()}
    return Policy(lookup="no-cache" not in directives and "no-store" not in directives,
                  store="no-store" not in directives)


def key(request, settings, user_id: str) -> str:
    """The cache key of `request` as `user_id` would make it now."""
    from functions.generate.prompts import PROMPT_VERSION
    from functions.generate.providers import get_provider

    material: dict[str, Any] = {
        "request": request.model_dump(mode="json"),
        "prompt_version": PROMPT_VERSION,
        "providers": [[name, get_provider(name, settings).model] for name in settings.providers],
        "thresholds": [settings.quality_threshold_overall, settings.quality_threshold_educational,
                       settings.quality_threshold_factual],
        "user": user_id if settings.generation_cache == "user" else None,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Flights:
    """One lock per cache key being generated in this process (dropped when nobody holds or waits)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, cache_key: str, timeout: float) -> Iterator[None]:
        """Wait up to `timeout` s for the key. A request that times out goes on unlocked (it
        generates itself, as without single flight)."""
        with self._guard:
            lock, users = self._locks.get(cache_key, (threading.Lock(), 0))
            self._locks[cache_key] = (lock, users + 1)
        held = lock.acquire(timeout=timeout)
        try:
            yield
        finally:
            if held:
                lock.release()
            with self._guard:
                lock, users = self._locks[cache_key]
                if users == 1:
                    del self._locks[cache_key]
                else:
                    self._locks[cache_key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


FLIGHTS = _Flights()
FLIGHT_MARGIN_SECONDS = 10.0  # storing the leader's item after its deadline


def flight(cache_key: str, settings):
    """`with flight(key, settings):` one generation per key at a time in this process."""
    return FLIGHTS.hold(cache_key, settings.generation_deadline_seconds + FLIGHT_MARGIN_SECONDS)


def lookup(cache_key: str, user_id: str, settings) -> ContentItem | None:
    """The newest live entry for `cache_key` (in `user` scope, only the user's own), or None.

    A miss (most requests) costs one indexed probe for an id on a Core connection; only a hit
    loads the entry as an ORM object."""
    from shared.database import session_scope, single_statements

    with single_statements() as connection:
        found = connection.execute(_PROBES[settings.generation_cache == "user"], {
            "cache_key": cache_key, "user_id": user_id,
            "since": utcnow() - timedelta(hours=settings.generation_cache_max_age_hours)}).scalar()
    if found is None:
        return None
    with session_scope() as session:
        row = session.get(ContentItem, found)
        if row is not None:
            session.expunge(row)
        return row


def _probe(own: bool):
    """The id of the newest live entry for :cache_key (of :user_id's own when `own`), built once."""
    from sqlalchemy import bindparam, select

    c = ContentItem
    stmt = (select(c.id).where(c.cache_key == bindparam("cache_key"), c.cached.is_(False),
                               c.quality_passed.is_(True), c.created_at >= bindparam("since", type_=c.created_at.type))
            .order_by(c.created_at.desc()).limit(1))
    return stmt.where(c.user_id == bindparam("user_id")) if own else stmt


_PROBES = {own: _probe(own) for own in (True, False)}


def serve(original: ContentItem, request, *, user_id: str, request_id: str) -> dict[str, Any]:
    """A new item for `user_id` from `original`, with its `cache_hit` ledger row, in one transaction."""
    from functions.generate.store import to_item
    from functions.generate import ledger
    from shared.database import session_scope

    item = ContentItem(
        id=new_id(), user_id=user_id, content_type=request.content_type, topic=request.topic,
        audience=request.audience, language=request.language, request=request.model_dump(mode="json"),
        content=original.content, quality=original.quality, quality_overall=original.quality_overall,
        quality_passed=original.quality_passed, provider=original.provider, model=original.model,
        prompt_version=original.prompt_version, input_tokens=0, output_tokens=0, cached_input_tokens=0,
        reasoning_tokens=0, cost_usd=0, attempts=0, created_at=utcnow(), cached=True, cache_key=None,
    )
    with session_scope() as session:
        if ledger.owner(session, user_id) is None:  # erased meanwhile: store nothing about them
            raise errors.Gone(ledger.ERASED_DETAIL)
        session.add(item)
        ledger.write(session, ledger.usage_event(
            user_id=user_id, generation_id=new_id(), request_id=request_id, content_id=item.id,
            content_type=request.content_type, provider=original.provider, model=original.model, attempt=0,
            kind="cache_hit", outcome="success", input_tokens=0, output_tokens=0, cost_usd=0, cost_known=True,
            cost_avoided_usd=original.cost_usd, latency_ms=0.0))
    return to_item(item)
