"""dcs-contract run: exit codes, the summary and the reports."""

from __future__ import annotations

import errno
import json
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from xml.etree import ElementTree as ET

import httpx
import pytest

from dcs_contract.cli.app import main
from dcs_contract.cli.basics import EXIT_BY_VERDICT
from dcs_contract.cli.summary import Verbosity
from dcs_contract.cli.summary import summary as _summary
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.run import PropertyRun
from dcs_contract.mock import DEFAULT_RECORD_COUNT, FaultPlan, MockServer, MockState, create_app
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.results.report import VERDICTS, RequestCounts, RunReport, TargetInfo
from dcs_contract.settings.target import BOUNDS
from dcs_contract.transport.signing import AkSkAuth
from tests.harness.clocks import FakeClock
from tests.harness.conftest import Serve, dcs_contract_mock, live_env
from tests.harness.leaks import assert_no_leak


def test_the_default_run_against_the_embedded_mock_conforms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--report-dir", str(tmp_path), "--seed", "7"], env={}) == 0
    out = capsys.readouterr().out
    assert "dcs-contract: CONFORMS" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "conforms"
    assert sum(report["cases"].values()) >= 300
    assert report["cases"]["schema-negative"] > 0
    assert report["requests"]["by_status"]["400"] > 0
    assert {"report.md", "junit.xml"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DCS_BASE_URL": "https://dcs.test"}, "DCS_PROJECT_ID/--project-id is required"),
        ({"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p"}, "DCS_INSTANCE_ID/--instance-id is required"),
        ({"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i"}, "no credentials"),
        ({"DCS_BASE_URL": "ftp://x"}, "is not an http(s) URL"),
        ({"DCS_REGION": "Mars 1"}, "is not a region id"),
        ({"CLOUD_SDK_AK": "ak"}, "CLOUD_SDK_SK is not set"),
    ],
)
def test_configuration_errors_exit_2_and_say_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    assert main(["run", "--report-dir", str(tmp_path)], env=env) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--max-examples", "0"], "--max-examples=0, but it must be 1..100000"),
        (["--rate-limit", "-1"], "--rate-limit=-1.0, but it must be 0.01..1000 requests per second"),
        (["--timeout", "x"], "argument --timeout: 'x' is not a number"),
        (["--mock-records", "100001"], "--mock-records=100001, but it must be 0..100000"),
    ],
)
def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str], flag: list[str], message: str) -> None:
    try:
        code = main(["run", *flag], env={})
    except SystemExit as exited:  # argparse's own errors: a value that does not convert
        code = exited.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_target_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_clock: FakeClock
) -> None:
    env = {
        "DCS_BASE_URL": f"http://127.0.0.1:{_free_port()}",
        "DCS_PROJECT_ID": "p",
        "DCS_INSTANCE_ID": "i",
        "DCS_AUTH_TOKEN": "token-value-123",
    }
    assert main(["run", "--report-dir", str(tmp_path), "--timeout", "1"], env=env) == 3
    assert fake_clock.waits(longer_than=0.2), "a refused connection is retried after a backoff"
    captured = capsys.readouterr()
    assert "UNTESTABLE" in captured.out and "did not answer" in captured.out
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "untestable"
    # The CI's test view shows an error, never a passing "contract conforms".
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    names = [case.get("name") for case in suite.iter("testcase")]
    assert "contract conforms" not in names
    [errored] = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert "did not answer" in (errored.find("error").get("message") or "")  # type: ignore[union-attr]
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    outputs = [captured.out, captured.err, *(path.read_text() for path in tmp_path.iterdir())]
    assert not any("token-value" in text for text in outputs)


def test_a_wrong_secret_key_exits_3_after_one_signed_request(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = MockState.default(spec)
    with MockServer(create_app(state)) as server:
        env = {
            "DCS_BASE_URL": server.base_url,
            "DCS_PROJECT_ID": state.project_id,
            "DCS_INSTANCE_ID": state.instance_id,
            "CLOUD_SDK_AK": state.credentials.access_key,
            "CLOUD_SDK_SK": "a-wrong-secret-key",
        }
        assert main(["run", "--report-dir", str(tmp_path)], env=env) == 3
    # The unauthenticated probe, then one signed request: never a second bad signature.
    assert [(r.with_credentials, r.status) for r in state.requests()] == [(False, 401), (True, 401)]
    captured = capsys.readouterr()
    assert "refused the credentials: HTTP 401 APIGW.0301" in captured.out
    assert f"AK/SK from CLOUD_SDK_AK/CLOUD_SDK_SK (AK {state.credentials.access_key[:4]}…)" in captured.out
    assert "Not retried: five refused signatures" in captured.out
    assert "a-wrong-secret-key" not in captured.out + captured.err


def test_dcs_contract_mock_serves_with_what_it_prints() -> None:
    with dcs_contract_mock("--mock-records", "12") as printed:
        auth = AkSkAuth(printed["CLOUD_SDK_AK"], printed["CLOUD_SDK_SK"], project_id=printed["DCS_PROJECT_ID"])
        path = f"/v2/{printed['DCS_PROJECT_ID']}/instances/{printed['DCS_INSTANCE_ID']}/backups"
        url = printed["DCS_BASE_URL"] + path
        assert httpx.get(url, auth=auth).json()["total_num"] == 12
        assert httpx.get(url, headers={"X-Auth-Token": printed["DCS_AUTH_TOKEN"]}).status_code == 200


def test_the_mocks_help_states_the_defaults_the_mock_uses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: nothing wrapped mid-phrase
    for argv in (["mock", "--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            main(argv, env={})
        out = capsys.readouterr().out
        assert FaultPlan().describe() in out
        assert f"(default {DEFAULT_RECORD_COUNT})" in out
        # Given when --help is printed (cli/flags.py's late help), not when the parser is built.
        assert f"drift switch of the embedded mock (repeatable): {min(DRIFTS)}, " in out
        assert set(DRIFTS) <= set(re.findall(r"[a-z0-9-]+", out))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--max-examples", "1", "--report-dir", "{file}"],
        ["run", "--max-examples", "1", "--report-dir", "{dir}", "--record", "{file}/traffic.har"],
        ["docs", "--out", "{file}"],
    ],
)
def test_an_output_path_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    argv = [part.format(file=blocker, dir=tmp_path / "reports") for part in command]
    assert main(argv, env={}) == 2
    captured = capsys.readouterr()
    assert f"cannot write {blocker}" in captured.err
    assert "schema-positive" not in captured.err, "refused before the run, not after"


def test_a_bug_in_the_harness_exits_4_and_still_leaves_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The findings found before the bug are kept; the traceback is in every report and on stderr."""

    def broken(run: PropertyRun) -> None:
        raise RuntimeError("an injected bug in the harness")

    monkeypatch.setattr(PROPERTIES["paging-total"], "probe_part", broken)
    argv = ["run", "--report-dir", str(tmp_path), "--max-examples", "10", "--seed", "5", "--mock-drift", "extra-field"]
    assert main(argv, env={}) == 4
    captured = capsys.readouterr()
    assert "RuntimeError: an injected bug in the harness" in captured.err
    assert "Traceback (most recent call last)" in captured.err
    assert "dcs-contract: ERROR" in captured.out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "error"
    assert "during the probe plan (paging-total)" in report["crash"] and "an injected bug" in report["crash"]
    # Found by schema-positive, before the bug.
    assert "/backup_record_response/*/backup_region" in [f["location"] for f in report["findings"]]
    # paging-total's probe is the last of the probe plan: the bug stopped the run before any exploration.
    assert "paging-total" not in report["cases"] and report["cases"]["schema-positive"] == 1, "stopped at the bug"
    assert "The harness failed" in (tmp_path / "report.md").read_text()
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    harness = [case for case in suite.iter("testcase") if case.get("name") == "harness"]
    assert harness and "an injected bug" in (harness[0].findtext("error") or "")
    assert "contract conforms" not in [case.get("name") for case in suite.iter("testcase")]


def test_the_summary_lists_what_ran_and_what_did_not_from_the_run() -> None:
    """Read from the report, not fixed text: a check the run did not evaluate is not claimed."""
    report = RunReport(
        target=TargetInfo(base_url="http://127.0.0.1:1", instance_id="i", credentials="none"),
        started="s",
        finished="f",
        seed=1,
        cases={"schema-positive": 3},
        requests=RequestCounts(total=3, by_status={"200": 3}),
        findings=[],
        evaluated={"status_code_conformance": 3, "page-size": 2},
        not_evaluated={
            "window-contains": "no query had a time window",
            "past-end-empty": "page-walk did not run",
            "adjacent-windows-add-up": "no query had a time window",
        },
        skipped={"empty-instance": "no DCS_EMPTY_INSTANCE_ID given"},
    )
    summary = _summary(report, verbosity=Verbosity.VERBOSE)
    assert "checked   page-size=2  status_code_conformance=3" in summary
    assert "unchecked adjacent-windows-add-up, window-contains: no query had a time window" in summary
    assert "unchecked past-end-empty: page-walk did not run" in summary
    assert "skipped   empty-instance: no DCS_EMPTY_INSTANCE_ID given" in summary
    assert "response_schema_conformance" not in summary and "x-invariants" not in summary
    nothing = _summary(
        RunReport(**{**report.__dict__, "evaluated": {}, "not_evaluated": {}}), verbosity=Verbosity.VERBOSE
    )
    assert "checked   nothing: no check or invariant ran" in nothing
    # Without -v the counters stay out of the way; what was skipped is still said.
    normal = _summary(report)
    assert "checked" not in normal and "unchecked" not in normal and "skipped   empty-instance" in normal


def test_every_verdict_has_its_exit_code() -> None:
    assert set(EXIT_BY_VERDICT) == set(VERDICTS)


def test_the_timeout_help_states_the_bound_the_run_checks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main(["run", "--help"], env={})
    out = capsys.readouterr().out
    for name in ("timeout", "max_examples", "max_requests", "rate_limit", "max_body"):
        assert BOUNDS[name].rule in out, name


@pytest.mark.parametrize(
    ("argv", "where"),
    [(["--record"], "reports/traffic.har"), (["--record", "traffic.har"], "traffic.har")],
    ids=["bare", "given"],
)
def test_only_a_bare_record_flag_records_into_the_report_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], where: str
) -> None:
    """`--record traffic.har` is a file in the working directory, as any other path given is."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--report-dir", "reports", "--max-requests", "30", *argv], env={}) == 0
    assert [path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.har")] == [where]
    sent = json.loads((tmp_path / "reports" / "report.json").read_text())["requests"]["total"]
    assert len(json.loads((tmp_path / where).read_text())["log"]["entries"]) == sent
    assert f"reports/junit.xml, {where}" in capsys.readouterr().out


QUICK_LIVE = ["--max-examples", "3", "--seed", "2", "--rate-limit", "1000"]


def _no_space(*args: object, **kwargs: object) -> NoReturn:
    raise OSError(errno.ENOSPC, "No space left on device", "the-file")


def _a_bug(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError("an injected bug")


def _outputs(captured: pytest.CaptureResult[str], directory: Path) -> dict[str, str]:
    files = {path.name: path.read_text() for path in directory.iterdir() if path.is_file()}
    return {"stdout": captured.out, "stderr": captured.err, **files}


@pytest.mark.parametrize(
    ("patched", "failure", "message"),
    [
        ("write_har", _no_space, "writing {reports}/traffic.har failed: No space left on device: the-file"),
        ("write_har", _a_bug, "writing {reports}/traffic.har failed: RuntimeError: an injected bug"),
        ("summary", _a_bug, "the summary failed: RuntimeError: an injected bug"),
        ("_judged", _a_bug, "the baseline {baseline} failed: RuntimeError: an injected bug"),
        ("_judged", _no_space, "the baseline {baseline} failed: No space left on device: the-file"),
    ],
    ids=["har-disk-full", "har-bug", "summary-bug", "baseline-bug", "baseline-disk-full"],
)
def test_a_failure_after_the_run_exits_4_and_the_reports_carry_it(
    serve: Serve,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    patched: str,
    failure: Callable[..., NoReturn],
    message: str,
) -> None:
    """Requests were sent: not exit 2 ("nothing was sent"), but 4, and what could be written is written."""
    reports, baseline = tmp_path / "reports", tmp_path / "b.json"
    monkeypatch.setattr(f"dcs_contract.cli.outputs.{patched}", failure)
    argv = ["run", "--report-dir", str(reports), "--record", "--baseline", str(baseline), "--baseline-update"]
    with serve(drifts=("extra-field",)) as (server, state):
        assert main([*argv, *QUICK_LIVE], env=live_env(server, state)) == 4
    expected = message.format(reports=reports, baseline=baseline)
    captured = capsys.readouterr()
    assert "dcs-contract: the harness failed (a failure of dcs-contract, not drift):\n" in captured.err
    assert expected in captured.err
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "error" and report["crash"].startswith(expected)
    # What the run found is kept: new, or accepted by the baseline just written.
    found = [*report["findings"], *(report["baseline"] or {}).get("accepted", [])]
    assert "/backup_record_response/*/backup_region" in [finding["location"] for finding in found]
    assert expected in (reports / "report.md").read_text()
    suite = ET.parse(reports / "junit.xml").getroot()
    assert [case.findtext("error") for case in suite.iter("testcase") if case.get("name") == "harness"] != []
    assert "dcs-contract: ERROR" in captured.out
    # The other outputs are written all the same.
    assert (reports / "traffic.har").exists() == (patched != "write_har")
    assert baseline.exists() == (patched != "_judged")
    methods = [entry.method for entry in state.requests()]
    assert set(methods) == {"GET"} and len(methods) == report["requests"]["total"] > 0
    assert_no_leak(_outputs(captured, reports), state.credentials.secrets())


def test_outputs_still_unwritten_at_the_deadline_exit_4_with_what_was_written(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that never ends (a HAR writer stuck on what a target sent) does not hold the run past the deadline."""
    reports, baseline = tmp_path / "reports", tmp_path / "b.json"
    stuck = threading.Event()
    monkeypatch.setattr("dcs_contract.cli.outputs.WRITE_DEADLINE", 0.5)
    # Left behind by the run, it must not outlive the test: the test releases it at the end.
    monkeypatch.setattr("dcs_contract.cli.outputs.write_har", lambda *args, **kwargs: stuck.wait(30))
    argv = ["run", "--report-dir", str(reports), "--record", "--baseline", str(baseline), "--baseline-update"]
    try:
        with serve(drifts=("extra-field",)) as (server, state):
            assert main([*argv, *QUICK_LIVE], env=live_env(server, state)) == 4
    finally:
        stuck.set()
    captured = capsys.readouterr()
    expected = f"writing {reports}/traffic.har failed: it did not end within the 0.5 s given to writing the outputs"
    assert expected in captured.err
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "error" and report["crash"].startswith(expected)
    assert baseline.exists() and not (reports / "traffic.har").exists()
    assert "dcs-contract: ERROR: the harness failed" in captured.out


@pytest.mark.parametrize("failure", [_no_space, _a_bug], ids=["disk-full", "bug"])
def test_reports_that_cannot_be_written_are_said_so_and_exit_4(
    serve: Serve,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[..., NoReturn],
) -> None:
    reports = tmp_path / "reports"
    monkeypatch.setattr("dcs_contract.cli.outputs.write_reports", failure)
    with serve() as (server, state):
        argv = ["run", "--report-dir", str(reports), "--record", *QUICK_LIVE]
        assert main(argv, env=live_env(server, state)) == 4
    captured = capsys.readouterr()
    reason = "No space left on device: the-file" if failure is _no_space else "RuntimeError: an injected bug"
    assert f"dcs-contract: the reports could not be written to {reports}: {reason}" in captured.err
    assert "dcs-contract: the summary below is all this run leaves (exit 4)" in captured.err
    assert "dcs-contract: CONFORMS" in captured.out, "the run itself conformed: the summary says so"
    assert f"reports   {reports}/traffic.har\n" in captured.out
    assert [path.name for path in reports.iterdir()] == ["traffic.har"], "the recording is still written"
    assert {entry.method for entry in state.requests()} == {"GET"}
    assert_no_leak(_outputs(captured, reports), state.credentials.secrets())


def test_an_embedded_mock_that_does_not_start_still_leaves_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dcs_contract.cli.run.embedded_mock", _a_bug)
    assert main(["run", "--report-dir", str(tmp_path)], env={}) == 4
    captured = capsys.readouterr()
    assert "RuntimeError: an injected bug" in captured.err
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["verdict"], report["requests"]["total"]) == ("error", 0)
    assert report["crash"].startswith("starting the embedded mock:\nTraceback")
    assert "target    the embedded mock" in captured.out


def test_a_bug_while_checking_the_settings_still_leaves_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was sent, but it is a bug, not a usage error: exit 4, and the reports say where."""
    token = "MIIT-" + "t0k3n" * 8
    monkeypatch.setattr("dcs_contract.cli.run.RunSettings.for_target", _a_bug)
    assert main(["run", "--report-dir", str(tmp_path)], env={"DCS_AUTH_TOKEN": token}) == 4
    captured = capsys.readouterr()
    assert "RuntimeError: an injected bug" in captured.err
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["verdict"], report["requests"]["total"]) == ("error", 0)
    assert report["crash"].startswith("while checking the settings:\nTraceback")
    assert_no_leak(_outputs(captured, tmp_path), [token])


def test_a_profile_of_the_configuration_file_sets_the_run_and_config_show_says_where_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcs-contract.toml").write_text(
        'report_dir = "nightly"\nmax_examples = 50\n\n[profiles.quick]\nmax_examples = 3\nseed = 11\n'
    )
    secrets = {"CLOUD_SDK_AK": "AKIDPROFILETEST0001", "CLOUD_SDK_SK": "sk-profile-secret-0001"}
    assert main(["config", "show", "--profile", "quick"], env=secrets) == 0
    shown = capsys.readouterr().out
    assert "max_examples            3  (profile quick in ./dcs-contract.toml)" in shown
    assert "seed                    11  (profile quick" in shown
    assert all(secret not in shown for secret in secrets.values())
    # The flag wins over the profile; the profile over the file's defaults.
    assert main(["run", "--max-requests", "40"], env={"DCS_PROFILE": "quick"}) == 0
    report = json.loads((tmp_path / "nightly" / "report.json").read_text())
    assert report["seed"] == 11 and report["budget"]["max_requests"] == 40
    (tmp_path / "dcs-contract.toml").write_text('[profiles.quick]\nsk = "literal-secret-in-a-file"\n')
    assert main(["run", "--profile", "quick"], env={}) == 2
    err = capsys.readouterr().err
    assert "would be committed" in err and "literal-secret-in-a-file" not in err


def test_a_bad_value_from_the_configuration_file_names_the_file_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcs-contract.toml").write_text("rate_limit = nan\n")
    assert main(["run"], env={}) == 2
    assert "(set by rate_limit in the defaults in ./dcs-contract.toml)" in capsys.readouterr().err
    assert main(["run", "--rate-limit", "0"], env={}) == 2
    assert "set by" not in capsys.readouterr().err, "a flag given is named as the flag, and only so"


def test_hypothesis_keeps_its_caches_per_user_never_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dcs_contract.cli.run import hypothesis_cache

    assert hypothesis_cache({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "dcs-contract" / "hypothesis"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hypothesis_cache({}) == tmp_path / "home" / ".cache" / "dcs-contract" / "hypothesis"
