"""Accepted drift: a baseline keeps CI green on known deviations and red on new ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcs_contract.baseline import Baseline
from dcs_contract.cli import main
from dcs_contract.errors import ConfigError
from dcs_contract.report import Finding, RequestInfo

QUICK = ["--max-examples", "20", "--seed", "3"]


def _finding(location: str, message: str = "m", url: str = "http://x/1") -> Finding:
    return Finding(
        check="response_schema_conformance",
        category="schema",
        title="t",
        message=message,
        location=location,
        expected="e",
        actual="a",
        requests=(RequestInfo(method="GET", url=url),),
    )


def test_a_finding_is_matched_by_fingerprint_not_by_message_or_request(tmp_path: Path) -> None:
    baseline = Baseline(tmp_path / "b.json").updated([_finding("/a")])
    judged = baseline.judge([_finding("/a", message="other words", url="http://y/2"), _finding("/b")])
    assert [f.location for f in judged.accepted] == ["/a"]
    assert [f.location for f in judged.new] == ["/b"]
    assert judged.resolved == []
    assert [e.location for e in baseline.judge([]).resolved] == ["/a"]


def test_an_update_keeps_the_reason_a_person_wrote(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    Baseline(path).updated([_finding("/a")]).write()
    document = json.loads(path.read_text())
    document["accepted"][0]["reason"] = "ticket OPS-12: staging runs an old build"
    path.write_text(json.dumps(document))
    Baseline.load(path).updated([_finding("/a"), _finding("/b")]).write()
    reasons = {e["location"]: e["reason"] for e in json.loads(path.read_text())["accepted"]}
    assert reasons == {"/a": "ticket OPS-12: staging runs an old build", "/b": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"accepted": {}}', 'must be an object with an "accepted" list'),
        ('{"version": 2, "accepted": []}', "version=2, but this harness reads version 1"),
        ('{"version": 1, "accepted": [{"check": "c"}]}', "accepted[0] lacks fingerprint, category, location"),
        (
            '{"version": 1, "accepted": [{"fingerprint": "0", "check": "c", "category": "schema", "location": "/"}]}',
            "has fingerprint='0', but its check, category and location give",
        ),
    ],
)
def test_a_broken_baseline_is_a_configuration_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="--baseline=") as raised:
        Baseline.load(path)
    assert message in str(raised.value)


def test_known_drift_passes_new_drift_fails_and_a_fix_is_reported_resolved(tmp_path: Path) -> None:
    baseline = str(tmp_path / "accepted.json")

    def run(*flags: str) -> tuple[int, dict]:
        reports = tmp_path / "reports"
        code = main(["run", "--report-dir", str(reports), *QUICK, *flags], env={})
        return code, json.loads((reports / "report.json").read_text())

    # Without a baseline the known deviation fails the run.
    assert run("--mock-drift", "extra-field")[0] == 1
    code, report = run("--mock-drift", "extra-field", "--baseline", baseline, "--baseline-update")
    assert code == 0 and report["findings"] == []
    [entry] = json.loads(Path(baseline).read_text())["accepted"]
    assert entry["location"] == "/backup_record_response/*/backup_region"

    code, report = run("--mock-drift", "extra-field", "--baseline", baseline)
    assert (code, report["verdict"], len(report["baseline"]["accepted"])) == (0, "conforms", 1)

    code, report = run("--mock-drift", "extra-field", "--mock-drift", "format-upper-case", "--baseline", baseline)
    assert code == 1
    assert [f["location"] for f in report["findings"]] == ["/backup_record_response/*/backup_format"]

    code, report = run("--baseline", baseline)
    assert code == 0
    assert [e["fingerprint"] for e in report["baseline"]["resolved"]] == [entry["fingerprint"]]
    assert "Resolved: in the baseline, no longer seen (1)" in (tmp_path / "reports" / "report.md").read_text()


def test_baseline_flags_are_checked_before_anything_is_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--baseline", str(tmp_path / "missing.json")], env={}) == 2
    assert "does not exist (--baseline-update creates it)" in capsys.readouterr().err
    assert main(["run", "--baseline-update"], env={}) == 2
    assert "--baseline-update needs --baseline FILE" in capsys.readouterr().err
    assert main(["run", "--mock-drift", "no-such-drift"], env={}) == 2
    assert "is not a drift switch; known:" in capsys.readouterr().err


def test_a_run_cut_short_does_not_rewrite_the_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its findings are incomplete: rewriting would drop accepted entries it never had the budget to see."""
    baseline = tmp_path / "accepted.json"
    reports = str(tmp_path / "reports")
    flags = ["run", "--report-dir", reports, *QUICK, "--mock-drift", "extra-field", "--baseline", str(baseline)]
    assert main([*flags, "--baseline-update"], env={}) == 0
    before = baseline.read_text()
    assert main([*flags, "--baseline-update", "--max-requests", "1"], env={}) == 3
    assert "not updated: the run was cut short" in capsys.readouterr().err
    assert baseline.read_text() == before


def test_mock_flags_against_a_live_target_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i", "DCS_AUTH_TOKEN": "t"}
    assert main(["run", "--mock-data-seed", "0"], env=env) == 2
    assert "--mock-* flags apply to the embedded mock only" in capsys.readouterr().err
