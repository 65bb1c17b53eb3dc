"""Findings as annotations on the spec: each on the line that defines what it violates, read from the YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.contract.severity import Severity
from dcs_contract.contract.spec import Spec, default_spec_path
from dcs_contract.redaction import Scrubber
from dcs_contract.results.annotations import SpecLines, code_quality, github_commands
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo, write_reports

SPEC_TEXT = default_spec_path().read_text(encoding="utf-8")
LINES = SPEC_TEXT.splitlines()


def _finding(location: str, *, check: str = "response_schema_conformance", status: int | None = 200) -> Finding:
    return Finding(
        check=check,
        category="schema",
        title="Response violates schema",
        message="",
        location=location,
        expected="integer",
        actual='string "1"',
        status=status,
        requests=(RequestInfo(method="GET", url="http://127.0.0.1/v2/p/instances/i/backups"),),
        severity=Severity.BREAKING,
    )


def _key_line(path: list[str]) -> int:
    """The line of the last key of ``path`` in the spec, found by walking the composed YAML (the test's own walk)."""
    node = yaml.compose(SPEC_TEXT, Loader=yaml.SafeLoader)
    line = 0
    for key in path:
        assert isinstance(node, yaml.MappingNode)
        name, node = next((k, v) for k, v in node.value if k.value == key)
        line = name.start_mark.line + 1
    return line


@pytest.mark.parametrize(
    "location",
    ["/backup_record_response/*/size", "/backup_record_response/*/status", "/backup_record_response/0/period"],
)
def test_a_drifted_record_field_is_annotated_on_the_line_that_defines_it(location: str) -> None:
    field = location.rsplit("/", 1)[1]
    expected = _key_line(["components", "schemas", "BackupRecordResponse", "properties", field])
    assert SpecLines.parse(SPEC_TEXT).line_of(_finding(location)) == expected
    assert LINES[expected - 1].strip() == f"{field}:"


def test_the_lines_are_read_from_the_yaml_not_written_down() -> None:
    # Twenty lines more above everything: every annotation moves down twenty lines with them.
    shifted = SpecLines.parse("# a comment\n" * 20 + SPEC_TEXT)
    for finding in (_finding("/total_num"), _finding("offset", check="pages-partition"), _finding("limit")):
        assert shifted.line_of(finding) == SpecLines.parse(SPEC_TEXT).line_of(finding) + 20


def test_an_invariant_a_parameter_an_unknown_field_and_a_header_each_have_their_line() -> None:
    lines = SpecLines.parse(SPEC_TEXT)
    invariant = lines.line_of(_finding("offset", check="pages-partition"))
    assert LINES[invariant - 1].strip() == "- id: pages-partition"
    parameter = lines.line_of(_finding("begin_time,end_time", check="invalid_input_rejected"))
    assert LINES[parameter - 1].strip() == "- name: begin_time"
    # A field the spec does not have: the line of the object that refuses it.
    unknown = lines.line_of(_finding("/backup_record_response/*/backup_region"))
    assert LINES[unknown - 1].strip() == "additionalProperties: false"
    assert unknown > _key_line(["components", "schemas", "BackupRecordResponse"])
    # An error body's field, in the error schema; a header, on its status's response.
    error = lines.line_of(_finding("/error_msg", status=400))
    assert LINES[error - 1].strip() == "error_msg:"
    header = lines.line_of(_finding("Content-Type", check="content_type_conformance", status=500))
    assert LINES[header - 1].strip() == '"500":'


def test_github_commands_are_one_line_each_and_escaped() -> None:
    finding = _finding("/backup_record_response/*/size")
    hostile = Finding(**{**finding.__dict__, "actual": "a\nb%c", "location": "/backup_record_response/*/x,y:z"})
    text = github_commands([finding, hostile], SpecLines.parse(SPEC_TEXT), spec_file="spec/dcs-backups.yaml")
    first, second = text.splitlines()
    line = _key_line(["components", "schemas", "BackupRecordResponse", "properties", "size"])
    assert first.startswith(f"::error file=spec/dcs-backups.yaml,line={line},title=response_schema_conformance ")
    assert "a%0Ab%25c" in second and "x%2Cy%3Az" in second, "no injected line, no broken property"
    info = Finding(**{**finding.__dict__, "severity": Severity.INFO})
    assert github_commands([info], SpecLines.parse(SPEC_TEXT), spec_file="s.yaml").startswith("::notice ")


def test_gitlab_code_quality_names_the_spec_and_the_line() -> None:
    finding = _finding("/backup_record_response/*/size")
    [issue] = json.loads(code_quality([finding], SpecLines.parse(SPEC_TEXT), spec_file="spec/dcs-backups.yaml"))
    line = _key_line(["components", "schemas", "BackupRecordResponse", "properties", "size"])
    assert issue["location"] == {"path": "spec/dcs-backups.yaml", "lines": {"begin": line}}
    assert (issue["severity"], issue["check_name"]) == ("critical", "response_schema_conformance")
    assert len(issue["fingerprint"]) == 64


def test_the_annotate_command_reads_a_report_and_exits_on_its_verdict(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = RunReport(
        target=TargetInfo(),
        started="2024-01-01T00:00:00+00:00",
        finished="2024-01-01T00:00:01+00:00",
        seed=1,
        cases={},
        requests=RequestCounts(total=1, by_status={"200": 1}),
        findings=[_finding("/backup_record_response/*/size")],
    )
    write_reports(report, tmp_path, scrubber=Scrubber())
    monkeypatch.chdir(default_spec_path().parents[1])
    assert main(["annotate", str(tmp_path / "report.json")]) == 1
    line = _key_line(["components", "schemas", "BackupRecordResponse", "properties", "size"])
    assert capsys.readouterr().out.startswith(f"::error file=spec/dcs-backups.yaml,line={line},")
    out = tmp_path / "quality.json"
    assert main(["annotate", str(tmp_path / "report.json"), "--format", "gitlab", "--out", str(out)]) == 1
    assert json.loads(out.read_text())[0]["location"]["lines"]["begin"] == line
    # A missing report is named as the positional REPORT, not as a --report flag annotate lacks.
    assert main(["annotate", str(tmp_path / "nothing.json")]) == 2
    assert "REPORT " in capsys.readouterr().err
