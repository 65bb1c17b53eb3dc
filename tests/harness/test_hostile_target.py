"""Targets that misbehave on the wire: the run stays bounded in time and memory, and says what happened.

Each target is a tiny server on 127.0.0.1 (``tests/harness/hostile.py``) that stops by
itself. What it received is the proof of what the harness sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dcs_contract.cli.app import main
from dcs_contract.errors import ResponseTooLarge, StillThrottled, Unreachable
from dcs_contract.mock.service import ServiceAnswer, ServiceCall
from dcs_contract.transport.deadline import DeadlineTransport, finite_delay
from dcs_contract.transport.guard import GuardedTransport, build_client
from tests.harness.clocks import FakeClock
from tests.harness.conftest import Serve, live_env
from tests.harness.hostile import (
    Behaviour,
    HostileServer,
    answer,
    drip,
    dripping,
    endless_chunked,
    gzip_bomb,
    processing_forever,
)
from tests.harness.leaks import assert_no_leak

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
            # A cap far above what arrives in 1 s: the deadline, not the cap, must end it.
            _get(server, deadline=1.0, max_body=2**40)
        elapsed = time.monotonic() - started
        assert [(r.method, r.path) for r in server.requests()] == [("GET", PATH)]
    assert 1.0 <= elapsed < 2.5, elapsed


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
from dcs_contract.transport.guard import GuardedTransport, build_client
from dcs_contract.transport.deadline import DeadlineTransport
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
    flags = ["--max-examples", "1", "--max-requests", "30", "--rate-limit", "100", "--report-dir", str(tmp_path)]
    with HostileServer(gzip_bomb()) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    report = json.loads((tmp_path / "report.json").read_text())
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert {(f["category"], f["location"]) for f in report["findings"]} >= {("transport", "body")}
    assert "over 8388608 bytes" in captured.out, "the summary names the cap"
    assert {r.method for r in received} == {"GET"}
    assert 1 <= len(received) <= 30
    assert all(r.path.endswith("/backups") for r in received)
    assert_no_leak(_outputs(tmp_path, captured), [AK, SK])


@pytest.mark.slow
def test_a_body_that_drips_ends_the_run_as_untestable_within_its_deadlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_clock: FakeClock
) -> None:
    """Five attempts (the first and four retries) of at most --timeout each, and the backoff between.

    A byte every 0.2 s against a deadline of 0.6 s: the server's timing and the deadline are
    real time, the backoff is asked of a fake clock.
    """
    rate = 100.0
    flags = ["--max-examples", "1", "--timeout", "0.6", "--rate-limit", str(rate), "--report-dir", str(tmp_path)]
    started = time.monotonic()
    with HostileServer(drip(0.2)) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 3, captured.out
    assert "did not answer after 5 attempts" in json.loads((tmp_path / "report.json").read_text())["error"]
    assert_no_leak(_outputs(tmp_path, captured), [AK, SK])
    assert [(r.method, r.path) for r in received] == [("GET", PATH)] * 5
    assert fake_clock.waits(longer_than=1 / rate) == [0.5, 1.0, 2.0, 4.0], "the backoff between the attempts"
    # 5 deadlines of 0.6 s (the backoff is not waited here); without a deadline this never ends.
    assert elapsed < 5 * 0.6 + 3, elapsed


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("-5", None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("1e308", 30.0),
        ("2.5", 2.5),
        ("0", 0.0),
    ],
)
def test_a_retry_after_that_is_not_a_finite_delay_is_ignored(value: str, delay: float | None) -> None:
    """Ignored, not clamped: the guard then waits its own backoff. A huge delay is capped."""
    assert finite_delay(value, ceiling=30.0) == delay


def test_a_target_that_sends_retry_after_nan_is_still_throttled_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_clock: FakeClock
) -> None:
    behaviour = answer("429 Too Many Requests", b'{"error_code": "APIGW.0308"}', Retry_After="nan")
    rate = 100.0
    with HostileServer(behaviour) as server:
        code = main(
            ["run", "--rate-limit", str(rate), "--report-dir", str(tmp_path)],
            env={**ENV, "DCS_BASE_URL": server.base_url},
        )
        received = server.requests()
    assert code == 3, capsys.readouterr()
    error = json.loads((tmp_path / "report.json").read_text())["error"]
    assert "still answered 429 after 5 attempts" in error
    assert [(r.method, r.path) for r in received] == [("GET", PATH)] * 5
    assert fake_clock.waits(longer_than=1 / rate) == [0.5, 1.0, 2.0, 4.0], "nan falls back to the guard's own backoff"


def test_the_guard_raises_still_throttled_with_a_nan_retry_after() -> None:
    sleeps: list[float] = []
    inner = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "nan"}))
    guard = GuardedTransport(inner, max_requests=10, rate_limit=None, retries=3, sleep=sleeps.append)
    with httpx.Client(transport=guard, base_url="https://dcs.test") as client, pytest.raises(StillThrottled):
        client.get(PATH)
    assert sleeps == [0.5, 1.0, 2.0], "nan falls back to the guard's own backoff"


def _outputs(reports: Path, captured: pytest.CaptureResult[str]) -> dict[str, str]:
    return {"stdout": captured.out, "stderr": captured.err} | {p.name: p.read_text() for p in reports.iterdir()}


def test_a_401_with_a_body_over_the_cap_still_stops_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Five refused signatures lock the AK: a refusal stops the run whatever the size of its body."""
    behaviour = answer("401 Unauthorized", b'{"error_code": "APIGW.0301", "pad": "' + b"x" * 100_000 + b'"}')
    flags = ["--max-body", "65536", "--rate-limit", "100", "--report-dir", str(tmp_path)]
    with HostileServer(behaviour) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    report = json.loads((tmp_path / "report.json").read_text())
    # The probe (no credential) expects its 401; the first signed request is refused, and that is all.
    assert [bool(r.headers.get("authorization")) for r in received] == [False, True]
    assert "refused the credentials: HTTP 401" in report["error"]
    # Refused credentials leave the target untested (exit 3) whatever the unauthenticated probe found,
    # and what it found, the probe's body over the cap, stays in the report.
    assert code == 3 and report["verdict"] == "untestable" and report["findings"]
    assert {f["check"] for f in report["findings"]} == {"body_within_cap"}
    assert_no_leak(_outputs(tmp_path, capsys.readouterr()), [AK, SK])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"error_code": "APIGW.\\ud800", "error_msg": "\\udfff"}'),
        ("application/json; charset=utf-7", b'{"error_code": "+2AA-", "error_msg": "x"}'),
        ("application/json; charset=rot13", b'{"error_code": "APIGW.0301"}'),
        ("application/json; charset=unicode_escape", b'{"error_code": "\\ud800"}'),
    ],
    ids=["json-lone-surrogate", "utf-7", "rot13", "unicode-escape"],
)
@pytest.mark.parametrize("status", ["200 OK", "401 Unauthorized"])
def test_bodies_in_odd_charsets_are_reported_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content_type: str, body: bytes, status: str
) -> None:
    behaviour = answer(status, body, Content_Type=content_type)
    flags = ["--max-examples", "2", "--max-requests", "30", "--rate-limit", "100", "--record", "--report-dir"]
    with HostileServer(behaviour) as server:
        code = main(["run", *flags, str(tmp_path)], env={**ENV, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    captured = capsys.readouterr()
    assert code in (1, 3), captured.err  # drift, or refused: a target's fault, never the harness's (4)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["crash"] is None
    assert {"report.json", "report.md", "junit.xml", "traffic.har"} <= {p.name for p in tmp_path.iterdir()}
    assert {r.method for r in received} == {"GET"} and 1 <= len(received) <= 30
    assert_no_leak(_outputs(tmp_path, captured), [AK, SK])


@pytest.mark.slow
def test_a_record_of_thousands_of_unknown_keys_is_reported_by_its_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each finding costs memory: one response yields at most 50 of them, and says there were more."""
    record = {f"k{n}": n for n in range(20_000)}
    body = json.dumps({"total_num": 1, "backup_record_response": [record]}).encode()
    flags = ["--max-examples", "2", "--max-requests", "30", "--rate-limit", "100", "--report-dir", str(tmp_path)]
    with HostileServer(answer("200 OK", body)) as server:
        code = main(["run", *flags], env={**ENV, "DCS_BASE_URL": server.base_url})
    assert code == 1, capsys.readouterr().err
    findings = json.loads((tmp_path / "report.json").read_text())["findings"]
    unknown = [f for f in findings if f["location"].startswith("/backup_record_response/*/k")]
    assert 1 <= len(unknown) <= 50
    assert any(f["check"] == "more_findings" for f in findings)


def test_a_long_remark_of_letters_and_an_address_leaves_its_reports_well_within_the_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 KiB of letters and one e-mail address in every record: the scrubber once took minutes on it."""
    remark = "a" * 200 * 1024 + " ops@example.com"

    def chatty(call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        body = answer.body
        if answer.status != 200 or body is None:
            return answer
        records = [{**record, "remark": remark} for record in body.get("backup_record_response", [])]
        return replace(answer, body={**body, "backup_record_response": records})

    # A bound twenty times what it takes: a scrubber that turns quadratic again fails here (exit 4).
    monkeypatch.setattr("dcs_contract.cli.outputs.WRITE_DEADLINE", 20.0)
    with serve(records=5) as (server, state):
        state.served = chatty
        env = live_env(server, state)
        argv = ["run", "--report-dir", str(tmp_path), "--record", "--max-examples", "3", "--rate-limit", "1000"]
        code = main([*argv, "--seed", "1", "--no-confirm"], env=env)
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    har = json.loads((tmp_path / "traffic.har").read_text())
    bodies = [entry["response"]["content"].get("text", "") for entry in har["log"]["entries"]]
    assert any("a" * 1000 in body and "ops@example.com" in body for body in bodies)
    assert_no_leak(_outputs(tmp_path, captured), state.credentials.secrets())
