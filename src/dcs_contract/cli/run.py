"""``dcs-contract run``: every setting checked before anything is sent, then the run, then its outputs."""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hypothesis.configuration import set_hypothesis_home_dir

from dcs_contract.cli.common import (
    check_outputs,
    check_pushgateway,
    history_secrets,
    mock_options_of,
    network_for,
    resolved_args,
    secrets_in,
    terminal,
    verbosity_of,
    with_source,
)
from dcs_contract.cli.outputs import DEFAULT_RECORDING, TLS_UNVERIFIED, Metrics, Outputs, finish, with_crash
from dcs_contract.cli.signals import StopOnSignals
from dcs_contract.cli.summary import Progress, Verbosity
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.invariants import Invariants
from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.engine.drawing import shared_helper
from dcs_contract.engine.plan import BudgetPlan
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.selection import CheckSelection
from dcs_contract.engine.suite import embedded_mock, run_contract
from dcs_contract.errors import ConfigError, RunStopped, SpecError
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.history import History
from dcs_contract.results.report import (
    RequestCounts,
    RunReport,
    TargetInfo,
    utc_now,
)
from dcs_contract.settings import config
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.user_cache import user_cache_dir


@dataclass(frozen=True)
class RunPlan:
    """A run whose every setting was checked: nothing is sent before all of it is known to be good."""

    spec: Spec
    target: Target
    settings: RunSettings
    mock_options: dict[str, Any]
    recording: Path | None
    baseline: Baseline | None
    # The flags, with the configuration file's settings in place of those not given.
    args: argparse.Namespace


def hypothesis_cache(env: Mapping[str, str]) -> Path:
    """Where hypothesis keeps its own caches during a run: per user, never among the reports.

    They are Unicode tables and the constants of the code it runs, nothing of the target (the
    run keeps no example database). Rebuilt in a fresh directory per run, they cost each run
    more than a second and more than doubled its peak memory (benchmarks/bench.py), so they
    are kept; but never in the directory the run was started from, nor among the reports.
    """
    return user_cache_dir(env) / "hypothesis"


def run_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    stop = StopOnSignals()
    with stop.installed():
        return _run_until_stopped(args, env, out, err, stop)


def _run_until_stopped(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO, stop: StopOnSignals
) -> int:
    """Exit 2 (a ConfigError or SpecError raised) before anything is sent; after that, always the reports."""
    started = utc_now()
    try:
        plan = _plan(args, env)
    except (ConfigError, SpecError, OSError):
        raise
    except Exception:
        # A bug in checking the settings: nothing was sent, but it is a bug, and the reports say so.
        report = unsent(
            TargetInfo(), args.seed, started, crash=f"while checking the settings:\n{traceback.format_exc()}"
        )
        report_dir = args.report_dir or Path(config.KEYS["report_dir"].built_in)
        secrets = [*secrets_in(env), *history_secrets(getattr(args, "history", None))]
        outputs = Outputs(report_dir, Scrubber(secrets), **terminal(args, out, env))
        return finish(report, outputs, out, err)
    if plan.settings.draw_ahead:
        # Started now, so that its imports overlap the mock's start and the probe plan's requests.
        shared_helper()
    set_hypothesis_home_dir(hypothesis_cache(env))
    try:
        report, secrets = _send(plan, stop, err)
    finally:
        set_hypothesis_home_dir(None)
    args = plan.args
    outputs = Outputs(
        report_dir=args.report_dir,
        scrubber=Scrubber([*secrets, *history_secrets(args.history)]),
        recording=plan.recording,
        baseline=plan.baseline,
        update_baseline=args.baseline_update,
        history=args.history,
        mock=plan.target.is_mock,
        step_summary=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
        metrics=Metrics(args.metrics_file, args.pushgateway, private_ids=bool(args.private_ids)),
        **terminal(args, out, env),
    )
    return finish(report, outputs, out, err)


def _plan(args: argparse.Namespace, env: Mapping[str, str]) -> RunPlan:
    """Every setting of ``run``, checked: a ConfigError or SpecError (exit 2) names the first that is wrong."""
    args, resolved = resolved_args(args, env)
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
        network = network_for(resolved, env, embedded=target.is_mock)
        settings = RunSettings.for_target(
            target, **resolved.run_overrides(), record_traffic=bool(args.record), network=network
        )
        # The names of --checks and --exclude-checks against the registries: an unknown one lists them.
        CheckSelection.of(spec, checks=settings.checks, exclude=settings.exclude_checks)
        if args.pushgateway is not None:
            check_pushgateway(args.pushgateway)
    except ConfigError as exc:
        raise with_source(exc, resolved) from None
    # The budget against the probe plan, before anything is sent: a budget that cannot send it
    # whole cannot test the contract, and the message names the smallest that can.
    BudgetPlan.of(
        spec, target, max_requests=settings.max_requests, properties=list(PROPERTIES.values()), confirm=settings.confirm
    ).check()
    mock_options = mock_options_of(args)
    # Any --mock-* flag given, beyond the defaults mock_options always fills in.
    if not target.is_mock and (len(mock_options) > 1 or mock_options["drifts"]):
        raise ConfigError("--mock-* flags apply to the embedded mock only; unset DCS_BASE_URL/DCS_REGION to use it")
    if args.baseline_update and args.baseline is None:
        raise ConfigError("--baseline-update needs --baseline FILE: the file to write")
    # Read the baseline and check every output before sending anything: a broken file or an
    # unwritable path is a usage error, not a run whose results are then lost.
    # true (a bare --record): the report directory's traffic.har; false: none.
    recording = args.report_dir / DEFAULT_RECORDING if args.record is True else (args.record or None)
    outputs = [(recording, f"--record={str(recording)!r}")] if recording is not None else []
    if args.metrics_file is not None:
        outputs.append((args.metrics_file, f"--metrics-file={str(args.metrics_file)!r}"))
    if args.baseline_update:
        outputs.append((args.baseline, f"--baseline={str(args.baseline)!r}"))
    check_outputs(args.report_dir, outputs)
    baseline = Baseline.load(args.baseline, missing_ok=args.baseline_update) if args.baseline else None
    if args.history is not None:
        # Opened (and created, or upgraded) now: a file that is not a history is refused before the run.
        History.open(args.history).close()
    return RunPlan(spec, target, settings, mock_options, recording, baseline, args)


def unsent(
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


def _send(plan: RunPlan, stop: StopOnSignals, err: TextIO) -> tuple[RunReport, list[str]]:
    """The run's report, and the secrets its outputs must not show. Never raises: a bug is in the report."""
    started = utc_now()
    target, secrets = plan.target, [*plan.target.credentials.secrets(), *plan.settings.network.secrets()]
    quiet = verbosity_of(plan.args) is Verbosity.QUIET
    progress = Progress(err, quiet=quiet)
    report: RunReport | None = None

    def accepted(secrets: list[str]) -> Callable[[Finding], bool]:
        # --fail-fast does not stop at a finding the baseline accepts, matched as finish will match it.
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
            report = unsent(target.describe(), plan.settings.seed, started, error=error)
    except Exception:
        crash = f"{stage}:\n{traceback.format_exc()}"
        if report is None:
            report = unsent(target.describe(), plan.settings.seed, started, crash=crash)
        else:
            report = with_crash(report, crash)
    finally:
        progress.close()
    return report, secrets
