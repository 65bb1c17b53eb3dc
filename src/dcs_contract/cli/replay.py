"""``dcs-contract replay REPORT [--finding FINGERPRINT]``: is yesterday's finding fixed?

Each finding's requests are sent again through the same guarded transport (GET only, budget,
rate limit, signing) to the report's own target, or to the one the settings name now (and
the summary says so), and judged again: FIXED or STILL FAILING. Exit 0 only when every
finding replayed is fixed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TextIO

from dcs_contract.cli.common import mock_options_of, network_for, resolved_args, secrets_in
from dcs_contract.cli.history import MOCK_TARGET
from dcs_contract.cli.outputs import TLS_UNVERIFIED
from dcs_contract.cli.summary import TITLE_WIDTH, plural
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.formats import printable
from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.engine.reproduce import Rebase, Reproduction, not_replayable
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.suite import guarded
from dcs_contract.errors import AuthRejected, ConfigError, RunStopped, TargetUnavailable
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RunReport, TargetInfo
from dcs_contract.results.schema import read_report
from dcs_contract.settings import config
from dcs_contract.settings.target import RunSettings, Target, check_id, check_url
from dcs_contract.transport.guard import build_client
from dcs_contract.transport.signing import Credentials

__all__ = ["ReplayTarget", "replay", "replay_command", "replay_target"]

FIXED, STILL_FAILING, CANNOT_TELL, NOT_REPLAYED = "FIXED", "STILL FAILING", "CANNOT TELL", "NOT REPLAYED"


def replay_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    args, resolved = resolved_args(args, env)
    spec = load_spec(args.spec)
    # REPORT is positional: a message names the file, not a --report flag that replay does not have.
    report = read_report(args.report, where=f"REPORT {str(args.report)!r}")
    chosen = replay_target(
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
    code, lines, secrets = replay(report, args.finding, spec, chosen, settings, mock_options)
    say_all(out, lines, [*secrets, *secrets_in(env)])
    return code


def _target_source(resolved: config.Resolved) -> str:
    """Which setting named the target: ``flag --base-url``, ``env DCS_REGION``, ``profile NAME in ./FILE``."""
    for key in ("base_url", "region"):
        setting = resolved[key]
        if setting.value is not None:
            return setting.source
    return "nothing"


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


def replay(
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
        replay = Reproduction(run, rebase, as_property="replay")
        for finding in findings:
            shown_as = (
                f"[{finding.category}] {scrubber.cut(printable(finding.title), TITLE_WIDTH)}: "
                f"{scrubber.cut(printable(finding.location), TITLE_WIDTH)}"
            )
            why = not_replayable(finding, rebase)
            if why is not None:
                # Decided before anything is sent: no request, and no part of the verdict.
                lines.append(f"  {NOT_REPLAYED:13}  {shown_as}")
                lines.append(f"                 fingerprint {finding.fingerprint}; {why}")
                continue
            try:
                shown = replay.shows(finding)
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
