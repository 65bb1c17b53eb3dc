"""The ``dcs-contract`` command: ``run`` the contract suite, render the ``docs``, or serve the ``mock``.

Exit codes:

- 0: the target conforms;
- 1: contract violations (also when the run was cut short after finding some);
- 2: a usage or configuration error, found before anything is sent: one line on stderr
  names the variable or flag;
- 3: the target could not be tested (unreachable, credentials refused, retries used up, the
  budget spent before the probe plan was sent whole, or the run stopped by SIGTERM/SIGINT
  before it found anything). A run whose probe plan was sent exits on its verdict, even when
  retries ate into its exploration;
- 4: the harness failed, not the target: a bug, or an output it could not write after it
  sent requests (a full disk). The reports are still written, with verdict ``error`` and the
  traceback, which is also printed on stderr; when they cannot be written, stderr says so.

SIGTERM (a CI job timeout, ``docker stop``) stops a run as Ctrl-C does: nothing more is
sent, the reports of what was found so far are written, and the exit code is that verdict's.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO, TypeVar

from dcs_contract.cli import triage
from dcs_contract.cli.flags import add_flags, converter
from dcs_contract.cli.summary import Progress, Style, Verbosity, summary
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.invariants import Invariants
from dcs_contract.contract.sdk import compare_with_sdk
from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.docs import build_docs
from dcs_contract.docs.model import read_report
from dcs_contract.engine.plan import BudgetPlan
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.suite import embedded_mock, run_contract
from dcs_contract.errors import ConfigError, RunStopped, SpecError
from dcs_contract.har.check import check_har
from dcs_contract.har.record import write_har
from dcs_contract.mock import DEFAULT_RECORD_COUNT, FaultPlan, MockServer, MockState, create_app
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.history import History
from dcs_contract.results.report import (
    RequestCounts,
    RunReport,
    TargetInfo,
    harness_version,
    markdown_of,
    utc_now,
    write_reports,
)
from dcs_contract.settings import config
from dcs_contract.settings.table import BOUNDS, OPTIONS
from dcs_contract.settings.target import RunSettings, Target, check_id, check_output_dir, check_output_file
from dcs_contract.transport.guard import GuardedTransport
from dcs_contract.transport.network import Network, proxy_secrets_in
from dcs_contract.transport.signing import AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE, Credentials

__all__ = ["build_parser", "main"]

EXIT_CONFORMS, EXIT_VIOLATIONS, EXIT_CONFIG, EXIT_UNTESTABLE, EXIT_ERROR = 0, 1, 2, 3, 4
_EXIT_BY_VERDICT = {
    "conforms": EXIT_CONFORMS,
    "violations": EXIT_VIOLATIONS,
    "untestable": EXIT_UNTESTABLE,
    "error": EXIT_ERROR,
}
_REPORT_FILES = ("report.json", "report.md", "junit.xml")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _secrets_in(env: Mapping[str, str]) -> list[str]:
    """Every secret the environment holds: the credentials, and the passwords of its proxy URLs."""
    return [*Credentials.secrets_in(env), *proxy_secrets_in(env)]


def _one_line(text: str) -> str:
    """A message as one line: a value echoed in it cannot add lines or control characters."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, control characters escaped: argv is echoed back in them."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {_one_line(message)} (see {self.prog} --help)\n")


_integer = converter(int, "an integer")


_DEFAULT_RECORDING = "traffic.har"  # in --report-dir


_DRIFT_HELP = f"break the contract on purpose, for self-tests (repeatable): {', '.join(sorted(DRIFTS))}"
# What the settings table cannot say of the embedded mock without importing it.
_MOCK_HELPS = {
    "mock_drift": f": {', '.join(sorted(DRIFTS))}",
    "mock_faults": f": {FaultPlan().describe()}",
    "mock_records": f" (default {DEFAULT_RECORD_COUNT})",
}
# check-har and sdk-check write their reports apart from a run's, by default.
_HAR_REPORT_DIR, _SDK_REPORT_DIR = Path("dcs-contract-har-report"), Path("dcs-contract-sdk-report")
_FAULTS_HELP = f"behave like a busy gateway: {FaultPlan().describe()}"
_RECORDS_HELP = f"backups of the instance (default {DEFAULT_RECORD_COUNT})"


def _config_flags(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("configuration file (flag > env > profile > file defaults > built-in)")
    group.add_argument(
        "--config", type=Path, metavar="FILE", help="a dcs-contract.toml, or a pyproject.toml with [tool.dcs-contract]"
    )
    group.add_argument("--profile", metavar="NAME", help="a [profiles.NAME] table of the file [DCS_PROFILE]")


def _output_flags(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("output")
    amount = group.add_mutually_exclusive_group()
    amount.add_argument(
        "-v", "--verbose", action="store_true", help="also list what each check and invariant judged, and why not"
    )
    amount.add_argument("-q", "--quiet", action="store_true", help="print the verdict line only")
    group.add_argument("--no-color", action="store_true", help="no colour on a terminal [NO_COLOR]")


def _verbosity(args: argparse.Namespace) -> Verbosity:
    if getattr(args, "quiet", False):
        return Verbosity.QUIET
    return Verbosity.VERBOSE if getattr(args, "verbose", False) else Verbosity.NORMAL


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dcs-contract", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {harness_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="run the contract suite (default target: the embedded mock)",
        epilog="exit codes: 0 conforms, 1 contract violations, 2 usage or configuration error, "
        "3 the target could not be tested, 4 a bug in the harness (reports written, verdict error)",
    )
    add_flags(run, "run", helps=_MOCK_HELPS)
    _config_flags(run)
    _output_flags(run)

    docs = commands.add_parser("docs", help="render the spec, and what targets last did, as a page")
    docs.add_argument("--out", type=Path, required=True, help="the directory for index.html and index.md")
    docs.add_argument(
        "--report",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="report.json of a run, for the conformance panel (several: one panel each)",
    )
    add_flags(docs, "docs", helps={"history": "; the page gets a timeline of each target's runs"})

    diff = commands.add_parser(
        "diff",
        help="what changed between two runs: findings, observed values, the spec",
        epilog="exit codes: 0 nothing new, 1 something new appeared, 2 usage error",
    )
    diff.add_argument("old", metavar="OLD", help="a report.json, or with --history a run id, last or previous")
    diff.add_argument("new", metavar="NEW", help="a report.json, or with --history a run id, last or previous")
    add_flags(diff, "diff", helps={"history": "; OLD and NEW are runs of it"})
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="default: text")
    diff.add_argument("--out", type=Path, help="write the diff to this file instead of stdout")

    history = commands.add_parser("history", help="the runs of a run history, and each finding's first and last run")
    add_flags(history, "history", helps={"history": " (required)"})
    history.add_argument("--last", type=_integer, metavar="N", help="only the last N runs (findings: over the last N)")

    replay = commands.add_parser(
        "replay",
        help="send a report's findings again to the report's target (or the one configured), and say which are fixed",
        epilog="exit codes: 0 every finding fixed, 1 one still fails, 2 usage error, 3 the target could not be tested",
    )
    replay.add_argument("report", type=Path, metavar="REPORT", help="a report.json")
    replay.add_argument("--finding", metavar="FINGERPRINT", help="only this finding (a prefix is enough)")
    _config_flags(replay)
    replay.add_argument(
        "--mock",
        action="store_true",
        help="replay against the embedded mock, whatever the report's target (a live report is never replayed "
        "against the mock otherwise)",
    )
    add_flags(replay, "replay", helps=_MOCK_HELPS)

    har = commands.add_parser(
        "check-har",
        help="check recorded traffic (HAR files) against the spec, sending nothing",
        epilog="exit codes: 0 conforms, 1 contract violations, 2 a broken HAR or usage error, "
        "3 no exchange of the endpoint in the recordings",
    )
    har.add_argument(
        "files", type=Path, nargs="+", metavar="FILE", help="HAR files: --record's, a browser's, a gateway's"
    )
    add_flags(har, "check-har", defaults={"report_dir": str(_HAR_REPORT_DIR)})
    _output_flags(har)

    config = commands.add_parser("config", help="the settings a run would use, and where each comes from (redacted)")
    config.add_argument("action", choices=("show",), help="show: print the resolved settings")
    _config_flags(config)

    sdk = commands.add_parser("sdk-check", help="compare the spec with the official SDK's models")
    add_flags(sdk, "sdk-check", defaults={"report_dir": str(_SDK_REPORT_DIR)})

    mock = commands.add_parser("mock", help="serve the embedded mock for development")
    mock.add_argument("--port", type=_integer, default=8080, help="port on 127.0.0.1 (default 8080, 0: any free)")
    mock.add_argument("--project-id", help="the project id to serve (default: generated)")
    mock.add_argument("--instance-id", help="the instance id with backups (default: generated)")
    mock.add_argument("--records", type=_integer, default=DEFAULT_RECORD_COUNT, help=_RECORDS_HELP)
    mock.add_argument("--drift", action="append", default=[], metavar="NAME", help=_DRIFT_HELP)
    mock.add_argument("--faults", action="store_true", help=_FAULTS_HELP)
    return parser


def _check_drifts(flag: str, names: list[str]) -> None:
    unknown = [name for name in names if name not in DRIFTS]
    if unknown:
        raise ConfigError(f"{flag}={unknown[0]!r} is not a drift switch; known: {', '.join(sorted(DRIFTS))}")


def _mock_options(args: argparse.Namespace) -> dict[str, Any]:
    """The embedded mock's options from the --mock-* flags, each within its bound."""
    drifts = args.mock_drift or []
    _check_drifts("--mock-drift", drifts)
    options: dict[str, Any] = {"drifts": tuple(drifts)}
    if args.mock_faults:
        options["faults"] = FaultPlan()
    # The mock's keyword for each flag that takes a number.
    for name, keyword in (("mock_records", "records"), ("mock_data_seed", "seed"), ("mock_drift_every", "drift_every")):
        value = getattr(args, name)
        if value is not None:
            OPTIONS[name].check(value)
            options[keyword] = value
    return options


def _check_outputs(report_dir: Path, files: list[tuple[Path, str]]) -> None:
    """Every file a command will write, checked before anything is sent, and no two the same.

    ``files``: (path, the setting it comes from, with its value).
    """
    check_output_dir(report_dir, f"--report-dir={str(report_dir)!r}")
    written: dict[str, str] = {}
    for path, setting in [(report_dir / name, f"--report-dir={str(report_dir)!r}") for name in _REPORT_FILES] + files:
        check_output_file(path, setting)
        key = os.path.normcase(os.path.abspath(path))
        if key in written:
            raise ConfigError(f"{setting}: {path} is written as {written[key]} too: give each output its own file")
        written[key] = f"{path.name} of {setting}"


# The frame of one request through the guarded transport: the only place a signal raises.
_SENDING = GuardedTransport.handle_request.__code__


def _sending(frame: FrameType | None) -> bool:
    """Whether ``frame``, or a frame that called it, is the guarded transport handling a request."""
    while frame is not None:
        if frame.f_code is _SENDING:
            return True
        frame = frame.f_back
    return False


class _StopOnSignals:
    """SIGTERM and SIGINT stop a run while it sends; later, they wait.

    A CI job timeout, ``docker stop`` and a cancelled pipeline send SIGTERM: the reports of what
    was found so far must still be written. Once the run has stopped, a second signal does not
    cut the writing of those reports short.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._raising = False

    def stop_signal(self) -> str | None:
        """The signal received, if any: the guard checks it before each attempt."""
        return self.received

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received = self.received or name
        # Raised only while a request waits on the target (a socket, a rate-limit or retry
        # sleep), where nothing else would stop it soon: run_contract catches it there. Anywhere
        # else the guard stops the run before its next attempt; raised there, it could escape
        # run_contract after its properties ended (closing the client, building the report) and
        # take what they found with it.
        if self._raising and _sending(frame):
            self._raising = False
            raise RunStopped(name)

    @contextmanager
    def installed(self) -> Iterator[_StopOnSignals]:
        # Python lets only the main thread set signal handlers (and only it receives them).
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, self._handle) for signum in _STOP_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Signals may raise while in this block.

        One received before it does not raise: the guard refuses the run's first attempt, and
        the run reports that it was stopped before it sent anything.
        """
        self._raising = True
        try:
            yield
        finally:
            self._raising = False


@dataclass(frozen=True)
class _Outputs:
    """What a run writes once it has ended, and the scrubber it writes through."""

    report_dir: Path
    scrubber: Scrubber
    recording: Path | None = None
    baseline: Baseline | None = None
    update_baseline: bool = False
    history: Path | None = None
    # The run was against the embedded mock: the history names it so, whatever its port.
    mock: bool = False
    # GITHUB_STEP_SUMMARY: the CI's job summary, which the run appends its Markdown to.
    step_summary: Path | None = None
    verbosity: Verbosity = Verbosity.NORMAL
    style: Style = field(default_factory=Style)
    # Seconds for writing all of the above once the last request is answered (WRITE_DEADLINE).
    deadline: float | None = None


@dataclass(frozen=True)
class _Plan:
    """A run whose every setting was checked: nothing is sent before all of it is known to be good."""

    spec: Spec
    target: Target
    settings: RunSettings
    mock_options: dict[str, Any]
    recording: Path | None
    baseline: Baseline | None
    # The flags, with the configuration file's settings in place of those not given.
    args: argparse.Namespace


def _run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    stop = _StopOnSignals()
    with stop.installed():
        return _run_until_stopped(args, env, out, err, stop)


def _run_until_stopped(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO, stop: _StopOnSignals
) -> int:
    """Exit 2 (a ConfigError or SpecError raised) before anything is sent; after that, always the reports."""
    started = utc_now()
    try:
        plan = _plan(args, env)
    except (ConfigError, SpecError, OSError):
        raise
    except Exception:
        # A bug in checking the settings: nothing was sent, but it is a bug, and the reports say so.
        report = _unsent(
            TargetInfo(), args.seed, started, crash=f"while checking the settings:\n{traceback.format_exc()}"
        )
        report_dir = args.report_dir or Path(config.KEYS["report_dir"].built_in)
        outputs = _Outputs(report_dir, Scrubber(_secrets_in(env)), **_terminal(args, out, env))
        return _finish(report, outputs, out, err)
    report, secrets = _send(plan, stop, err)
    args = plan.args
    outputs = _Outputs(
        report_dir=args.report_dir,
        scrubber=Scrubber(secrets),
        recording=plan.recording,
        baseline=plan.baseline,
        update_baseline=args.baseline_update,
        history=args.history,
        mock=plan.target.is_mock,
        step_summary=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
        **_terminal(args, out, env),
    )
    return _finish(report, outputs, out, err)


def _terminal(args: argparse.Namespace, out: TextIO, env: Mapping[str, str]) -> dict[str, Any]:
    """How much the summary says (-v, -q) and whether it is coloured (a TTY, NO_COLOR, --no-color)."""
    return {"verbosity": _verbosity(args), "style": Style.for_stream(out, env, no_color=args.no_color)}


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave as flags (None: not given), keyed as the configuration file keys them."""
    return {key: getattr(args, key, None) for key in config.KEYS}


def _resolved(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[argparse.Namespace, config.Resolved]:
    """``args`` with every setting resolved: flag > env > profile > file defaults > built-in."""
    resolved = config.resolve(_given(args), env, cwd=Path.cwd(), config=args.config, profile=args.profile)
    values = {key: resolved.value(key) for key in config.KEYS if hasattr(args, key)}
    if "fail_fast" in values:
        values["fail_fast"] = bool(values["fail_fast"])
    return argparse.Namespace(**{**vars(args), **values}), resolved


def _with_source(exc: ConfigError, resolved: config.Resolved) -> ConfigError:
    """``exc``, saying the file and key that set the value at fault when no flag or variable did."""
    for key, setting in resolved.items():
        named = exc.setting is not None and exc.setting.split("/")[-1] == config.KEYS[key].flag
        if named and not setting.source.startswith(("flag", "env", "built-in")):
            return ConfigError(f"{exc} (set by {key} in the {setting.source})", setting=exc.setting)
    return exc


def _network(resolved: config.Resolved, env: Mapping[str, str], *, embedded: bool) -> Network:
    """How the target is reached. The embedded mock is on loopback: directly, whatever the environment's proxies."""
    if not embedded:
        return resolved.network(env)
    given = [config.KEYS[key].flag for key in config.NETWORK_KEYS if resolved[key].source.startswith("flag")]
    if given:
        raise ConfigError(f"{given[0]} applies to a live target only: the embedded mock is served on loopback")
    return Network.direct()


def _plan(args: argparse.Namespace, env: Mapping[str, str]) -> _Plan:
    """Every setting of ``run``, checked: a ConfigError or SpecError (exit 2) names the first that is wrong."""
    args, resolved = _resolved(args, env)
    spec = load_spec(args.spec)
    # The spec's x-invariants against the implemented ones: a --spec that names others is refused
    # here, not by a run that then crashes on it.
    try:
        Invariants(spec)
    except SpecError as exc:
        raise SpecError(f"{spec.path}: {exc}") from None
    # And its x-consumers, which every finding is matched against when the run reports.
    Consumers.of(spec)
    try:
        target = resolved.target(env)
        network = _network(resolved, env, embedded=target.is_mock)
        settings = RunSettings.for_target(
            target, **resolved.run_overrides(), record_traffic=bool(args.record), network=network
        )
    except ConfigError as exc:
        raise _with_source(exc, resolved) from None
    # The budget against the probe plan, before anything is sent: a budget that cannot send it
    # whole cannot test the contract, and the message names the smallest that can.
    BudgetPlan.of(
        spec, target, max_requests=settings.max_requests, properties=list(PROPERTIES.values()), confirm=settings.confirm
    ).check()
    mock_options = _mock_options(args)
    # Any --mock-* flag given, beyond the defaults _mock_options always fills in.
    if not target.is_mock and (len(mock_options) > 1 or mock_options["drifts"]):
        raise ConfigError("--mock-* flags apply to the embedded mock only; unset DCS_BASE_URL/DCS_REGION to use it")
    if args.baseline_update and args.baseline is None:
        raise ConfigError("--baseline-update needs --baseline FILE: the file to write")
    # Read the baseline and check every output before sending anything: a broken file or an
    # unwritable path is a usage error, not a run whose results are then lost.
    # true (a bare --record): the report directory's traffic.har; false: none.
    recording = args.report_dir / _DEFAULT_RECORDING if args.record is True else (args.record or None)
    outputs = [(recording, f"--record={str(recording)!r}")] if recording is not None else []
    if args.baseline_update:
        outputs.append((args.baseline, f"--baseline={str(args.baseline)!r}"))
    _check_outputs(args.report_dir, outputs)
    baseline = Baseline.load(args.baseline, missing_ok=args.baseline_update) if args.baseline else None
    if args.history is not None:
        # Opened (and created, or upgraded) now: a file that is not a history is refused before the run.
        History.open(args.history).close()
    return _Plan(spec, target, settings, mock_options, recording, baseline, args)


def _unsent(
    target: TargetInfo, seed: int | None, started: str, *, error: str | None = None, crash: str | None = None
) -> RunReport:
    """The report of a run that ended before it learned anything: ``crash``, a bug; ``error``, a stop."""
    return RunReport(
        target=target,
        started=started,
        finished=utc_now(),
        seed=seed,
        cases={},
        requests=RequestCounts(),
        findings=[],
        error=error,
        crash=crash,
    )


def _with_crash(report: RunReport, crash: str) -> RunReport:
    """``report`` with one more failure of the harness: the first is kept, each says where it happened."""
    return replace(report, crash="\n\n".join(text for text in (report.crash, crash) if text))


def _send(plan: _Plan, stop: _StopOnSignals, err: TextIO) -> tuple[RunReport, list[str]]:
    """The run's report, and the secrets its outputs must not show. Never raises: a bug is in the report."""
    started = utc_now()
    target, secrets = plan.target, [*plan.target.credentials.secrets(), *plan.settings.network.secrets()]
    quiet = _verbosity(plan.args) is Verbosity.QUIET
    progress = Progress(err, quiet=quiet)
    report: RunReport | None = None

    def accepted(secrets: list[str]) -> Callable[[Finding], bool]:
        # --fail-fast does not stop at a finding the baseline accepts, matched as _finish will match it.
        if plan.baseline is None:
            return lambda finding: False
        baseline, scrubber = plan.baseline, Scrubber(secrets)
        return lambda finding: baseline.accepts(finding, scrubber=scrubber)

    def contract(against: Target, secrets: list[str]) -> RunReport:
        with stop.sending():
            return run_contract(
                plan.spec,
                against,
                plan.settings,
                progress=progress,
                stopped=stop.stop_signal,
                accepted=accepted(secrets),
            )

    stage = "starting the run"
    try:
        if target.is_mock:
            if not quiet:
                err.write("dcs-contract: no target configured, starting the embedded mock\n")
            stage = "starting the embedded mock"
            with embedded_mock(plan.spec, target, **plan.mock_options) as (mock_target, _state):
                secrets = mock_target.credentials.secrets()
                stage = "the run, outside its properties"
                report = contract(mock_target, secrets)
                stage = "stopping the embedded mock"
        else:
            say = Scrubber(secrets).text
            if not quiet:
                err.write(say(f"dcs-contract: testing {target.base_url} with {target.credentials.describe()}") + "\n")
            if plan.settings.network.tls_verify is False:
                err.write(say(f"dcs-contract: warning: {TLS_UNVERIFIED}") + "\n")
            stage = "the run, outside its properties"
            report = contract(target, secrets)
    except RunStopped as exc:
        # Raised only inside a request, where run_contract catches it: this is for one that escapes.
        if report is None:
            error = f"{exc} before the run could report what it found"
            report = _unsent(target.describe(), plan.settings.seed, started, error=error)
    except Exception:
        crash = f"{stage}:\n{traceback.format_exc()}"
        if report is None:
            report = _unsent(target.describe(), plan.settings.seed, started, crash=crash)
        else:
            report = _with_crash(report, crash)
    finally:
        progress.close()
    return report, secrets


_T = TypeVar("_T")


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


def _finish(report: RunReport, outputs: _Outputs, out: TextIO, err: TextIO) -> int:
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
            failures.append(f"{what} failed: {_reason(exc)}\n{traceback.format_exc()}")
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
            f"appending to the history {history}",
            lambda: triage.record(history, report.scrubbed(scrubber), mock=outputs.mock),
        )
    if outputs.step_summary is not None:
        step_summary, history_file = outputs.step_summary, outputs.history
        attempt(
            f"the CI's job summary {step_summary}",
            lambda: triage.step_summary(
                step_summary,
                markdown_of(report, scrubber=scrubber),
                triage.previous_diff(history_file, run_id) if history_file and run_id else None,
            ),
        )
    for failure in failures:
        report = _with_crash(report, failure)
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
        unwritten = _reason(exc) if isinstance(exc, OSError) else f"{_reason(exc)}\n{traceback.format_exc()}"
    if report.crash:
        _say(err, scrubber, f"dcs-contract: the harness failed (a failure of dcs-contract, not drift):\n{report.crash}")
    if unwritten is not None:
        _say(err, scrubber, f"dcs-contract: the reports could not be written to {outputs.report_dir}: {unwritten}")
        _say(err, scrubber, "dcs-contract: the summary below is all this run leaves (exit 4)")
    try:
        text = summary(report.scrubbed(scrubber), verbosity=outputs.verbosity, style=outputs.style)
    except Exception:
        text = f"\ndcs-contract: {report.verdict.upper()} (the summary failed: see the reports)"
    try:
        _say(out, scrubber, text)
        if outputs.verbosity is not Verbosity.QUIET:
            _say(out, scrubber, f"  reports   {', '.join(str(p) for p in paths) or 'none written'}")
    except (OSError, ValueError) as exc:  # a closed stdout; one that cannot encode the text
        _say(err, scrubber, f"dcs-contract: the summary could not be printed: {_reason(exc)}")
        return EXIT_ERROR
    return EXIT_ERROR if unwritten is not None else _EXIT_BY_VERDICT[report.verdict]


def _reason(exc: BaseException) -> str:
    """An exception in a few words: what failed and on which file, as an OSError gives them."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {exc}"


def _say(stream: TextIO, scrubber: Scrubber, text: str) -> None:
    stream.write(scrubber.text(text) + "\n")
    stream.flush()


def _judged(report: RunReport, baseline: Baseline, update: bool, scrubber: Scrubber, err: TextIO) -> RunReport:
    """``report`` through the baseline, after writing the baseline file when asked."""
    if update and (report.error or report.crash):
        # A run cut short did not see every accepted finding, and one a bug ended did not
        # either: rewriting would drop them from the file the team commits.
        why = "the harness failed (exit 4)" if report.crash else f"the run was cut short ({report.error})"
        _say(err, scrubber, f"dcs-contract: {baseline.path} not updated: {why}")
    elif update:
        baseline = baseline.updated(report.findings, scrubber=scrubber)
        baseline.write(scrubber=scrubber)
        _say(err, scrubber, f"dcs-contract: wrote {len(baseline.entries)} accepted findings to {baseline.path}")
    return baseline.apply(report, scrubber=scrubber)


def _mock(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> NoReturn:
    """Serve until interrupted: Ctrl-C (KeyboardInterrupt) is the only way out."""
    spec = load_spec()
    given = Credentials.from_env(env)
    _check_drifts("--drift", args.drift)
    BOUNDS["port"].check("--port", args.port)
    BOUNDS["records"].check("--records", args.records)
    for flag, value in (("--project-id", args.project_id), ("--instance-id", args.instance_id)):
        if value is not None:
            check_id(value, flag)
    state = MockState.default(
        spec,
        project_id=args.project_id,
        instance_id=args.instance_id,
        credentials=given,
        records=args.records,
        drifts=tuple(args.drift),
        faults=FaultPlan() if args.faults else None,
    )
    try:
        server = MockServer(create_app(state), port=args.port).start()
    except RuntimeError as exc:
        raise ConfigError(f"--port={args.port!r}: {exc}") from None
    out.write(f"dcs-contract mock on {server.base_url}   (Ctrl-C stops it)\n")
    if args.drift or args.faults:
        out.write(f"  drift: {', '.join(args.drift) or 'none'}; faults: {'on' if args.faults else 'off'}\n")
    out.write(f"  DCS_BASE_URL={server.base_url}\n  DCS_PROJECT_ID={state.project_id}\n")
    out.write(f"  DCS_INSTANCE_ID={state.instance_id}   ({args.records} backups)\n")
    out.write(f"  DCS_EMPTY_INSTANCE_ID={state.empty_instance_id}   (no backups)\n")
    # Credentials the user set are theirs and are not echoed; generated ones are printed to be used.
    served = state.credentials
    if given.access_key:
        out.write(f"  AK/SK: from {given.origin}\n")
    else:
        out.write(f"  {AK_VARIABLE}={served.access_key}\n  {SK_VARIABLE}={served.secret_key}\n")
    out.write(f"  token: from {TOKEN_VARIABLE}\n" if given.token else f"  {TOKEN_VARIABLE}={served.token}\n")
    out.flush()
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def _docs(args: argparse.Namespace, out: TextIO) -> int:
    where = f"--out={str(args.out)!r}"
    check_output_dir(args.out, where)
    for name in ("index.html", "index.md"):
        check_output_file(args.out / name, where)
    paths = build_docs(load_spec(args.spec), args.out, reports=args.report, history=args.history)
    out.write("".join(f"dcs-contract: wrote {path}\n" for path in paths))
    return EXIT_CONFORMS


def _replay(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    args, resolved = _resolved(args, env)
    spec = load_spec(args.spec)
    report = read_report(args.report)
    chosen = triage.replay_target(
        report.target, resolved.target(env), source=_target_source(resolved), mock=args.mock, env=env
    )
    settings = RunSettings.for_target(
        chosen.target,
        max_requests=args.max_requests,
        rate_limit=args.rate_limit,
        timeout=args.timeout,
        shrink=False,
        network=_network(resolved, env, embedded=chosen.embedded),
    )
    mock_options = _mock_options(args)
    if not chosen.embedded and (len(mock_options) > 1 or mock_options["drifts"]):
        raise ConfigError(
            f"--mock-* flags apply to the embedded mock only, and this replay goes to {chosen.why}: "
            "give --mock to use it"
        )
    if settings.network.tls_verify is False:
        sys.stderr.write(f"dcs-contract: warning: {TLS_UNVERIFIED}\n")
    code, lines, secrets = triage.replay_command(report, args.finding, spec, chosen, settings, mock_options)
    triage.say_all(out, lines, [*secrets, *_secrets_in(env)])
    return code


def _target_source(resolved: config.Resolved) -> str:
    """Which setting named the target: ``flag --base-url``, ``env DCS_REGION``, ``profile NAME in ./FILE``."""
    for key in ("base_url", "region"):
        setting = resolved[key]
        if setting.value is not None:
            return setting.source
    return "nothing"


def _check_har(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """Recorded traffic against the spec: the same reports, summary and exit codes as a run, nothing sent."""
    args.report_dir = args.report_dir or _HAR_REPORT_DIR
    _check_outputs(args.report_dir, [])
    spec = load_spec(args.spec)
    empty = args.empty_instance_id or env.get("DCS_EMPTY_INSTANCE_ID") or None
    options = {} if args.max_body is None else {"max_body": args.max_body}
    report = check_har(spec, args.files, empty_instance_id=empty, **options)
    report = replace(report, findings=Consumers.of(spec).annotate(report.findings))
    scrubber = Scrubber(_secrets_in(env))
    paths = write_reports(report, args.report_dir, scrubber=scrubber)
    terminal = _terminal(args, out, env)
    _say(out, scrubber, summary(report.scrubbed(scrubber), **terminal))
    if terminal["verbosity"] is not Verbosity.QUIET:
        _say(out, scrubber, f"  reports   {', '.join(str(path) for path in paths)}")
    return _EXIT_BY_VERDICT[report.verdict]


def _sdk_check(args: argparse.Namespace, out: TextIO) -> int:
    args.report_dir = args.report_dir or _SDK_REPORT_DIR
    _check_outputs(args.report_dir, [])
    started = utc_now()
    spec = load_spec(args.spec)
    comparison = compare_with_sdk(spec)
    report = comparison.report(started=started, finished=utc_now())
    # As a run's: every finding names the consumers it breaks (an SDK difference, the SDK's users).
    consumers = Consumers.of(spec)
    report = replace(report, findings=consumers.annotate(report.findings), accepted=consumers.annotate(report.accepted))
    paths = write_reports(report, args.report_dir, scrubber=Scrubber())
    out.write(f"dcs-contract sdk-check: {report.verdict.upper()} against {comparison.sdk}\n")
    out.write(f"  compared  {comparison.compared} parameter and field names and types\n")
    for finding in [*comparison.findings, *comparison.accepted]:
        accepted = "accepted " if finding in comparison.accepted else ""
        out.write(f"  {accepted}[sdk] {finding.location}: {finding.expected}; {finding.actual}\n")
    out.write(f"  reports   {', '.join(str(p) for p in paths)}\n")
    return _EXIT_BY_VERDICT[report.verdict]


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    environment = os.environ if env is None else env
    # Whatever reaches stderr from here may carry a configured credential (in a traceback, in a
    # value echoed back): it goes through the scrubber too.
    say = Scrubber(_secrets_in(environment)).text
    try:
        if args.command == "mock":
            _mock(args, environment, sys.stdout)
        if args.command == "docs":
            return _docs(args, sys.stdout)
        if args.command == "sdk-check":
            return _sdk_check(args, sys.stdout)
        if args.command == "diff":
            return triage.diff_command(args, sys.stdout)
        if args.command == "history":
            return triage.history_command(args, sys.stdout)
        if args.command == "replay":
            return _replay(args, environment, sys.stdout)
        if args.command == "check-har":
            return _check_har(args, environment, sys.stdout)
        if args.command == "config":
            _, resolved = _resolved(args, environment)
            sys.stdout.write(config.render(resolved, Scrubber(_secrets_in(environment))))
            return EXIT_CONFORMS
        return _run(args, environment, sys.stdout, sys.stderr)
    except (ConfigError, SpecError) as exc:
        sys.stderr.write(say(f"dcs-contract: {_one_line(str(exc))}") + "\n")
        return EXIT_CONFIG
    except OSError as exc:
        # docs and sdk-check send nothing: an output they cannot write is a usage error. A run
        # writes its own outputs, and one it cannot write after sending is exit 4 (_finish).
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(say(f"dcs-contract: cannot write{where}: {exc.strerror or exc}") + "\n")
        return EXIT_CONFIG
    except RunStopped as exc:
        # Not expected: a signal raises only inside a request of a run, which reports it itself.
        sys.stderr.write(f"dcs-contract: {exc}, before the run started\n")
        return EXIT_UNTESTABLE
    except KeyboardInterrupt:
        sys.stderr.write("dcs-contract: interrupted\n")
        return 130
    except Exception:
        sys.stderr.write(say(f"dcs-contract: the harness failed (a bug in dcs-contract):\n{traceback.format_exc()}"))
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
