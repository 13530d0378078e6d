"""`factoria dev [--port P]`: all three functions behind one local port.

For a frontend developer: each path is sent to the function that owns it
(the same routes as in production, where each function has its own URL).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from flask import Flask, Response

    from cli.main import Subcommands
    from shared.http import FunctionApp, RequestContext

FUNCTIONS = ("generate", "gdpr", "health")


def register(sub: Subcommands) -> None:
    p = sub.add_parser("dev", help="serve all functions on one port for local development")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.set_defaults(func=_run)


def load_apps() -> dict[str, FunctionApp]:
    """The FunctionApp of every function, by name; a function missing from the package is an error."""
    return {name: importlib.import_module(f"functions.{name}.main").app for name in FUNCTIONS}


def create_dev_app() -> Flask:
    """A Flask app dispatching every path to the function that owns it."""
    from flask import Flask, request

    from shared.http import FunctionApp, Route, json_response
    from shared.metrics import RequestMetricsMiddleware
    from shared.middleware import standard_middleware

    apps = load_apps()

    def merged_openapi(ctx: RequestContext) -> Response:
        from shared.openapi import merge_documents

        return json_response(merge_documents([a.openapi_document() for a in apps.values()]))

    # What no function owns (the merged document, unknown paths) is the dev server's own answer:
    # logged and traced, but kept out of the request metrics, whose series name real functions only.
    fallback = FunctionApp("dev", [Route("/openapi.json", merged_openapi, roles=None)],
                           middleware=[m for m in standard_middleware("dev")
                                       if not isinstance(m, RequestMetricsMiddleware)])
    flask_app = Flask("lafactoria-dev")

    def owner(path: str) -> FunctionApp | None:
        return next((app for app in apps.values() if app.matches(path)), None)

    def problem(exc: HTTPException) -> Response:
        """Werkzeug's own answers (a method no route takes, e.g. TRACE) as problem+json like the functions'."""
        app = owner(request.path) if exc.code == 405 else None
        return app(request) if app is not None else fallback.error_page(request, exc)

    from werkzeug.exceptions import HTTPException

    flask_app.register_error_handler(HTTPException, problem)

    @flask_app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    @flask_app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    def dispatch(path: str) -> Response:
        if request.path == "/openapi.json":  # every function has one: serve the merged document
            return fallback(request)
        app = owner(request.path)
        return app(request) if app is not None else fallback(request)

    return flask_app


def _run(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    app = create_dev_app()
    print(f"La Factoria dev server on http://{args.host}:{args.port} "
          f"(functions: {', '.join(load_apps())})", file=sys.stderr)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0
