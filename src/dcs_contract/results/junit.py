"""junit.xml: one testcase per check and invariant, so that a CI's test-trend view shows which one started failing.

A check with findings at or above ``--fail-on`` fails, with every such finding in its
failure; one that ran and found nothing else passes (its accepted findings, and those below
``--fail-on``, in its output); one that did not run is skipped, with why. A run cut short
or a harness bug is an error testcase of its own: never a pass.

    xml = junit_of(report)   # bytes, scrubbed report in
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.json_scan import visible

if TYPE_CHECKING:
    from dcs_contract.results.report import RunReport

__all__ = ["junit_of"]

_SUITE = "dcs-contract"
# What a skipped testcase says when the report does not say why the check did not run.
_DID_NOT_RUN = "did not run in this run"
# What XML 1.0 cannot hold, even escaped: control characters but tab and line ends, lone
# surrogates, U+FFFE and U+FFFF. ElementTree writes them as they are, and a CI's parser then
# refuses the whole file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _registry(report: RunReport) -> tuple[str, ...]:
    """Every check and invariant a run can report (the registries), for a report of a run that sent requests.

    check-har and sdk-check (no budget) and the pytest plugin (a budget, but no probe plan: the
    team's tests send what they send) judge what they judge: their reports list only that.
    """
    if report.budget is None or report.budget.probe_plan == 0 or report.spec is None or not report.spec.document:
        return ()
    # Imported here: the registries load schemathesis, which reading a report never needs.
    from dcs_contract.contract.spec import Spec
    from dcs_contract.engine.selection import known_names

    try:
        return known_names(Spec(dict(report.spec.document), Path("report.json")))
    except Exception:  # a report's spec is what it is: a report is still written without the registry
        return ()


def _names(report: RunReport) -> list[str]:
    found = [f.check for f in (*report.findings, *report.accepted)]
    return list(dict.fromkeys((*_registry(report), *report.evaluated, *report.not_evaluated, *found)))


def _classname(report: RunReport, name: str) -> str:
    invariants = report.spec.document.get("paths", {}) if report.spec is not None else {}
    is_invariant = any(
        entry.get("id") == name
        for operation in invariants.values()
        if isinstance(operation, dict)
        for entry in (operation.get("get") or {}).get("x-invariants", [])
        if isinstance(entry, dict)
    )
    return f"{_SUITE}.{'invariants' if is_invariant else 'checks'}"


def _finding_line(finding: Finding) -> str:
    where = f"{finding.title} at {finding.location}"
    return f"[{finding.severity}] {where}: expected {finding.expected}, got {finding.actual}"


def _failure_text(findings: Sequence[Finding]) -> str:
    lines: list[str] = []
    for finding in findings:
        lines += [_finding_line(finding), *(f"  {r.curl}" for r in finding.requests)]
        if finding.message:
            lines += [f"  {line}" for line in finding.message.strip().splitlines()]
    return "\n".join(lines)


def _xml_text(text: str) -> str:
    """``text`` with what XML cannot hold as escapes (``\\x1b``), as a finding's other texts show it."""
    return _NOT_XML.sub(lambda char: visible(char[0]), text)


def junit_of(report: RunReport) -> bytes:
    suite = ET.Element("testsuite", name=_SUITE, timestamp=report.started)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failing = {id(f) for f in report.failing}
    for name in _names(report):
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=_classname(report, name), name=name)
        mine = [f for f in report.findings if f.check == name]
        fails = [f for f in mine if id(f) in failing]
        # Below --fail-on, or accepted by the baseline: visible in the test's output, not failing it.
        below = [f"below --fail-on {report.fail_on}: {_finding_line(f)}" for f in mine if id(f) not in failing]
        accepted = [f"accepted: {_finding_line(f)}" for f in report.accepted if f.check == name]
        if fails:
            counts["failures"] += 1
            first = fails[0]
            message = f"[{first.severity}] {first.title}: expected {first.expected}, got {first.actual}"
            if len(fails) > 1:
                message += f" (and {len(fails) - 1} more)"
            ET.SubElement(case, "failure", message=message).text = _failure_text(fails)
        elif report.evaluated.get(name, 0) == 0 and not mine and not accepted:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=report.not_evaluated.get(name, _DID_NOT_RUN))
        if below or accepted:
            ET.SubElement(case, "system-out").text = "\n".join([*below, *accepted])
    if report.error:
        counts["tests"] += 1
        counts["errors"] += 1
        case = ET.SubElement(suite, "testcase", classname=_SUITE, name="run completed")
        ET.SubElement(case, "error", message=report.error)
    if report.crash:
        counts["tests"] += 1
        counts["errors"] += 1
        case = ET.SubElement(suite, "testcase", classname=_SUITE, name="harness")
        error = ET.SubElement(case, "error", message="dcs-contract failed: a bug in the harness, not drift")
        error.text = report.crash
    if counts["tests"] == 0 and report.verdict == "conforms":
        # Nothing that judges by check (an SDK comparison that found nothing): one passing testcase.
        counts["tests"] = 1
        ET.SubElement(suite, "testcase", classname=_SUITE, name="contract conforms")
    for key, value in counts.items():
        suite.set(key, str(value))
    # Every text and attribute at once, whatever report field it came from: a target's names
    # and values reach a finding's texts, and a report read back from a file holds anything.
    for element in suite.iter():
        if element.text:
            element.text = _xml_text(element.text)
        for name, attribute in list(element.attrib.items()):
            element.set(name, _xml_text(attribute))
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml
