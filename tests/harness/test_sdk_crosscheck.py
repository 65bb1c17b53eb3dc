"""The spec against the official SDK's models: no unexplained difference, and a real one is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.sdk import compare_with_sdk
from dcs_contract.contract.spec import Spec


def _changed(spec: Spec, change: str) -> Spec:
    document = copy.deepcopy(spec.document)
    record = document["components"]["schemas"]["BackupRecordResponse"]["properties"]
    if change == "rename":
        record["backup_size"] = record.pop("size")
    elif change == "retype":
        record["progress"] = {"type": "number", "x-source": "decision"}
    elif change == "forget-reason":
        document["info"]["x-sdk"]["differences"] = []
    return Spec(document=document, path=spec.path)


def test_the_spec_and_the_sdk_agree_but_for_what_the_spec_explains(spec: Spec) -> None:
    comparison = compare_with_sdk(spec)
    assert comparison.findings == []
    assert [f.location for f in comparison.accepted] == ["request/project_id"]
    assert comparison.compared >= 15 + 5 + 2


@pytest.mark.parametrize(
    ("change", "locations"),
    [
        ("rename", {"/backup_record_response/*/backup_size", "/backup_record_response/*/size"}),
        ("retype", {"/backup_record_response/*/progress"}),
        ("forget-reason", {"request/project_id"}),
    ],
)
def test_a_difference_is_reported_as_category_sdk(spec: Spec, change: str, locations: set[str]) -> None:
    findings = compare_with_sdk(_changed(spec, change)).findings
    assert {f.location for f in findings} == locations
    assert {f.category for f in findings} == {"sdk"}


def test_the_command_writes_the_harness_report_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdk-check", "--report-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "conforms"
    assert [f["category"] for f in report["baseline"]["accepted"]] == ["sdk"]
    assert "huaweicloudsdkdcs" in capsys.readouterr().out
