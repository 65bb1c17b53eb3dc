"""The morning after a nightly run: what changed (``diff``), the run history (``history``), and ``replay``.

A nightly contract job is read once a day by someone who asks what is new since yesterday,
whether it is real, and whether yesterday's finding is fixed. The commands here answer,
each from what the run left: report.json files, and the ``--history`` file
(:mod:`dcs_contract.results.history`). ``cli.py`` parses their flags; each function here takes the
parsed arguments and gives the exit code.

- ``dcs-contract diff OLD NEW``: OLD and NEW are report.json files, run ids of ``--history``,
  or ``last`` and ``previous``. Exit 1 when something new appeared (a finding, an observed
  value, a breaking change of the spec), else 0.
- ``dcs-contract history --history FILE [--last N]``: one line per run, then each finding's
  first and last run, how often it was seen, and whether it comes and goes.
- ``dcs-contract replay REPORT [--finding FINGERPRINT]``: each finding's requests sent again
  through the same guarded transport (GET only, budget, rate limit, signing) to the report's
  own target, or to the one the settings name now (and the summary says so), and judged
  again: FIXED or STILL FAILING. Exit 0 only when every finding replayed is fixed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from dcs_contract.cli.summary import plural
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.formats import printable
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.reproduce import Rebase, not_replayable, reproduce
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.suite import guarded
from dcs_contract.errors import AuthRejected, ConfigError, RunStopped, TargetUnavailable
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.redaction import Scrubber
from dcs_contract.results.diff import ReportDiff, as_dict, render_markdown, render_text
from dcs_contract.results.history import History, HistoryError
from dcs_contract.results.markdown import Markdown, heading
from dcs_contract.results.report import RunReport, TargetInfo
from dcs_contract.results.schema import read_report
from dcs_contract.settings.target import RunSettings, Target, check_id, check_url
from dcs_contract.transport.guard import build_client
from dcs_contract.transport.signing import Credentials

__all__ = [
    "MOCK_TARGET",
    "ReplayTarget",
    "diff_command",
    "history_command",
    "replay_command",
    "replay_target",
    "step_summary",
]

# How the history names the embedded mock: its port changes from run to run, it does not.
MOCK_TARGET = "embedded mock"
FIXED, STILL_FAILING, CANNOT_TELL, NOT_REPLAYED = "FIXED", "STILL FAILING", "CANNOT TELL", "NOT REPLAYED"
_TITLE = 100
_MAX_LAST = 100_000


# -- diff ----------------------------------------------------------------------------------


def _report_of(ref: str, history: History | None, flag: str) -> RunReport:
    """A report.json path, or (with a history) a run id, ``last`` or ``previous``."""
    path = Path(ref)
    if history is not None and (ref.strip().lower() in ("last", "previous") or ref.strip().isdigit()):
        return history.report(history.resolve(ref))
    if ref in ("last", "previous"):
        raise ConfigError(f"{flag}={ref!r} names a run of a history: give --history FILE")
    if not path.exists():
        hint = " (a run id needs --history FILE)" if ref.isdigit() else ""
        raise ConfigError(f"{flag}={ref!r}: no such report.json{hint}")
    return read_report(path, where=f"{flag}={ref!r}")


def diff_command(args: argparse.Namespace, out: TextIO) -> int:
    history = History.open(args.history, create=False) if args.history else None
    try:
        old = _report_of(args.old, history, "OLD")
        new = _report_of(args.new, history, "NEW")
    except HistoryError as exc:
        if history is None or "previous" not in (args.old.strip().lower(), args.new.strip().lower()):
            raise
        # The first night, or a history the CI's cache lost: nothing to compare with is no error.
        out.write(f"dcs-contract diff: nothing to compare with yet: {exc}\n")
        return 0
    finally:
        if history is not None:
            history.close()
    diff = ReportDiff.between(old, new)
    if args.format == "json":
        text = json.dumps(as_dict(diff), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_markdown(diff) if args.format == "markdown" else render_text(diff)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        out.write(f"dcs-contract: wrote {args.out}\n")
    else:
        out.write(text if text.endswith("\n") else text + "\n")
    return 1 if diff.something_new else 0


# -- history -------------------------------------------------------------------------------


def history_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.history is None:
        raise ConfigError("history needs --history FILE: the run history to read", setting="--history")
    if args.last is not None and not 1 <= args.last <= _MAX_LAST:
        raise ConfigError(f"--last={args.last}, but it must be 1..{_MAX_LAST} runs")
    with History.open(args.history, create=False) as history:
        runs = history.runs(last=args.last)
        fingerprints = history.fingerprints(last=args.last or 10)
    if not runs:
        out.write(f"dcs-contract: {args.history} holds no run yet\n")
        return 0
    out.write(f"{'run':>5}  {'started':25}  {'verdict':10}  {'new':>4}  {'gone':>4}  target\n")
    for run in runs:
        target = f"{run.base_url or MOCK_TARGET} (instance {run.instance_id})"
        verdict = run.verdict if run.complete else f"{run.verdict}*"
        out.write(f"{run.id:>5}  {run.started:25}  {verdict:10}  {run.new:>4}  {run.resolved:>4}  {target}\n")
    if any(not run.complete for run in runs):
        out.write("  * cut short or failed: compared with no run, and resolving nothing\n")
    if fingerprints:
        out.write("\nfindings: first and last run seen, and in how many of the target's last runs\n")
        for entry in fingerprints:
            mark = "  intermittent" if entry.intermittent else ""
            title = printable(entry.title)[:_TITLE]
            out.write(
                f"  {entry.fingerprint[:12]}  [{entry.category}] {title}: {printable(entry.location)[:_TITLE]}\n"
                f"      first run {entry.first_run} ({entry.first_started}), last run {entry.last_run} "
                f"({entry.last_started}), seen in {entry.seen} of the last {entry.window}{mark}\n"
            )
    return 0


# -- the history of a run, and the CI's summary ----------------------------------------------


def record(history_path: Path, report: RunReport, *, mock: bool) -> int:
    """Append ``report`` (already scrubbed) to the history; the embedded mock under one name."""
    if mock:
        report = replace(report, target=replace(report.target, base_url=MOCK_TARGET))
    with History.open(history_path) as history:
        return history.append(report)


def previous_diff(history_path: Path, run_id: int) -> ReportDiff | None:
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
        parts.append(f"\n{since}\n\n" + render_markdown(diff).rstrip() + "\n")
    with path.open("a", encoding="utf-8") as summary:
        summary.write("\n".join(parts))


# -- replay --------------------------------------------------------------------------------


def _selected(report: RunReport, fingerprint: str | None) -> list[Finding]:
    findings = [*report.findings, *report.accepted]
    if fingerprint is None:
        return list(report.findings)
    chosen = [finding for finding in findings if finding.fingerprint.startswith(fingerprint)]
    if len(chosen) != 1:
        known = ", ".join(finding.fingerprint for finding in findings) or "none"
        what = "no finding" if not chosen else f"{len(chosen)} findings"
        raise ConfigError(f"--finding={fingerprint!r}: {what} of the report has that fingerprint; known: {known}")
    return chosen


@dataclass(frozen=True)
class ReplayTarget:
    """Where a replay sends, and why there: the summary says it, so that no target changes silently."""

    target: Target
    why: str

    @property
    def embedded(self) -> bool:
        return self.target.is_mock


def _recorded_embedded_mock(recorded: TargetInfo) -> bool:
    # A history stores the embedded mock's runs under one name, whatever their port.
    return recorded.embedded_mock or recorded.base_url == MOCK_TARGET


def replay_target(
    recorded: TargetInfo, configured: Target, *, source: str, mock: bool, env: Mapping[str, str]
) -> ReplayTarget:
    """The target a replay of a report of ``recorded`` goes to.

    The report's own target, unless the configuration names another (``configured``, named
    by ``source``), or ``mock`` (``--mock``) asks for the embedded mock. A report of a live
    target is never replayed against the embedded mock unless asked: a forgotten
    ``--profile`` would turn real drift into FIXED.
    """
    shown = recorded.base_url or "no target"
    if mock:
        if not configured.is_mock:
            raise ConfigError(f"--mock, but {source} names a target: give one or the other")
        return ReplayTarget(configured, f"the embedded mock (--mock), not the report's target {shown}")
    if not configured.is_mock:
        same = configured.base_url == recorded.base_url
        why = (
            f"the report's target, as {source} names it"
            if same
            else f"named by {source}, not the report's target {shown}"
        )
        return ReplayTarget(configured, why)
    if _recorded_embedded_mock(recorded):
        return ReplayTarget(configured, "a fresh embedded mock, as the report's run had")
    if not recorded.base_url:
        raise ConfigError(
            "the report names no target to replay against: "
            "configure one (--base-url, --region, --profile) or give --mock"
        )
    where = f"the report's target {recorded.base_url}"
    try:
        base_url = check_url(recorded.base_url, setting="the report's target.base_url")
        target = Target(
            base_url=base_url,
            project_id=check_id(recorded.project_id or "", "the report's target.project_id"),
            instance_id=check_id(recorded.instance_id or "", "the report's target.instance_id"),
            empty_instance_id=(
                check_id(recorded.empty_instance_id, "the report's target.empty_instance_id")
                if recorded.empty_instance_id
                else None
            ),
            credentials=Credentials.from_env(env),
        )
        target.require_live_settings()
    except ConfigError as exc:
        raise ConfigError(
            f"replaying against {where}: {exc} (or name another target, or give --mock for the embedded mock)"
        ) from None
    return ReplayTarget(target, "the report's target (no target configured)")


def replay_command(
    report: RunReport,
    fingerprint: str | None,
    spec: Spec,
    chosen: ReplayTarget,
    settings: RunSettings,
    mock_options: Mapping[str, Any],
) -> tuple[int, list[str], list[str]]:
    """(exit code, the lines to print, the secrets they must not show)."""
    findings = _selected(report, fingerprint)
    target = chosen.target
    if not findings:
        return 0, ["dcs-contract replay: the report has no finding to replay"], target.credentials.secrets()
    if chosen.embedded:
        state = MockState.default(spec, **mock_options)
        with MockServer(create_app(state)) as server:
            mock = target.with_mock(
                server.base_url, state.project_id, state.instance_id, state.empty_instance_id, state.credentials
            )
            return _replay(report, findings, spec, mock, settings, chosen.why)
    return _replay(report, findings, spec, target, settings, chosen.why)


def _replay(
    report: RunReport, findings: list[Finding], spec: Spec, target: Target, settings: RunSettings, destination: str
) -> tuple[int, list[str], list[str]]:
    assert target.base_url is not None and target.project_id is not None and target.instance_id is not None
    secrets = [*target.credentials.secrets(), *settings.network.secrets()]
    # A report's texts are cut for the terminal: scrubbed of this target's secrets first, never after.
    scrubber = Scrubber(secrets)
    rebase = Rebase.between(report.target, target.project_id, target.instance_id, target.empty_instance_id)
    lines = [f"dcs-contract replay: {plural(len(findings), 'finding')} against {target.base_url}: {destination}"]
    client = build_client(
        target.base_url,
        auth=target.credentials.auth(target.project_id),
        guard=guarded(replace(settings, record_traffic=False)),
        timeout=settings.timeout,
    )
    outcomes: list[str] = []
    with client:
        run = ContractRun(spec, target, settings, client, RunLog(spec))
        for finding in findings:
            shown_as = (
                f"[{finding.category}] {scrubber.cut(printable(finding.title), _TITLE)}: "
                f"{scrubber.cut(printable(finding.location), _TITLE)}"
            )
            why = not_replayable(finding, rebase)
            if why is not None:
                # Decided before anything is sent: no request, and no part of the verdict.
                lines.append(f"  {NOT_REPLAYED:13}  {shown_as}")
                lines.append(f"                 fingerprint {finding.fingerprint}; {why}")
                continue
            try:
                shown = reproduce(run, finding, rebase, as_property="replay")
            except (AuthRejected, RunStopped) as exc:
                lines.append(f"  stopped: {exc}")
                return 3, lines, secrets
            except TargetUnavailable as exc:
                outcome, why = CANNOT_TELL, str(exc)
            else:
                outcome = CANNOT_TELL if shown is None else STILL_FAILING if shown else FIXED
                why = "its answers could not be judged" if shown is None else ""
            outcomes.append(outcome)
            lines.append(f"  {outcome:13}  {shown_as}")
            lines.append(f"                 fingerprint {finding.fingerprint}" + (f"; {why}" if why else ""))
    if not outcomes:
        lines.append("  none of these findings can be replayed: nothing was sent")
        return 2, lines, secrets
    fixed = sum(outcome == FIXED for outcome in outcomes)
    lines.append(f"  {fixed} of {len(outcomes)} replayed fixed")
    if STILL_FAILING in outcomes:
        return 1, lines, secrets
    # A finding the target could not answer for (still throttled, unreachable) is not known fixed.
    return (0 if fixed == len(outcomes) else 3), lines, secrets


def say_all(out: TextIO, lines: list[str], secrets: list[str]) -> None:
    scrubber = Scrubber(secrets)
    for line in lines:
        out.write(scrubber.text(line) + "\n")
