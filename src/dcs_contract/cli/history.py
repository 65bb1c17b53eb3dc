"""``dcs-contract history``, and what a run keeps in the history and the CI's job summary.

``dcs-contract history --history FILE|URL [--last N] [--coverage]``: one line per run, then
each finding's first and last run, how often it was seen, and whether it comes and goes; each
target's latency; with ``--coverage``, what the spec documents that no run of the target has
observed (never a finding: what could not be judged).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from dcs_contract.cli.summary import TITLE_WIDTH, plural
from dcs_contract.contract.formats import printable
from dcs_contract.errors import ConfigError
from dcs_contract.results.coverage import Unseen, unseen
from dcs_contract.results.diff import ReportDiff, render_markdown
from dcs_contract.results.history import History, LatencyPoint
from dcs_contract.results.history import Target as HistoryTarget
from dcs_contract.results.markdown import Markdown, heading
from dcs_contract.results.report import RunReport

__all__ = ["MOCK_TARGET", "history_command", "previous_diff", "record", "step_summary"]

# How the history names the embedded mock: its port changes from run to run, it does not.
MOCK_TARGET = "embedded mock"
_MAX_LAST = 100_000


def history_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.history is None:
        raise ConfigError("history needs --history FILE or URL: the run history to read", setting="--history")
    if args.last is not None and not 1 <= args.last <= _MAX_LAST:
        raise ConfigError(f"--last={args.last}, but it must be 1..{_MAX_LAST} runs")
    with History.open(args.history, create=False) as history:
        runs = history.runs(last=args.last)
        fingerprints = history.fingerprints(last=args.last or 10)
        targets = history.targets()
        latency = {key: history.latency(key, last=1) for key in targets}
        gaps = {key: _unseen(history, key) for key in targets} if getattr(args, "coverage", False) else {}
        location = history.location
    if not runs:
        out.write(f"dcs-contract: {location} holds no run yet\n")
        return 0
    out.write(f"{'run':>5}  {'started':25}  {'verdict':10}  {'new':>4}  {'resolved':>8}  target\n")
    for run in runs:
        shown = f"{run.base_url or MOCK_TARGET} (instance {run.instance_id})"
        verdict = run.verdict if run.complete else f"{run.verdict}*"
        out.write(f"{run.id:>5}  {run.started:25}  {verdict:10}  {run.new:>4}  {run.resolved:>8}  {shown}\n")
    if any(not run.complete for run in runs):
        out.write("  * cut short or failed: compared with no run, and resolving nothing\n")
    if fingerprints:
        out.write("\nfindings: first and last run seen, and in how many of the target's last runs\n")
        for entry in fingerprints:
            mark = "  intermittent" if entry.intermittent else ""
            title = printable(entry.title)[:TITLE_WIDTH]
            out.write(
                f"  {entry.fingerprint[:12]}  [{entry.category}] {title}: {printable(entry.location)[:TITLE_WIDTH]}\n"
                f"      first run {entry.first_run} ({entry.first_started}), last run {entry.last_run} "
                f"({entry.last_started}), seen in {entry.seen} of the last {entry.window}{mark}\n"
            )
    measured = {target: points[-1] for target, points in latency.items() if points}
    if measured:
        out.write("\nlatency of each target's newest measured run, to the last byte (p50, p95: weighted by requests)\n")
        for key, point in measured.items():
            out.write(f"  {_label(key)}: run {point.run}, {_latency(point)}\n")
    for key, never in gaps.items():
        where = f"on {_label(key)}"
        if never is None:
            out.write(f"\ncoverage {where}: no run of it kept its spec\n")
            continue
        out.write(f"\ncoverage {where}: {plural(len(never), 'documented value')} never observed in its runs\n")
        for gap in never:
            out.write(f"  [{gap.what}] {gap.sentence(where)}\n")
    return 0


def _label(target: HistoryTarget) -> str:
    return f"{printable(target[0] or MOCK_TARGET)[:TITLE_WIDTH]} (instance {printable(target[1] or '')[:TITLE_WIDTH]})"


def _latency(point: LatencyPoint) -> str:
    def seconds(value: float | None) -> str:
        return "?" if value is None else f"{value:.3f} s"

    shown = f"p50 {seconds(point.p50)}, p95 {seconds(point.p95)}, max {seconds(point.max)}"
    return f"{shown} over {plural(point.requests, 'request')}"


def _unseen(history: History, target: HistoryTarget) -> list[Unseen] | None:
    """What the spec of the target's newest run documents that none of its runs observed."""
    spec = history.spec(target)
    return None if spec is None else unseen(spec, history.observed(target))


def record(history_path: Path | str, report: RunReport, *, mock: bool) -> int:
    """Append ``report`` (already scrubbed) to the history; the embedded mock under one name."""
    if mock:
        report = replace(report, target=replace(report.target, base_url=MOCK_TARGET))
    with History.open(history_path) as history:
        return history.append(report)


def previous_diff(history_path: Path | str, run_id: int) -> ReportDiff | None:
    """The diff of run ``run_id`` against the run before it of the same target, if there is one."""
    with History.open(history_path, create=False) as history:
        previous = next((run.previous for run in history.runs() if run.id == run_id), None)
        if previous is None:
            return None
        return ReportDiff.between(history.report(previous), history.report(run_id))


def step_summary(path: Path, markdown: str, diff: ReportDiff | None) -> None:
    """Append the run's Markdown summary, and its diff against the previous run, to the CI's job summary."""
    # Both parts are Markdown already, their texts escaped by the one escaper (results.markdown).
    parts = [markdown.rstrip() + "\n"]
    if diff is not None:
        since = heading(2, Markdown("Since the previous run"))
        parts.append(f"\n{since}\n\n" + render_markdown(diff, level=3).rstrip() + "\n")
    with path.open("a", encoding="utf-8") as summary:
        summary.write("\n".join(parts))
