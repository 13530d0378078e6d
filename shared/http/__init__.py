"""The HTTP layer every function shares: routing, middleware, errors as problem+json.

A function's `create_app(settings)` builds a `FunctionApp` from a list of `Route`s
and the function's own middleware; its `main.py` hands each Flask request to it.
Routing uses werkzeug's `Map` (no if-chains on paths); every error is RFC 9457
problem+json; every response carries a request id, the security headers and CORS
headers for allowed origins only.

The public core is what this module exports. Each concern is a private module,
and a middleware with its `place` in the one order (`_stack.ORDER`, documented
there and in docs/ARCHITECTURE.md): request ids, compression, security headers,
the HTTPS check, CORS, routing, admission, auth, then the function's own
(tracing, metrics, rate limits, the access log). Exceptions become responses
through the app's registry (`_problems`, `app.exception_handler(SomeError)`).
"""

from shared.http._admission import PROBE_PATHS
from shared.http._app import FunctionApp, startup_settings
from shared.http._compression import GZIP_MIN_BYTES
from shared.http._context import RequestContext, get_settings
from shared.http._cors import CORS_EXPOSE_HEADERS
from shared.http._problems import ExceptionRegistry
from shared.http._responses import empty_response, json_response, problem_response
from shared.http._routing import PUBLIC, Route, resolve
from shared.http._request_id import echoable_request_id
from shared.http._security_headers import SECURITY_HEADERS
from shared.http._stack import ORDER, Middleware
from shared.http._tracing import TracingMiddleware

__all__ = [
    "CORS_EXPOSE_HEADERS", "GZIP_MIN_BYTES", "ORDER", "PROBE_PATHS", "PUBLIC", "SECURITY_HEADERS", "ExceptionRegistry", "FunctionApp",
    "Middleware", "RequestContext", "Route", "TracingMiddleware", "echoable_request_id", "empty_response", "get_settings", "json_response",
    "problem_response", "resolve", "startup_settings",
]
