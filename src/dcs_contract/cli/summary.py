"""What a run prints on the terminal: the progress line while it sends, then the summary.

The summary's first line is the verdict and its cause, so that a CI log read from the top,
or cut after one line, says what happened and why::

    dcs-contract: UNTESTABLE: the target refused the credentials: HTTP 401 APIGW.0301; ...

:class:`Verbosity` says how much follows it: ``quiet`` (``-q``) prints that line alone,
``normal`` the target, the traffic and each finding, and ``verbose`` (``-v``) also what each
check and invariant judged. :class:`Style` colours the verdict on a terminal, unless
``NO_COLOR`` is set or ``--no-color`` is given (https://no-color.org).
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from dcs_contract.results.report import RunReport

__all__ = ["Progress", "Style", "Verbosity", "plural", "summary", "verdict_line"]


class Verbosity(enum.IntEnum):
    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


# SGR colours of each verdict: green, red, yellow, magenta; bold.
_COLOURS = {"conforms": "32", "violations": "31", "untestable": "33", "error": "35"}


@dataclass(frozen=True)
class Style:
    """Whether the terminal gets colour."""

    colour: bool = False

    @classmethod
    def for_stream(cls, stream: TextIO, env: Mapping[str, str], *, no_color: bool = False) -> Style:
        """Colour on a terminal only; ``NO_COLOR`` (any non-empty value) and ``--no-color`` turn it off."""
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):  # a closed or a fake stream
            tty = False
        return cls(colour=tty and not no_color and not env.get("NO_COLOR"))

    def verdict(self, verdict: str) -> str:
        word = verdict.upper()
        if not self.colour:
            return word
        return f"\x1b[1;{_COLOURS.get(verdict, '0')}m{word}\x1b[0m"


# How much of a finding's title or location a line shows: the reports keep them whole.
TITLE_WIDTH = 100


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 finding``, ``2 findings``; ``nouns`` for a plural that is not noun + s."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _cause(report: RunReport) -> str:
    """Why the run ended as it did, in a sentence: what the verdict line leads with."""
    if report.crash:
        first = report.crash.strip().splitlines()[0] if report.crash.strip() else "no detail"
        return f"the harness failed (a bug in dcs-contract, not drift): {first}; the traceback is in the reports"
    new = plural(len(report.findings), "new finding") if report.baseline else plural(len(report.findings), "finding")
    if report.credentials_refused:
        verb = "is" if len(report.findings) == 1 else "are"
        kept = f"; {new} from before the refusal {verb} in the reports" if report.findings else ""
        return f"{(report.error or '').rstrip('.')}{kept}"
    if report.findings and not report.failing and not report.error:
        # --fail-on above every finding: shown, and the run passes.
        cause = f"{new}, none at or above --fail-on {report.fail_on}"
        return cause + ("; the run is degraded" if report.degraded else "")
    if report.findings:
        cause = new
        if report.error:
            cause += f"; the run was cut short: {report.error}"
        if report.stopped:
            cause += f"; stopped {report.stopped}"
        return cause
    if report.error:
        return report.error
    accepted = f", {len(report.accepted)} accepted by the baseline" if report.accepted else ""
    stopped = f"; stopped {report.stopped}" if report.stopped else ""
    found = f"no {'new ' if report.baseline else ''}finding in {plural(report.requests.total, 'request')}"
    return found + accepted + stopped


def verdict_line(report: RunReport, style: Style = Style()) -> str:
    return f"dcs-contract: {style.verdict(report.verdict)}: {_cause(report)}"


def summary(report: RunReport, *, verbosity: Verbosity = Verbosity.NORMAL, style: Style = Style()) -> str:
    """The run's summary: the verdict line, then as much as ``verbosity`` asks for."""
    lines = [verdict_line(report, style)]
    if verbosity is Verbosity.QUIET:
        return "\n".join(lines)
    lines.insert(0, "")
    target = report.target
    lines.append(f"  target    {target.base_url or 'the embedded mock'} (instance {target.instance_id})")
    lines.append(f"  auth      {target.credentials}")
    lines.append(f"  harness   dcs-contract {report.harness_version or 'unknown'}")
    lines.append(f"  cases     {sum(report.cases.values())}  " + "  ".join(f"{k}={v}" for k, v in report.cases.items()))
    statuses = "  ".join(f"{k}:{v}" for k, v in sorted(report.requests.by_status.items()))
    lines.append(f"  requests  {report.requests.total}  ({statuses})")
    budget = report.budget
    if budget is not None:
        lines.append(
            f"  budget    {budget.max_requests}: the probe plan {budget.probe_plan}, {budget.reserve} kept for "
            f"retries, {budget.confirmation} to confirm findings, up to {budget.exploration} to explore"
        )
    for name, reason in report.skipped.items():
        lines.append(f"  skipped   {name}: {reason}")
    for name, reason in report.drawn_in_run.items():
        lines.append(f"  drawn     {name} in the run's process: {reason}")
    lines += _latency(report)
    if verbosity is Verbosity.VERBOSE:
        lines += _coverage(report)
    lines.append(f"  findings  {len(report.findings)}" + (" new" if report.baseline else ""))
    for finding in report.findings:
        lines.append(
            f"    [{finding.severity}] [{finding.category}] {finding.title}: {finding.location}"
            + (f" (first seen at request {finding.first_seen})" if finding.first_seen else "")
            + (f" [{finding.confirmation}]" if finding.confirmation else "")
            + "\n"
            f"        expected {finding.expected}; got {finding.actual}"
            + (f"\n        consumers {', '.join(finding.consumer_names)}" if finding.consumers else "")
        )
    if report.baseline:
        lines.append(f"  baseline  {report.baseline}: {len(report.accepted)} accepted, {len(report.resolved)} resolved")
        for finding in report.accepted:
            lines.append(f"    accepted [{finding.category}] {finding.title}: {finding.location}")
        for entry in report.resolved:
            lines.append(f"    resolved [{entry.category}] {entry.location} ({entry.check}): no longer seen")
    if report.seed is not None:
        if report.drawn_in_run:
            # Drawn in another process than asked: the same seed, with a helper, draws other cases.
            lines.append(f"  seed      {report.seed}  (drawn without the helper in part: --seed may draw other cases)")
        else:
            lines.append(f"  seed      {report.seed}  (replay with --seed {report.seed})")
    return "\n".join(lines)


def _latency(report: RunReport) -> list[str]:
    """The slowest property's p95 and max to the last byte, and whether the run is degraded."""
    if not report.latency:
        return []
    slowest = max(report.latency.items(), key=lambda item: item[1]["total"]["max"])
    name, total = slowest[0], slowest[1]["total"]
    degraded = "  DEGRADED: answers over --degraded-response-time" if report.degraded else ""
    return [f"  latency   slowest {name}: p95 {total['p95']:.3f} s, max {total['max']:.3f} s{degraded}"]


def _coverage(report: RunReport) -> list[str]:
    """What each check and invariant judged, read from the run: one that met no response did not run."""
    ran = "  ".join(f"{name}={count}" for name, count in sorted(report.evaluated.items()))
    wrapped = textwrap.wrap(ran, width=106, break_on_hyphens=False, break_long_words=False)
    lines = ["  checked   " + ("\n            ".join(wrapped) if ran else "nothing: no check or invariant ran")]
    # Grouped by reason: when a property did not run, every check it owns says the same.
    unchecked: dict[str, list[str]] = {}
    for name, reason in sorted(report.not_evaluated.items()):
        unchecked.setdefault(reason, []).append(name)
    for reason, names in unchecked.items():
        lines.append(f"  unchecked {', '.join(names)}: {reason}")
    return lines


class Progress:
    """One status line per property, rewritten in place on a terminal; nothing when quiet."""

    def __init__(self, stream: TextIO, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.current: str | None = None

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        if self.current is not None and name != self.current and self.tty:
            self.stream.write("\n")
        self.current = name
        of = f"/{total}" if total else (" request" if done == 1 else " requests")
        if self.tty:
            self.stream.write(f"\r  {name:<18} {done:>5}{of}")
        elif done == 1 or done % 50 == 0 or done == total:
            self.stream.write(f"  {name:<18} {done:>5}{of}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.current is not None and self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
