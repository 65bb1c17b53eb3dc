"""Findings, and the writers that turn a run into report.json, report.md and junit.xml.

A :class:`Finding` is one contract violation, typed and carrying its context. Its
``fingerprint`` (check, category, location) is stable across runs, so that a baseline can
accept it and a CI can tell new drift from known drift.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from dcs_contract.transport import SENSITIVE_HEADERS

__all__ = [
    "CATEGORIES",
    "Finding",
    "FindingLog",
    "RequestInfo",
    "RunReport",
    "curl_command",
    "fingerprint_of",
    "scrub",
    "utc_now",
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
_EXCERPT = 600
# Placeholders shown instead of credentials in every reproduction command.
_TOKEN_PLACEHOLDER = "X-Auth-Token: $DCS_AUTH_TOKEN"


def utc_now() -> str:
    """A report's timestamps: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def fingerprint_of(check: str, category: str, location: str) -> str:
    """Stable across runs: the check, the category and the location; not the message or request."""
    key = "\x1f".join((check, category, location))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


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
    """One contract violation; ``location`` is a JSON pointer into the body or a parameter name."""

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

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r}, but it must be one of {', '.join(CATEGORIES)}")

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.check, self.category, self.location)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requests"] = [{**asdict(r), "curl": r.curl} for r in self.requests]
        data["fingerprint"] = self.fingerprint
        return data


def excerpt(response: httpx.Response) -> str:
    text = response.text
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


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
    ``resolved`` the baseline entries this run no longer saw.
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
    traffic: Sequence[Any] = field(default=(), repr=False)

    @property
    def verdict(self) -> str:
        """Drift found is drift, even when the run was cut short; otherwise an error leaves it untested."""
        if self.findings:
            return "violations"
        return "untestable" if self.error else "conforms"

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
            "observed": self.observed,
            "findings": listed(self.findings),
            "baseline": {"file": self.baseline, "accepted": listed(self.accepted), "resolved": list(self.resolved)}
            if self.baseline
            else None,
        }


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
    suite = ET.Element(
        "testsuite",
        name="dcs-contract",
        tests=str(max(len(report.findings), 1) + len(report.accepted) + (1 if report.error else 0)),
        failures=str(len(report.findings)),
        errors="1" if report.error else "0",
        skipped=str(len(report.accepted)),
        timestamp=report.started,
    )
    if not report.findings:
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
        case = ET.SubElement(suite, "testcase", classname="dcs-contract", name="target reachable")
        ET.SubElement(case, "error", message=report.error)
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret from ``text``; the last line of defence before anything is written."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def write_reports(report: RunReport, directory: Path, *, secrets: Iterable[str]) -> list[Path]:
    """Write report.json, report.md and junit.xml; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    secrets = list(secrets)
    outputs = {
        "report.json": json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n",
        "report.md": _markdown(report),
        "junit.xml": _junit(report).decode("utf-8"),
    }
    paths = []
    for name, text in outputs.items():
        path = directory / name
        path.write_text(scrub(text, secrets), encoding="utf-8")
        paths.append(path)
    return paths
