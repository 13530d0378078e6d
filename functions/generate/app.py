"""Generate function's app factory: `create_app(settings)`; `main.py` is the entry point.

Handlers, payload models and the rate weight are `"module:attr"` references,
imported on the first request that needs them (docs/ARCHITECTURE.md, "Lazy imports").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http import FunctionApp, Route
from shared.middleware import standard_middleware
from shared.readiness import readiness_routes

if TYPE_CHECKING:
    from shared.errors import Problem
    from shared.http import RequestContext
    from shared.settings import Settings

USERS = frozenset({"user", "admin"})
# Routes that spend money or process a person's data check the key afresh on every request, so a
# revocation, role change, restriction or erasure made on any instance applies at once; cheap
# reads keep the per-process key cache (AUTH_CACHE_SECONDS).
FRESH = {"fresh_auth": True}


def _handler(name: str) -> str:
    return f"functions.generate.handlers:{name}"


def _payload(name: str) -> str:
    return f"functions.generate.payloads:{name}"


def _routes() -> list[Route]:
    return readiness_routes({"providers:configured": "functions.generate.readiness:check_providers"}) + [
        Route("/v1/content-types", _handler("list_content_types"), response=_payload("ContentTypeList"),
              summary="The 8 content types with the JSON Schema of each type's output"),
        Route("/v1/content", _handler("create_content"), methods=("POST",), roles=USERS, body=_payload("GenerateRequest"),
              response=_payload("Item"), status=201, summary="Generate and store a document",
              responses={403: "Processing restricted (GDPR Art. 18) or role not allowed",
                         409: "Same Idempotency-Key still in flight",
                         410: "The account was erased while the request ran (nothing stored), or this "
                              "Idempotency-Key's item was deleted",
                         429: "Rate limit or the user's daily budget exceeded",
                         503: "No provider could serve, or a global budget is used up"},
              options={"rate_weight": _handler("rate_weight"), "daily_generation": True, **FRESH}),
        Route("/v1/content", _handler("list_content"), roles=USERS, query=_payload("ListQuery"), response=_payload("ItemPage"),
              summary="Your items, newest first (cursor-paginated)"),
        Route("/v1/content/<item_id>", _handler("get_content"), roles=USERS, response=_payload("Item"),
              summary="One item (owner or admin)"),
        Route("/v1/content/<item_id>", _handler("delete_content"), methods=("DELETE",), roles=USERS, status=204,
              summary="Delete an item (owner or admin)", options=FRESH),
        Route("/v1/content/<item_id>/feedback", _handler("add_feedback"), methods=("POST",), roles=USERS,
              body=_payload("FeedbackIn"), response=_payload("FeedbackOut"), status=201, summary="Rate an item (owner only)",
              options=FRESH),
        Route("/v1/content/<item_id>/feedback", _handler("get_feedback"), roles=USERS, response=_payload("FeedbackOut"),
              summary="Your current rating of an item (owner only; 404 when none)", options=FRESH),
        Route("/v1/content/<item_id>/feedback", _handler("replace_feedback"), methods=("PUT",), roles=USERS,
              body=_payload("FeedbackIn"), response=_payload("FeedbackOut"),
              responses={201: "No earlier rating: created"},
              summary="Replace your rating of an item (owner only)", options=FRESH),
    ]


def create_app(settings: Settings | None) -> FunctionApp:
    """The generate function with `settings` (None: the process's, loaded on first use). No I/O.

    Production settings must name a provider with credentials (UnsafeSettingsError otherwise):
    only generate calls providers, so only it checks. A domain error of generate's gets its
    problem+json from a handler registered here (`app.exception_handler`)."""
    if settings is not None:
        settings.require_provider_credentials()  # refuse to start without a callable provider
    app = FunctionApp("generate", _routes(), middleware=standard_middleware("generate", settings),
                      settings=settings)
    for domain_error in ("functions.generate.errors:SpendRefused", "functions.generate.errors:NoProviderAvailable"):
        app.exception_handler(domain_error)(_domain_problem)  # named, not imported: no work at cold start
    return app


def _domain_problem(exc: BaseException, ctx: RequestContext) -> Problem:
    """A budget, erasure or no-provider refusal as the contract's problem+json."""
    from functions.generate.errors import NoProviderAvailable, SpendRefused, to_problem

    assert isinstance(exc, (SpendRefused, NoProviderAvailable))  # what it is registered for
    return to_problem(exc)

