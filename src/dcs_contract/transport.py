"""Every request the harness sends goes through :class:`GuardedTransport`.

It is the one place that enforces what a live target needs:

- only GET leaves the harness (POST on the backups path creates a backup);
- 401/403 stop the run at once, never retried (five bad signatures lock the AK);
- 429/502/503/504 and connection errors are retried with backoff, honouring Retry-After;
- ``max_requests`` counts every attempt, retries included, and is never exceeded;
- ``rate_limit`` spaces every attempt, retries included, from the previous answer;
- each exchange is kept, redacted, for the reports and the HAR recording.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

from dcs_contract.errors import (
    AuthRejected,
    BudgetExhausted,
    DcsContractError,
    StillThrottled,
    TargetUnavailable,
    Unreachable,
)

__all__ = [
    "EXPECT_REFUSAL",
    "SENSITIVE_HEADERS",
    "Exchange",
    "GuardedTransport",
    "TrafficStats",
    "UnsafeMethod",
    "build_client",
    "redacted_headers",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
# A request flagged with this extension expects a refusal (the unauthenticated probe):
# its 401 is the answer, not a reason to stop.
EXPECT_REFUSAL = "dcs_contract.expect_refusal"
_MAX_RETRY_AFTER = 30.0
# Headers that carry a credential (the AK/SK signature names the AK; the others are tokens).
SENSITIVE_HEADERS = frozenset({"authorization", "x-auth-token", "x-security-token"})
REDACTED = "[REDACTED]"
# A recorded body longer than this is cut: a recording is for study, not a data dump.
_MAX_RECORDED_BODY = 256 * 1024


def redacted_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers with every credential-bearing value replaced."""
    return tuple((name, REDACTED if name.lower() in SENSITIVE_HEADERS else value) for name, value in headers)


class UnsafeMethod(DcsContractError):
    """A method other than GET was about to be sent. It never is."""


@dataclass(frozen=True)
class Exchange:
    """One attempt on the wire. Headers are kept only when recording, and always redacted."""

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


@dataclass
class TrafficStats:
    """What was sent, counted at the client; the mock's log counts the same at the server."""

    attempts: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    exchanges: list[Exchange] = field(default_factory=list)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


class GuardedTransport(httpx.BaseTransport):
    """Wraps a real transport with the safety rules above."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        max_requests: int,
        rate_limit: float | None,
        retries: int,
        record: bool = False,
        shared: bool = False,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._record = record
        # A shared guard outlives the clients that use it: one budget and one rate limit for
        # several runs (the pytest suite's properties). Its owner calls shutdown().
        self._shared = shared
        self.max_requests = max_requests
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._stopped: TargetUnavailable | None = None
        self.stats = TrafficStats()

    def _take_slot(self, request: httpx.Request) -> None:
        """Count the attempt against the budget and wait for its turn under the rate limit."""
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

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        self._take_slot(request)
        started, started_at = self._clock(), datetime.now(UTC)
        body = None
        try:
            response = self._inner.handle_request(request)
            if self._record:
                response, body = _buffered(response, request)
        except httpx.TransportError as exc:
            self._log(Exchange(request.method, str(request.url), None, started_at, self._clock() - started, str(exc)))
            raise
        finally:
            self._after_answer()
        exchange = Exchange(request.method, str(request.url), response.status_code, started_at, self._clock() - started)
        if self._record:
            exchange = replace(
                exchange,
                request_headers=redacted_headers(request.headers.multi_items()),
                response_headers=redacted_headers(response.headers.multi_items()),
                response_body=body,
                http_version=str(response.extensions.get("http_version", b"HTTP/1.1"), "ascii", "replace"),
            )
        self._log(exchange)
        return response

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
        try:
            return self._send_with_retries(request)
        except TargetUnavailable as exc:
            self._stopped = exc
            raise

    def _send_with_retries(self, request: httpx.Request) -> httpx.Response:
        delay = self._backoff
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._send_once(request)
            except httpx.TransportError as exc:
                if last:
                    raise Unreachable(f"{request.url.host} did not answer after {attempt + 1} attempts: {exc}") from exc
                self.stats.retries += 1
                self._sleep(delay)
                delay *= 2
                continue
            if response.status_code in AUTH_STATUSES and not request.extensions.get(EXPECT_REFUSAL):
                response.read()
                raise _auth_rejected(response)
            if response.status_code not in RETRYABLE_STATUSES:
                return response
            if last:
                response.read()
                raise StillThrottled(
                    f"{request.url.host} still answered {response.status_code} after {attempt + 1} attempts"
                )
            wait = _retry_after(response)
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


def _buffered(response: httpx.Response, request: httpx.Request) -> tuple[httpx.Response, str]:
    """The response with its raw body in memory and still unread, and that body as text.

    A new response, not ``response.read()``: the client still reads and closes the stream
    itself, which is when httpx stamps ``elapsed``.
    """
    raw = b"".join(response.iter_raw())
    response.close()

    def replay() -> httpx.Response:
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
            request=request,
        )

    decoded = replay()
    text = decoded.read().decode(decoded.encoding or "utf-8", errors="replace")
    return replay(), text[:_MAX_RECORDED_BODY]


def _auth_rejected(response: httpx.Response) -> AuthRejected:
    try:
        code = response.json().get("error_code")
    except (ValueError, AttributeError):
        code = None
    return AuthRejected(
        f"the target refused the credentials: HTTP {response.status_code}" + (f" {code}" if code else ""),
        status_code=response.status_code,
        error_code=code if isinstance(code, str) else None,
    )


def build_client(base_url: str, *, auth: httpx.Auth | None, guard: GuardedTransport, timeout: float) -> httpx.Client:
    """The httpx client of a run: signed, bound to the target's base URL, and sent through ``guard``."""
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        transport=guard,
        timeout=timeout,
        headers={"User-Agent": "dcs-contract", "Accept": "application/json"},
        follow_redirects=False,
    )
