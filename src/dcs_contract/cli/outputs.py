"""What a run leaves once its last request is answered: the baseline, the HAR, the history, the
CI's summary and the reports, all within a deadline; and the exit code."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from dcs_contract.cli import history as run_history
from dcs_contract.cli.basics import EXIT_BY_VERDICT, EXIT_ERROR
from dcs_contract.cli.common import reason, say
from dcs_contract.cli.summary import Style, Verbosity, summary
from dcs_contract.har.record import write_har
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.history import is_url, shown_url
from dcs_contract.results.metrics import RunLabels, push, write_textfile
from dcs_contract.results.report import (
    RunReport,
    markdown_of,
    write_reports,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Outputs:
    """What a run writes once it has ended, and the scrubber it writes through."""

    report_dir: Path
    scrubber: Scrubber
    recording: Path | None = None
    baseline: Baseline | None = None
    update_baseline: bool = False
    history: Path | str | None = None  # a file, or a postgresql:// URL
    # The run was against the embedded mock: the history names it so, whatever its port.
    mock: bool = False
    # GITHUB_STEP_SUMMARY: the CI's job summary, which the run appends its Markdown to.
    step_summary: Path | None = None
    verbosity: Verbosity = Verbosity.NORMAL
    style: Style = field(default_factory=Style)
    # Seconds for writing all of the above once the last request is answered (WRITE_DEADLINE).
    deadline: float | None = None
    metrics: Metrics | None = None


@dataclass(frozen=True)
class Metrics:
    """Where the run's Prometheus metrics go (results/metrics.py), and whether the instance id is private."""

    file: Path | None = None
    pushgateway: str | None = None
    private_ids: bool = False


TLS_UNVERIFIED = (
    "TLS verification is off (tls_verify false): the target's certificate is not checked, "
    "and the report's settings say so"
)


# What a run leaves is written within this many seconds of its last answer, however much the
# target sent: past it, the step under way is left behind and the run exits 4 with what was
# written. Every step is linear in what it writes; this bounds the one that is not, if any.
WRITE_DEADLINE = 120.0


# The reports are written last, so that they carry every failure before them: they get at
# least this long, even once the deadline has passed.
_REPORTS_GRACE = 10.0


class _Late(Exception):
    """A step of writing the outputs did not end within the time left to it."""


def _within(seconds: float, step: Callable[[], _T]) -> _T:
    """``step()``, or :class:`_Late` when it has not returned within ``seconds``.

    Run in a daemon thread: one that never ends is left behind, and does not keep the
    process alive once the exit code is given.
    """
    done: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            done.append((True, step()))
        except BaseException as exc:
            done.append((False, exc))

    worker = threading.Thread(target=work, name="dcs-contract-writer", daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if not done:
        raise _Late(f"not done within {seconds:g} s")
    ok, value = done[0]
    if not ok:
        raise value
    result: _T = value
    return result


def finish(report: RunReport, outputs: Outputs, out: TextIO, err: TextIO) -> int:
    """Write what the run leaves, as much of it as can be written, and give the exit code.

    Every step is tried whatever failed before it; a failure is a crash (exit 4) that the
    reports carry. They are written last, so that they carry a failure of the baseline, the
    recording or the summary too; if they cannot be written, stderr says so. All of it is
    done within ``outputs.deadline`` (:data:`WRITE_DEADLINE`): a step still running then is
    a failure too, and what comes after it is still written.
    """
    scrubber = outputs.scrubber
    failures: list[str] = []
    limit = WRITE_DEADLINE if outputs.deadline is None else outputs.deadline
    expires = time.monotonic() + limit

    def left() -> float:
        return expires - time.monotonic()

    def attempt(what: str, step: Callable[[], _T]) -> _T | None:
        try:
            return _within(left(), step)
        except _Late:
            failures.append(f"{what} failed: it did not end within the {limit:g} s given to writing the outputs")
        except Exception as exc:
            failures.append(f"{what} failed: {reason(exc)}\n{traceback.format_exc()}")
        return None

    if outputs.baseline is not None:
        baseline = outputs.baseline
        report = (
            attempt(
                f"the baseline {baseline.path}",
                lambda: _judged(report, baseline, outputs.update_baseline, scrubber, err),
            )
            or report
        )
    paths: list[Path] = []
    if outputs.recording is not None:
        recording = outputs.recording
        har = attempt(f"writing {recording}", lambda: write_har(report.traffic, recording, scrubber=scrubber))
        paths += [har] if har is not None else []
    # Built once before the reports only for its failure, which they must carry; printed after.
    attempt("the summary", lambda: summary(report.scrubbed(scrubber), verbosity=outputs.verbosity))
    run_id: int | None = None
    if outputs.history is not None:
        history = outputs.history
        run_id = attempt(
            f"appending to the history {shown_url(str(history)) if is_url(history) else history}",
            lambda: run_history.record(history, report.scrubbed(scrubber), mock=outputs.mock),
        )
    if outputs.step_summary is not None:
        step_summary, history_file = outputs.step_summary, outputs.history
        attempt(
            f"the CI's job summary {step_summary}",
            lambda: run_history.step_summary(
                step_summary,
                markdown_of(report, scrubber=scrubber, report_dir=outputs.report_dir),
                run_history.previous_diff(history_file, run_id) if history_file and run_id else None,
            ),
        )
    if outputs.metrics is not None:
        # Exported as the run ends: a history or a recording that could not be written makes
        # it an error (exit 4), and the metrics say so rather than the contract's verdict.
        exported = report
        for failure in failures:
            exported = with_crash(exported, failure)
        _metrics(exported, outputs.metrics, scrubber, err, attempt)
    for failure in failures:
        report = with_crash(report, failure)
    written = report
    unwritten: str | None = None
    try:
        paths = (
            _within(max(left(), _REPORTS_GRACE), lambda: write_reports(written, outputs.report_dir, scrubber=scrubber))
            + paths
        )
    except _Late as exc:
        unwritten = f"{exc}, after the {limit:g} s given to writing the outputs"
    except Exception as exc:
        # A full disk needs no traceback; anything else is a bug, and needs one.
        unwritten = reason(exc) if isinstance(exc, OSError) else f"{reason(exc)}\n{traceback.format_exc()}"
    if report.crash:
        say(err, scrubber, f"dcs-contract: the harness failed (a failure of dcs-contract, not drift):\n{report.crash}")
    if unwritten is not None:
        say(err, scrubber, f"dcs-contract: the reports could not be written to {outputs.report_dir}: {unwritten}")
        say(err, scrubber, "dcs-contract: the summary below is all this run leaves (exit 4)")
    try:
        text = summary(report.scrubbed(scrubber), verbosity=outputs.verbosity, style=outputs.style)
    except Exception:
        text = f"\ndcs-contract: {report.verdict.upper()} (the summary failed: see the reports)"
    try:
        say(out, scrubber, text)
        if outputs.verbosity is not Verbosity.QUIET:
            say(out, scrubber, f"  reports   {', '.join(str(p) for p in paths) or 'none written'}")
    except (OSError, ValueError) as exc:  # a closed stdout; one that cannot encode the text
        say(err, scrubber, f"dcs-contract: the summary could not be printed: {reason(exc)}")
        return EXIT_ERROR
    return EXIT_ERROR if unwritten is not None else EXIT_BY_VERDICT[report.verdict]


def _metrics(
    report: RunReport,
    metrics: Metrics,
    scrubber: Scrubber,
    err: TextIO,
    attempt: Callable[[str, Callable[[], Any]], Any],
) -> None:
    """The textfile (a failure to write it is the harness's, as any output's), then the push.

    A Pushgateway that cannot be reached is said on stderr and fails nothing: the contract's
    verdict stands, and the gateway's stale timestamp says that a push was missed.
    """
    labels = RunLabels.of(report, private_ids=metrics.private_ids, scrubber=scrubber)
    if metrics.file is not None:
        path = metrics.file
        attempt(f"writing the metrics {path}", lambda: write_textfile(report, path, labels))
    if metrics.pushgateway is not None:
        gateway = metrics.pushgateway
        try:
            _within(_PUSH_TIMEOUT + 1, lambda: push(report, gateway, labels, timeout=_PUSH_TIMEOUT))
        except Exception as exc:
            say(err, scrubber, f"dcs-contract: warning: the metrics were not pushed to {gateway}: {reason(exc)}")


# Seconds a push to the Pushgateway may take.
_PUSH_TIMEOUT = 10.0


def _judged(report: RunReport, baseline: Baseline, update: bool, scrubber: Scrubber, err: TextIO) -> RunReport:
    """``report`` through the baseline, after writing the baseline file when asked."""
    if update and (report.error or report.crash):
        # A run cut short did not see every accepted finding, and one a bug ended did not
        # either: rewriting would drop them from the file the team commits.
        why = "the harness failed (exit 4)" if report.crash else f"the run was cut short ({report.error})"
        say(err, scrubber, f"dcs-contract: {baseline.path} not updated: {why}")
    elif update:
        baseline = baseline.updated(report.findings, scrubber=scrubber)
        baseline.write(scrubber=scrubber)
        say(err, scrubber, f"dcs-contract: wrote {len(baseline.entries)} accepted findings to {baseline.path}")
    return baseline.apply(report, scrubber=scrubber)


def with_crash(report: RunReport, crash: str) -> RunReport:
    """``report`` with one more failure of the harness: the first is kept, each says where it happened."""
    return replace(report, crash="\n\n".join(text for text in (report.crash, crash) if text))


DEFAULT_RECORDING = "traffic.har"  # in --report-dir
