"""moto's S3 server behind TLS, for clients that only speak HTTPS to S3 (pgBackRest).

moto serves plain HTTP; werkzeug's own TLS closes connections without a TLS
close_notify, which OpenSSL 3 clients reject ("unexpected eof"). An asyncio
TLS proxy in a thread closes each connection properly.
"""

from __future__ import annotations

import asyncio
import threading

from moto.server import ThreadedMotoServer
from werkzeug.serving import generate_adhoc_ssl_context

from tests.conftest import free_port


class TlsMotoServer:
    def __init__(self) -> None:
        self.plain_port = free_port()
        self.port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.plain_port, verbose=False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="s3-tls", daemon=True)
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def plain_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.plain_port}"

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.plain_port)
        await asyncio.gather(self._pipe(client_reader, up_writer), self._pipe(up_reader, client_writer))

    def start(self) -> "TlsMotoServer":
        self._moto.start()
        self._thread.start()
        ssl = generate_adhoc_ssl_context()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=ssl), self._loop).result(30)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._moto.stop()
