"""Handlers of the generate function: thin glue between HTTP and the pipeline/storage modules."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response

from functions.generate.catalog import CATALOG
from shared import errors
from shared.http import RequestContext, json_response

# Storage, idempotency, output models and the pipeline import lazily: they pull in
# SQLAlchemy models and pydantic output schemas, which a cold start should not pay for
# before the first request that needs them.

DEFAULT_RATE_WEIGHT = max(t.rate_weight for t in CATALOG.values())


@cache
def _content_types_body() -> dict[str, Any]:
    from functions.generate import content_types

    return {"content_types": [
        {"id": t.id, "name": t.name, "description": t.description, "schema": t.schema()}
        for t in content_types.CONTENT_TYPES.values()
    ]}


def list_content_types(ctx: RequestContext) -> dict[str, Any]:
    return _content_types_body()


def rate_weight(ctx: RequestContext) -> int:
    """Rate-limit weight of a generation request: long content types cost more.

    Read by the rate-limit middleware through `Route.options["rate_weight"]`.
    An unreadable body gets the heaviest weight (fail closed); the handler
    still answers it with 400/422.
    """
    try:
        body = ctx.json_body()
        return CATALOG[body["content_type"]].rate_weight
    except Exception:  # noqa: BLE001 - any malformed body
        return DEFAULT_RATE_WEIGHT


def create_content(ctx: RequestContext) -> Response:
    principal = ctx.user
    if principal.restricted_at is not None:
        raise errors.Forbidden(
            "Processing of your data is restricted (GDPR Art. 18), so content cannot be generated. "
            "Lift the restriction with DELETE /v1/me/restriction.")
    from functions.generate import idempotency

    request = ctx.body()
    key = idempotency.parse_key(ctx.request.headers.get(idempotency.HEADER))
    if key is not None:
        digest = idempotency.request_hash(request.model_dump(mode="json"))
        replay = idempotency.begin(principal.user_id, key, digest, ctx.settings)
        if replay is not None:
            status, body = replay
            headers = {"Idempotent-Replayed": "true"}
            if status == 201 and isinstance(body, dict) and "id" in body:
                headers["Location"] = f"/v1/content/{body['id']}"
            return json_response(body, status, headers)
    try:
        item = _generate(ctx, request)
    except BaseException:
        if key is not None:
            idempotency.release(principal.user_id, key)
        raise
    if key is not None:
        idempotency.complete(principal.user_id, key, 201, item)
    return json_response(item, 201, {"Location": f"/v1/content/{item['id']}"})


def _generate(ctx: RequestContext, request) -> dict[str, Any]:
    """Serve from the generation cache when allowed and present, else generate and store. The
    pipeline's domain errors propagate: the app's registered handler answers them (`app.py`)."""
    from functions.generate import cache, pipeline, store

    user_id = ctx.user.user_id
    rules = cache.policy(ctx.settings, ctx.request.headers.get("Cache-Control"))
    if not rules.lookup:
        store_key = cache.key(request, ctx.settings, user_id) if rules.store else None
        generated = pipeline.generate(request, user_id=user_id, request_id=ctx.request_id)
        return store.persist(generated, request, user_id=user_id, request_id=ctx.request_id, cache_key=store_key)
    cache_key = cache.key(request, ctx.settings, user_id)
    # Single flight: an identical request in flight here is waited for, then served from its entry.
    with cache.flight(cache_key, ctx.settings):
        hit = cache.lookup(cache_key, user_id, ctx.settings)
        if hit is not None:
            return cache.serve(hit, request, user_id=user_id, request_id=ctx.request_id)
        generated = pipeline.generate(request, user_id=user_id, request_id=ctx.request_id)
        return store.persist(generated, request, user_id=user_id, request_id=ctx.request_id, cache_key=cache_key)


def list_content(ctx: RequestContext) -> dict[str, Any]:
    from functions.generate import store

    query = ctx.query()
    return store.list_items(ctx.user.user_id, limit=query.limit, cursor=query.cursor,
                            content_type=query.content_type, summary=query.view == "summary")


def get_content(ctx: RequestContext, item_id: str) -> dict[str, Any]:
    from functions.generate import store

    return store.get_item(item_id, ctx.user)


def delete_content(ctx: RequestContext, item_id: str) -> None:
    from functions.generate import store

    store.delete_item(item_id, ctx.user)


def add_feedback(ctx: RequestContext, item_id: str) -> Response:
    principal = ctx.user
    from functions.generate import store

    feedback = ctx.body()
    return json_response(store.add_feedback(item_id, principal, feedback.rating, feedback.comment), 201)


def get_feedback(ctx: RequestContext, item_id: str) -> dict[str, Any]:
    from functions.generate import store

    return store.get_feedback(item_id, ctx.user)


def replace_feedback(ctx: RequestContext, item_id: str) -> Response:
    principal = ctx.user
    from functions.generate import store

    feedback = ctx.body()
    body, created = store.replace_feedback(item_id, principal, feedback.rating, feedback.comment)
    return json_response(body, 201 if created else 200)
