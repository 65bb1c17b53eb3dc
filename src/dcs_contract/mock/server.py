"""Serving the mock for real: uvicorn on loopback, in a background thread.

with MockServer(create_app(state)) as server:
    httpx.get(server.base_url + "/v2/...")
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

__all__ = ["MockServer"]


class MockServer:
    """An ASGI app on ``127.0.0.1``; port 0 picks a free ephemeral port.

    With ``ssl_certfile`` and ``ssl_keyfile`` it serves https; with ``ssl_ca_certs`` and
    ``ssl_cert_reqs=ssl.CERT_REQUIRED`` it asks for a client certificate (mutual TLS).
    ``loop``: uvicorn's event loop (a name, or "module:factory").
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        ssl_ca_certs: str | os.PathLike[str] | None = None,
        ssl_cert_reqs: int = ssl.CERT_NONE,
        loop: str = "auto",
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_ca_certs=None if ssl_ca_certs is None else os.fspath(ssl_ca_certs),
            ssl_cert_reqs=ssl_cert_reqs,
            loop=loop,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dcs-contract-mock", daemon=True)
        self.host = host
        self.scheme = "http" if ssl_certfile is None else "https"

    @property
    def port(self) -> int:
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> MockServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the mock server did not start on {self.host} (is the port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the mock server did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
