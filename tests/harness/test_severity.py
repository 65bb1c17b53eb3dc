"""Severity (breaking, contract, info) from the spec's consumers, --fail-on, and --checks / --exclude-checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from dcs_contract.cli.app import main
from dcs_contract.cli.summary import summary
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import NOBODY, Finding
from dcs_contract.contract.severity import Severity, failing
from dcs_contract.contract.spec import Spec
from dcs_contract.contract.wire import WIRE_RULES
from dcs_contract.engine.run import FirstFinding, RunLog
from dcs_contract.engine.selection import NOT_SELECTED, CheckSelection, known_names
from dcs_contract.errors import ConfigError
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo, markdown_of, write_reports
from dcs_contract.results.schema import read_report

SCHEMA_CHECK = "response_schema_conformance"
QUICK = ["--max-examples", "5", "--seed", "3", "--no-confirm"]


def _finding(location: str, *, actual: str = "x", severity: Severity = Severity.CONTRACT) -> Finding:
    return Finding(
        check=SCHEMA_CHECK,
        category="schema",
        title="Response violates schema",
        message="m",
        location=location,
        expected="required",
        actual=actual,
        severity=severity,
    )


# A record without backup_id breaks Terraform (it keys the backups by it); a field the spec
# does not know breaks no one.
MISSING_ID = _finding("/backup_record_response/*/backup_id", actual="missing")
UNKNOWN_FIELD = _finding("/backup_record_response/*/backup_region")


def _report(*findings: Finding, fail_on: Severity = Severity.CONTRACT) -> RunReport:
    return RunReport(
        target=TargetInfo(base_url="https://dcs.example.com", instance_id="i-1"),
        started="2026-12-04T10:00:00+00:00",
        finished="2026-12-04T10:01:00+00:00",
        seed=1,
        cases={"schema": 3},
        requests=RequestCounts(total=3, by_status={"200": 3}),
        findings=list(findings),
        fail_on=fail_on,
    )


def test_severities_are_ordered_and_fail_on_keeps_those_at_or_above_it() -> None:
    assert [s.value for s in sorted(Severity, key=lambda s: s.rank)] == ["info", "contract", "breaking"]
    graded = [_finding("a", severity=s) for s in Severity]
    assert [f.severity for f in failing(graded, Severity.BREAKING)] == [Severity.BREAKING]
    assert [f.severity for f in failing(graded, Severity.CONTRACT)] == [Severity.BREAKING, Severity.CONTRACT]
    assert len(failing(graded, Severity.INFO)) == 3


def test_a_finding_is_breaking_when_a_known_consumer_breaks_on_it_and_contract_when_none_does(spec: Spec) -> None:
    consumers = Consumers.of(spec)
    breaking, contract = consumers.annotate([MISSING_ID, UNKNOWN_FIELD])
    assert breaking.consumers != (NOBODY,) and any("Terraform" in c.consumer for c in breaking.consumers)
    assert breaking.severity is Severity.BREAKING
    assert (contract.consumers, contract.severity) == ((NOBODY,), Severity.CONTRACT)
    # What is only observed stays info, unless a consumer breaks on it.
    [observed] = consumers.annotate([_finding("/backup_record_response/*/backup_region", severity=Severity.INFO)])
    assert observed.severity is Severity.INFO


def test_fail_on_decides_the_verdict_and_the_report_says_why(spec: Spec) -> None:
    breaking, contract = Consumers.of(spec).annotate([MISSING_ID, UNKNOWN_FIELD])
    assert _report(contract).verdict == "violations"
    assert _report(contract, fail_on=Severity.BREAKING).verdict == "conforms"
    assert _report(breaking, contract, fail_on=Severity.BREAKING).verdict == "violations"
    report = _report(contract, fail_on=Severity.BREAKING)
    text = markdown_of(report, scrubber=Scrubber())
    assert "severity: **contract**" in text and "below --fail-on breaking" in text
    assert "none at or above --fail-on breaking" in summary(report)
    assert "[contract] [schema]" in summary(report)


def test_report_json_junit_and_an_older_report_carry_the_severity(spec: Spec, tmp_path: Path) -> None:
    breaking, contract = Consumers.of(spec).annotate([MISSING_ID, UNKNOWN_FIELD])
    write_reports(_report(breaking, contract, fail_on=Severity.BREAKING), tmp_path, scrubber=Scrubber())
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["fail_on"] == "breaking"
    assert [f["severity"] for f in data["findings"]] == ["breaking", "contract"]
    assert read_report(tmp_path / "report.json").findings[0].severity is Severity.BREAKING
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    # One testcase per check (results/junit.py): it fails on the breaking finding; the contract
    # one, below --fail-on, is in its output, not its failure.
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "0")
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message", "").startswith("[breaking]")
    assert "below --fail-on breaking: [contract]" in (suite.findtext("testcase/system-out") or "")
    # A report written before severities: no severity, no fail_on. Read as it was judged then.
    for finding in data["findings"]:
        del finding["severity"]
    del data["fail_on"]
    data["verdict"] = "violations"
    (tmp_path / "report.json").write_text(json.dumps(data))
    old = read_report(tmp_path / "report.json")
    assert [f.severity for f in old.findings] == [Severity.BREAKING, Severity.CONTRACT]
    assert old.fail_on is Severity.CONTRACT


def test_a_selection_names_checks_and_invariants_from_the_registries(spec: Spec) -> None:
    known = known_names(spec)
    assert SCHEMA_CHECK in known and "page-size" in known and "response_time" in known
    only = CheckSelection.of(spec, checks=f"{SCHEMA_CHECK}, page-size")
    assert only.selects("page-size") and not only.selects("pages-partition")
    without = CheckSelection.of(spec, exclude=SCHEMA_CHECK)
    assert not without.selects(SCHEMA_CHECK) and without.selects("page-size")
    assert without.excluded() == (SCHEMA_CHECK,)
    with pytest.raises(ConfigError, match=r"'no-such-check' is no check or invariant; known: .*page-size"):
        CheckSelection.of(spec, checks="page-size,no-such-check")
    with pytest.raises(ConfigError, match="--exclude-checks=','"):
        CheckSelection.of(spec, exclude=",")
    # The wire rules are checks like the others: each can be left out, or be the only one.
    assert set(WIRE_RULES) <= set(known)
    assert not CheckSelection.of(spec, exclude="no-bom").selects("no-bom")
    assert not CheckSelection.of(spec, checks="page-size").selects("no-bom")


def test_an_unknown_check_or_fail_on_is_exit_2_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--report-dir", str(tmp_path), "--exclude-checks", "nope"], env={}) == 2
    err = capsys.readouterr().err
    assert "'nope' is no check or invariant; known:" in err and "pages-partition" in err
    assert main(["run", "--report-dir", str(tmp_path), "--fail-on", "worst"], env={}) == 2
    assert "--fail-on='worst', but it must be one of breaking, contract, info" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


@pytest.mark.slow
def test_fail_on_breaking_passes_drift_that_breaks_no_one_and_fails_drift_that_breaks_terraform(
    tmp_path: Path,
) -> None:
    def run(*flags: str) -> tuple[int, dict[str, Any]]:
        reports = tmp_path / "-".join(flags)
        code = main(["run", "--report-dir", str(reports), *QUICK, *flags], env={})
        return code, json.loads((reports / "report.json").read_text())

    code, report = run("--mock-drift", "extra-field", "--fail-on", "breaking")
    assert (code, report["verdict"]) == (0, "conforms")
    assert [f["severity"] for f in report["findings"]] == ["contract"]
    code, report = run("--mock-drift", "missing-backup-id", "--fail-on", "breaking")
    assert (code, report["verdict"]) == (1, "violations")
    [finding] = report["findings"]
    assert finding["severity"] == "breaking"
    assert any(c["consumer"].startswith("Terraform") for c in finding["consumers"])
    # --exclude-checks leaves the check out: its drift is not reported, and the coverage says why.
    code, report = run("--mock-drift", "extra-field", "--exclude-checks", SCHEMA_CHECK)
    assert (code, report["findings"]) == (0, [])
    assert report["not_evaluated"][SCHEMA_CHECK] == NOT_SELECTED


def test_fail_fast_stops_only_at_a_finding_that_fails_the_run(spec: Spec) -> None:
    log = RunLog(spec, fail_fast=True, fail_on=Severity.BREAKING)
    log.add([UNKNOWN_FIELD])  # contract: below --fail-on breaking, the run goes on
    with pytest.raises(FirstFinding):
        log.add([MISSING_ID])
    with pytest.raises(FirstFinding):
        RunLog(spec, fail_fast=True).add([UNKNOWN_FIELD])
