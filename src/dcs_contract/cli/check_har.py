"""``dcs-contract check-har``: recorded traffic judged against the spec, nothing sent."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from typing import TextIO

from dcs_contract.cli.basics import EXIT_BY_VERDICT, HAR_REPORT_DIR
from dcs_contract.cli.common import check_outputs, say, secrets_in, terminal
from dcs_contract.cli.summary import Verbosity, summary
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.spec import load_spec
from dcs_contract.har.check import check_har
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.report import write_reports

__all__ = ["check_har_command"]


def check_har_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """Recorded traffic against the spec: the same reports, summary and exit codes as a run, nothing sent."""
    args.report_dir = args.report_dir or HAR_REPORT_DIR
    check_outputs(args.report_dir, [])
    baseline = Baseline.load(args.baseline) if args.baseline else None
    spec = load_spec(args.spec)
    empty = args.empty_instance_id or env.get("DCS_EMPTY_INSTANCE_ID") or None
    options = {} if args.max_body is None else {"max_body": args.max_body}
    report = check_har(spec, args.files, empty_instance_id=empty, **options)
    report = replace(report, findings=Consumers.of(spec).annotate(report.findings))
    scrubber = Scrubber(secrets_in(env))
    if baseline is not None:
        # The same fingerprints as a run's: a finding the team accepted in a run is accepted here too.
        report = baseline.apply(report, scrubber=scrubber)
    paths = write_reports(report, args.report_dir, scrubber=scrubber)
    shown = terminal(args, out, env)
    say(out, scrubber, summary(report.scrubbed(scrubber), **shown))
    if shown["verbosity"] is not Verbosity.QUIET:
        say(out, scrubber, f"  reports   {', '.join(str(path) for path in paths)}")
    return EXIT_BY_VERDICT[report.verdict]
