"""Generate function: `functions-framework --source functions/generate/main.py --target generate`."""

import functions_framework

from functions.generate import handlers
from functions.generate.payloads import ContentTypeList, FeedbackIn, FeedbackOut, GenerateRequest, Item, ItemPage, ListQuery
from shared.http import FunctionApp, Route

USERS = frozenset({"user", "admin"})

app = FunctionApp(
    "generate",
    [
        Route("/v1/content-types", handlers.list_content_types, response=ContentTypeList,
              summary="The 8 content types with the JSON Schema of each type's output"),
        Route("/v1/content", handlers.create_content, methods=("POST",), roles=USERS, body=GenerateRequest,
              response=Item, status=201, summary="Generate and store a document",
              responses={403: "Processing restricted (GDPR Art. 18) or role not allowed",
                         409: "Same Idempotency-Key still in flight",
                         429: "Rate limit or the user's daily budget exceeded",
                         503: "No provider could serve, or a global budget is used up"},
              options={"rate_weight": handlers.rate_weight, "daily_generation": True}),
        Route("/v1/content", handlers.list_content, roles=USERS, query=ListQuery, response=ItemPage,
              summary="Your items, newest first (cursor-paginated)"),
        Route("/v1/content/<item_id>", handlers.get_content, roles=USERS, response=Item,
              summary="One item (owner or admin)"),
        Route("/v1/content/<item_id>", handlers.delete_content, methods=("DELETE",), roles=USERS, status=204,
              summary="Delete an item (owner or admin)"),
        Route("/v1/content/<item_id>/feedback", handlers.add_feedback, methods=("POST",), roles=USERS,
              body=FeedbackIn, response=FeedbackOut, status=201, summary="Rate an item (owner only)"),
    ],
)


@functions_framework.http
def generate(request):
    return app(request)
