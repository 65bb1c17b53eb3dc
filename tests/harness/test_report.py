"""The report writers: honest JUnit, fingerprints that tell deviations apart, and scrubbing before cutting."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.contract.findings import BaselineEntry, Finding, RequestInfo, fingerprint_of
from dcs_contract.redaction import Scrubber
from dcs_contract.results.observed import Observations
from dcs_contract.results.report import RequestCounts, RunReport, SpecInfo, TargetInfo, report_json, write_reports
from tests.harness.leaks import assert_no_leak

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
        "target": TargetInfo(base_url="http://t"),
        "started": "2026-11-26T00:00:00+00:00",
        "finished": "2026-11-26T00:00:01+00:00",
        "seed": 1,
        "cases": {"schema-positive": 3},
        "requests": RequestCounts(total=3, by_status={"200": 3}),
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
            [("response_schema_conformance", "failure"), ("run completed", "error")],
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
    assert_no_leak({path.name: path.read_text() for path in tmp_path.iterdir()}, [AK])
    written = json.loads((tmp_path / "report.json").read_text())
    actuals = [f["actual"] for f in written["findings"]]
    # Scrubbed first, the AK is three characters: a text is cut only if still over 200 after that.
    assert all(a == "a" * (190 + n) + "***" for n, a in enumerate(actuals[:8]))
    assert all(len(a) == 201 and a.endswith("…") for a in actuals[8:])


# -- report.json, typed both ways --------------------------------------------------------------

SAMPLE = Path(__file__).parents[2] / "docs" / "sample" / "report.json"


def _kinds() -> dict[str, RunReport]:
    """A report of every kind a run or the SDK comparison writes."""
    enum, schema = _finding(detail='"restoring"'), _finding(category="schema", location="/x")
    sdk = _finding(category="sdk", location="request/project_id")
    target = TargetInfo(base_url="http://t", project_id="p", instance_id="i", credentials="AK/SK (AK AKID…)")
    resolved = BaselineEntry.of(_finding(location="/gone"), Scrubber(), "fixed upstream")
    return {
        "conforms": _report(target=target, evaluated={"page-size": 2}, not_evaluated={"window-contains": "no window"}),
        "violations": _report(
            findings=[replace(enum, first_seen=7), schema],
            occurrences={enum.fingerprint: 4, schema.fingerprint: 1},
            spec=SpecInfo(sha256="ab" * 32, document={"openapi": "3.1.0"}),
            harness_version="0.1.0",
        ),
        "untestable": _report(error="127.0.0.1 did not answer after 5 attempts", skipped={"empty-instance": "none"}),
        "error": _report(findings=[schema], occurrences={schema.fingerprint: 2}, crash="Traceback ...\nKeyError"),
        "baseline": _report(
            findings=[schema],
            accepted=[enum],
            occurrences={schema.fingerprint: 1, enum.fingerprint: 3},
            resolved=[resolved],
            baseline="ci/baseline.json",
            observed=Observations(http_status={"200": 3}, enum_values={"status": {'"restoring"': 2}}),
        ),
        "sdk-check": _report(
            target=TargetInfo(sdk="huaweicloudsdkdcs 3.1.0", credentials="none: nothing is sent"),
            seed=None,
            requests=RequestCounts(),
            accepted=[sdk],
            occurrences={sdk.fingerprint: 1},
            accepted_by="the spec's info.x-sdk.differences",
        ),
    }


@pytest.mark.parametrize("kind", list(_kinds()))
def test_a_report_reads_back_as_it_was_written(kind: str) -> None:
    report = _kinds()[kind]
    written = json.loads(json.dumps(report.as_dict()))
    assert RunReport.from_dict(written) == report
    assert written["verdict"] == {"sdk-check": "conforms", "baseline": "violations"}.get(kind, kind)


def test_report_json_keeps_its_shape_to_the_byte() -> None:
    """The committed sample, read and written again, is the same text: the format did not change."""
    text = SAMPLE.read_text()
    assert json.dumps(RunReport.from_dict(json.loads(text)).as_dict(), indent=2, ensure_ascii=False) + "\n" == text


def test_a_verdict_that_its_contents_contradict_is_refused() -> None:
    written = _kinds()["violations"].as_dict() | {"verdict": "conforms"}
    with pytest.raises(ValueError, match=r"its verdict is 'conforms', but .* make it 'violations'"):
        RunReport.from_dict(written)


def test_accepted_findings_come_from_one_list() -> None:
    with pytest.raises(ValueError, match="accepted by one list"):
        _report(baseline="b.json", accepted_by="the spec's info.x-sdk.differences")


def test_the_sdk_report_says_what_accepted_its_findings(tmp_path: Path) -> None:
    write_reports(_kinds()["sdk-check"], tmp_path, scrubber=Scrubber())
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["baseline"]["file"] is None
    assert written["baseline"]["accepted_by"] == "the spec's info.x-sdk.differences"
    assert written["target"]["sdk"] == "huaweicloudsdkdcs 3.1.0"
    assert "## Accepted by the spec's info.x-sdk.differences (1)" in (tmp_path / "report.md").read_text()


def test_a_run_report_has_no_key_only_the_sdk_report_needs() -> None:
    written = _kinds()["baseline"].as_dict()
    assert "sdk" not in written["target"] and "accepted_by" not in written["baseline"]


def test_accepted_findings_keep_their_count_through_scrubbing() -> None:
    secret = "ACCEPTEDSECRET000001"
    leaky = _finding(location=f"/x{secret}")
    report = _report(accepted=[leaky], occurrences={leaky.fingerprint: 5}, baseline="b.json")
    [accepted] = report.scrubbed(Scrubber([secret])).as_dict()["baseline"]["accepted"]
    assert (accepted["location"], accepted["occurrences"]) == ("/x***", 5)


def test_a_finding_about_a_response_carries_its_request_status_and_body() -> None:
    request = httpx.Request("GET", "http://t/v2/p/instances/i/backups?limit=0", headers={"X-Auth-Token": "t"})
    response = httpx.Response(200, content=b'{"total_num": 1}', request=request)
    finding = Finding.about(
        response,
        check="invalid_input_rejected",
        category="status",
        title="Invalid parameter not rejected",
        message="limit='0' was answered 200",
        location="limit",
        expected="400 with a DCS error body",
        actual="200",
    )
    assert finding.requests == (RequestInfo(method="GET", url=str(request.url), authenticated=True),)
    assert (finding.status, finding.response_excerpt, finding.detail) == (200, '{"total_num": 1}', "")


_SPEC_TEXTS = st.text(max_size=8) | st.sampled_from(["a\nb", "\u2028", "\ud800", '"}\n  ', "\\n"])
_SPEC_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _SPEC_TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SPEC_TEXTS, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(document=st.dictionaries(_SPEC_TEXTS, _SPEC_DOCUMENTS, max_size=4), also=st.booleans())
def test_report_json_is_the_report_laid_out_whole_whatever_the_spec(document: dict[str, object], also: bool) -> None:
    """The spec laid out once and reused, and the rest around it: the same text as laying out the whole."""
    spec = SpecInfo(sha256="0" * 64, document=document)
    report = _report(spec=spec, error="x\ny" if also else None)
    whole = json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
    assert report_json(report) == whole
    assert report_json(report) == whole, "the spec's text reused"
    # Another document under the same hash, or the same one under another hash, is laid out anew.
    other = {**document, "added": [1]}
    for changed in (SpecInfo(spec.sha256, other), SpecInfo("1" * 64, document)):
        assert report_json(replace(report, spec=changed)) == (
            json.dumps(replace(report, spec=changed).as_dict(), indent=2, ensure_ascii=False) + "\n"
        )
    no_spec = replace(report, spec=None)
    assert report_json(no_spec) == json.dumps(no_spec.as_dict(), indent=2, ensure_ascii=False) + "\n"


def test_observed_in_report_json_s_form_is_refused_with_what_to_use() -> None:
    with pytest.raises(TypeError, match=r"Observations\.from_json"):
        _report(observed={"http_status": {"200": 1}})
