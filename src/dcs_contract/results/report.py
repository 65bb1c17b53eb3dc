"""The writers: a run's :class:`RunReport`, and report.json, report.md and junit.xml made of it.

What a finding is lives in :mod:`dcs_contract.contract.findings`; this module says what a run learned
and lays it out. The report crosses module boundaries typed: :meth:`RunReport.as_dict` is the
one place that gives report.json its shape, and :meth:`RunReport.from_dict` the one place that
reads it back, once the docs have checked it against their JSON Schema.

Every writer writes :meth:`RunReport.scrubbed`: the texts are scrubbed first and cut for
display after (see :mod:`dcs_contract.redaction`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcs_contract.contract.findings import (
    BaselineEntry,
    Finding,
)
from dcs_contract.contract.severity import DEFAULT_FAIL_ON, Severity, failing
from dcs_contract.redaction import Scrubber
from dcs_contract.results.coverage import Unseen, unseen_in
from dcs_contract.results.junit import junit_of
from dcs_contract.results.markdown import Markdown, bullet, code, code_block, escape, heading, table
from dcs_contract.results.observed import Observations
from dcs_contract.version import harness_version

if TYPE_CHECKING:
    from dcs_contract.transport.guard import Exchange

__all__ = [
    "VERDICTS",
    "BudgetSummary",
    "RequestCounts",
    "RunReport",
    "SpecInfo",
    "TargetInfo",
    "markdown_of",
    "report_json",
    "utc_now",
    "verdict_of",
    "write_reports",
]

# Every verdict verdict_of gives: report.json's schema and the exit codes read them from here.
VERDICTS = ("conforms", "violations", "untestable", "error")


def utc_now() -> str:
    """A report's timestamps: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def verdict_of(*, findings: bool, error: str | None, crash: str | None, credentials_refused: bool = False) -> str:
    """A bug in the harness is an error whatever else happened; refused credentials leave the target
    untested whatever the unauthenticated probe found, since nothing authenticated was judged; drift
    found is drift, even when the run was cut short; otherwise an error leaves the target untested."""
    if crash:
        return "error"
    if credentials_refused:
        return "untestable"
    if findings:
        return "violations"
    return "untestable" if error else "conforms"


@dataclass(frozen=True, kw_only=True)
class TargetInfo:
    """The target as a report names it: no secret, and no more of a key than the credentials' description shows.

    The report of ``dcs-contract sdk-check`` names the SDK it compared instead (``sdk``): it sends nothing.
    """

    base_url: str | None = None
    project_id: str | None = None
    instance_id: str | None = None
    empty_instance_id: str | None = None
    credentials: str | None = None
    sdk: str | None = None
    # The run served its own mock on loopback: replay serves a fresh one, never a live target.
    embedded_mock: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetInfo:
        texts = {f.name: data.get(f.name) for f in fields(cls) if f.name != "embedded_mock"}
        return cls(**texts, embedded_mock=data.get("embedded_mock") is True)

    def scrubbed(self, scrubber: Scrubber) -> TargetInfo:
        texts: dict[str, Any] = {
            f.name: scrubber.text(v) for f in fields(self) if isinstance(v := getattr(self, f.name), str) and v
        }
        return replace(self, **texts)

    def as_dict(self) -> dict[str, str | bool | None]:
        data: dict[str, str | bool | None] = asdict(self)
        # Only an SDK comparison has one: the report.json of a run never had the key.
        if self.sdk is None:
            del data["sdk"]
        return data


@dataclass(frozen=True, kw_only=True)
class RequestCounts:
    """What a run sent: every attempt (retries included), the retries, and the answers by status code."""

    total: int = 0
    retries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestCounts:
        return cls(total=data["total"], retries=data.get("retries", 0), by_status=dict(data.get("by_status", {})))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class BudgetSummary:
    """How a run's request budget was planned: the probe plan first, reserves, the rest to explore.

    ``probe_plan`` is what the probe plan may take at most; ``probe_plan_sent``, what it took,
    once it was sent whole (None: it was not).
    """

    max_requests: int
    probe_plan: int
    reserve: int
    confirmation: int = 0
    probe_plan_sent: int | None = None

    @property
    def exploration(self) -> int:
        """What is left to explore once the probe plan and both reserves are set aside."""
        return max(0, self.max_requests - self.probe_plan - self.reserve - self.confirmation)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetSummary | None:
        """report.json's budget; None for a report without one (an older run, check-har, sdk-check)."""
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})

    def as_dict(self) -> dict[str, int]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in data.items() if value is not None}


@dataclass(frozen=True)
class SpecInfo:
    """The spec a run judged the target by: its hash, and the document itself.

    A report carries the whole document, so that two reports can be compared field by field
    (``dcs-contract diff``) long after the spec they were run with has changed.
    """

    sha256: str
    document: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpecInfo:
        return cls(sha256=data["sha256"], document=dict(data.get("document") or {}))

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "document": self.document}


@dataclass(frozen=True, kw_only=True)
class RunReport:
    """Everything a run learned, ready to be written.

    ``findings`` are the new ones; ``accepted`` are findings a baseline accepts, and
    ``resolved`` the baseline entries this run no longer saw. What accepted them is a
    baseline file (``baseline``, its path) or, for a list that is not one, ``accepted_by``
    (the SDK comparison's: "the spec's info.x-sdk.differences"). ``occurrences`` counts how
    often each finding, new or accepted, was seen (1 when absent). ``error`` says why the
    run was cut short or could not test the target; ``crash`` holds the traceback of a bug
    in the harness itself. ``evaluated`` counts how often each check and invariant ran,
    and ``not_evaluated`` says why each of the others did not. ``traffic`` is kept for the
    HAR recording only: it is no part of what the report says.
    """

    target: TargetInfo
    started: str
    finished: str
    seed: int | None
    cases: dict[str, int]
    requests: RequestCounts
    findings: Sequence[Finding]
    occurrences: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    observed: Observations = field(default_factory=Observations)
    skipped: dict[str, str] = field(default_factory=dict)
    # Property -> why its cases were drawn in the run's process though asked of the drawing helper.
    drawn_in_run: dict[str, str] = field(default_factory=dict)
    accepted: Sequence[Finding] = ()
    resolved: Sequence[BaselineEntry] = ()
    baseline: str | None = None
    accepted_by: str | None = None
    crash: str | None = None
    evaluated: dict[str, int] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)
    traffic: Sequence[Exchange] = field(default=(), repr=False, compare=False)
    spec: SpecInfo | None = None
    # Every report says which harness wrote it; one read back keeps what its file said.
    harness_version: str | None = field(default_factory=lambda: harness_version())
    # How the budget was planned; None for what sends nothing (check-har, sdk-check).
    budget: BudgetSummary | None = None
    # Why a run that was not cut short by its target stopped before its plan ended (--fail-fast).
    stopped: str | None = None
    # The settings the run had (max_examples, max_requests, rate_limit, ...): what a history keeps.
    settings: dict[str, Any] = field(default_factory=dict)
    # The target refused the credentials (401/403): nothing authenticated was tested, so the run is
    # untestable (exit 3) whatever else it found; what it found stays in the report.
    credentials_refused: bool = False
    # The least severity that fails the run (--fail-on): findings below it are shown, and the
    # run still conforms.
    fail_on: Severity = DEFAULT_FAIL_ON
    # Per property: requests, and p50/p95/max seconds to the headers and to the last byte
    # (engine.latency.LatencyLog.summary); the SLO's tiers the run was given (engine.latency.Slo).
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)
    slo: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A report is a value: built from lists or tuples, the same contents make equal reports.
        for name in ("findings", "accepted", "resolved"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not isinstance(self.observed, Observations):
            raise TypeError(
                f"observed={type(self.observed).__name__}, but it must be Observations: "
                "Observations.from_json() reads report.json's form"
            )
        if self.baseline and self.accepted_by:
            raise ValueError(
                f"baseline={self.baseline!r} and accepted_by={self.accepted_by!r}: a report's findings are "
                "accepted by one list"
            )

    @property
    def failing(self) -> list[Finding]:
        """The new findings at or above ``fail_on``: those that make the verdict violations."""
        return failing(self.findings, self.fail_on)

    @property
    def unseen(self) -> list[Unseen]:
        """What the spec documents that this run never observed (results/coverage.py): never a finding."""
        return unseen_in(self.spec.document if self.spec is not None else None, self.observed)

    @property
    def degraded(self) -> bool:
        """An answer was slower than --degraded-response-time: shown, and no failure unless --fail-on info."""
        return any(f.category == "latency" and f.severity is Severity.INFO for f in [*self.findings, *self.accepted])

    @property
    def verdict(self) -> str:
        return verdict_of(
            findings=bool(self.failing),
            error=self.error,
            crash=self.crash,
            credentials_refused=self.credentials_refused,
        )

    def scrubbed(self, scrubber: Scrubber) -> RunReport:
        """This report as it may be written: every text from the target or the run scrubbed, then cut."""
        findings = [finding.scrubbed(scrubber) for finding in self.findings]
        accepted = [finding.scrubbed(scrubber) for finding in self.accepted]
        # A location or detail may hold a secret: each count follows its finding to the scrubbed fingerprint.
        pairs = zip([*self.findings, *self.accepted], [*findings, *accepted], strict=True)
        occurrences = {after.fingerprint: self.occurrences.get(before.fingerprint, 1) for before, after in pairs}
        return replace(
            self,
            target=self.target.scrubbed(scrubber),
            findings=findings,
            accepted=accepted,
            occurrences=occurrences,
            error=scrubber.text(self.error) if self.error is not None else None,
            stopped=scrubber.text(self.stopped) if self.stopped is not None else None,
            crash=scrubber.text(self.crash) if self.crash is not None else None,
            # Scrubbed as report.json has it, keys included: the same texts as the other fields.
            observed=Observations.from_json(scrubber.data(self.observed.to_json())),
            skipped=scrubber.data(self.skipped),
            drawn_in_run=scrubber.data(self.drawn_in_run),
            not_evaluated=scrubber.data(self.not_evaluated),
            resolved=[entry.shown(scrubber) for entry in self.resolved],
            traffic=(),
        )

    def as_dict(self) -> dict[str, Any]:
        """report.json: the one place that gives it its shape (``results.schema.REPORT_SCHEMA`` describes it)."""

        def listed(findings: Sequence[Finding]) -> list[dict[str, Any]]:
            return [{**f.as_dict(), "occurrences": self.occurrences.get(f.fingerprint, 1)} for f in findings]

        baseline: dict[str, Any] = {"file": self.baseline}
        if self.accepted_by:
            baseline["accepted_by"] = self.accepted_by
        baseline |= {"accepted": listed(self.accepted), "resolved": [entry.as_dict() for entry in self.resolved]}
        return {
            "verdict": self.verdict,
            "target": self.target.as_dict(),
            "started": self.started,
            "finished": self.finished,
            "seed": self.seed,
            "cases": dict(self.cases),
            "skipped": dict(self.skipped),
            # Only where the drawing helper failed a run: a report of any other keeps its shape.
            **({"drawn_in_run": dict(self.drawn_in_run)} if self.drawn_in_run else {}),
            "requests": self.requests.as_dict(),
            "error": self.error,
            "crash": self.crash,
            "evaluated": dict(self.evaluated),
            "not_evaluated": dict(self.not_evaluated),
            "observed": self.observed.to_json(),
            "findings": listed(self.findings),
            "baseline": baseline if self.baseline or self.accepted_by else None,
            "budget": self.budget.as_dict() if self.budget is not None else {},
            "stopped": self.stopped,
            "settings": dict(self.settings),
            "harness_version": self.harness_version,
            "credentials_refused": self.credentials_refused,
            "fail_on": self.fail_on.value,
            "degraded": self.degraded,
            "latency": {name: dict(entry) for name, entry in self.latency.items()},
            "slo": dict(self.slo),
            "coverage": [gap.as_dict() for gap in self.unseen],
            "spec": self.spec.as_dict() if self.spec is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunReport:
        """A report.json as :meth:`as_dict` writes it, already checked against ``results.schema.REPORT_SCHEMA``.

        What an older report lacks takes the value a run without it has. The verdict is not
        read but derived: a ValueError says so when the one written is not the one the
        report's findings, error and crash give.
        """
        baseline = data.get("baseline") or {}
        listed = {"findings": data["findings"], "accepted": baseline.get("accepted", [])}
        read = {key: [Finding.from_dict(item) for item in items] for key, items in listed.items()}
        pairs = zip([*read["findings"], *read["accepted"]], [*listed["findings"], *listed["accepted"]], strict=True)
        report = cls(
            target=TargetInfo.from_dict(data["target"]),
            started=data["started"],
            finished=data["finished"],
            seed=data.get("seed"),
            cases=dict(data.get("cases", {})),
            requests=RequestCounts.from_dict(data["requests"]),
            findings=read["findings"],
            occurrences={finding.fingerprint: item.get("occurrences", 1) for finding, item in pairs},
            error=data.get("error"),
            observed=Observations.from_json(data.get("observed", {})),
            skipped=dict(data.get("skipped", {})),
            drawn_in_run=dict(data.get("drawn_in_run", {})),
            accepted=read["accepted"],
            resolved=[BaselineEntry.from_dict(entry) for entry in baseline.get("resolved", [])],
            baseline=baseline.get("file"),
            accepted_by=baseline.get("accepted_by"),
            crash=data.get("crash"),
            evaluated=dict(data.get("evaluated", {})),
            not_evaluated=dict(data.get("not_evaluated", {})),
            spec=SpecInfo.from_dict(data["spec"]) if data.get("spec") else None,
            harness_version=data.get("harness_version"),
            budget=BudgetSummary.from_dict(data.get("budget") or {}),
            stopped=data.get("stopped"),
            settings=dict(data.get("settings", {})),
            credentials_refused=data.get("credentials_refused") is True,
            fail_on=Severity.read(data.get("fail_on"), DEFAULT_FAIL_ON),
            latency={name: dict(entry) for name, entry in data.get("latency", {}).items()},
            slo=dict(data.get("slo", {})),
        )
        if report.verdict != data["verdict"]:
            raise ValueError(
                f"its verdict is {data['verdict']!r}, but its findings, error and crash make it {report.verdict!r}"
            )
        return report


def markdown_of(report: RunReport, *, scrubber: Scrubber, report_dir: Path | None = None) -> str:
    """report.md's text: the report scrubbed, then laid out (the CI's job summary takes it too).

    ``report_dir``: where its report.json is, for the replay lines (None: none offered).
    """
    return _markdown(report.scrubbed(scrubber), report_dir)


def _markdown(report: RunReport, report_dir: Path | None = None) -> str:
    # Every text of the report goes through escape() or code(): a target writes titles and values,
    # and report.md becomes the CI's job summary, where a link or a tag from them would render.
    lines = [heading(1, Markdown(f"dcs-contract: {escape(report.verdict)}")), ""]
    target = report.target
    seed = f", seed {report.seed}" if report.seed is not None else ""
    replay = _Replay(report_dir / "report.json" if report_dir is not None else None, report.occurrences)
    cases = ", ".join(f"{k} {v}" for k, v in report.cases.items())
    lines += [
        bullet(Markdown(f"target: {escape(target.base_url or 'embedded mock')}")),
        bullet(Markdown(f"instance: {escape(target.instance_id)}")),
        # A report that no seed drove (the pytest plugin's) names none.
        bullet(Markdown(f"run: {escape(report.started)} → {escape(report.finished)}{seed}")),
        bullet(Markdown(f"cases: {sum(report.cases.values())} ({escape(cases)})")),
        bullet(Markdown(f"requests: {report.requests.total}")),
        bullet(Markdown(f"fails on: {escape(report.fail_on.value)} and worse (--fail-on)")),
    ]
    for name, why in report.drawn_in_run.items():
        # The seed does not replay a run whose draws moved from the helper to the run's process.
        lines += [bullet(Markdown(f"{escape(name)} drawn in the run's process: {escape(why)}"))]
    if report.requests.by_status:
        statuses = sorted(report.requests.by_status.items(), key=lambda item: (not item[0].isdigit(), item[0]))
        lines += ["", *table(["status", "requests"], [[escape(s), str(n)] for s, n in statuses])]
    if report.degraded:
        slower = report.slo.get("degraded_response_time")
        lines += [bullet(Markdown(f"**degraded**: answers slower than {escape(f'{slower:g}' if slower else '?')} s"))]
    if report.crash:
        lines += ["", "**The harness failed (a bug in dcs-contract, not drift):**", ""]
        lines += code_block(report.crash.strip())
    if report.error:
        cut = "The run was cut short" if report.findings else "The target could not be tested"
        lines += ["", f"**{cut}:** {escape(report.error)}"]
    if report.verdict == "conforms" and report.findings:
        below = f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}"
        lines += ["", f"{below} below --fail-on {escape(report.fail_on.value)}: the run does not fail on them."]
    elif report.verdict == "conforms":
        accepted = f", {len(report.accepted)} accepted by the baseline" if report.accepted else ""
        lines += ["", f"No new finding{accepted}: the target conforms to the contract."]
    signed = (report.target.credentials or "").startswith("AK/SK")
    lines += _markdown_latency(report)
    lines += _markdown_unseen(report)
    lines += _markdown_findings(report.findings, level=2, signed=signed, replay=replay)
    if report.accepted:
        source = f"the baseline {escape(report.baseline)}" if report.baseline else escape(report.accepted_by)
        lines += ["", heading(2, Markdown(f"Accepted by {source} ({len(report.accepted)})"))]
        lines += _markdown_findings(report.accepted, level=3, signed=signed, replay=replay)
    if report.resolved:
        lines += ["", heading(2, Markdown(f"Resolved: in the baseline, no longer seen ({len(report.resolved)})")), ""]
        lines += [
            bullet(Markdown(f"{code(e.fingerprint)} {escape(e.category)} {code(e.location)} ({escape(e.check)})"))
            for e in report.resolved
        ]
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class _Replay:
    """What report.md needs to say how often a finding was seen and how to replay it."""

    report: Path | None
    occurrences: Mapping[str, int]

    def line(self, finding: Finding, *, signed: bool) -> list[str]:
        """``dcs-contract replay`` of this report, when it can judge the finding again; else nothing.

        A team's rule (the pytest plugin's) is no check replay knows: it would answer NOT REPLAYED.
        """
        if self.report is None or not finding.requests or any(r.method != "GET" for r in finding.requests):
            return []
        # Imported here: the registries load schemathesis, which a report read back never needs.
        from dcs_contract.engine.reproduce import replayable_check

        if not replayable_check(finding.check):
            return []
        command = f"dcs-contract replay {shlex.quote(str(self.report))} --finding {finding.fingerprint}"
        return [bullet(Markdown(f"replay{', signed' if signed else ''}: {code(command)}"))]


def _markdown_findings(
    findings: Sequence[Finding], *, level: int, signed: bool = False, replay: _Replay | None = None
) -> list[str]:
    """Findings grouped by category, each with what to run to see it again.

    ``level``: the heading level of a category, its findings' one below. ``signed``: the run
    signed with an AK/SK, which curl cannot do: ``dcs-contract replay`` sends the finding's
    requests again, signed, and says whether it still fails. ``replay``: the report's path,
    for the replay line, and how often each finding was seen.
    """
    replay = replay or _Replay(None, {})
    lines: list[str] = []
    by_category: dict[str, list[Finding]] = {}
    for finding in findings:
        by_category.setdefault(finding.category, []).append(finding)
    for category, group in by_category.items():
        lines += ["", heading(level, Markdown(f"{escape(category)} ({len(group)})"))]
        for f in group:
            lines += [
                "",
                heading(level + 1, Markdown(f"{escape(f.title)}: {code(f.location)}")),
                "",
                bullet(Markdown(f"severity: **{escape(f.severity.value)}**")),
                bullet(Markdown(f"check: {code(f.check)}, fingerprint {code(f.fingerprint)}")),
                bullet(Markdown(f"expected: {escape(f.expected)}")),
                bullet(Markdown(f"actual: {escape(f.actual)}")),
            ]
            seen = replay.occurrences.get(f.fingerprint, 1)
            lines += [bullet(Markdown(f"seen {seen} time{'s' if seen != 1 else ''} in the run"))]
            if f.first_seen is not None:
                lines += [bullet(Markdown(f"first seen at request {f.first_seen} of the run"))]
            if f.confirmation:
                lines += [bullet(Markdown(f"sent again before the run ended: {escape(f.confirmation)}"))]
            lines += [bullet(Markdown(f"reproduce: {code(r.curl)}")) for r in f.requests]
            lines += replay.line(f, signed=signed)
            if f.consumers:
                # The spec's own text (x-consumers, with its `code` spans), which no target writes: kept
                # as Markdown, as the docs keep it. A report read back goes to the docs, which escape it.
                entries = (bullet(Markdown(str(impact)), depth=1) for impact in f.consumers)
                lines += [bullet(Markdown("consumers it breaks:")), *entries]
            if f.message:
                lines += ["", *code_block(f.message.strip())]
            if f.response_excerpt:
                status = f" (status {f.status})" if f.status is not None else ""
                lines += ["", Markdown(f"The response{status}, its start:"), ""]
                lines += code_block(f.response_excerpt.strip())
    return lines


def _markdown_unseen(report: RunReport) -> list[str]:
    """What the spec documents that the run never observed: what it could not judge, not a finding."""
    gaps = report.unseen
    if not gaps:
        return []
    lines = ["", heading(2, Markdown("Never observed in this run")), ""]
    return lines + [bullet(Markdown(f"{escape(gap.what)}: {gap.markdown('in this run')}")) for gap in gaps]


def _markdown_latency(report: RunReport) -> list[str]:
    """Per property, seconds to the headers and to the last byte: p50, p95, max."""
    if not report.latency:
        return []

    def tier(entry: Mapping[str, Any], key: str) -> str:
        values = entry.get(key, {})
        return " / ".join(f"{values.get(p, 0.0):.3f}" for p in ("p50", "p95", "max"))

    rows = [
        [escape(name), str(entry.get("requests", 0)), tier(entry, "headers"), tier(entry, "total")]
        for name, entry in report.latency.items()
    ]
    header = ["property", "requests", "headers p50 / p95 / max (s)", "last byte p50 / p95 / max (s)"]
    return ["", heading(2, "Latency"), "", *table(header, rows)]


def report_json(report: RunReport) -> str:
    """report.json's text: ``report.as_dict()`` laid out with an indent of 2, the spec's document last."""
    data = report.as_dict()
    if next(reversed(data)) != "spec":  # a key added after it: laid out whole, in as_dict()'s order
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    del data["spec"]
    head = json.dumps(data, indent=2, ensure_ascii=False)
    # head ends in "\n}": the spec goes in as the last key, as as_dict() orders it.
    return f'{head[:-2]},\n  "spec": {_laid_out(report.spec)}\n}}\n'


# The spec as report.json lays it out, for the last spec written: most of a report's bytes,
# and the same in every report a process writes (a matrix, the tests' hundreds of runs), where
# json.dumps lays out with an indent in pure Python, some milliseconds per report. The key is
# the document's identity, the document kept beside its text so that its id cannot be reused;
# a spec's document is never changed in place (Spec.sha256 is cached on the same promise).
_LAST_SPEC: tuple[str, Mapping[str, Any], str] | None = None


def _laid_out(spec: SpecInfo | None) -> str:
    global _LAST_SPEC
    last = _LAST_SPEC
    if spec is not None and last is not None and last[0] == spec.sha256 and last[1] is spec.document:
        return last[2]
    data = spec.as_dict() if spec is not None else None
    # Nested one level down: JSON text holds no raw newline but those of the layout.
    text = json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    if spec is not None:
        _LAST_SPEC = (spec.sha256, spec.document, text)
    return text


def write_reports(report: RunReport, directory: Path, *, scrubber: Scrubber) -> list[Path]:
    """Write report.json, report.md and junit.xml; returns their paths.

    The report is scrubbed before it is laid out, and each file once more as a whole: the
    layout escapes text (JSON, XML), and the scrubber knows those forms too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    clean = report.scrubbed(scrubber)
    outputs = {
        "report.json": report_json(clean),
        "report.md": _markdown(clean, directory),
        "junit.xml": junit_of(clean).decode("utf-8"),
    }
    paths = []
    for name, text in outputs.items():
        path = directory / name
        path.write_text(
            scrubber.json_text(text, indent=2) if name == "report.json" else scrubber.text(text), encoding="utf-8"
        )
        paths.append(path)
    return paths
