"""Generate function: `functions-framework --source functions/generate/main.py --target generate`."""

import os

import functions_framework

from functions.generate import handlers
from shared.http import FunctionApp, Route, get_settings
from shared.readiness import readiness_routes
from shared.middleware import standard_middleware

USERS = frozenset({"user", "admin"})


def _payload(name: str) -> str:
    """Payload models by reference: imported on first use, so pydantic is not in the cold start."""
    return f"functions.generate.payloads:{name}"

app = FunctionApp(
    "generate",
    readiness_routes({"providers:configured": "functions.generate.readiness:check_providers"}) + [
        Route("/v1/content-types", handlers.list_content_types, response=_payload("ContentTypeList"),
              summary="The 8 content types with the JSON Schema of each type's output"),
        Route("/v1/content", handlers.create_content, methods=("POST",), roles=USERS, body=_payload("GenerateRequest"),
              response=_payload("Item"), status=201, summary="Generate and store a document",
              responses={403: "Processing restricted (GDPR Art. 18) or role not allowed",
                         409: "Same Idempotency-Key still in flight",
                         429: "Rate limit or the user's daily budget exceeded",
                         503: "No provider could serve, or a global budget is used up"},
              options={"rate_weight": handlers.rate_weight, "daily_generation": True}),
        Route("/v1/content", handlers.list_content, roles=USERS, query=_payload("ListQuery"), response=_payload("ItemPage"),
              summary="Your items, newest first (cursor-paginated)"),
        Route("/v1/content/<item_id>", handlers.get_content, roles=USERS, response=_payload("Item"),
              summary="One item (owner or admin)"),
        Route("/v1/content/<item_id>", handlers.delete_content, methods=("DELETE",), roles=USERS, status=204,
              summary="Delete an item (owner or admin)"),
        Route("/v1/content/<item_id>/feedback", handlers.add_feedback, methods=("POST",), roles=USERS,
              body=_payload("FeedbackIn"), response=_payload("FeedbackOut"), status=201, summary="Rate an item (owner only)"),
    ],
    middleware=standard_middleware("generate"),
)

if os.environ.get("ENVIRONMENT", "").strip().lower() == "production":
    get_settings().require_provider_credentials()  # refuse to start without a callable provider


@functions_framework.http
def generate(request):
    return app(request)
