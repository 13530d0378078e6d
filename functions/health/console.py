"""`GET /console` and its static assets: the ops console, served by the health function.

Plain files under `console/` (no build step at deploy). The page is public; its
data comes from the ops/admin API with the key the operator types in, which the
script keeps in `sessionStorage`. The CSP allows scripts, styles, images and
fetches from this origin only: no inline script or style, no framing, no forms
posted anywhere.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from typing import ClassVar

from flask import Response
from pydantic import RootModel

from shared import errors
from shared.http import RequestContext

ROOT = Path(__file__).resolve().parent / "console"
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Page(RootModel[str]):
    """The console's HTML page."""

    content_type: ClassVar[str] = "text/html"


@cache
def _asset(name: str) -> tuple[bytes, str]:
    data = (ROOT / name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _serve(ctx: RequestContext, name: str) -> Response:
    data, etag = _asset(name)
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "ETag": etag,
               "Cross-Origin-Opener-Policy": "same-origin"}
    if etag in ctx.request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return Response(data, 200, headers, content_type=TYPES[name])


def page(ctx: RequestContext) -> Response:
    """GET /console: the console page."""
    return _serve(ctx, "index.html")


def asset(ctx: RequestContext, name: str) -> Response:
    """GET /console/<name>: the console's script, stylesheet and icon."""
    if name not in TYPES or name == "index.html":
        raise errors.NotFound("No such path.")
    return _serve(ctx, name)
