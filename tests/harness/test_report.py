"""The report writers: honest JUnit, fingerprints that tell deviations apart, and scrubbing before cutting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from dcs_contract.redaction import Scrubber
from dcs_contract.report import Finding, RequestInfo, RunReport, fingerprint_of, write_reports

AK = "REPORTAKEXAMPLE00001"


def _finding(**overrides: str) -> Finding:
    fields = {
        "check": "response_schema_conformance",
        "category": "enum",
        "title": "Response violates schema",
        "message": "",
        "location": "/backup_record_response/*/status",
        "expected": "enum as in the spec",
        "actual": '"restoring"',
    }
    return Finding(**{**fields, **overrides}, requests=(RequestInfo(method="GET", url="http://t/v2/p/backups"),))


def _report(**overrides: object) -> RunReport:
    fields: dict[str, object] = {
        "target": {"base_url": "http://t"},
        "started": "2026-11-26T00:00:00+00:00",
        "finished": "2026-11-26T00:00:01+00:00",
        "seed": 1,
        "cases": {"schema-positive": 3},
        "requests": {"total": 3, "by_status": {"200": 3}},
        "findings": [],
    }
    return RunReport(**{**fields, **overrides})  # type: ignore[arg-type]


def _junit(report: RunReport, tmp_path: Path) -> list[tuple[str, str]]:
    write_reports(report, tmp_path, scrubber=Scrubber())
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    return [(case.get("name", ""), next((child.tag for child in case), "passed")) for case in suite]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, [("contract conforms", "passed")]),
        ({"error": "the request budget of 25 is spent"}, [("run completed", "error")]),
        ({"error": "127.0.0.1 did not answer after 5 attempts"}, [("run completed", "error")]),
        (
            {"findings": [_finding()], "error": "stopped by SIGTERM"},
            [("response_schema_conformance /backup_record_response/*/status", "failure"), ("run completed", "error")],
        ),
        ({"crash": "Traceback (most recent call last): ..."}, [("harness", "error")]),
    ],
    ids=["conforms", "cut-short", "untestable", "drift-then-stopped", "harness-bug"],
)
def test_junit_passes_only_a_run_that_completed_and_conforms(
    tmp_path: Path, overrides: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert _junit(_report(**overrides), tmp_path) == expected


def test_a_harness_bug_is_the_verdict_error_whatever_else_was_found(tmp_path: Path) -> None:
    report = _report(findings=[_finding()], crash="Traceback ...\nKeyError: 'x'")
    write_reports(report, tmp_path, scrubber=Scrubber())
    written = json.loads((tmp_path / "report.json").read_text())
    assert (written["verdict"], written["crash"]) == ("error", "Traceback ...\nKeyError: 'x'")
    assert len(written["findings"]) == 1, "what was found before the bug is kept"


def test_a_fingerprint_without_detail_is_what_it_always_was() -> None:
    """Baselines written before ``detail`` existed still match."""
    key = "\x1f".join(("response_schema_conformance", "schema", "/backup_record_response/*/backup_region"))
    old = hashlib.sha256(key.encode()).hexdigest()[:16]
    assert fingerprint_of("response_schema_conformance", "schema", "/backup_record_response/*/backup_region") == old


def test_the_detail_tells_two_deviations_at_one_location_apart() -> None:
    restoring, archived = _finding(detail='"restoring"'), _finding(detail='"archived"')
    assert restoring.fingerprint != archived.fingerprint
    assert _finding().fingerprint not in {restoring.fingerprint, archived.fingerprint}


def test_texts_are_scrubbed_before_they_are_cut(tmp_path: Path) -> None:
    """The AK straddles every display limit: 200 for actual, 600 for the excerpt."""
    findings = [
        _finding(
            location=f"/backup_record_response/*/status{n}",
            actual="a" * (190 + n) + AK,
            response_excerpt="e" * (590 + n) + AK + "e" * 50,
            message="m" * (3990 + n) + AK,
        )
        for n in range(12)
    ]
    write_reports(_report(findings=findings), tmp_path, scrubber=Scrubber([AK]))
    for path in tmp_path.iterdir():
        text = path.read_text()
        for start in range(len(AK) - 7):
            assert AK[start : start + 8] not in text, path.name
    written = json.loads((tmp_path / "report.json").read_text())
    actuals = [f["actual"] for f in written["findings"]]
    # Scrubbed first, the AK is three characters: a text is cut only if still over 200 after that.
    assert all(a == "a" * (190 + n) + "***" for n, a in enumerate(actuals[:8]))
    assert all(len(a) == 201 and a.endswith("…") for a in actuals[8:])
