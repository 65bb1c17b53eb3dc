"""The guarded transport: GET only, no retry after 401/403, bounded retries, budget, rate limit."""

from __future__ import annotations

import itertools

import httpx
import pytest

from dcs_contract.errors import AuthRejected, BudgetExhausted, StillThrottled, Unreachable
from dcs_contract.transport.guard import EXPECT_REFUSAL, GuardedTransport, UnsafeMethod


class Script:
    """An inner transport answering from a list, recording what reached it."""

    def __init__(self, *answers: int | Exception, headers: dict[str, str] | None = None) -> None:
        self.answers = list(answers)
        self.headers = headers or {}
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.method)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"error_code": f"X.{answer}"}, headers=self.headers)


def _client(
    script: Script,
    *,
    max_requests: int = 100,
    rate: float | None = None,
    sleeps: list[float] | None = None,
    clock: list[float] | None = None,
) -> tuple[httpx.Client, GuardedTransport]:
    sleeps = sleeps if sleeps is not None else []
    now = clock if clock is not None else [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    transport = GuardedTransport(
        httpx.MockTransport(script),
        max_requests=max_requests,
        rate_limit=rate,
        retries=3,
        sleep=sleep,
        clock=lambda: now[0],
    )
    return httpx.Client(transport=transport, base_url="https://dcs.test"), transport


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_only_get_ever_leaves(method: str) -> None:
    script = Script(200)
    client, _ = _client(script)
    with pytest.raises(UnsafeMethod):
        client.request(method, "/v2/p/instances/i/backups")
    assert script.seen == []


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_stop_at_once_without_retry(status: int) -> None:
    script = Script(status, 200)
    client, transport = _client(script)
    with pytest.raises(AuthRejected, match=f"HTTP {status} X.{status}"):
        client.get("/x")
    assert script.seen == ["GET"]
    assert transport.stats.retries == 0
    with pytest.raises(AuthRejected):
        client.get("/x")  # a replay: refused again without reaching the target
    assert script.seen == ["GET"]


def test_an_expected_refusal_is_an_answer() -> None:
    client, _ = _client(Script(401))
    assert client.get("/x", extensions={EXPECT_REFUSAL: True}).status_code == 401


def test_throttling_is_retried_honouring_retry_after() -> None:
    sleeps: list[float] = []
    script = Script(429, 503, 200, headers={"Retry-After": "2"})
    client, transport = _client(script, sleeps=sleeps)
    assert client.get("/x").status_code == 200
    assert sleeps == [2.0, 2.0]
    assert transport.stats.attempts == 3
    assert transport.stats.retries == 2


def test_retries_are_bounded() -> None:
    script = Script(503)
    client, _ = _client(script)
    with pytest.raises(StillThrottled, match="503 after 4 attempts"):
        client.get("/x")
    assert len(script.seen) == 4


def test_connection_errors_are_retried_then_reported() -> None:
    script = Script(httpx.ConnectError("refused"))
    client, _ = _client(script)
    with pytest.raises(Unreachable):
        client.get("/x")
    assert len(script.seen) == 4


def test_the_budget_counts_retries_and_is_never_exceeded() -> None:
    script = Script(503, 200)
    client, transport = _client(script, max_requests=3)
    client.get("/x")  # 2 attempts
    client.get("/x")  # 1 attempt
    with pytest.raises(BudgetExhausted):
        client.get("/x")
    assert len(script.seen) == 3 == transport.stats.attempts


def test_the_rate_limit_spaces_every_attempt() -> None:
    clock = [100.0]
    sent_at: list[float] = []
    script = Script(200)

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock[0])
        return script(request)

    client, _ = _client(Script(200), rate=4.0, clock=clock)
    client._transport._inner = httpx.MockTransport(answer)  # type: ignore[attr-defined]
    for _ in range(5):
        client.get("/x")
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert gaps == [0.25] * 4


def test_the_rate_limit_spaces_from_the_previous_answer_so_a_slow_one_cannot_bunch_arrivals() -> None:
    """A request may reach the server as late as its answer: the next waits a full interval after that."""
    clock = [100.0]
    sent_at: list[float] = []
    latencies = iter([0.2, 0.01, 0.01])

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock[0])
        clock[0] += next(latencies)  # the time on the wire, until the answer is back
        return httpx.Response(200)

    client, _ = _client(Script(200), rate=4.0, clock=clock)
    client._transport._inner = httpx.MockTransport(answer)  # type: ignore[attr-defined]
    for _ in range(3):
        client.get("/x")
    assert sent_at == pytest.approx([100.0, 100.45, 100.71])
