"""The morning after: confirmation before a red build, replay, the history and diff commands, the CI summary."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.reproduce import NOT_CONFIRMED, NOT_REPRODUCED, REPRODUCED
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.suite import confirm_findings, embedded_mock, guarded, run_contract
from dcs_contract.results.history import History
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import build_client
from dcs_contract.version import harness_version
from tests.harness.conftest import Serve, live_env
from tests.harness.leaks import assert_no_leak

QUICK = ["--seed", "1", "--max-requests", "80"]


def _run(directory: Path, *flags: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    code = main(["run", "--report-dir", str(directory), *QUICK, *flags], env=env or {})
    return code, json.loads((directory / "report.json").read_text())


# -- confirmation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "label"), [(1, REPRODUCED), (5, NOT_REPRODUCED)])
def test_each_new_finding_is_sent_again_and_labelled_within_the_budget(spec: Spec, every: int, label: str) -> None:
    """A steady switch shows again; one that drifts on every 5th answer does not, here: both fail the run."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=1), max_requests=80)
    with embedded_mock(spec, target, drifts=("size-as-string",), drift_every=every) as (mock_target, state):
        report = run_contract(spec, mock_target, settings)
    [finding] = report.findings
    assert (report.verdict, finding.location, finding.confirmation) == (
        "violations",
        "/backup_record_response/*/size",
        label,
    )
    assert len(state.requests()) == report.requests.total <= 80
    assert report.cases == {name: count for name, count in report.cases.items() if count}, "no confirmation case"


def test_no_confirm_sends_nothing_more_and_labels_nothing(tmp_path: Path, spec: Spec) -> None:
    confirmed, report = _run(tmp_path / "a", "--mock-drift", "size-as-string")
    unconfirmed, bare = _run(tmp_path / "b", "--mock-drift", "size-as-string", "--no-confirm")
    assert confirmed == unconfirmed == 1
    assert [f["confirmation"] for f in report["findings"]] == [REPRODUCED]
    assert [f["confirmation"] for f in bare["findings"]] == [""]
    assert "reproduced" in (tmp_path / "a" / "report.md").read_text()


def _confirmed_after_one_page(spec: Spec, drifts: tuple[str, ...], budget: int) -> tuple[list[Finding], RunLog, int]:
    """One page with ``drifts`` on, then the run's confirmation: its findings, its log, and what the mock saw."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=1), max_requests=budget)
    with embedded_mock(spec, target, drifts=drifts) as (mock, state):
        assert mock.base_url is not None and mock.project_id is not None
        guard = guarded(settings)
        with build_client(
            mock.base_url, auth=mock.credentials.auth(mock.project_id), guard=guard, timeout=10
        ) as client:
            run = ContractRun(spec, mock, settings, client, RunLog(spec))
            run.page("schema-positive", {"limit": "1"})
            found = list(run.log.findings)
            confirm_findings(run, guard, lambda finding: False)
        return found, run.log, len(state.requests())


def test_findings_of_one_answer_are_confirmed_by_one_request_sent_again(spec: Spec) -> None:
    """Two drifts in one page make findings of one request: it is sent again once, and all are labelled.

    The budget leaves one request after the page: one sending confirms them all, none is left unconfirmed.
    """
    found, log, sent = _confirmed_after_one_page(spec, ("size-as-string", "restore-flag-boolean"), budget=2)
    assert len(found) >= 2 and len({finding.requests for finding in found}) == 1
    assert [f.confirmation for f in log.findings] == [REPRODUCED] * len(found)
    assert sent == 2


# -- replay ----------------------------------------------------------------------------------


def test_replay_says_still_failing_while_the_switch_is_on_and_fixed_once_it_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    switches = ["--mock-drift", "total-counts-from-offset", "--mock-drift", "size-as-string"]
    code, report = _run(tmp_path, *switches)
    assert code == 1 and len(report["findings"]) >= 2
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "report.json"), *switches], env={}) == 1
    out = capsys.readouterr().out
    assert out.count("STILL FAILING") == len(report["findings"]) and "0 of" in out
    assert main(["replay", str(tmp_path / "report.json")], env={}) == 0
    out = capsys.readouterr().out
    assert out.count("FIXED") == len(report["findings"]) and "STILL FAILING" not in out
    one = report["findings"][0]["fingerprint"]
    assert main(["replay", str(tmp_path / "report.json"), "--finding", one[:8], *switches], env={}) == 1
    assert capsys.readouterr().out.count("STILL FAILING") == 1
    assert main(["replay", str(tmp_path / "report.json"), "--finding", "no-such"], env={}) == 2
    assert "no finding of the report has that fingerprint" in capsys.readouterr().err


def test_replay_against_a_live_target_sends_only_get_signed_and_leaks_nothing(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(drifts=("size-as-string",)) as (server, state):
        env = live_env(server, state)
        assert main(["run", "--report-dir", str(tmp_path), *QUICK, "--rate-limit", "1000"], env=env) == 1
        sent = len(state.requests())
        assert main(["replay", str(tmp_path / "report.json"), "--rate-limit", "1000"], env=env) == 1
        replayed = state.requests()[sent:]
    assert {entry.method for entry in replayed} == {"GET"} and 1 <= len(replayed) <= 2
    captured = capsys.readouterr()
    md = (tmp_path / "report.md").read_text()
    # The replay line names the report where it is written: pasted, it runs.
    assert f"dcs-contract replay {tmp_path / 'report.json'} --finding" in md, "an AK/SK run offers replay beside curl"
    assert_no_leak({"stdout": captured.out, "stderr": captured.err, "report.md": md}, state.credentials.secrets())


def test_the_curl_line_expands_the_token_variable_in_a_shell(tmp_path: Path) -> None:
    _, report = _run(tmp_path, "--mock-drift", "size-as-string")
    curl = report["findings"][0]["requests"][0]["curl"]
    words = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {curl.removeprefix('curl ')}"],
        env={"DCS_AUTH_TOKEN": "tok-123", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "X-Auth-Token: tok-123" in words
    assert shlex.split(curl)[-1].startswith("http://127.0.0.1:")


# -- history, diff and the CI's summary ---------------------------------------------------------


@pytest.mark.slow
def test_a_nightly_history_diff_and_job_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history, summary = tmp_path / "history.sqlite", tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    nights = [[], ["--mock-drift", "size-as-string"], ["--mock-drift", "status-past-tense"]]
    nights.append(nights[-1])
    codes = [_run(tmp_path / f"n{n}", "--history", str(history), *flags, env=env)[0] for n, flags in enumerate(nights)]
    assert codes == [0, 1, 1, 1]
    capsys.readouterr()
    assert main(["history", "--history", str(history)], env={}) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = [line.split() for line in lines[1:5]]
    assert [(row[0], row[2], row[3], row[4]) for row in runs] == [
        ("1", "conforms", "0", "0"),
        ("2", "violations", "1", "0"),
        ("3", "violations", "1", "1"),
        ("4", "violations", "0", "0"),
    ]
    assert all("embedded mock" in line for line in lines[1:5]), "the mock is one target, whatever its port"
    with History.open(history, create=False) as runs:
        first = runs.report(1)
    assert (first.settings["max_requests"], first.seed, first.harness_version) == (80, 1, harness_version())
    assert first.spec is not None and len(first.spec.sha256) == 64
    # New since the night before: exit 1; the same drift again, nothing new: exit 0.
    assert main(["diff", "2", "3", "--history", str(history), "--format", "json"], env={}) == 1
    data = json.loads(capsys.readouterr().out)
    assert (len(data["findings"]["new"]), len(data["findings"]["resolved"])) == (1, 1)
    assert main(["diff", "previous", "last", "--history", str(history), "--format", "json"], env={}) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["something_new"] is False and len(data["findings"]["persisting"]) == 1
    assert main(["diff", str(tmp_path / "n0/report.json"), str(tmp_path / "n1/report.json")], env={}) == 1
    text = summary.read_text()
    assert text.count("# dcs-contract: ") == 4, "each run appended its summary"
    assert text.count("## Since the previous run") == 3, "and, from the second, its diff"


def test_a_history_that_is_not_one_is_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER)")
    before = other.read_bytes()
    assert main(["run", "--report-dir", str(tmp_path / "r"), "--history", str(other)], env={}) == 2
    err = capsys.readouterr().err
    assert str(other) in err and "starting the embedded mock" not in err
    assert other.read_bytes() == before
    assert main(["diff", "last", "previous"], env={}) == 2
    assert "give --history FILE" in capsys.readouterr().err


def test_a_signal_during_the_fail_fast_confirmation_keeps_the_finding(spec: Spec) -> None:
    """The first finding stops the run; SIGTERM then cuts its confirmation short: the finding is reported."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=1), fail_fast=True)
    with embedded_mock(spec, target, drifts=("negative-offset-accepted",)) as (mock_target, _state):
        # Stopped once the finding is in: its confirmation's request is the one refused.
        guard = guarded(settings, stopped=lambda: "SIGTERM" if guard.stats.attempts >= 15 else None)
        report = run_contract(spec, mock_target, settings, guard=guard)
    [finding] = report.findings
    assert (finding.check, finding.first_seen, finding.confirmation) == ("invalid_input_rejected", 15, "")
    assert report.verdict == "violations" and report.crash is None
    assert report.stopped is not None and "its confirmation was cut short: stopped by SIGTERM" in report.stopped


def test_a_finding_the_budget_cannot_send_again_is_labelled_not_confirmed_and_nothing_is_sent(spec: Spec) -> None:
    # The page is the finding, and the whole budget.
    [finding], log, sent = _confirmed_after_one_page(spec, ("size-as-string",), budget=1)
    assert [f.confirmation for f in log.findings] == [NOT_CONFIRMED]
    assert sent == 1 and finding.requests


def test_a_live_report_is_replayed_against_its_own_target_never_silently_against_the_mock(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forgotten --profile must not turn staging's drift into FIXED against the embedded mock."""

    def no_mock(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedded mock was started for a live report")

    report = str(tmp_path / "report.json")
    with serve(drifts=("size-as-string",)) as (staging, state):
        env, staging_url = live_env(staging, state), staging.base_url
        argv = ["run", "--report-dir", str(tmp_path), *QUICK, "--rate-limit", "1000", "--no-confirm"]
        assert main(argv, env=env) == 1
        monkeypatch.setattr("dcs_contract.cli.replay.MockServer", no_mock)
        credentials_only = {name: value for name, value in env.items() if name.startswith("CLOUD_SDK_")}
        sent = len(state.requests())
        # No target configured: the report's own, with the environment's credentials.
        assert main(["replay", report, "--rate-limit", "1000"], env=credentials_only) == 1
        out = capsys.readouterr().out
        assert f"against {staging.base_url}: the report's target (no target configured)" in out
        assert "STILL FAILING" in out and len(state.requests()) > sent
        # No credentials either: refused before anything is sent, naming what to set.
        sent = len(state.requests())
        assert main(["replay", report], env={}) == 2
        err = capsys.readouterr().err
        assert f"replaying against the report's target {staging.base_url}: no credentials" in err
        assert "--mock" in err and len(state.requests()) == sent
        # Another target named: the summary says it is not the report's.
        with serve() as (fixed, fixed_state):
            other, fixed_url = live_env(fixed, fixed_state), fixed.base_url
            assert main(["replay", report, "--rate-limit", "1000"], env=other) == 0
            out = capsys.readouterr().out
        assert f"against {fixed_url}: named by env DCS_BASE_URL, not the report's target {staging_url}" in out
    monkeypatch.undo()
    # Only --mock sends a live report to the embedded mock, and it says so.
    assert main(["replay", report, "--mock"], env={}) == 0
    assert f"the embedded mock (--mock), not the report's target {staging_url}" in capsys.readouterr().out
    assert main(["replay", report, "--mock"], env=env) == 2
    assert "--mock, but env DCS_BASE_URL names a target" in capsys.readouterr().err


@pytest.mark.parametrize(
    "edit",
    [
        lambda url, instance: url.replace(instance, ".."),
        # urlsplit raises on it: once a ValueError, exit 4.
        lambda url, instance: re.sub(r"^https?://[^/]+", "http://[::1", url),
    ],
    ids=["dot-dot", "unclosed-ipv6-host"],
)
def test_replay_refuses_a_report_edited_to_leave_the_endpoint_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], serve: Serve, edit: Callable[[str, str], str]
) -> None:
    _run(tmp_path, "--mock-drift", "size-as-string", "--no-confirm")
    edited = json.loads((tmp_path / "report.json").read_text())
    instance = edited["target"]["instance_id"]
    for finding in edited["findings"]:
        for request in finding["requests"]:
            request["url"] = edit(request["url"], instance)
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    capsys.readouterr()
    with serve() as (server, state):
        code = main(["replay", str(tmp_path / "edited.json"), "--rate-limit", "1000"], env=live_env(server, state))
        assert state.requests() == [], "nothing is sent for a finding that cannot be replayed"
    assert code == 2
    out = capsys.readouterr().out
    assert "NOT REPLAYED" in out and "with safe ids" in out and "nothing was sent" in out


def test_the_first_night_has_nothing_to_compare_and_bad_numbers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.sqlite"
    assert _run(tmp_path / "n0", "--history", str(history))[0] == 0
    capsys.readouterr()
    assert main(["diff", "previous", "last", "--history", str(history)], env={}) == 0
    assert "nothing to compare with yet" in capsys.readouterr().out
    assert main(["history", "--history", str(history), "--last", "0"], env={}) == 2
    assert "--last=0, but it must be 1..100000 runs" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "none.json"), str(tmp_path / "n0" / "report.json")], env={}) == 2
    assert f"OLD='{tmp_path / 'none.json'}': no such report.json" in capsys.readouterr().err
