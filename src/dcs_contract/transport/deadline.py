"""The harness's HTTP transport on the wire, bounded in time and in memory whatever the target sends.

httpx's timeouts bound each socket operation, not the exchange: a body dripped one byte a
second, an endless chunked body, or ``102 Processing`` sent forever never trip them. Here
every connect, read and write is given at most what is left of the exchange's deadline,
set by :func:`exchange_deadline` around the whole exchange, headers and body included::

    with exchange_deadline(15.0):
        response = transport.handle_request(request)
        body = read_body(response, limit=8 * 1024 * 1024, expired=...)

:class:`DeadlineTransport` sends each request direct or through a proxy, as its
:class:`~dcs_contract.transport.network.Network` says: the deadline holds on either route.

:func:`read_body` reads a body within a cap that holds after decompression too: a gzip
bomb of 4 MiB that inflates to 4 GiB stops at the cap, having used little more memory.
"""

from __future__ import annotations

import contextvars
import math
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from dcs_contract.transport.network import Network

__all__ = ["ACCEPT_ENCODING", "BodyTooLarge", "DeadlineTransport", "exchange_deadline", "finite_delay", "read_body"]

# The monotonic time by which the current exchange must be over; None: no deadline.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("dcs_contract_deadline", default=None)
# httpx's default limits: a connection kept alive is dropped after 5 s, before a server does.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
# Encodings the harness asks for (Accept-Encoding) and decodes itself, within the cap.
ACCEPT_ENCODING = "gzip, deflate"


@contextmanager
def exchange_deadline(seconds: float | None) -> Iterator[None]:
    """Every socket operation inside gets at most what is left of ``seconds`` from now."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the deadline; ``error`` once nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the exchange's deadline (--timeout) has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - the harness speaks TCP only
        raise NotImplementedError("dcs-contract connects over TCP only")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        time.sleep(seconds)


class _Route(httpx.HTTPTransport):
    """httpx's own HTTP transport over ``pool``: its request and exception mapping kept as they are.

    httpx does not take a network backend, so the pool it built is replaced by one with
    httpx's own settings (TLS, limits, keep-alive expiry) over the deadline-aware backend.
    """

    def __init__(self, pool: httpcore.ConnectionPool, ssl_context: ssl.SSLContext) -> None:
        # verify= a context: httpx builds none of its own (nor reads the process's environment).
        super().__init__(verify=ssl_context, limits=_LIMITS)
        self._pool = pool


class DeadlineTransport(httpx.BaseTransport):
    """httpx's HTTP transport, over sockets whose every operation respects the exchange's deadline.

    Each request goes where ``network`` says (:meth:`Network.proxy_for`): direct, or through
    an HTTP proxy, which forwards an http:// request and tunnels an https:// one with CONNECT.
    One pool per route, made when first used; every one over the same deadline-aware backend,
    so that the deadline bounds the proxy's part of an exchange too. Default: direct.
    """

    def __init__(self, network: Network | None = None) -> None:
        self._network = network if network is not None else Network.direct()
        self._backend = _DeadlineBackend()
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, tuple[str, str] | None] | None, _Route] = {}

    def _route(self, url: httpx.URL) -> _Route:
        proxy = self._network.proxy_for(url)
        key = None if proxy is None else (str(proxy.url), proxy.auth)
        with self._lock:
            route = self._routes.get(key)
            if route is None:
                route = self._routes[key] = self._make_route(proxy)
            return route

    def _make_route(self, proxy: httpx.Proxy | None) -> _Route:
        ssl_context = self._network.ssl_context()
        if proxy is None:
            pool = httpcore.ConnectionPool(
                ssl_context=ssl_context,
                max_connections=_LIMITS.max_connections,
                max_keepalive_connections=_LIMITS.max_keepalive_connections,
                keepalive_expiry=_LIMITS.keepalive_expiry,
                network_backend=self._backend,
            )
        else:
            pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(
                    scheme=proxy.url.raw_scheme,
                    host=proxy.url.raw_host,
                    port=proxy.url.port,
                    target=proxy.url.raw_path,
                ),
                # Sent as Proxy-Authorization to the proxy alone, never to the target.
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                proxy_ssl_context=proxy.ssl_context,
                max_connections=_LIMITS.max_connections,
                max_keepalive_connections=_LIMITS.max_keepalive_connections,
                keepalive_expiry=_LIMITS.keepalive_expiry,
                network_backend=self._backend,
            )
        return _Route(pool, ssl_context)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._route(request.url).handle_request(request)

    def close(self) -> None:
        with self._lock:
            routes, self._routes = list(self._routes.values()), {}
        for route in routes:
            route.close()


class BodyTooLarge(Exception):
    """The body is over the cap, counted raw or decompressed. It was read no further."""


def _inflater(encoding: str) -> Callable[[], Any] | None:
    if encoding in ("gzip", "x-gzip"):
        return lambda: zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return lambda: zlib.decompressobj()
    return None


def _inflate(data: bytes, make: Callable[[], Any], limit: int, *, raw_deflate: bool = False) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if raw_deflate else make()
    # max_length bounds what one call may produce: a bomb never inflates past limit + 1 bytes.
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise BodyTooLarge(f"over {limit} bytes once decompressed")
    return bytes(out)


def _decode(data: bytes, encodings: list[str], limit: int) -> bytes:
    """Undo the content codings, last applied first; a coding it cannot undo leaves the bytes as they are."""
    for encoding in reversed(encodings):
        make = _inflater(encoding)
        if make is None:
            if encoding in ("identity", ""):
                continue
            return data  # an unknown coding: the checks see bytes that are not JSON, and say so
        try:
            data = _inflate(data, make, limit)
        except zlib.error:
            if encoding != "deflate":
                return data
            try:  # "deflate" is sent without its zlib header by some servers, as httpx allows
                data = _inflate(data, make, limit, raw_deflate=True)
            except zlib.error:
                return data
    return data


def read_body(response: httpx.Response, *, request: httpx.Request, limit: int, expired: Callable[[], bool]) -> bytes:
    """The body of ``response``, decompressed, at most ``limit`` bytes; closes the response.

    Raises :class:`BodyTooLarge` past the cap, and ``httpx.ReadTimeout`` once ``expired()``
    (checked between chunks, for transports whose sockets do not know the deadline).
    """
    try:
        # Already in memory, and decoded: a response an in-process transport built from bytes.
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(content) > limit:
            raise BodyTooLarge(f"over {limit} bytes")
        return content
    encodings = [part.strip().lower() for part in response.headers.get("content-encoding", "").split(",")]
    raw = bytearray()
    try:
        for chunk in response.iter_raw():
            raw += chunk
            if len(raw) > limit:
                raise BodyTooLarge(f"over {limit} bytes as sent")
            if expired():
                raise httpx.ReadTimeout("the exchange's deadline (--timeout) has passed", request=request)
    finally:
        response.close()
    return _decode(bytes(raw), [e for e in encodings if e], limit)


def finite_delay(value: str | None, *, ceiling: float) -> float | None:
    """A Retry-After of seconds, within [0, ceiling]; None when absent, an HTTP date, or not a finite number."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; the caller falls back to its own backoff
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, ceiling)
