"""The commands agree with each other: shared flags, one spelling, no abbreviations, honest messages."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from dcs_contract.cli.app import build_parser, main
from dcs_contract.cli.history import _latency, record
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.history.model import LatencyPoint
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo
from dcs_contract.settings.table import plugin_options

COMMANDS = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_profile_and_config(command: str) -> None:
    flags = COMMANDS[command]._option_string_actions
    assert {"--profile", "--config"} <= set(flags)


def test_an_abbreviated_flag_is_refused_with_the_flags_it_could_mean(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, ["run", "--max-r", "30"])
    assert "unrecognized argument: --max-r" in err and "--max-requests" in err


def test_a_misspelled_flag_gets_a_suggestion_from_its_own_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean --max-requests" in _refused(capsys, ["run", "--max-reqests", "3"])
    assert "did you mean --last" in _refused(capsys, ["history", "--lsat", "3"])
    assert "did you mean --format" in _refused(capsys, ["diff", "a", "b", "--fromat", "json"])


@pytest.mark.parametrize(
    ("old", "new"), [("--records", "--mock-records"), ("--drift", "--mock-drift"), ("--faults", "--mock-faults")]
)
def test_the_mock_takes_run_s_mock_flags_and_points_from_the_old_ones(
    capsys: pytest.CaptureFixture[str], old: str, new: str
) -> None:
    assert f"{old} is now {new}" in _refused(capsys, ["mock", old, *([] if old == "--faults" else ["3"])])
    mock = set(COMMANDS["mock"]._option_string_actions)
    run = {flag for flag in COMMANDS["run"]._option_string_actions if flag.startswith("--mock-")}
    assert run <= mock and {"--mock-drift-every", "--mock-data-seed"} <= mock


def test_check_har_and_sdk_check_take_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check-har", "sdk-check"):
        assert "--baseline" in COMMANDS[command]._option_string_actions
    assert main(["sdk-check", "--baseline", str(tmp_path / "none.json"), "--report-dir", str(tmp_path)]) == 2
    assert "--baseline=" in capsys.readouterr().err
    baseline = Baseline(tmp_path / "baseline.json")
    baseline.write(scrubber=Scrubber())
    assert main(["sdk-check", "--baseline", str(baseline.path), "--report-dir", str(tmp_path / "r")]) == 0


def test_help_keeps_drift_names_whole_and_shows_no_rest_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for argv in (["run", "--help"], ["mock", "--help"], ["--help"]):
        shown = io.StringIO()
        with redirect_stdout(shown), pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        text = shown.getvalue()
        assert "``" not in text and ":class:" not in text
        if argv != ["--help"]:
            missing = [name for name in DRIFTS if name not in text]
            assert not missing, f"broken across lines at a hyphen: {missing}"


def test_one_request_is_not_requests() -> None:
    point = LatencyPoint(run=1, started="2026-12-04T00:00:00+00:00", requests=1, p50=0.1, p95=0.1, max=0.1)
    assert _latency(point).endswith("over 1 request")


def test_history_says_resolved_as_diff_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = RunReport(
        target=TargetInfo(),
        started="2026-12-04T00:00:00+00:00",
        finished="2026-12-04T00:00:01+00:00",
        seed=1,
        cases={},
        requests=RequestCounts(total=1, by_status={"200": 1}),
        findings=[],
    )
    history = tmp_path / "history.sqlite"
    record(history, report, mock=True)
    assert main(["history", "--history", str(history)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "resolved" in header.split() and "gone" not in header.split()


def test_replay_names_its_positional_report_not_a_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "report.json")], env={}) == 2
    err = capsys.readouterr().err
    assert "REPORT " in err and "--report" not in err


def test_a_yaml_error_prints_real_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\nfoo: [\n  bar: baz\n")
    assert main(["docs", "--spec", str(spec), "--out", str(tmp_path / "site")], env={}) == 2
    err = capsys.readouterr().err
    assert "\\n" not in err and len(err.splitlines()) > 1
    assert all(line.startswith(("dcs-contract: ", "  ")) for line in err.splitlines()), "each line marked as ours"


def test_config_show_refuses_what_run_refuses_and_names_every_unset_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcs-contract.toml").write_text("[profiles.p]\nmax_requests = 0\n")
    assert main(["config", "show", "--profile", "p"], env={}) == 2
    assert "--max-requests=0" in capsys.readouterr().err
    (tmp_path / "dcs-contract.toml").write_text('[profiles.p]\npushgateway = "ftp://gateway"\n')
    assert main(["config", "show", "--profile", "p"], env={}) == 2
    assert "--pushgateway='ftp://gateway'" in capsys.readouterr().err
    # An unclosed IPv6 bracket: urlsplit raises on it, and that was exit 4.
    (tmp_path / "dcs-contract.toml").write_text('[profiles.p]\npushgateway = "http://[::1/"\n')
    assert main(["config", "show", "--profile", "p"], env={}) == 2
    assert "--pushgateway='http://[::1/'" in capsys.readouterr().err
    (tmp_path / "dcs-contract.toml").write_text(
        '[profiles.p]\nproject_id = "${P_ID}"\ninstance_id = "${I_ID}"\nbaseline = "${B_FILE}-${C_FILE}"\n'
    )
    assert main(["config", "show", "--profile", "p"], env={}) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("P_ID", "I_ID", "B_FILE", "C_FILE")), err


def test_the_plugin_takes_the_project_and_the_region() -> None:
    flags = {flag for flag, _ in plugin_options()}
    assert {"--dcs-project-id", "--dcs-region"} <= flags


def test_settings_from_a_profile_reach_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcs-contract.toml").write_text('[profiles.p]\nspec = "missing.yaml"\n')
    # The profile's spec is read: a file that is not there is refused, naming it.
    assert main(["docs", "--profile", "p"], env={}) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert not (tmp_path / "dcs-contract-docs").exists()


def test_docs_without_out_writes_dcs_contract_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["docs"], env={}) == 0
    assert {path.name for path in (tmp_path / "dcs-contract-docs").iterdir()} == {"index.html", "index.md"}


def test_check_har_sets_apart_what_the_team_s_baseline_accepts(tmp_path: Path) -> None:
    live, baseline = tmp_path / "live", tmp_path / "baseline.json"
    flags = ["--seed", "2", "--max-requests", "60", "--record", "--mock-drift", "offset-ignored"]
    main(["run", "--report-dir", str(live), *flags, "--baseline", str(baseline), "--baseline-update"], env={})
    offline = tmp_path / "offline"
    main(["check-har", str(live / "traffic.har"), "--report-dir", str(offline), "--baseline", str(baseline)], env={})
    report = json.loads((offline / "report.json").read_text())
    accepted = {(f["check"], f["location"]) for f in report["baseline"]["accepted"]}
    new = {(f["check"], f["location"]) for f in report["findings"]}
    assert ("pages-partition", "offset") in accepted - new


def test_the_progress_line_counts_one_request_as_one() -> None:
    from dcs_contract.cli.summary import Progress

    shown = io.StringIO()
    progress = Progress(shown)
    progress("page-walk", 1, None)
    progress("page-walk", 50, None)
    assert shown.getvalue().split("\n")[:2] == [
        f"  {'page-walk':<18}     1 request",
        f"  {'page-walk':<18}    50 requests",
    ]
