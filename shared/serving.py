"""How every function is served: the gunicorn configuration its start command names.

`.railway/railway.py` starts each function as
`gunicorn --config python:shared.serving "functions_framework:create_app(...)"`:
functions-framework still builds the app (its target, its Flask wrapper, local
emulation unchanged), but the server's capacity and limits are declared here and
set per service in the IaC, not inherited from the container's CPU count
(functions-framework's own gunicorn runs `4 x cpu_count()` threads with no
request-line limit and no read timeouts).

`WEB_WORKERS` processes per instance (declared per service in the IaC, never
from the CPU count), each with `WEB_THREADS` threads (gthread): a generation
spends seconds to minutes waiting on a provider with the GIL released, but
its own Python work (~10–13 ms of CPU before and after the call, docs/PERFORMANCE.md)
runs under its process's one GIL, so with one process a burst of 256 costs ~3 s of one core
whatever the threads; a second process puts the instance's second core to
work. Each worker binds its own listening socket (`reuse_port`: SO_REUSEPORT,
gunicorn creates the sockets after fork), so the kernel spreads new
connections over the workers by a hash of the client address and port; with
one shared socket the worker that wins the accept race takes most of a burst.
Each worker has its own admission gate (`shared.admission`: `WEB_MAX_IN_FLIGHT`
per process, the rest refused at once; the spare threads answer probes and
refusals), engine pool (`DB_POOL_SIZE`, created on first use inside the
worker), key cache, failed-key throttle, alert sender and metrics writer.

`preload_app` stays off: each worker imports the app itself after fork, so no
engine, pool, thread or lock is ever inherited from the master (the master
imports this module and the settings only), and a worker gunicorn restarts
(`timeout`) comes up exactly like the first. Preloading would save the
import time and part of the memory once per extra worker (copy-on-write pages
are dirtied by reference counts anyway), at the risk of a connection or a
held lock crossing the fork; docs/PERFORMANCE.md has the memory measured.

The front door (`BoundedThreadWorker`): the request line and headers must
arrive within `WEB_HEADER_TIMEOUT_SECONDS` in all, the body within
`WEB_BODY_TIMEOUT_SECONDS` in all (a client trickling one byte a second holds a
thread for a bounded time, then gets 408), a response the client does not read
is abandoned after `WEB_BODY_TIMEOUT_SECONDS`; request line and header limits
answer 414/431; every error the server itself answers is problem+json with the
security headers (gunicorn's own pages are HTML without them).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from shared.settings import get_settings

_settings = get_settings()

# gunicorn reads these module-level names (https://gunicorn.org/reference/settings/).
workers = _settings.web_workers  # declared per service (.railway/railway.py), never cpu_count()
reuse_port = True  # a socket per worker: the kernel balances connections over the workers
preload_app = False  # each worker imports the app after fork: nothing pooled or threaded crosses it
worker_class = "shared.serving.BoundedThreadWorker"
threads = _settings.web_threads
worker_connections = _settings.web_max_connections
keepalive = _settings.web_keepalive_seconds
timeout = _settings.web_worker_timeout_seconds
graceful_timeout = 30  # a deploy lets requests in flight finish for this long
limit_request_line = 8190  # a longer URL is 414 at once (functions-framework sets 0: unlimited)
limit_request_fields = 100
limit_request_field_size = 8190  # one header over it, or more than 100, is 431
loglevel = "warning"
accesslog = None  # shared.access_log writes the one JSON access line per request
forwarded_allow_ips = "*"  # Railway's edge proxy is the only peer; X-Forwarded-* come from it

HEADER_TIMEOUT = _settings.web_header_timeout_seconds
BODY_TIMEOUT = _settings.web_body_timeout_seconds


class ReadTimedOut(Exception):
    """The client did not send its request line, headers or body in the time allowed (408)."""


class DeadlineSocket:
    """A client socket whose reads must all finish before `deadline` (time.monotonic()).

    A per-read timeout would let a client trickling one byte at a time hold a thread for
    ever; here every read gets only what is left of one budget. Sends are bounded too
    (a client that never reads its response). Everything else is the socket's own.
    """

    __slots__ = ("_sock", "deadline")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline: float | None = None

    def recv(self, size: int) -> bytes:
        if self.deadline is None:
            return self._sock.recv(size)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimedOut()
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining if previous is None else min(previous, remaining))
        try:
            return self._sock.recv(size)
        except TimeoutError:
            raise ReadTimedOut() from None
        finally:
            self._sock.settimeout(previous)

    def sendall(self, data: bytes) -> None:
        previous = self._sock.gettimeout()
        self._sock.settimeout(BODY_TIMEOUT)
        try:
            self._sock.sendall(data)
        finally:
            self._sock.settimeout(previous)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


# The server's own refusals, as (status, title, detail); anything else it catches is a 400.
_REFUSALS = (
    (http_errors.LimitRequestLine, 414, "URI Too Long", "The request line is over the server's limit."),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large",
     "The request headers are over the server's limits."),
    (ReadTimedOut, 408, "Request Timeout", "The request was not sent in the time allowed."),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented", "That transfer coding is not supported."),
)


def refusal(exc: BaseException) -> tuple[int, str, str]:
    """Status, title and detail for an error the server answers before (or while) reading a request."""
    for kind, status, title, detail in _REFUSALS:
        if isinstance(exc, kind):
            return status, title, detail
    if isinstance(exc, http_errors.ParseException):
        return 400, "Bad Request", "The request is not well-formed HTTP."
    return 500, "Internal Server Error", "An unexpected error occurred; it has been logged."


def refusal_bytes(status: int, title: str, detail: str) -> bytes:
    """A complete problem+json HTTP response with the security headers, closing the connection."""
    from shared.errors import PROBLEM_BASE
    from shared.http import SECURITY_HEADERS

    slug = {408: "request-timeout", 414: "uri-too-long", 431: "header-fields-too-large"}.get(status, "http-error")
    body = json.dumps({"type": f"{PROBLEM_BASE}{slug}", "title": title, "status": status, "detail": detail},
                      separators=(",", ":")).encode()
    head = [f"HTTP/1.1 {status} {title}", "Connection: close", "Content-Type: application/problem+json",
            f"Content-Length: {len(body)}", "Cache-Control: no-store"]
    head += [f"{name}: {value}" for name, value in SECURITY_HEADERS.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def post_worker_init(worker: Any) -> None:  # a gunicorn Worker (gunicorn ships no types)
    """Each worker delivers the alerts requests queued (shared.alerts.outbox), outside any request,
    and refuses throttled addresses before its app (`ThrottledAddresses`)."""
    from shared.alerts.outbox import start_sender

    start_sender()
    worker.wsgi = ThrottledAddresses(worker.wsgi)


class ThrottledAddresses:
    """A WSGI wrapper that answers a keyed request from an address the failed-authentication
    throttle (`shared.auth_throttle`) has shut out, before Flask, routing and the app run.

    That answer is the app's own (429 problem+json, `Retry-After`, the security headers, the
    request id, CORS for an allowed origin), at the cost of a dictionary lookup and one small
    response: a flood of wrong keys from one address, once throttled, costs legitimate
    clients almost nothing (issue 21; `python -m bench capacity`). Like the server's other
    refusals (414/431/408) it writes no access line and no request metric; the failures
    that led to it are in the audit log. Probes pass through: they carry no key.
    """

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app

    def __call__(self, environ: "WSGIEnvironment", start_response: "StartResponse") -> Any:
        from shared.auth import bearer_token
        from shared.auth_throttle import address_of, throttle

        if bearer_token(environ.get("HTTP_AUTHORIZATION")) is not None:
            retry_after = throttle.retry_after(address_of(environ.get("HTTP_X_FORWARDED_FOR", ""),
                                                          environ.get("REMOTE_ADDR")))
            if retry_after is not None:
                return self.refuse(environ, start_response, retry_after)
        return self.app(environ, start_response)

    @staticmethod
    def refuse(environ: "WSGIEnvironment", start_response: "StartResponse", retry_after: int) -> list[bytes]:
        from shared.auth_throttle import REFUSAL
        from shared.errors import TooManyRequests
        from shared.http import CORS_EXPOSE_HEADERS, SECURITY_HEADERS, echoable_request_id

        problem = TooManyRequests(REFUSAL, retry_after=retry_after)
        body = json.dumps(problem.body(), separators=(",", ":")).encode()
        headers = [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
                   ("Retry-After", problem.headers["Retry-After"]), ("Cache-Control", "no-store"),
                   ("X-Request-ID", echoable_request_id(environ.get("HTTP_X_REQUEST_ID", ""))),
                   ("Vary", "Origin"), *SECURITY_HEADERS.items()]
        origin = environ.get("HTTP_ORIGIN", "").rstrip("/")
        if origin and origin in get_settings().origins:
            headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)]
        start_response("429 Too Many Requests", headers)
        return [body]


class BoundedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's gthread worker with whole-request read deadlines and problem+json refusals."""

    def get_thread_pool(self) -> Any:
        """gunicorn's pool with every one of its threads started now, before the first request.

        The executor starts a thread only when a request finds none idle, and the accept loop
        waits for each new thread to start, which under a busy GIL takes a switch interval: the
        first burst after a start (or a deploy) paid ~100 of them per process in its wall time and
        CPU. Started here they cost the same once, while nothing waits; the pool never shrinks,
        so it is the state any worker reaches after its first busy moment."""
        pool = super().get_thread_pool()
        started = threading.Barrier(self.cfg.threads)  # each waits until all exist: no thread is reused
        for _ in range(self.cfg.threads):
            pool.submit(started.wait)
        return pool

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)
        conn.sock.deadline = time.monotonic() + HEADER_TIMEOUT  # request line and headers
        try:
            return super().handle(conn)
        finally:
            conn.sock.deadline = None

    def handle_request(self, req: Any, conn: Any) -> Any:
        conn.sock.deadline = time.monotonic() + BODY_TIMEOUT  # the body, read by the app
        try:
            return super().handle_request(req, conn)
        finally:
            conn.sock.deadline = None

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, title, detail = refusal(exc)
        # The client's address is personal data: the log names the kind of failure only.
        if status >= 500 and not isinstance(exc, http_errors.ParseException):
            self.log.error("request failed in the server: %s", type(exc).__name__)
        else:
            self.log.info("request refused by the server: %s %s", status, type(exc).__name__)
        raw = getattr(client, "_sock", client)  # past any deadline: the refusal gets its own short one
        try:
            raw.settimeout(1.0)
            raw.sendall(refusal_bytes(status, title, detail))
        except OSError:
            pass  # the worker closes the connection either way
