"""The ``dcs-contract`` command: ``run`` the contract suite, render the ``docs``, or serve the ``mock``.

Exit codes of ``run``: 0 the target conforms, 1 contract violations, 2 usage or
configuration error, 3 the target could not be tested.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from dcs_contract.baseline import Baseline
from dcs_contract.checks import RESPONSE_CHECKS
from dcs_contract.docs import build_docs
from dcs_contract.errors import ConfigError, SpecError
from dcs_contract.invariants import INVARIANTS
from dcs_contract.mock import FaultPlan, MockCredentials, MockServer, MockState, create_app
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.recording import write_har
from dcs_contract.redaction import Scrubber
from dcs_contract.report import RunReport, utc_now, write_reports
from dcs_contract.sdk import compare_with_sdk
from dcs_contract.spec import load_spec
from dcs_contract.suite import embedded_mock, run_contract
from dcs_contract.target import RunSettings, Target

__all__ = ["build_parser", "main"]

_T = TypeVar("_T", int, float)
EXIT_CONFORMS, EXIT_VIOLATIONS, EXIT_CONFIG, EXIT_UNTESTABLE = 0, 1, 2, 3
_EXIT_BY_VERDICT = {"conforms": EXIT_CONFORMS, "violations": EXIT_VIOLATIONS, "untestable": EXIT_UNTESTABLE}


def _argument(convert: Callable[[str], _T], what: str, valid: Callable[[_T], bool], rule: str) -> Callable[[str], _T]:
    """An argparse type that converts, checks, and repeats the bad value in its error."""

    def parse(text: str) -> _T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"{value} {rule}")
        return value

    return parse


_positive_int = _argument(int, "an integer", lambda value: value >= 1, "must be at least 1")
_positive_float = _argument(float, "a number", lambda value: value > 0, "must be greater than 0")
# The mock keeps its records in memory: a generous ceiling, well past the largest page walk.
_MAX_MOCK_RECORDS = 100_000
_count = _argument(int, "an integer", lambda value: 0 <= value <= _MAX_MOCK_RECORDS, f"must be 0..{_MAX_MOCK_RECORDS}")
_port = _argument(int, "a port number", lambda value: 0 <= value <= 65535, "is not a port number (0..65535)")


_DEFAULT_RECORDING = Path("traffic.har")  # relative to --report-dir


def _drift_help() -> str:
    return f"break the contract on purpose, for self-tests (repeatable): {', '.join(sorted(DRIFTS))}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcs-contract", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the contract suite (default target: the embedded mock)")
    target = run.add_argument_group("target (each flag wins over its environment variable)")
    target.add_argument("--base-url", help="the target's base URL [DCS_BASE_URL]")
    target.add_argument("--region", help="builds https://dcs.{region}.myhuaweicloud.com [DCS_REGION]")
    target.add_argument("--project-id", help="required for a live target [DCS_PROJECT_ID]")
    target.add_argument("--instance-id", help="an instance whose backups are read [DCS_INSTANCE_ID]")
    target.add_argument("--empty-instance-id", help="an instance with no backups [DCS_EMPTY_INSTANCE_ID]")
    behaviour = run.add_argument_group("the run")
    behaviour.add_argument("--max-examples", type=_positive_int, help="cases per property (mock 200, live 100)")
    behaviour.add_argument("--seed", type=int, help="replay a run: the seed its report shows")
    behaviour.add_argument("--max-requests", type=_positive_int, help="hard cap on requests (mock 5000, live 600)")
    behaviour.add_argument("--rate-limit", type=_positive_float, help="requests per second (mock none, live 2)")
    behaviour.add_argument("--timeout", type=_positive_float, help="seconds per request (mock 10, live 15)")
    behaviour.add_argument(
        "--shrink",
        action=argparse.BooleanOptionalAction,
        help="shrink each semantic finding to its simplest requests (costs requests; mock on, live off)",
    )
    behaviour.add_argument("--report-dir", type=Path, default=Path("dcs-contract-report"), help="where reports go")
    behaviour.add_argument("--spec", type=Path, help="another spec file (default: the packaged one)")
    behaviour.add_argument(
        "--record",
        type=Path,
        nargs="?",
        const=_DEFAULT_RECORDING,
        help="write the traffic, redacted, as a HAR file (default: REPORT_DIR/traffic.har)",
    )
    accepted = run.add_argument_group("known drift")
    accepted.add_argument("--baseline", type=Path, help="accepted findings: reported, but they do not fail the run")
    accepted.add_argument(
        "--baseline-update", action="store_true", help="write this run's findings into the --baseline file"
    )
    embedded = run.add_argument_group("the embedded mock (only when no target is configured)")
    embedded.add_argument("--mock-drift", action="append", default=[], metavar="NAME", help=_drift_help())
    embedded.add_argument("--mock-faults", action="store_true", help="every 7th answer 429, every 9th 503, some slow")
    embedded.add_argument("--mock-records", type=_count, help="backups of the instance (default 137)")
    embedded.add_argument("--mock-data-seed", type=int, help="the seed of the mock's generated records")

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
    docs.add_argument("--spec", type=Path, help="another spec file (default: the packaged one)")

    sdk = commands.add_parser("sdk-check", help="compare the spec with the official SDK's models")
    sdk.add_argument("--report-dir", type=Path, default=Path("dcs-contract-sdk-report"), help="where reports go")
    sdk.add_argument("--spec", type=Path, help="another spec file (default: the packaged one)")

    mock = commands.add_parser("mock", help="serve the embedded mock for development")
    mock.add_argument("--port", type=_port, default=8080, help="port on 127.0.0.1 (default 8080, 0: any free)")
    mock.add_argument("--project-id", help="the project id to serve (default: generated)")
    mock.add_argument("--instance-id", help="the instance id with backups (default: generated)")
    mock.add_argument("--records", type=_count, default=137, help="backups of the instance (default 137)")
    mock.add_argument("--drift", action="append", default=[], metavar="NAME", help=_drift_help())
    mock.add_argument("--faults", action="store_true", help="every 7th answer 429, every 9th 503, some slow")
    return parser


class _Progress:
    """One status line per property, rewritten in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.current: str | None = None

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if self.current is not None and name != self.current and self.tty:
            self.stream.write("\n")
        self.current = name
        of = f"/{total}" if total else " requests"
        if self.tty:
            self.stream.write(f"\r  {name:<18} {done:>5}{of}")
        elif done == 1 or done % 50 == 0 or done == total:
            self.stream.write(f"  {name:<18} {done:>5}{of}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.current is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _summary(report: RunReport) -> str:
    lines = ["", f"dcs-contract: {report.verdict.upper()}"]
    lines.append(f"  target    {report.target.get('base_url')} (instance {report.target.get('instance_id')})")
    lines.append(f"  auth      {report.target.get('credentials')}")
    lines.append(f"  cases     {sum(report.cases.values())}  " + "  ".join(f"{k}={v}" for k, v in report.cases.items()))
    statuses = "  ".join(f"{k}:{v}" for k, v in sorted(report.requests.get("by_status", {}).items()))
    lines.append(f"  requests  {report.requests.get('total', 0)}  ({statuses})")
    for name, reason in report.skipped.items():
        lines.append(f"  skipped   {name}: {reason}")
    names = ", ".join(check.__name__ for check in RESPONSE_CHECKS)
    lines.append(f"  checks    on every response: {names}")
    lines.append(f"            and the spec's {len(INVARIANTS)} x-invariants (paging, window, cross-field)")
    lines.append(f"  findings  {len(report.findings)}" + (" new" if report.baseline else ""))
    for finding in report.findings:
        lines.append(
            f"    [{finding.category}] {finding.title}: {finding.location}\n"
            f"        expected {finding.expected}; got {finding.actual}"
        )
    if report.baseline:
        lines.append(f"  baseline  {report.baseline}: {len(report.accepted)} accepted, {len(report.resolved)} resolved")
        for finding in report.accepted:
            lines.append(f"    accepted [{finding.category}] {finding.title}: {finding.location}")
        for entry in report.resolved:
            lines.append(f"    resolved [{entry['category']}] {entry['location']} ({entry['check']}): no longer seen")
    if report.error:
        lines.append(f"  error     {report.error}")
    lines.append(f"  seed      {report.seed}  (replay with --seed {report.seed})")
    return "\n".join(lines)


def _check_drifts(flag: str, names: list[str]) -> None:
    unknown = [name for name in names if name not in DRIFTS]
    if unknown:
        raise ConfigError(f"{flag}={unknown[0]!r} is not a drift switch; known: {', '.join(sorted(DRIFTS))}")


def _mock_options(args: argparse.Namespace) -> dict[str, Any]:
    """The embedded mock's options from the --mock-* flags."""
    _check_drifts("--mock-drift", args.mock_drift)
    options: dict[str, Any] = {"drifts": tuple(args.mock_drift)}
    if args.mock_faults:
        options["faults"] = FaultPlan()
    if args.mock_records is not None:
        options["records"] = args.mock_records
    if args.mock_data_seed is not None:
        options["seed"] = args.mock_data_seed
    return options


def _run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    spec = load_spec(args.spec)
    target = Target.from_env(
        env,
        base_url=args.base_url,
        region=args.region,
        project_id=args.project_id,
        instance_id=args.instance_id,
        empty_instance_id=args.empty_instance_id,
    )
    settings = RunSettings.for_target(
        target,
        max_examples=args.max_examples,
        seed=args.seed,
        max_requests=args.max_requests,
        rate_limit=args.rate_limit,
        timeout=args.timeout,
        record_traffic=args.record is not None,
        shrink=args.shrink,
    )
    mock_options = _mock_options(args)
    # Any --mock-* flag given, beyond the defaults _mock_options always fills in.
    if not target.is_mock and (len(mock_options) > 1 or mock_options["drifts"]):
        raise ConfigError("--mock-* flags apply to the embedded mock only; unset DCS_BASE_URL/DCS_REGION to use it")
    if args.baseline_update and args.baseline is None:
        raise ConfigError("--baseline-update needs --baseline FILE: the file to write")
    # Read the baseline and make the output folders before sending anything: a broken file or
    # an unwritable folder is a usage error, not a run whose results are then lost.
    baseline = Baseline.load(args.baseline, missing_ok=args.baseline_update) if args.baseline else None
    recording = args.report_dir / args.record if args.record == _DEFAULT_RECORDING else args.record
    for folder in (args.report_dir, recording.parent if recording else None):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    progress = _Progress(err)
    if target.is_mock:
        err.write("dcs-contract: no target configured, starting the embedded mock\n")
        with embedded_mock(spec, target, **mock_options) as (mock_target, _state):
            report = run_contract(spec, mock_target, settings, progress=progress)
        secrets = mock_target.credentials.secrets()
    else:
        err.write(f"dcs-contract: testing {target.base_url} with {target.credentials.describe()}\n")
        report = run_contract(spec, target, settings, progress=progress)
        secrets = target.credentials.secrets()
    progress.close()
    if baseline is not None:
        if args.baseline_update and report.error:
            # A run cut short did not see every accepted finding: rewriting would drop them.
            err.write(f"dcs-contract: {baseline.path} not updated: the run was cut short ({report.error})\n")
        elif args.baseline_update:
            baseline = baseline.updated(report.findings)
            baseline.write()
            err.write(f"dcs-contract: wrote {len(baseline.entries)} accepted findings to {baseline.path}\n")
        report = baseline.apply(report)
    scrubber = Scrubber(secrets)
    paths = write_reports(report, args.report_dir, scrubber=scrubber)
    if recording is not None:
        paths.append(write_har(report.traffic, recording, scrubber=scrubber))
    out.write(scrubber.text(_summary(report.scrubbed(scrubber))) + "\n")
    out.write(f"  reports   {', '.join(str(p) for p in paths)}\n")
    return _EXIT_BY_VERDICT[report.verdict]


def _mock(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    spec = load_spec()
    ak, sk, token = env.get("CLOUD_SDK_AK"), env.get("CLOUD_SDK_SK"), env.get("DCS_AUTH_TOKEN")
    generated = MockCredentials.generate()
    credentials = MockCredentials(
        access_key=ak or generated.access_key,
        secret_key=sk or generated.secret_key,
        token=token or generated.token,
    )
    _check_drifts("--drift", args.drift)
    state = MockState.default(
        spec,
        project_id=args.project_id,
        instance_id=args.instance_id,
        credentials=credentials,
        records=args.records,
        drifts=tuple(args.drift),
        faults=FaultPlan() if args.faults else None,
    )
    server = MockServer(create_app(state), port=args.port).start()
    out.write(f"dcs-contract mock on {server.base_url}   (Ctrl-C stops it)\n")
    if args.drift or args.faults:
        out.write(f"  drift: {', '.join(args.drift) or 'none'}; faults: {'on' if args.faults else 'off'}\n")
    out.write(f"  DCS_BASE_URL={server.base_url}\n  DCS_PROJECT_ID={state.project_id}\n")
    out.write(f"  DCS_INSTANCE_ID={state.instance_id}   ({args.records} backups)\n")
    out.write(f"  DCS_EMPTY_INSTANCE_ID={state.empty_instance_id}   (no backups)\n")
    # Credentials the user set are theirs and are not echoed; generated ones are printed to be used.
    if not (ak and sk):
        out.write(f"  CLOUD_SDK_AK={credentials.access_key}\n  CLOUD_SDK_SK={credentials.secret_key}\n")
    else:
        out.write("  AK/SK: from CLOUD_SDK_AK/CLOUD_SDK_SK\n")
    out.write(f"  DCS_AUTH_TOKEN={credentials.token}\n" if not token else "  token: from DCS_AUTH_TOKEN\n")
    out.flush()
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()
    return EXIT_CONFORMS


def _docs(args: argparse.Namespace, out: TextIO) -> int:
    paths = build_docs(load_spec(args.spec), args.out, reports=args.report)
    out.write("".join(f"dcs-contract: wrote {path}\n" for path in paths))
    return EXIT_CONFORMS


def _sdk_check(args: argparse.Namespace, out: TextIO) -> int:
    started = utc_now()
    comparison = compare_with_sdk(load_spec(args.spec))
    report = RunReport(
        target={"base_url": None, "sdk": comparison.sdk, "credentials": "none: nothing is sent"},
        started=started,
        finished=utc_now(),
        seed=None,
        cases={"sdk-check": comparison.compared},
        requests={"total": 0},
        findings=comparison.findings,
        accepted=comparison.accepted,
        baseline="the spec's info.x-sdk.differences",
    )
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
    try:
        if args.command == "mock":
            return _mock(args, environment, sys.stdout)
        if args.command == "docs":
            return _docs(args, sys.stdout)
        if args.command == "sdk-check":
            return _sdk_check(args, sys.stdout)
        return _run(args, environment, sys.stdout, sys.stderr)
    except (ConfigError, SpecError) as exc:
        sys.stderr.write(f"dcs-contract: {exc}\n")
        return EXIT_CONFIG
    except OSError as exc:
        # A report directory, recording or docs folder that cannot be written: say which.
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"dcs-contract: cannot write{where}: {exc.strerror or exc}\n")
        return EXIT_CONFIG
    except KeyboardInterrupt:
        sys.stderr.write("dcs-contract: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
