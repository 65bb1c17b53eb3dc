"""The other commands: ``replay``, ``check-har``, ``sdk-check``, ``docs`` and ``mock``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import NoReturn, TextIO

from dcs_contract.cli import triage
from dcs_contract.cli.common import (
    EXIT_BY_VERDICT,
    EXIT_CONFORMS,
    HAR_REPORT_DIR,
    SDK_REPORT_DIR,
    check_drifts,
    check_outputs,
    mock_options_of,
    network_for,
    resolved_args,
    say,
    secrets_in,
    terminal,
)
from dcs_contract.cli.outputs import TLS_UNVERIFIED
from dcs_contract.cli.summary import Verbosity, summary
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.sdk import compare_with_sdk
from dcs_contract.contract.spec import load_spec
from dcs_contract.docs import build_docs
from dcs_contract.errors import ConfigError
from dcs_contract.har.check import check_har
from dcs_contract.mock import FaultPlan, MockServer, MockState, create_app
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import (
    utc_now,
    write_reports,
)
from dcs_contract.results.schema import read_report
from dcs_contract.settings import config
from dcs_contract.settings.table import BOUNDS
from dcs_contract.settings.target import RunSettings, check_id, check_output_dir, check_output_file
from dcs_contract.transport.signing import AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE, Credentials


def mock_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> NoReturn:
    """Serve until interrupted: Ctrl-C (KeyboardInterrupt) is the only way out."""
    spec = load_spec()
    given = Credentials.from_env(env)
    check_drifts("--drift", args.drift)
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


def docs_command(args: argparse.Namespace, out: TextIO) -> int:
    where = f"--out={str(args.out)!r}"
    check_output_dir(args.out, where)
    for name in ("index.html", "index.md"):
        check_output_file(args.out / name, where)
    paths = build_docs(load_spec(args.spec), args.out, reports=args.report, history=args.history)
    out.write("".join(f"dcs-contract: wrote {path}\n" for path in paths))
    return EXIT_CONFORMS


def replay_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    args, resolved = resolved_args(args, env)
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
        network=network_for(resolved, env, embedded=chosen.embedded),
    )
    mock_options = mock_options_of(args)
    if not chosen.embedded and (len(mock_options) > 1 or mock_options["drifts"]):
        raise ConfigError(
            f"--mock-* flags apply to the embedded mock only, and this replay goes to {chosen.why}: "
            "give --mock to use it"
        )
    if settings.network.tls_verify is False:
        sys.stderr.write(f"dcs-contract: warning: {TLS_UNVERIFIED}\n")
    code, lines, secrets = triage.replay_command(report, args.finding, spec, chosen, settings, mock_options)
    triage.say_all(out, lines, [*secrets, *secrets_in(env)])
    return code


def _target_source(resolved: config.Resolved) -> str:
    """Which setting named the target: ``flag --base-url``, ``env DCS_REGION``, ``profile NAME in ./FILE``."""
    for key in ("base_url", "region"):
        setting = resolved[key]
        if setting.value is not None:
            return setting.source
    return "nothing"


def check_har_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """Recorded traffic against the spec: the same reports, summary and exit codes as a run, nothing sent."""
    args.report_dir = args.report_dir or HAR_REPORT_DIR
    check_outputs(args.report_dir, [])
    spec = load_spec(args.spec)
    empty = args.empty_instance_id or env.get("DCS_EMPTY_INSTANCE_ID") or None
    options = {} if args.max_body is None else {"max_body": args.max_body}
    report = check_har(spec, args.files, empty_instance_id=empty, **options)
    report = replace(report, findings=Consumers.of(spec).annotate(report.findings))
    scrubber = Scrubber(secrets_in(env))
    paths = write_reports(report, args.report_dir, scrubber=scrubber)
    shown = terminal(args, out, env)
    say(out, scrubber, summary(report.scrubbed(scrubber), **shown))
    if shown["verbosity"] is not Verbosity.QUIET:
        say(out, scrubber, f"  reports   {', '.join(str(path) for path in paths)}")
    return EXIT_BY_VERDICT[report.verdict]


def sdk_check_command(args: argparse.Namespace, out: TextIO) -> int:
    args.report_dir = args.report_dir or SDK_REPORT_DIR
    check_outputs(args.report_dir, [])
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
    return EXIT_BY_VERDICT[report.verdict]
