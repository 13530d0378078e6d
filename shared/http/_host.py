"""Hosting an app: the host Flask app's own error pages, a test client, and `factoria dev`'s matching.

functions-framework loads a function's `main.py` inside its Flask app's context
and answers `/robots.txt` and `/favicon.ico` itself with an HTML 404 that has no
security headers; `adopt_host_app`, called by each `main.py` (never at the import
of a library module), registers an error handler on that app making those
problem+json with the same headers as every other response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import errors
from shared.http._context import App, RequestContext
from shared.http._request_id import request_id_of
from shared.http._responses import problem_response

if TYPE_CHECKING:
    from flask import Request, Response
    from werkzeug.exceptions import HTTPException


def adopt_host_app(app: App) -> None:
    """Give the host's own error pages our shape and headers (a no-op outside a Flask app context)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    from werkzeug.exceptions import HTTPException

    def handle(exc: HTTPException) -> "Response":
        from flask import request

        return error_page(app, request, exc)

    current_app.register_error_handler(HTTPException, handle)


def error_page(app: App, request: "Request", exc: "HTTPException") -> "Response":
    """A werkzeug HTTPException raised by the host (not by a route) as problem+json, with the
    headers of the middlewares that mark themselves `on_host_pages` (request id, security, CORS)."""
    problem = errors.Problem(exc.description if exc.code != 404 else "No such path.")
    problem.status, problem.title, problem.slug = exc.code or 500, exc.name, "http-error"
    if exc.code == 404:
        problem.slug = errors.NotFound.slug
    from werkzeug.exceptions import MethodNotAllowed

    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        problem.headers["Allow"] = ", ".join(sorted(set(exc.valid_methods) | {"OPTIONS"}))
    ctx = RequestContext(app, request, request_id_of(request))
    response = problem_response(problem)
    for mw in reversed(app.middleware):
        if getattr(mw, "on_host_pages", False):
            mw.after(ctx, response)
    return response


def test_client(app: App) -> Any:
    """A Flask test client serving `app` alone on every path and method, as functions-framework
    does; for tests and benchmarks of apps built in code."""
    from flask import Flask, request

    flask_app = Flask(f"lafactoria-{app.name}", root_path=".")
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    view = lambda path="": app(request)  # noqa: E731
    flask_app.add_url_rule("/", "entry", view, defaults={"path": ""}, methods=methods)
    flask_app.add_url_rule("/<path:path>", "entry", view, methods=methods)
    return flask_app.test_client()
