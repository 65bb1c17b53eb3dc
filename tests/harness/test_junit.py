"""junit.xml: one testcase per check and invariant, findings as failures, checks that did not run skipped."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.contract.severity import Severity
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.selection import known_names
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import BudgetSummary, RequestCounts, RunReport, SpecInfo, TargetInfo, write_reports


def _finding(check: str, location: str, severity: Severity = Severity.CONTRACT) -> Finding:
    return Finding(
        check=check,
        category="paging",
        title=f"{check} broken",
        message="",
        location=location,
        expected="e",
        actual="a",
        requests=(RequestInfo(method="GET", url="http://t/v2/p/instances/i/backups?offset=10"),),
        severity=severity,
    )


def _run(spec: Spec, **overrides: object) -> RunReport:
    fields: dict[str, object] = {
        "target": TargetInfo(),
        "started": "2026-12-04T00:00:00+00:00",
        "finished": "2026-12-04T00:00:09+00:00",
        "seed": 3,
        "cases": {"page-walk": 3},
        "requests": RequestCounts(total=30, by_status={"200": 30}),
        "findings": [],
        "evaluated": {"page-size": 12, "pages-partition": 3, "not_a_server_error": 30},
        "not_evaluated": {"window-complete": "no window had records"},
        "spec": SpecInfo(spec.sha256, spec.document),
        "budget": BudgetSummary(max_requests=100, probe_plan=20, reserve=10),
    }
    return RunReport(**{**fields, **overrides})  # type: ignore[arg-type]


def _cases(report: RunReport, tmp_path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    write_reports(report, tmp_path, scrubber=Scrubber())
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    return suite, {case.get("name", ""): case for case in suite.iter("testcase")}


def _outcome(case: ET.Element) -> str:
    return next((child.tag for child in case if child.tag != "system-out"), "passed")


def test_a_passing_run_has_a_testcase_per_check_and_invariant_of_the_registries(spec: Spec, tmp_path: Path) -> None:
    suite, cases = _cases(_run(spec), tmp_path)
    assert set(known_names(spec)) <= set(cases), "every check and invariant a CI trend can follow"
    assert (_outcome(cases["page-size"]), _outcome(cases["not_a_server_error"])) == ("passed", "passed")
    assert cases["page-size"].get("classname") == "dcs-contract.invariants"
    assert cases["not_a_server_error"].get("classname") == "dcs-contract.checks"
    # What did not run is skipped, saying why: never a pass.
    assert _outcome(cases["window-complete"]) == "skipped"
    assert cases["window-complete"].find("skipped").get("message") == "no window had records"  # type: ignore[union-attr]
    assert _outcome(cases["adjacent-windows-add-up"]) == "skipped"
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == "0"
    assert suite.get("skipped") == str(sum(_outcome(case) == "skipped" for case in cases.values()))


def test_a_check_that_found_drift_fails_with_every_finding_and_the_others_still_pass(
    spec: Spec, tmp_path: Path
) -> None:
    found = [_finding("pages-partition", "offset"), _finding("pages-partition", "limit")]
    below = _finding("page-size", "/backup_record_response", Severity.INFO)
    suite, cases = _cases(_run(spec, findings=[*found, below]), tmp_path)
    failure = cases["pages-partition"].find("failure")
    assert failure is not None and "(and 1 more)" in failure.get("message", "")
    assert "at offset" in (failure.text or "") and "at limit" in (failure.text or "")
    assert "curl -sS -X GET" in (failure.text or "")
    # Below --fail-on: the testcase passes, and says what it saw.
    assert _outcome(cases["page-size"]) == "passed"
    assert "below --fail-on contract" in (cases["page-size"].findtext("system-out") or "")
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")


def test_accepted_findings_do_not_fail_their_check(spec: Spec, tmp_path: Path) -> None:
    accepted = [_finding("pages-partition", "offset")]
    _, cases = _cases(_run(spec, accepted=accepted, baseline="baseline.json"), tmp_path)
    assert _outcome(cases["pages-partition"]) == "passed"
    assert "accepted: " in (cases["pages-partition"].findtext("system-out") or "")


def test_a_report_that_sent_nothing_lists_only_what_it_judged(spec: Spec, tmp_path: Path) -> None:
    # check-har, sdk-check and the plugin: no registry of a run, only their own checks.
    _, cases = _cases(
        _run(spec, budget=None, evaluated={}, not_evaluated={}, findings=[_finding("team-rule", "x")]), tmp_path
    )
    assert list(cases) == ["team-rule"]
    _, cases = _cases(_run(spec, budget=None, evaluated={}, not_evaluated={}), tmp_path)
    assert list(cases) == ["contract conforms"]


# Every kind of character XML 1.0 cannot hold, even as a character reference. A lone surrogate
# never reaches a finding's check or location (a fingerprint is of UTF-8), only its other texts.
_NOT_XML = ["\x00", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\ufffe", "\uffff"]
_SURROGATES = ["\ud800", "\udfff"]


def _escapes(chars: list[str]) -> str:
    return "".join(repr(char)[1:-1] for char in chars)


def test_what_xml_cannot_hold_is_escaped_and_the_file_parses(spec: Spec, tmp_path: Path) -> None:
    """A target's names and values reach a finding's texts, and ElementTree writes any character as it is."""
    # Printable characters, the tab and the line separator among them, stay as they are.
    name = "a" + "".join(_NOT_XML) + "\t\u2028\U0001f600z"
    text = name + "".join(_SURROGATES)
    finding = Finding(
        check=f"team-rule {name}",
        category="schema",
        title=f"title {text}",
        message=f"message {text}",
        location=f"/backup_record_response/*/{name}",
        expected=f"expected {text}",
        actual=f"actual {text}",
    )
    report = _run(spec, findings=[finding], error=f"error {text}", crash=f"crash {text}")
    suite, cases = _cases(report, tmp_path)  # ET.parse: a character XML cannot hold is a ParseError
    shown_name = "a" + _escapes(_NOT_XML) + "\t\u2028\U0001f600z"
    shown = shown_name + _escapes(_SURROGATES)
    assert f"team-rule {shown_name}" in cases
    failure = cases[f"team-rule {shown_name}"].find("failure")
    assert failure is not None
    for field in ("title", "expected", "actual"):
        assert f"{field} {shown}" in (failure.text or ""), field
    # The message is written line by line: \x0b, \x0c and U+2028 end a line there.
    assert "message a\\x00\\x08\n" in (failure.text or "") and "\\x1b\\x1f\\ufffe\\uffff\t" in (failure.text or "")
    assert f"/backup_record_response/*/{shown_name}" in (failure.text or "")
    errors = {case.get("name"): case.find("error") for case in suite.iter("testcase") if case.find("error") is not None}
    assert errors["run completed"].get("message") == f"error {shown}"  # type: ignore[union-attr]
    assert errors["harness"].text == f"crash {shown}"  # type: ignore[union-attr]
