"""Every request the harness sends goes through :class:`GuardedTransport`.

It is the one place that enforces what a live target needs:

- only GET leaves the harness (POST on the backups path creates a backup);
- 401/403 stop the run at once, never retried (five bad signatures lock the AK);
- 429/502/503/504 and connection errors are retried with backoff, honouring Retry-After;
- a certificate or TLS handshake failure, and a proxy's refusal (407), are answers: never retried;
- ``max_requests`` counts every attempt, retries included, and is never exceeded;
- ``rate_limit`` spaces every attempt, retries included, from the previous answer;
- ``deadline`` bounds each attempt as a whole (connect, headers, body), not each read;
- ``max_body`` caps each body, decompressed size included: past it, ``ResponseTooLarge``;
- each exchange is kept, redacted, for the reports and the HAR recording;
- each answer's time to headers and to the last byte (:class:`Timing`) is measured on the
  guard's clock, and rides with the response (``response.extensions[TIMING]``).

The guard's waits (the rate limit's spacing, Retry-After, the backoff) and its readings of
the time go through a :class:`Clock`: real time by default, a clock that a test advances in
a run that must not wait. The sockets' share of the deadline is always real time.

The body is read here, within the deadline and the cap, and handed on decoded: nothing
after this transport reads from the network.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import httpx

from dcs_contract.contract.formats import printable, read_json
from dcs_contract.errors import (
    AuthRejected,
    BudgetExhausted,
    DcsContractError,
    ProxyRejected,
    ResponseTooLarge,
    RunStopped,
    StillThrottled,
    TargetUnavailable,
    Unreachable,
)
from dcs_contract.redaction import SENSITIVE_HEADERS
from dcs_contract.settings.table import DEFAULT_MAX_BODY
from dcs_contract.transport.deadline import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    exchange_deadline,
    finite_delay,
    read_body,
)
from dcs_contract.transport.network import proxy_refused, refusal

__all__ = [
    "DEFAULT_MAX_BODY",
    "EXPECT_REFUSAL",
    "MAX_RECORDED_BODY",
    "SYSTEM_CLOCK",
    "TIMING",
    "Clock",
    "Exchange",
    "GuardedTransport",
    "Timing",
    "TrafficMark",
    "TrafficStats",
    "UnsafeMethod",
    "build_client",
    "handling_request",
    "redacted_headers",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
PROXY_AUTH_STATUS = 407
# A request flagged with this extension expects a refusal (the unauthenticated probe):
# its 401 is the answer, not a reason to stop.
EXPECT_REFUSAL = "dcs_contract.expect_refusal"
_MAX_RETRY_AFTER = 30.0
REDACTED = "[REDACTED]"
# A recording is for study, not a data dump: the HAR writer scrubs a body, then cuts it to this.
MAX_RECORDED_BODY = 256 * 1024
# What an exchange keeps of a body when recording: the margin holds any secret that straddles
# the HAR writer's cut whole, so that it is scrubbed whole before the cut.
_KEPT_RECORDED_BODY = MAX_RECORDED_BODY + 64 * 1024
# The key of a response's extensions under which its Timing rides to whoever judges it.
TIMING = "dcs_contract.timing"


def redacted_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers with every credential-bearing value replaced."""
    return tuple((name, REDACTED if name.lower() in SENSITIVE_HEADERS else value) for name, value in headers)


class Clock(Protocol):
    """What the guard waits with and reads the time from, as ``time.sleep`` and ``time.monotonic`` do."""

    def sleep(self, seconds: float) -> None: ...

    def monotonic(self) -> float: ...


@dataclass(frozen=True)
class SystemClock:
    """Real time: the clock of every run unless a test passes its own (``guarded(settings, clock=...)``)."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()


class UnsafeMethod(DcsContractError):
    """A method other than GET was about to be sent. It never is."""


@dataclass(frozen=True)
class Timing:
    """How long one answer took, in seconds on the guard's clock: to its headers, and to its last byte.

    From the moment the attempt had its turn under the rate limit: the harness's own wait is
    not the target's.
    """

    headers: float
    total: float


@dataclass(frozen=True)
class Exchange:
    """One attempt on the wire. Headers are kept only when recording, and always redacted.

    ``elapsed`` runs to the last byte (or the failure); ``headers_elapsed`` to the headers, None
    when none came.
    """

    method: str
    url: str
    status: int | None
    started_at: datetime
    elapsed: float
    error: str | None = None
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: str | None = None
    http_version: str = "HTTP/1.1"
    headers_elapsed: float | None = None


@dataclass(frozen=True)
class TrafficMark:
    """Where the traffic stood at one moment: :meth:`TrafficStats.since` counts from there."""

    attempts: int
    by_status: Counter[str]
    retries: int
    exchanges: int


@dataclass
class TrafficStats:
    """What was sent, counted at the client; the mock's log counts the same at the server.

    A guard shared by several runs counts for all of them; each run counts its own part as
    ``guard.stats.since(mark)``, with the mark taken when it began.
    """

    attempts: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    exchanges: list[Exchange] = field(default_factory=list)

    def mark(self) -> TrafficMark:
        return TrafficMark(self.attempts, Counter(self.by_status), self.retries, len(self.exchanges))

    def since(self, mark: TrafficMark) -> TrafficStats:
        """The traffic after ``mark``."""
        by_status = Counter(self.by_status)
        by_status.subtract(mark.by_status)
        return TrafficStats(
            attempts=self.attempts - mark.attempts,
            by_status=Counter({status: count for status, count in by_status.items() if count}),
            retries=self.retries - mark.retries,
            exchanges=self.exchanges[mark.exchanges :],
        )


# How many requests this thread is handling (0 or 1): a signal handler, which runs in the main
# thread between two bytecodes of whatever it interrupted, may raise only inside one.
_IN_REQUEST = threading.local()


def handling_request() -> bool:
    """Whether the calling thread is inside :meth:`GuardedTransport.handle_request` (sending, or waiting to)."""
    return bool(getattr(_IN_REQUEST, "depth", 0))


class GuardedTransport(httpx.BaseTransport):
    """Wraps a real transport with the safety rules above."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        max_requests: int,
        rate_limit: float | None,
        retries: int,
        deadline: float | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        record: bool = False,
        shared: bool = False,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        stopped: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._inner = inner
        # The name of a signal that asked the run to stop, if any: checked before every attempt,
        # so that a stop is not lost when the signal handler's own exception was swallowed
        # (raised inside a weakref callback or a __del__, where Python ignores exceptions).
        self._stop_signal = stopped
        self._record = record
        # A shared guard outlives the clients that use it: one budget and one rate limit for
        # several runs (the pytest suite's properties). Its owner calls shutdown().
        self._shared = shared
        self.max_requests = max_requests
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._retries = retries
        self._deadline = deadline
        self._max_body = max_body
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._stopped: TargetUnavailable | None = None
        self.stats = TrafficStats()

    def stop_signal(self) -> str | None:
        """The name of the signal that asked the run to stop, if one did: what the run's other
        waits (the drawing helper's next case) look at, as the guard does before each attempt."""
        return self._stop_signal()

    @property
    def requests_left(self) -> int:
        """What the budget still allows: the runs that share this guard plan with it."""
        return max(0, self.max_requests - self.stats.attempts)

    def _take_slot(self, request: httpx.Request) -> None:
        """Count the attempt against the budget and wait for its turn under the rate limit."""
        signal_name = self._stop_signal()
        if signal_name is not None:
            raise RunStopped(signal_name)
        with self._lock:
            if self.stats.attempts >= self.max_requests:
                raise BudgetExhausted(
                    f"the request budget of {self.max_requests} is spent (--max-requests); "
                    f"{request.method} {request.url.path} was not sent"
                )
            self.stats.attempts += 1
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def _after_answer(self) -> None:
        """The next attempt waits a full interval after this answer, not only after this send.

        A request reaches the server before its answer comes back, so this spaces the
        arrivals that the server (and its throttling) counts, however long a request was
        held up on the way; spacing sends alone lets a delayed request bunch with the next.
        """
        if self._interval:
            with self._lock:
                self._next_slot = max(self._next_slot, self._clock() + self._interval)

    def _send_once(self, request: httpx.Request) -> tuple[httpx.Response, BodyTooLarge | None]:
        """One attempt: the response with its body read, or without it when it was over the cap.

        Over the cap, the status still counts: a 401 stops the run and a 429 is retried,
        whatever the size of the body that came with it.
        """
        self._take_slot(request)
        started, started_at = self._clock(), datetime.now(UTC)
        expires = None if self._deadline is None else started + self._deadline
        received: httpx.Response | None = None
        headers_at: float | None = None
        try:
            with exchange_deadline(self._deadline):
                received = self._inner.handle_request(request)
                headers_at = self._clock() - started
                body = read_body(
                    received,
                    request=request,
                    limit=self._max_body,
                    expired=lambda: expires is not None and self._clock() > expires,
                )
        except httpx.TransportError as exc:
            self._log(Exchange(request.method, str(request.url), None, started_at, self._clock() - started, str(exc)))
            raise
        except BodyTooLarge as exc:
            assert received is not None and headers_at is not None  # only reading a body raises it
            exchange = self._exchange(request, received, started, started_at, f"body {exc}", headers_at=headers_at)
            self._log(exchange)
            return _decoded(received, b"", request, Timing(headers_at, exchange.elapsed)), exc
        finally:
            self._after_answer()
        assert headers_at is not None  # set before any answer is read
        exchange = self._exchange(request, received, started, started_at, None, body, headers_at=headers_at)
        self._log(exchange)
        return _decoded(received, body, request, Timing(headers_at, exchange.elapsed)), None

    def _exchange(
        self,
        request: httpx.Request,
        received: httpx.Response,
        started: float,
        started_at: datetime,
        error: str | None,
        body: bytes | None = None,
        *,
        headers_at: float,
    ) -> Exchange:
        exchange = Exchange(
            request.method,
            str(request.url),
            received.status_code,
            started_at,
            self._clock() - started,
            error,
            headers_elapsed=headers_at,
        )
        if not self._record:
            return exchange
        return replace(
            exchange,
            request_headers=redacted_headers(request.headers.multi_items()),
            response_headers=redacted_headers(received.headers.multi_items()),
            response_body=None if body is None else _text(body[:_KEPT_RECORDED_BODY], received),
            http_version=str(received.extensions.get("http_version", b"HTTP/1.1"), "ascii", "replace"),
        )

    def _log(self, exchange: Exchange) -> None:
        with self._lock:
            self.stats.by_status[str(exchange.status) if exchange.status is not None else "error"] += 1
            self.stats.exchanges.append(exchange)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise UnsafeMethod(f"refusing to send {request.method} {request.url.path}: this harness sends only GET")
        # Once the target is found untestable nothing more is sent, whoever asks: hypothesis
        # replays a failing case, and a replayed bad signature counts towards the AK lock-out.
        if self._stopped is not None:
            raise self._stopped
        _IN_REQUEST.depth = getattr(_IN_REQUEST, "depth", 0) + 1
        try:
            return self._send_with_retries(request)
        except TargetUnavailable as exc:
            self._stopped = exc
            raise
        finally:
            _IN_REQUEST.depth -= 1

    def _send_with_retries(self, request: httpx.Request) -> httpx.Response:
        delay = self._backoff
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response, oversized = self._send_once(request)
            except httpx.TransportError as exc:
                refused = refusal(exc, host=request.url.host)
                if refused is not None:
                    raise refused from exc
                if last:
                    raise Unreachable(f"{request.url.host} did not answer after {attempt + 1} attempts: {exc}") from exc
                self.stats.retries += 1
                self._sleep(delay)
                delay *= 2
                continue
            if response.status_code == PROXY_AUTH_STATUS:
                # Only a proxy sends 407 (a forwarded http:// request): not the target's answer to judge.
                response.read()
                raise ProxyRejected(proxy_refused(407, request.url.host, f"HTTP 407 {response.reason_phrase}"))
            if response.status_code in AUTH_STATUSES and not request.extensions.get(EXPECT_REFUSAL):
                response.read()
                raise _auth_rejected(response)
            if response.status_code not in RETRYABLE_STATUSES:
                if oversized is not None:
                    raise ResponseTooLarge(
                        f"{request.method} {request.url.path} was answered {response.status_code} with a body "
                        f"{oversized} (--max-body {self._max_body})",
                        request=request,
                        status_code=response.status_code,
                        limit=self._max_body,
                    )
                return response
            if last:
                response.read()
                raise StillThrottled(
                    f"{request.url.host} still answered {response.status_code} after {attempt + 1} attempts"
                )
            wait = finite_delay(response.headers.get("Retry-After"), ceiling=_MAX_RETRY_AFTER)
            response.read()
            response.close()
            self.stats.retries += 1
            self._sleep(wait if wait is not None else delay)
            delay *= 2
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        if not self._shared:
            self._inner.close()

    def shutdown(self) -> None:
        self._inner.close()


# The body is handed on decoded: the codings it came with must not be undone twice.
_CODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _decoded(received: httpx.Response, body: bytes, request: httpx.Request, timing: Timing) -> httpx.Response:
    """A response with ``body`` in memory and still unread, and its ``timing`` in its extensions.

    Unread, not built with ``content=``: the client reads and closes the stream itself,
    which is when httpx stamps ``elapsed``.
    """
    headers = [(name, value) for name, value in received.headers.multi_items() if name.lower() not in _CODING_HEADERS]
    return httpx.Response(
        received.status_code,
        headers=[*headers, ("Content-Length", str(len(body)))],
        stream=httpx.ByteStream(body),
        extensions={**received.extensions, TIMING: timing},
        request=request,
    )


def _text(body: bytes, response: httpx.Response) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


# A gateway error code is a few characters (APIGW.0301); a longer one is not one to repeat whole.
_MAX_ERROR_CODE = 64


def _auth_rejected(response: httpx.Response) -> AuthRejected:
    body = read_json(response).value
    code = body.get("error_code") if isinstance(body, dict) else None
    shown = printable(code[:_MAX_ERROR_CODE]) if isinstance(code, str) and code else None
    return AuthRejected(
        f"the target refused the credentials: HTTP {response.status_code}" + (f" {shown}" if shown else ""),
        status_code=response.status_code,
        error_code=shown,
    )


def build_client(base_url: str, *, auth: httpx.Auth | None, guard: GuardedTransport, timeout: float) -> httpx.Client:
    """The httpx client of a run: signed, bound to the target's base URL, and sent through ``guard``."""
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        transport=guard,
        timeout=timeout,
        # Accept-Encoding by name: the codings the guard's body reader undoes within the cap.
        headers={"User-Agent": "dcs-contract", "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
    )
