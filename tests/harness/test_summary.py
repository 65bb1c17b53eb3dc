"""What a run prints: the verdict line leads with its cause, -q and -v, colour, --version; and
refused credentials leave a run untestable whatever else it found."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.cli.summary import Style, Verbosity, summary, verdict_line
from dcs_contract.contract.findings import Finding
from dcs_contract.mock.service import ServiceAnswer, ServiceCall
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo
from dcs_contract.version import harness_version
from tests.harness.conftest import Serve, live_env

QUICK_LIVE = ["--max-examples", "3", "--seed", "2", "--rate-limit", "1000"]


def _report(**changes: object) -> RunReport:
    fields: dict[str, object] = {
        "target": TargetInfo(base_url="https://dcs.example.com", instance_id="i", credentials="none"),
        "started": "s",
        "finished": "f",
        "seed": 1,
        "cases": {"schema-positive": 3},
        "requests": RequestCounts(total=3, by_status={"200": 3}),
        "findings": [],
        "evaluated": {"status_code_conformance": 3},
        "not_evaluated": {"window-contains": "no query had a time window"},
    }
    return RunReport(**{**fields, **changes})  # type: ignore[arg-type]


def _finding() -> Finding:
    return Finding(
        category="schema",
        check="response_schema_conformance",
        title="unexpected field",
        message="a field the spec does not name",
        location="/backup_record_response/*/x",
        expected="no other field",
        actual="x",
    )


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({}, "dcs-contract: CONFORMS: no finding in 3 requests"),
        ({"error": "dcs.example.com did not answer after 5 attempts"}, "UNTESTABLE: dcs.example.com did not answer"),
        ({"crash": "Traceback (most recent call last):\n  boom"}, "ERROR: the harness failed (a bug in dcs-contract"),
        ({"findings": [_finding()]}, "dcs-contract: VIOLATIONS: 1 finding"),
        (
            {
                "findings": [_finding()],
                "error": "the target refused the credentials: HTTP 401",
                "credentials_refused": True,
            },
            "UNTESTABLE: the target refused the credentials: HTTP 401; 1 finding from before the refusal",
        ),
        (
            {"findings": [_finding(), _finding()], "error": "stopped by SIGTERM"},
            "VIOLATIONS: 2 findings; the run was cut short: stopped by SIGTERM",
        ),
    ],
    ids=["conforms", "untestable", "error", "violations", "refused-with-findings", "cut-short"],
)
def test_the_verdict_line_comes_first_and_leads_with_its_cause(changes: dict[str, object], line: str) -> None:
    report = _report(**changes)
    first = verdict_line(report)
    assert line in first and "\n" not in first
    # The cause is on the first line of the summary, not after ten lines of counters.
    assert summary(report).splitlines()[1] == first


def test_quiet_prints_the_verdict_line_alone_and_verbose_adds_the_counters() -> None:
    report = _report()
    assert summary(report, verbosity=Verbosity.QUIET) == "dcs-contract: CONFORMS: no finding in 3 requests"
    normal, verbose = summary(report), summary(report, verbosity=Verbosity.VERBOSE)
    assert "checked" not in normal and "unchecked" not in normal
    assert "checked   status_code_conformance=3" in verbose
    assert "unchecked window-contains: no query had a time window" in verbose
    assert f"harness   dcs-contract {harness_version()}" in normal


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "no_color", "coloured"),
    [
        (_Terminal(), {}, False, True),
        (io.StringIO(), {}, False, False),
        (_Terminal(), {"NO_COLOR": "1"}, False, False),
        (_Terminal(), {"NO_COLOR": ""}, False, True),
        (_Terminal(), {}, True, False),
    ],
    ids=["tty", "pipe", "NO_COLOR", "NO_COLOR-empty", "--no-color"],
)
def test_colour_only_on_a_terminal_unless_turned_off(
    stream: io.StringIO, env: dict[str, str], no_color: bool, coloured: bool
) -> None:
    line = verdict_line(_report(findings=[_finding()]), Style.for_stream(stream, env, no_color=no_color))
    assert ("\x1b[1;31mVIOLATIONS\x1b[0m" in line) == coloured
    assert ("\x1b" in line) == coloured


def test_quiet_and_no_color_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], serve: Serve
) -> None:
    with serve() as (server, state):
        env = live_env(server, state)
        assert main(["run", "-q", "--report-dir", str(tmp_path), *QUICK_LIVE], env=env) == 0
        captured = capsys.readouterr()
        assert captured.out.strip().splitlines() == [captured.out.strip()]
        assert captured.out.startswith("dcs-contract: CONFORMS: no finding in ") and captured.err == ""
        assert main(["run", "-v", "--no-color", "--report-dir", str(tmp_path), *QUICK_LIVE], env=env) == 0
        verbose = capsys.readouterr().out
    assert "  checked   " in verbose and "\x1b" not in verbose
    with pytest.raises(SystemExit) as exited:
        main(["run", "-q", "-v"], env={})
    assert exited.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_version_is_printed_and_in_every_report(tmp_path: Path, serve: Serve) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "dcs_contract.cli.app", "--version"], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0 and shown.stdout.strip() == f"dcs-contract {harness_version()}"
    assert harness_version() != "unknown"
    # A report that is not a run's (check-har sends nothing) says which harness wrote it too.
    har = tmp_path / "empty.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": []}}))
    main(["check-har", str(har), "--report-dir", str(tmp_path / "har")], env={})
    assert json.loads((tmp_path / "har" / "report.json").read_text())["harness_version"] == harness_version()


def test_refused_credentials_are_exit_3_whatever_the_anonymous_probe_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], serve: Serve
) -> None:
    """The unauthenticated probe's 401 is unreadable (a finding), then every signed request is refused."""

    def unreadable_refusals(call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status == 401:
            return ServiceAnswer(401, raw=b"<html>denied</html>", content_type="text/html")
        return answer

    with serve() as (server, state):
        state.served = unreadable_refusals
        env = {**live_env(server, state), "CLOUD_SDK_SK": "not-the-secret-key-of-this-ak-0000000000"}
        code = main(["run", "--report-dir", str(tmp_path), *QUICK_LIVE], env=env)
        signed = [entry for entry in state.requests() if entry.with_credentials]
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 3 and report["verdict"] == "untestable" and report["credentials_refused"] is True
    assert report["findings"], "what the anonymous probe found stays in the report"
    assert out.splitlines()[1].startswith("dcs-contract: UNTESTABLE: the target refused the credentials: HTTP 401")
    assert len(signed) == 1, "a refused signature is never retried"
