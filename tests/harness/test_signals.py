"""A run stopped by SIGTERM (a CI timeout, ``docker stop``) or SIGINT still leaves its reports.

It stops sending, writes report.json, report.md and junit.xml of what it found so far, marked
as cut short, and exits on that verdict: 1 when it had found drift, else 3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from dcs_contract.cli import main

# Far more cases than a few seconds allow: the run is still sending when the signal comes.
ENDLESS = ["--max-examples", "100000", "--seed", "11"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_run_writes_the_reports_of_what_was_found(tmp_path: Path, signum: signal.Signals) -> None:
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "dcs_contract.cli", "run", "--report-dir", str(reports), *ENDLESS]
    command += ["--mock-drift", "extra-field"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PATH": os.environ["PATH"]}
    ) as process:
        try:
            assert process.stderr is not None
            # schema-positive has answered at least once, so the drift is found: its records carry the extra field.
            for line in process.stderr:
                if "schema-positive" in line and " 50/" in line:
                    break
            else:
                pytest.fail("the run ended before it got going")
            process.send_signal(signum)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 1, err
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "violations"
    assert report["error"].startswith(f"stopped by {signum.name} during schema-positive, after ")
    assert "/backup_record_response/*/backup_region" in [finding["location"] for finding in report["findings"]]
    assert set(report["cases"]) == {"auth-probe", "schema-positive"}, "nothing is sent after the signal"
    assert f"stopped by {signum.name}" in (reports / "report.md").read_text()
    suite = ET.parse(reports / "junit.xml").getroot()
    [stopped] = [case for case in suite.iter("testcase") if case.get("name") == "run completed"]
    assert f"stopped by {signum.name}" in (stopped.find("error").get("message") or "")  # type: ignore[union-attr]
    assert "dcs-contract: VIOLATIONS" in out and f"stopped by {signum.name}" in out
    assert "Traceback" not in err


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
