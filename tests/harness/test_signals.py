"""A run stopped by SIGTERM (a CI timeout, ``docker stop``) or SIGINT still leaves its reports.

It stops sending, writes report.json, report.md and junit.xml of what it found so far, marked
as cut short, and exits on that verdict: 1 when it had found drift, else 3. The target is a
mock on loopback addressed as a live target: its request log shows what was sent, and when.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from dcs_contract.cli import run as cli_run
from dcs_contract.cli import signals
from dcs_contract.cli.app import main
from dcs_contract.cli.signals import StopOnSignals
from dcs_contract.engine.run import RunLog
from dcs_contract.errors import RunStopped
from dcs_contract.transport.guard import GuardedTransport, handling_request
from tests.harness.conftest import Serve, live_env
from tests.harness.leaks import assert_no_leak

# Far more cases than a few seconds allow: the run is still sending when the signal comes.
ENDLESS = ["--max-examples", "100000", "--seed", "11"]
# A live target's budget and rate limit are gentle by default; these runs are fast, the rules the same.
FAST = ["--max-requests", "1000000", "--rate-limit", "1000"]
DRIFT = "/backup_record_response/*/backup_region"


def _outputs(out: str, err: str, reports: Path) -> dict[str, str]:
    return {"stdout": out, "stderr": err, **{path.name: path.read_text() for path in reports.iterdir()}}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_run_writes_the_reports_of_what_was_found(
    serve: Serve, tmp_path: Path, signum: signal.Signals
) -> None:
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "dcs_contract.cli.app", "run", "--report-dir", str(reports), *ENDLESS, *FAST]
    with serve(drifts=("extra-field",)) as (server, state):
        env = {"PATH": os.environ["PATH"], **live_env(server, state)}
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
            try:
                assert process.stderr is not None
                # schema-positive has answered at least once, so the drift is found: its records carry the extra field.
                for line in process.stderr:
                    if "schema-positive" in line and " 50/" in line:
                        break
                else:
                    pytest.fail("the run ended before it got going")
                signalled = time.monotonic()
                process.send_signal(signum)
                out, err = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
        seen = state.requests()
    assert process.returncode == 1, err
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "violations"
    assert report["error"].startswith(f"stopped by {signum.name} during the exploration of schema-positive, after ")
    assert DRIFT in [finding["location"] for finding in report["findings"]]
    # The probe plan, then schema-positive's exploration, the first: nothing is sent after the signal.
    assert "schema-negative" not in report["cases"] and "time-windows" in report["cases"]
    # At the server: GET only, and after the signal at most the request that was in flight.
    assert {entry.method for entry in seen} == {"GET"}
    assert len([entry for entry in seen if entry.at > signalled]) <= 1
    assert report["requests"]["total"] - 1 <= len(seen) <= report["requests"]["total"]
    assert f"stopped by {signum.name}" in (reports / "report.md").read_text()
    suite = ET.parse(reports / "junit.xml").getroot()
    [stopped] = [case for case in suite.iter("testcase") if case.get("name") == "run completed"]
    assert f"stopped by {signum.name}" in (stopped.find("error").get("message") or "")  # type: ignore[union-attr]
    assert "dcs-contract: VIOLATIONS" in out and f"stopped by {signum.name}" in out
    assert "Traceback" not in err
    assert_no_leak(_outputs(out, err, reports), state.credentials.secrets())


def test_sigterm_before_any_finding_exits_3_and_restores_the_handler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process: the signal arrives while the faithful mock is being tested."""
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = main(["run", "--report-dir", str(tmp_path), *ENDLESS], env={})
    finally:
        timer.cancel()
    assert code == 3
    assert signal.getsignal(signal.SIGTERM) is before, "the previous handler is back"
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["verdict"], report["findings"]) == ("untestable", [])
    assert "stopped by SIGTERM" in report["error"]
    assert "UNTESTABLE" in capsys.readouterr().out
    assert {path.name for path in tmp_path.iterdir()} == {"report.json", "report.md", "junit.xml"}


def _signalling(original: Callable[..., Any], sent: list[float]) -> Callable[..., Any]:
    """``original``, after this process sent itself SIGTERM: the handler runs before ``original`` does."""

    def signalled(*args: Any, **kwargs: Any) -> Any:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    return signalled


@pytest.mark.parametrize("where", ["closing the client", "building the report"])
def test_a_signal_after_the_properties_ended_loses_nothing(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Once, it escaped run_contract: "stopped before the run started", exit 3 and no report, after drift was found."""
    sent: list[float] = []
    if where == "closing the client":
        monkeypatch.setattr(GuardedTransport, "close", _signalling(GuardedTransport.close, sent))
    else:
        monkeypatch.setattr(RunLog, "report", _signalling(RunLog.report, sent))
    argv = ["run", "--report-dir", str(tmp_path), "--max-examples", "5", "--seed", "3", *FAST]
    with serve(drifts=("extra-field",)) as (server, state):
        code = main(argv, env=live_env(server, state))
        seen = state.requests()
    assert sent, "the signal was sent"
    captured = capsys.readouterr()
    assert code == 1, captured.err
    report = json.loads((tmp_path / "report.json").read_text())
    # Every property had run: the report is that of a whole run, not one cut short.
    assert (report["verdict"], report["error"]) == ("violations", None)
    assert DRIFT in [finding["location"] for finding in report["findings"]]
    assert {path.name for path in tmp_path.iterdir()} == {"report.json", "report.md", "junit.xml"}
    assert {entry.method for entry in seen} == {"GET"} and len(seen) == report["requests"]["total"]
    assert [entry for entry in seen if entry.at > sent[0]] == [], "nothing is sent after the signal"
    assert "dcs-contract: VIOLATIONS" in captured.out and "before the run started" not in captured.err
    assert_no_leak(_outputs(captured.out, captured.err, tmp_path), state.credentials.secrets())


def test_a_signal_before_the_run_sends_nothing_and_still_reports(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Received while the settings are checked: the guard refuses the first request, and the run says so."""
    sent: list[float] = []
    monkeypatch.setattr(cli_run, "check_outputs", _signalling(cli_run.check_outputs, sent))
    with serve() as (server, state):
        code = main(["run", "--report-dir", str(tmp_path), *FAST], env=live_env(server, state))
        assert state.requests() == [], "nothing is sent"
    assert sent and code == 3
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "untestable" and report["requests"]["total"] == 0
    assert report["error"].startswith("stopped by SIGTERM during the probe plan (auth-probe), after 0 requests")
    captured = capsys.readouterr()
    assert "UNTESTABLE" in captured.out and "stopped by SIGTERM" in captured.out
    assert_no_leak(_outputs(captured.out, captured.err, tmp_path), state.credentials.secrets())


def test_a_signal_that_lands_in_a_gc_callback_still_stops_the_run_and_is_not_dropped(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once, SIGTERM ran its handler inside hypothesis's gc callback mid-request: Python dropped the
    raised stop as "Exception ignored in gc_callback". The guard stops the run at its next attempt."""
    dropped: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    sent: list[int] = []

    def signal_mid_request(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and handling_request() and not sent:
            sent.append(len(state.requests()))
            os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, in this callback's frame

    original = GuardedTransport._send_once

    def collecting(self: GuardedTransport, *args: Any, **kwargs: Any) -> Any:
        gc.collect()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GuardedTransport, "_send_once", collecting)
    gc.callbacks.append(signal_mid_request)
    try:
        with serve() as (server, state):
            code = main(["run", "--report-dir", str(tmp_path), *FAST], env=live_env(server, state))
    finally:
        gc.callbacks.remove(signal_mid_request)
    assert sent == [0] and code == 3
    assert dropped == [], [str(entry.exc_value) for entry in dropped]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "untestable" and report["requests"]["total"] <= 1, report["requests"]
    assert "stopped by SIGTERM" in report["error"]
    assert "Exception ignored" not in capsys.readouterr().err


def test_the_frames_where_python_drops_an_exception_are_told_apart() -> None:
    """A gc callback, a __del__ and a weakref finalizer drop what is raised in them; other frames pass it on."""
    told: dict[str, bool] = {"plain": signals._passes_exceptions_on(sys._getframe())}

    class Finalized:
        def __del__(self) -> None:
            told["__del__"] = signals._passes_exceptions_on(sys._getframe())

    Finalized()
    owner = Finalized()
    weakref.finalize(owner, lambda: told.__setitem__("finalize", signals._passes_exceptions_on(sys._getframe())))
    del owner

    def callback(phase: str, info: dict[str, int]) -> None:
        told["gc callback"] = signals._passes_exceptions_on(sys._getframe())

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert told == {"plain": True, "__del__": False, "finalize": False, "gc callback": False}


def test_a_stop_python_drops_elsewhere_is_not_printed_and_a_second_signal_still_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain weakref callback is not told apart beforehand: its dropped stop is caught by the unraisable hook."""
    printed: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    monkeypatch.setattr(signals, "handling_request", lambda: True)
    stop = StopOnSignals()

    class Box:
        pass

    def fails(_: object) -> None:
        raise ValueError("not a stop")

    with stop.installed(), stop.sending():
        box = Box()
        watch = weakref.ref(box, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del box  # the callback runs here, and the handler raises inside it: Python drops that
        assert watch() is None and stop.received == "SIGTERM" and printed == []
        with pytest.raises(RunStopped, match="SIGINT"):
            os.kill(os.getpid(), signal.SIGINT)
        other = Box()
        dropped = weakref.ref(other, fails)
        del other  # any other exception Python drops still reaches the hook that was there
    assert dropped() is None and [str(entry.exc_value) for entry in printed] == ["not a stop"]
    assert sys.unraisablehook == printed.append, "the previous hook is back"
