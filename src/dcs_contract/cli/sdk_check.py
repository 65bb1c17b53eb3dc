"""``dcs-contract sdk-check``: the spec against the official SDK's model of the endpoint."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TextIO

from dcs_contract.cli.basics import EXIT_BY_VERDICT, SDK_REPORT_DIR
from dcs_contract.cli.common import check_outputs
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.sdk import compare_with_sdk
from dcs_contract.contract.spec import load_spec
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from dcs_contract.results.report import RunReport, utc_now, write_reports

__all__ = ["sdk_check_command"]


def sdk_check_command(args: argparse.Namespace, out: TextIO) -> int:
    args.report_dir = args.report_dir or SDK_REPORT_DIR
    check_outputs(args.report_dir, [])
    baseline = Baseline.load(args.baseline) if args.baseline else None
    started = utc_now()
    spec = load_spec(args.spec)
    comparison = compare_with_sdk(spec)
    report = comparison.report(started=started, finished=utc_now())
    # As a run's: every finding names the consumers it breaks (an SDK difference, the SDK's users).
    consumers = Consumers.of(spec)
    report = replace(report, findings=consumers.annotate(report.findings), accepted=consumers.annotate(report.accepted))
    if baseline is not None:
        report = _with_baseline(report, baseline)
    paths = write_reports(report, args.report_dir, scrubber=Scrubber())
    out.write(f"dcs-contract sdk-check: {report.verdict.upper()} against {comparison.sdk}\n")
    out.write(f"  compared  {comparison.compared} parameter and field names and types\n")
    for finding in [*comparison.findings, *comparison.accepted]:
        accepted = "accepted " if finding in comparison.accepted else ""
        out.write(f"  {accepted}[sdk] {finding.location}: {finding.expected}; {finding.actual}\n")
    out.write(f"  reports   {', '.join(str(p) for p in paths)}\n")
    return EXIT_BY_VERDICT[report.verdict]


def _with_baseline(report: RunReport, baseline: Baseline) -> RunReport:
    """The SDK's differences the team's baseline accepts, beside those the spec's x-sdk accepts.

    A report's findings are accepted by one list: when the spec already accepts some, the
    baseline is named in words beside it.
    """
    judgement = baseline.judge(report.findings, scrubber=Scrubber())
    accepted = [*report.accepted, *judgement.accepted]
    if not report.accepted:
        return baseline.apply(report, scrubber=Scrubber())
    return replace(
        report,
        findings=judgement.new,
        accepted=accepted,
        resolved=judgement.resolved,
        accepted_by=f"{report.accepted_by}, and the baseline {baseline.path}",
    )
