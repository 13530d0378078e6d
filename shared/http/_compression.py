"""gzip for clients that accept it: the last hook to touch a response's body."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Request, Response

    from shared.http._context import RequestContext

GZIP_MIN_BYTES = 1024  # smaller bodies gain little and cost a compression on every request


class CompressionMiddleware:
    """`after`: gzip the response (see `_compress`)."""

    place = "compression"

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        _compress(ctx.request, response)


def _accepts_gzip(request: "Request") -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _compress(request: "Request", response: "Response") -> None:
    """gzip a response over GZIP_MIN_BYTES for a client that accepts it (streamed ones as they stream)."""
    if (request.method == "HEAD" or response.status_code in (204, 304) or "Content-Encoding" in response.headers
            or not _accepts_gzip(request)):
        return
    if response.is_streamed:
        import zlib

        chunks = response.response

        def stream() -> Iterator[bytes]:
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container
            for chunk in chunks:
                data = packer.compress(chunk if isinstance(chunk, bytes) else str(chunk).encode())
                if data:
                    yield data
            yield packer.flush()

        response.response = stream()
        response.headers.pop("Content-Length", None)
    else:
        body = response.get_data()
        if len(body) <= GZIP_MIN_BYTES:
            return
        import gzip

        response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.add("Vary", "Accept-Encoding")
