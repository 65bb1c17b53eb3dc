"""Targets that misbehave on the wire: the run stays bounded in time and memory, and says what happened.

Each target is a tiny server on 127.0.0.1 (``tests/harness/hostile.py``) that stops by
itself. What it received is the proof of what the harness sent.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dcs_contract.cli import main
from dcs_contract.errors import ResponseTooLarge, StillThrottled, Unreachable
from dcs_contract.transport import GuardedTransport, build_client
from dcs_contract.wire import DeadlineTransport, finite_delay
from tests.harness.hostile import (
    Behaviour,
    HostileServer,
    answer,
    dripping,
    endless_chunked,
    gzip_bomb,
    processing_forever,
)

PATH = "/v2/p1/instances/i1/backups"
AK, SK = "HOSTILEAKEXAMPLE0001", "hostile-secret-key-example-0000000000001"
ENV = {"DCS_PROJECT_ID": "p1", "DCS_INSTANCE_ID": "i1", "CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK}


def _get(server: HostileServer, *, deadline: float, max_body: int = 8 * 1024 * 1024) -> httpx.Response:
    guard = GuardedTransport(
        DeadlineTransport(), max_requests=5, rate_limit=None, retries=0, deadline=deadline, max_body=max_body
    )
    with build_client(server.base_url, auth=None, guard=guard, timeout=deadline) as client:
        return client.get(PATH, params={"limit": "1"})


@pytest.mark.parametrize(
    "behaviour",
    [dripping, processing_forever, endless_chunked],
    ids=["one-byte-a-second", "102-processing-forever", "endless-chunked-body"],
)
def test_the_timeout_is_a_deadline_for_the_whole_exchange(behaviour: Behaviour) -> None:
    """httpx's read timeout alone never trips on these: every read returns within it."""
    with HostileServer(behaviour) as server:
        started = time.monotonic()
        with pytest.raises(Unreachable, match="did not answer"):
            # A cap far above what arrives in 2 s: the deadline, not the cap, must end it.
            _get(server, deadline=2.0, max_body=2**40)
        elapsed = time.monotonic() - started
        assert [(r.method, r.path) for r in server.requests()] == [("GET", PATH)]
    assert 2.0 <= elapsed < 3.5, elapsed


def test_an_endless_body_stops_at_the_cap() -> None:
    with HostileServer(endless_chunked) as server:
        with pytest.raises(ResponseTooLarge, match=r"over 1048576 bytes") as caught:
            _get(server, deadline=30.0, max_body=1024 * 1024)
        assert caught.value.status_code == 200
        assert len(server.requests()) == 1, "a body over the cap is an answer: it is not retried"


def test_a_gzip_bomb_stops_at_the_cap_counted_decompressed() -> None:
    with HostileServer(gzip_bomb()) as server, pytest.raises(ResponseTooLarge, match="once decompressed"):
        _get(server, deadline=30.0)


_MEASURE_BOMB = """
import sys
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.transport import GuardedTransport, build_client
from dcs_contract.wire import DeadlineTransport
guard = GuardedTransport(DeadlineTransport(), max_requests=1, rate_limit=None, retries=0, deadline=30.0)
with build_client(sys.argv[1], auth=None, guard=guard, timeout=30.0) as client:
    try:
        client.get("/v2/p1/instances/i1/backups")
    except ResponseTooLarge:
        # VmHWM, not ru_maxrss: the latter keeps the high-water mark of the process that forked us.
        with open("/proc/self/status") as status:
            print(next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:")))
"""


def test_a_gzip_bomb_costs_little_memory() -> None:
    """4 MiB that inflate to 4 GiB: the whole process stays far below what inflating would take."""
    with HostileServer(gzip_bomb()) as server:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE_BOMB, server.base_url], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    peak_mib = int(done.stdout)
    assert peak_mib < 300, f"peak RSS {peak_mib} MiB"


def test_a_body_over_the_cap_is_a_finding_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--max-examples", "1", "--max-requests", "6", "--rate-limit", "100", "--report-dir", str(tmp_path)]
    with HostileServer(gzip_bomb()) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 1, capsys.readouterr()
    assert {(f["category"], f["location"]) for f in report["findings"]} >= {("transport", "body")}
    assert {r.method for r in received} == {"GET"}
    assert 1 <= len(received) <= 6
    assert all(r.path.endswith("/backups") for r in received)


def test_a_body_that_drips_ends_the_run_as_untestable_within_its_deadlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five attempts (the first and four retries) of at most --timeout each, and the backoff between."""
    flags = ["--max-examples", "1", "--timeout", "1", "--rate-limit", "100", "--report-dir", str(tmp_path)]
    started = time.monotonic()
    with HostileServer(dripping) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 3, out
    assert "did not answer after 5 attempts" in json.loads((tmp_path / "report.json").read_text())["error"]
    assert [(r.method, r.path) for r in received] == [("GET", PATH)] * 5
    # 5 deadlines of 1 s and backoffs of 0.5 + 1 + 2 + 4 s; without a deadline this never ends.
    assert elapsed < 5 * 1 + 7.5 + 3, elapsed


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "1e308", "Wed, 21 Oct 2015 07:28:00 GMT", ""])
def test_a_retry_after_that_is_not_a_finite_delay_is_ignored(value: str) -> None:
    delay = finite_delay(value, ceiling=30.0)
    assert delay is None or (math.isfinite(delay) and 0 <= delay <= 30.0)
    if value == "1e308":
        assert delay == 30.0, "a huge delay is capped, not ignored"


def test_a_target_that_sends_retry_after_nan_is_still_throttled_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    behaviour = answer("429 Too Many Requests", b'{"error_code": "APIGW.0308"}', Retry_After="nan")
    with HostileServer(behaviour) as server:
        code = main(
            ["run", "--rate-limit", "100", "--report-dir", str(tmp_path)], env={**ENV, "DCS_BASE_URL": server.base_url}
        )
        received = server.requests()
    assert code == 3, capsys.readouterr()
    error = json.loads((tmp_path / "report.json").read_text())["error"]
    assert "still answered 429 after 5 attempts" in error
    assert [(r.method, r.path) for r in received] == [("GET", PATH)] * 5


def test_the_guard_raises_still_throttled_with_a_nan_retry_after() -> None:
    sleeps: list[float] = []
    inner = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "nan"}))
    guard = GuardedTransport(inner, max_requests=10, rate_limit=None, retries=3, sleep=sleeps.append)
    with httpx.Client(transport=guard, base_url="https://dcs.test") as client, pytest.raises(StillThrottled):
        client.get(PATH)
    assert sleeps == [0.5, 1.0, 2.0], "nan falls back to the guard's own backoff"
