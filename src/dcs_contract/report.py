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
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx

__all__ = [
    "CATEGORIES",
    "Finding",
    "FindingLog",
    "RequestInfo",
    "RunReport",
    "curl_command",
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
)
_EXCERPT = 600
# Placeholders shown instead of credentials in every reproduction command.
_TOKEN_PLACEHOLDER = "X-Auth-Token: $DCS_AUTH_TOKEN"


def curl_command(method: str, url: str) -> str:
    """A curl that reproduces a request, authenticated by a token placeholder, never a secret."""
    return f"curl -sS -X {method} -H {shlex.quote(_TOKEN_PLACEHOLDER)} {shlex.quote(url)}"


@dataclass(frozen=True, kw_only=True)
class RequestInfo:
    method: str
    url: str

    @classmethod
    def from_request(cls, request: httpx.Request) -> RequestInfo:
        return cls(method=request.method, url=str(request.url))

    @property
    def curl(self) -> str:
        return curl_command(self.method, self.url)


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
        """Stable across runs: the check, the category and the location; not the message or request."""
        key = "\x1f".join((self.check, self.category, self.location))
        return hashlib.sha256(key.encode()).hexdigest()[:16]

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

    def __iter__(self) -> Any:
        return iter(sorted(self._by_fingerprint.values(), key=lambda f: (f.category, f.location, f.check)))


def _size(finding: Finding) -> tuple[int, int]:
    return len(finding.requests), sum(len(r.url) for r in finding.requests)


@dataclass(kw_only=True)
class RunReport:
    """Everything a run learned, ready to be written."""

    verdict: str  # "conforms", "violations", "untestable"
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "target": self.target,
            "started": self.started,
            "finished": self.finished,
            "seed": self.seed,
            "cases": self.cases,
            "requests": self.requests,
            "error": self.error,
            "observed": self.observed,
            "findings": [{**f.as_dict(), "occurrences": self.occurrences.get(f.fingerprint, 1)} for f in self.findings],
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
        lines += ["", f"**The target could not be tested:** {report.error}"]
    if report.verdict == "conforms":
        lines += ["", "No finding: the target conforms to the contract."]
    by_category: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_category.setdefault(finding.category, []).append(finding)
    for category, findings in by_category.items():
        lines += ["", f"## {category} ({len(findings)})"]
        for f in findings:
            lines += [
                "",
                f"### {f.title}: `{f.location}`",
                "",
                f"- check: `{f.check}`, fingerprint `{f.fingerprint}`",
                f"- expected: {f.expected}",
                f"- actual: {f.actual}",
            ]
            lines += [f"- reproduce: `{r.curl}`" for r in f.requests]
            if f.message:
                lines += ["", "```", f.message.strip(), "```"]
    return "\n".join(lines).rstrip() + "\n"


def _junit(report: RunReport) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="dcs-contract",
        tests=str(max(len(report.findings), 1)),
        failures=str(len(report.findings)),
        errors="1" if report.error else "0",
        timestamp=report.started,
    )
    if not report.findings:
        ET.SubElement(suite, "testcase", classname="dcs-contract", name="contract conforms")
    for f in report.findings:
        case = ET.SubElement(suite, "testcase", classname=f"dcs-contract.{f.category}", name=f"{f.check} {f.location}")
        failure = ET.SubElement(case, "failure", message=f"{f.title}: expected {f.expected}, got {f.actual}")
        failure.text = "\n".join([f.message, *(r.curl for r in f.requests)])
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
