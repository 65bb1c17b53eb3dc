"""Findings, and the writers that turn a run into report.json, report.md and junit.xml.

A :class:`Finding` is one contract violation, typed and carrying its context. Its
``fingerprint`` (check, category, location, and the ``detail`` that tells two deviations
at one location apart: the enum value, the JSON type seen) is stable across runs, so that
a baseline can accept it and a CI can tell new drift from known drift.

A finding keeps its texts whole (up to :data:`RAW_TEXT_LIMIT`); every writer goes through
:meth:`RunReport.scrubbed`, which scrubs them first and cuts them for display after.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from dcs_contract.redaction import SENSITIVE_HEADERS, Scrubber

__all__ = [
    "CATEGORIES",
    "RAW_TEXT_LIMIT",
    "Finding",
    "FindingLog",
    "RequestInfo",
    "RunReport",
    "bounded",
    "curl_command",
    "fingerprint_of",
    "utc_now",
    "verdict_of",
    "write_reports",
]

CATEGORIES = (
    "schema",
    "enum",
    "type",
    "status",
    "error-body",
    "content-type",
    "paging",
    "window",
    "auth",
    "transport",
    "sdk",
)
# Display limits, applied by the writers after scrubbing.
_EXCERPT = 600
_ACTUAL = 200
_MESSAGE = 4000
# What a finding keeps of a text from the target: far past the display limits, so that a
# secret that straddles a display limit is still whole when it is scrubbed.
RAW_TEXT_LIMIT = 16 * 1024
# Placeholders shown instead of credentials in every reproduction command.
_TOKEN_PLACEHOLDER = "X-Auth-Token: $DCS_AUTH_TOKEN"


def utc_now() -> str:
    """A report's timestamps: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def fingerprint_of(check: str, category: str, location: str, detail: str = "") -> str:
    """Stable across runs: the check, the category, the location and the detail; not the message or request.

    ``detail`` (an unknown enum value, the JSON type seen) joins the key only when set, so
    fingerprints of findings without one stay what they were.
    """
    key = "\x1f".join((check, category, location, *((detail,) if detail else ())))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def bounded(text: str) -> str:
    """A text from the target as a finding keeps it: whole up to :data:`RAW_TEXT_LIMIT`, not cut for display."""
    return text[:RAW_TEXT_LIMIT]


def curl_command(method: str, url: str, *, authenticated: bool = True) -> str:
    """A curl that reproduces a request, authenticated by a token placeholder, never a secret."""
    auth = f"-H {shlex.quote(_TOKEN_PLACEHOLDER)} " if authenticated else ""
    return f"curl -sS -X {method} {auth}{shlex.quote(url)}"


@dataclass(frozen=True, kw_only=True)
class RequestInfo:
    method: str
    url: str
    authenticated: bool = True

    @classmethod
    def from_request(cls, request: httpx.Request) -> RequestInfo:
        authenticated = any(name in request.headers for name in SENSITIVE_HEADERS)
        return cls(method=request.method, url=str(request.url), authenticated=authenticated)

    @property
    def curl(self) -> str:
        return curl_command(self.method, self.url, authenticated=self.authenticated)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One contract violation; ``location`` is a JSON pointer into the body or a parameter name.

    ``detail`` tells apart deviations at one location that a baseline must not accept
    together: the unknown enum value (accepting ``restoring`` must not accept ``archived``),
    or the JSON type seen.
    """

    check: str
    category: str
    title: str
    message: str
    location: str
    expected: str
    actual: str
    requests: tuple[RequestInfo, ...] = ()
    status: int | None = None
    response_excerpt: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r}, but it must be one of {', '.join(CATEGORIES)}")

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.check, self.category, self.location, self.detail)

    def scrubbed(self, scrubber: Scrubber) -> Finding:
        """This finding as it may be shown: every text scrubbed, then cut to its display limit."""
        return replace(
            self,
            title=scrubber.cut(self.title, _ACTUAL),
            message=scrubber.cut(self.message, _MESSAGE),
            location=scrubber.text(self.location),
            expected=scrubber.cut(self.expected, _ACTUAL),
            actual=scrubber.cut(self.actual, _ACTUAL),
            detail=scrubber.text(self.detail),
            requests=tuple(replace(r, url=scrubber.text(r.url)) for r in self.requests),
            response_excerpt=scrubber.cut(self.response_excerpt, _EXCERPT),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requests"] = [{**asdict(r), "curl": r.curl} for r in self.requests]
        data["fingerprint"] = self.fingerprint
        return data


def excerpt(response: httpx.Response) -> str:
    """The response body as a finding keeps it (see :func:`bounded`); never raises, whatever the body."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError, ValueError):
        text = response.content.decode("utf-8", errors="replace")
    except httpx.ResponseNotRead:
        return ""
    return bounded(text)


@dataclass
class FindingLog:
    """Findings by fingerprint. For each, the shortest reproduction seen is kept."""

    _by_fingerprint: dict[str, Finding] = field(default_factory=dict)
    occurrences: Counter[str] = field(default_factory=Counter)

    def add(self, finding: Finding) -> None:
        key = finding.fingerprint
        self.occurrences[key] += 1
        kept = self._by_fingerprint.get(key)
        if kept is None or _size(finding) < _size(kept):
            self._by_fingerprint[key] = finding

    def __len__(self) -> int:
        return len(self._by_fingerprint)

    @property
    def fingerprints(self) -> list[str]:
        return list(self._by_fingerprint)

    def __iter__(self) -> Any:
        return iter(sorted(self._by_fingerprint.values(), key=lambda f: (f.category, f.location, f.check)))


def _size(finding: Finding) -> tuple[int, int]:
    return len(finding.requests), sum(len(r.url) for r in finding.requests)


@dataclass(kw_only=True)
class RunReport:
    """Everything a run learned, ready to be written.

    ``findings`` are the new ones; ``accepted`` are findings a baseline accepts, and
    ``resolved`` the baseline entries this run no longer saw. ``error`` says why the run
    was cut short or could not test the target; ``crash`` holds the traceback of a bug in
    the harness itself. ``evaluated`` counts how often each check and invariant ran, and
    ``not_evaluated`` says why each of the others did not.
    """

    target: dict[str, Any]
    started: str
    finished: str
    seed: int | None
    cases: dict[str, int]
    requests: dict[str, Any]
    findings: Sequence[Finding]
    occurrences: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    accepted: Sequence[Finding] = ()
    resolved: Sequence[dict[str, str]] = ()
    baseline: str | None = None
    crash: str | None = None
    evaluated: dict[str, int] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)
    traffic: Sequence[Any] = field(default=(), repr=False)

    @property
    def verdict(self) -> str:
        return verdict_of(findings=bool(self.findings), error=self.error, crash=self.crash)

    def scrubbed(self, scrubber: Scrubber) -> RunReport:
        """This report as it may be written: every text from the target or the run scrubbed, then cut."""
        occurrences: dict[str, int] = {}
        findings: list[Finding] = []
        for finding in self.findings:
            clean = finding.scrubbed(scrubber)
            occurrences[clean.fingerprint] = self.occurrences.get(finding.fingerprint, 1)
            findings.append(clean)
        accepted = [finding.scrubbed(scrubber) for finding in self.accepted]
        return replace(
            self,
            target=scrubber.data(self.target),
            findings=findings,
            accepted=accepted,
            occurrences=occurrences,
            error=scrubber.text(self.error) if self.error is not None else None,
            crash=scrubber.text(self.crash) if self.crash is not None else None,
            observed=scrubber.data(self.observed),
            skipped=scrubber.data(self.skipped),
            not_evaluated=scrubber.data(self.not_evaluated),
            resolved=scrubber.data(list(self.resolved)),
            traffic=(),
        )

    def as_dict(self) -> dict[str, Any]:
        def listed(findings: Sequence[Finding]) -> list[dict[str, Any]]:
            return [{**f.as_dict(), "occurrences": self.occurrences.get(f.fingerprint, 1)} for f in findings]

        return {
            "verdict": self.verdict,
            "target": self.target,
            "started": self.started,
            "finished": self.finished,
            "seed": self.seed,
            "cases": self.cases,
            "skipped": self.skipped,
            "requests": self.requests,
            "error": self.error,
            "crash": self.crash,
            "evaluated": self.evaluated,
            "not_evaluated": self.not_evaluated,
            "observed": self.observed,
            "findings": listed(self.findings),
            "baseline": {"file": self.baseline, "accepted": listed(self.accepted), "resolved": list(self.resolved)}
            if self.baseline
            else None,
        }


def verdict_of(*, findings: bool, error: str | None, crash: str | None) -> str:
    """A bug in the harness is an error whatever else happened; drift found is drift, even when the run
    was cut short; otherwise an error leaves the target untested."""
    if crash:
        return "error"
    if findings:
        return "violations"
    return "untestable" if error else "conforms"


def _markdown(report: RunReport) -> str:
    lines = [f"# dcs-contract: {report.verdict}", ""]
    target = report.target
    lines += [
        f"- target: {target.get('base_url') or 'embedded mock'}",
        f"- instance: {target.get('instance_id')}",
        f"- run: {report.started} → {report.finished}, seed {report.seed}",
        f"- cases: {sum(report.cases.values())} ({', '.join(f'{k} {v}' for k, v in report.cases.items())})",
        f"- requests: {report.requests.get('total', 0)} by status {json.dumps(report.requests.get('by_status', {}))}",
    ]
    if report.crash:
        lines += ["", "**The harness failed (a bug in dcs-contract, not drift):**", ""]
        lines += ["```", report.crash.strip(), "```"]
    if report.error:
        cut = "The run was cut short" if report.findings else "The target could not be tested"
        lines += ["", f"**{cut}:** {report.error}"]
    if report.verdict == "conforms":
        accepted = f", {len(report.accepted)} accepted by the baseline" if report.accepted else ""
        lines += ["", f"No new finding{accepted}: the target conforms to the contract."]
    lines += _markdown_findings(report.findings, level="##")
    if report.accepted:
        lines += ["", f"## Accepted by the baseline {report.baseline} ({len(report.accepted)})"]
        lines += _markdown_findings(report.accepted, level="###")
    if report.resolved:
        lines += ["", f"## Resolved: in the baseline, no longer seen ({len(report.resolved)})", ""]
        lines += [f"- `{e['fingerprint']}` {e['category']} `{e['location']}` ({e['check']})" for e in report.resolved]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_findings(findings: Sequence[Finding], *, level: str) -> list[str]:
    """Findings grouped by category, each with what to run to see it again."""
    lines: list[str] = []
    by_category: dict[str, list[Finding]] = {}
    for finding in findings:
        by_category.setdefault(finding.category, []).append(finding)
    for category, group in by_category.items():
        lines += ["", f"{level} {category} ({len(group)})"]
        for f in group:
            lines += [
                "",
                f"{level}# {f.title}: `{f.location}`",
                "",
                f"- check: `{f.check}`, fingerprint `{f.fingerprint}`",
                f"- expected: {f.expected}",
                f"- actual: {f.actual}",
            ]
            lines += [f"- reproduce: `{r.curl}`" for r in f.requests]
            if f.message:
                lines += ["", "```", f.message.strip(), "```"]
    return lines


def _junit(report: RunReport) -> bytes:
    errors = (1 if report.error else 0) + (1 if report.crash else 0)
    conforms = report.verdict == "conforms"
    suite = ET.Element(
        "testsuite",
        name="dcs-contract",
        tests=str(len(report.findings) + (1 if conforms else 0) + len(report.accepted) + errors),
        failures=str(len(report.findings)),
        errors=str(errors),
        skipped=str(len(report.accepted)),
        timestamp=report.started,
    )
    # "contract conforms" only when the run completed and found nothing: a run cut short or
    # untestable is an error in the CI's test view, never a pass.
    if conforms:
        ET.SubElement(suite, "testcase", classname="dcs-contract", name="contract conforms")
    for f in report.findings:
        case = ET.SubElement(suite, "testcase", classname=f"dcs-contract.{f.category}", name=f"{f.check} {f.location}")
        failure = ET.SubElement(case, "failure", message=f"{f.title}: expected {f.expected}, got {f.actual}")
        failure.text = "\n".join([f.message, *(r.curl for r in f.requests)])
    # Accepted drift shows in the CI's test view as skipped: visible, but not failing.
    for f in report.accepted:
        case = ET.SubElement(suite, "testcase", classname=f"dcs-contract.{f.category}", name=f"{f.check} {f.location}")
        ET.SubElement(case, "skipped", message=f"accepted by the baseline: {f.title}")
    if report.error:
        case = ET.SubElement(suite, "testcase", classname="dcs-contract", name="run completed")
        ET.SubElement(case, "error", message=report.error)
    if report.crash:
        case = ET.SubElement(suite, "testcase", classname="dcs-contract", name="harness")
        error = ET.SubElement(case, "error", message="dcs-contract failed: a bug in the harness, not drift")
        error.text = report.crash
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml


def write_reports(report: RunReport, directory: Path, *, scrubber: Scrubber) -> list[Path]:
    """Write report.json, report.md and junit.xml; returns their paths.

    The report is scrubbed before it is laid out, and each file once more as a whole: the
    layout escapes text (JSON, XML), and the scrubber knows those forms too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    clean = report.scrubbed(scrubber)
    outputs = {
        "report.json": json.dumps(clean.as_dict(), indent=2, ensure_ascii=False) + "\n",
        "report.md": _markdown(clean),
        "junit.xml": _junit(clean).decode("utf-8"),
    }
    paths = []
    for name, text in outputs.items():
        path = directory / name
        path.write_text(scrubber.text(text), encoding="utf-8")
        paths.append(path)
    return paths
