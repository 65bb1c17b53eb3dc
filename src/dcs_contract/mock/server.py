"""Serving the mock for real: uvicorn on loopback, in a background thread.

with MockServer(create_app(state)) as server:
    httpx.get(server.base_url + "/v2/...")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

__all__ = ["MockServer"]

# A connection still busy this long after stop() is cut: a drip fault may never finish.
_GRACE_SECONDS = 5.0
_DRAIN_POLL_SECONDS = 0.005


class _PromptServer(uvicorn.Server):
    """A uvicorn.Server that stops as soon as it is asked to.

    The stock server looks at ``should_exit`` every 0.1 s and then sleeps 0.1 s more in
    ``shutdown``: 0.17 s a stop, which over the hundreds of mocks a test session starts was
    most of a minute of idle waiting. Here a stop wakes the loop at once and the drain polls
    in milliseconds; what is waited for is the same (open connections, then tasks).
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set once the sockets listen: start() waits on it, not in 10 ms naps (half a nap lost a start).
        self.listening = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()

    def request_stop(self) -> None:
        """Thread-safe: ask the serving loop to stop now."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        # on_tick refreshes the Date header when counter % 10 == 0, so a step of 10 keeps
        # it current with one pass a second.
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GRACE_SECONDS
        while self.server_state.connections and loop.time() < deadline:
            await asyncio.sleep(_DRAIN_POLL_SECONDS)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        for task in list(self.server_state.tasks):
            task.cancel(msg="the mock is stopping")
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


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
            # h11 whatever else is installed: the mock parses requests the same on every machine
            # (httptools, where present, would be "auto"'s choice). No websockets: the mock serves
            # none, and importing their protocol (wsproto) doubled the mock's first start. An
            # upgrade request is a plain one; uvicorn then warns that no WebSocket library is
            # installed, which means here that none is enabled.
            http="h11",
            ws="none",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_ca_certs=None if ssl_ca_certs is None else os.fspath(ssl_ca_certs),
            ssl_cert_reqs=ssl_cert_reqs,
            loop=loop,
        )
        self._server = _PromptServer(config)
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
        # Woken the moment it listens; the naps only bound how late a failed start is seen.
        while not self._server.listening.wait(0.01):
            if not self._thread.is_alive():
                raise RuntimeError(f"the mock server did not start on {self.host} (is the port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the mock server did not start within {timeout} s")
        return self

    def stop(self) -> None:
        self._server.request_stop()
        self._thread.join(timeout=10)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
