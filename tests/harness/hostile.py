"""Hostile targets for the self-tests: tiny HTTP servers on 127.0.0.1 that misbehave on the wire.

Each answers every connection with one behaviour (a function that writes raw bytes to the
socket), logs the request line of everything it received, and stops by itself: every
socket has a timeout, and the server shuts down when its ``with`` block ends or after
``lifetime`` seconds, whichever comes first.

    with HostileServer(endless_chunked) as server:
        env = {"DCS_BASE_URL": server.base_url, ...}
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

# (the connection, the request read from it, whether the server is stopping)
Behaviour = Callable[[socket.socket, "Received", Callable[[], bool]], None]


@dataclass(frozen=True)
class Received:
    """One request as the hostile server read it: its method, path and query, and its headers."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


def _read_request(conn: socket.socket) -> Received | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Received(method, target, headers)


class HostileServer:
    """Serves ``behaviour`` on 127.0.0.1, one thread per connection, one request per connection."""

    def __init__(self, behaviour: Behaviour, *, lifetime: float = 60.0) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, name="hostile-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or time.monotonic() > self._deadline

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
        self._listener.close()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with conn:
                request = _read_request(conn)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                self.behaviour(conn, request, lambda: self.stopped)
        except OSError:
            pass  # the client gave up: that is what these behaviours are for

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def answer(status: str, body: bytes, **headers: str) -> Behaviour:
    """A plain answer, with Content-Length, and the connection closed after it."""

    def behave(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
        fields = {"Content-Type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
        fields |= {"Content-Length": str(len(body)), "Connection": "close"}
        conn.sendall(_head(status, fields) + body)

    return behave


def _while_open(
    conn: socket.socket, server_stopped: Callable[[], bool], send: Callable[[], bytes], pause: float
) -> None:
    """Keep sending until the client goes away or the server stops: nothing here ends by itself."""
    while not server_stopped():
        conn.sendall(send())
        if pause:
            time.sleep(pause)


def endless_chunked(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
    """A 200 whose chunked body never ends, sent as fast as the client reads."""
    conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    chunk = b"[" * 4096
    _while_open(conn, stopped, lambda: b"%x\r\n%s\r\n" % (len(chunk), chunk), 0.0)


def drip(every: float) -> Behaviour:
    """A 200 with a large Content-Length whose body comes one byte every ``every`` seconds.

    Each read returns well within any read timeout: only a deadline on the whole exchange
    ends it. A test shortens the drip and its deadline together.
    """

    def behave(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
        conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Length": "100000"}))
        _while_open(conn, stopped, lambda: b" ", every)

    return behave


# One byte a second.
dripping = drip(1.0)


def processing_forever(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
    """``102 Processing``, every half second, and never a final answer."""
    _while_open(conn, stopped, lambda: b"HTTP/1.1 102 Processing\r\n\r\n", 0.5)


def gzip_bomb(*, sent: int = 4 * 1024 * 1024) -> Behaviour:
    """A 200 whose gzip body of ``sent`` bytes inflates about a thousand times over (4 MiB -> 4 GiB).

    Built from one deflate block of a mebibyte of zeros repeated: after a full flush the
    compressor starts afresh, so the same input gives the same bytes and each repeat is valid.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1024 * 1024)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = first + block * ((sent - len(first)) // len(block))

    def behave(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(body))}
        conn.sendall(_head("200 OK", headers) + body)

    return behave
