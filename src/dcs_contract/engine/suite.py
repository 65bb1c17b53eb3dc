"""Running the contract suite: every registered property against one target, into one report.

    report = run_contract(spec, target, RunSettings.for_target(target))

``embedded_mock`` serves the mock on loopback for a run that has no target of its own. The
pytest face of the suite is ``tests/contract/``; ``dcs-contract run`` writes the reports.

``run_contract`` always returns a report with the findings found so far: a target that
cannot be tested, a signal (:class:`~dcs_contract.errors.RunStopped`) and a bug in the
harness (its traceback in ``RunReport.crash``) each end the run, not the report.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.contract.severity import Severity
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.plan import MIN_RESERVE, BudgetPlan
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.reproduce import NOT_CONFIRMED, NOT_REPRODUCED, REPRODUCED, Rebase, Reproduction
from dcs_contract.engine.run import ContractRun, FirstFinding, ProgressCallback, RunLog
from dcs_contract.engine.selection import CheckSelection
from dcs_contract.errors import AuthRejected, BudgetExhausted, RunStopped, TargetUnavailable
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.results.report import BudgetSummary, RunReport, utc_now
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.deadline import DeadlineTransport
from dcs_contract.transport.guard import SYSTEM_CLOCK, Clock, GuardedTransport, build_client

__all__ = ["PROPERTIES", "confirm_findings", "embedded_mock", "guarded", "run_contract"]


def _requests(count: int) -> str:
    """``1 request``, ``2 requests``: the counts of the run's messages."""
    return f"{count} request{'' if count == 1 else 's'}"


@contextmanager
def embedded_mock(spec: Spec, target: Target, **mock_options: Any) -> Iterator[tuple[Target, MockState]]:
    """Serve the embedded mock on loopback and point ``target`` at it."""
    state = MockState.default(spec, **mock_options)
    with MockServer(create_app(state)) as server:
        yield (
            target.with_mock(
                server.base_url, state.project_id, state.instance_id, state.empty_instance_id, state.credentials
            ),
            state,
        )


def _what_to_check(exc: AuthRejected, target: Target) -> str:
    hint = {
        "APIGW.0303": "the clock of this machine: the signature's X-Sdk-Date is more than 15 minutes off",
    }.get(exc.error_code or "", "that the AK/SK or the token is valid, and that it may read DCS in this project")
    return (
        f"{exc}; sent {target.credentials.describe()} for project {target.project_id}. Check {hint}. "
        "Not retried: five refused signatures in a row lock the AK for 5 minutes."
    )


def guarded(
    settings: RunSettings,
    *,
    shared: bool = False,
    stopped: Callable[[], str | None] = lambda: None,
    clock: Clock = SYSTEM_CLOCK,
) -> GuardedTransport:
    """The guarded transport that ``settings`` ask for, over real sockets bounded by the exchange's deadline,
    through the proxy and with the TLS trust of ``settings.network``.

    ``clock``: what its waits (rate limit, Retry-After, backoff) sleep on and its deadline reads;
    real time unless a test passes one that advances without waiting.
    """
    return GuardedTransport(
        DeadlineTransport(settings.network),
        max_requests=settings.max_requests,
        rate_limit=settings.rate_limit,
        retries=settings.retries,
        record=settings.record_traffic,
        shared=shared,
        deadline=settings.timeout,
        max_body=settings.max_body,
        stopped=stopped,
        sleep=clock.sleep,
        clock=clock.monotonic,
    )


def run_contract(
    spec: Spec,
    target: Target,
    settings: RunSettings,
    *,
    properties: list[str] | None = None,
    progress: ProgressCallback | None = None,
    guard: GuardedTransport | None = None,
    stopped: Callable[[], str | None] = lambda: None,
    accepted: Callable[[Finding], bool] = lambda finding: False,
    clock: Clock = SYSTEM_CLOCK,
) -> RunReport:
    """Run the suite's properties against a live (already resolved) target; never raises for the target's faults.

    Two passes (see :mod:`dcs_contract.engine.plan`): every property's probe, then every
    property's exploration within its share of what the budget has left.

    ``guard``: a transport shared with other runs, whose budget and rate limit they all
    share; by default the run has its own, from ``settings``. ``stopped``: the name of a
    signal that asked the run to stop, if one did; nothing more is sent after it.
    ``accepted``: findings a baseline accepts, at which ``settings.fail_fast`` does not stop.
    ``clock``: the clock of the run's own guard (see :func:`guarded`); a ``guard`` passed in has its own.
    """
    assert target.base_url is not None, "resolve the embedded mock first (embedded_mock)"
    assert target.project_id is not None
    started = utc_now()
    guard = guard or guarded(settings, stopped=stopped, clock=clock)
    mark = guard.stats.mark()
    selected = [PROPERTIES[name] for name in properties or list(PROPERTIES)]
    plan = BudgetPlan.of(spec, target, max_requests=guard.requests_left, properties=selected, confirm=settings.confirm)
    client = build_client(
        target.base_url, auth=target.credentials.auth(target.project_id), guard=guard, timeout=settings.timeout
    )
    log = RunLog(
        spec,
        progress,
        requests_sent=lambda: guard.stats.attempts - mark.attempts,
        fail_fast=settings.fail_fast,
        fail_on=Severity(settings.fail_on),
        accepted=accepted,
        selection=CheckSelection.of(spec, checks=settings.checks, exclude=settings.exclude_checks),
    )
    stage = "the setup of the run"
    planned = False
    probes_sent: int | None = None
    error: str | None = None
    crash: str | None = None
    halted: str | None = None
    refused = False
    run: ContractRun | None = None
    with client:
        # Each way the run can end is caught here, where the findings so far are at hand:
        # they are reported whatever stopped the run.
        try:
            if plan.max_requests < plan.minimum:
                # A guard shared with other runs has spent what they needed (--max-requests is
                # checked whole before a CLI run): what is left cannot send this probe plan.
                raise BudgetExhausted(
                    f"the request budget of {guard.max_requests} is spent: {plan.max_requests} requests are left, "
                    f"and the probe plan needs {plan.minimum} ({plan.probe_requests}, and {MIN_RESERVE} for retries)"
                )
            run = ContractRun(spec, target, settings, client, log, stopped=guard.stop_signal)
            if settings.draw_ahead:
                # Drawn while the probe plan is sent, in the order the explorations will take them.
                ahead = [prop.draws for prop in selected if prop.drawn_ahead and prop.exploration]
                run.ahead.ask([draws for draws in ahead if draws is not None])
            for prop in selected:
                stage = f"the probe plan ({prop.name})"
                prop.run_probe(run)
            planned = True
            probes_sent = guard.stats.attempts - mark.attempts
            for index, prop in enumerate(selected):
                stage = f"the exploration of {prop.name}"
                after = [other.name for other in selected[index:]]
                prop.run_exploration(run, plan.share(prop.name, left=guard.requests_left, after=after))
            stage = "the confirmation of the findings"
            if settings.confirm:
                confirm_findings(run, guard, accepted)
        except BudgetExhausted as exc:
            sent = guard.stats.since(mark)
            if planned:
                # The probe plan was sent whole: what was cut is exploration, which retries ate.
                halted = f"{exc} during {stage}, after {_requests(sent.attempts)} ({sent.retries} of them retries)"
            else:
                error = f"{exc} during {stage}: the probe plan was not sent whole, {sent.retries} requests were retries"
        except AuthRejected as exc:
            error, refused = _what_to_check(exc, target), True
        except TargetUnavailable as exc:
            error = str(exc)
        except FirstFinding:
            sent = guard.stats.since(mark)
            halted = f"at the first finding (--fail-fast), during {stage}, after {_requests(sent.attempts)}"
            if settings.confirm and run is not None:  # a finding is made by a run
                # The one finding that stopped the run is the one a red build is read for. Whatever
                # ends its confirmation, the finding stays in the report.
                try:
                    confirm_findings(run, guard, accepted)
                except (TargetUnavailable, RunStopped) as exc:
                    halted += f"; its confirmation was cut short: {exc}"
                except Exception:
                    crash = f"during the confirmation of the first finding:\n{traceback.format_exc()}"
        except RunStopped as exc:
            # Not KeyboardInterrupt: a library caller (pytest) keeps Ctrl-C; the CLI turns SIGINT into RunStopped.
            sent = guard.stats.since(mark)
            error = (
                f"stopped by {exc.signal_name} during {stage}, after {_requests(sent.attempts)}: "
                "the run was cut short, and reports what it found until then"
            )
        except Exception:
            crash = f"during {stage}:\n{traceback.format_exc()}"
        finally:
            if run is not None:
                run.ahead.close()
    budget = BudgetSummary(
        max_requests=plan.max_requests,
        probe_plan=plan.probe_requests,
        reserve=plan.reserve,
        confirmation=plan.confirmation,
        probe_plan_sent=probes_sent,
    )
    return log.report(
        target=target,
        settings=settings,
        started=started,
        traffic=guard.stats.since(mark),
        error=error,
        crash=crash,
        stopped=halted,
        budget=budget,
        credentials_refused=refused,
    )


def confirm_findings(run: ContractRun, guard: GuardedTransport, accepted: Callable[[Finding], bool]) -> None:
    """Send each new finding's requests once more, the shortest first, and label it with what they showed.

    Findings with the same requests are judged on one sending of them. A finding whose requests
    the budget can no longer send whole is labelled so, and nothing of it is sent. A RunStopped
    or a refused credential ends the run as anywhere else.
    """
    findings = run.log.findings
    confirmation = Reproduction(run, Rebase({}), as_property="confirmation")
    # Findings of the same requests side by side: one sending of them judges them all.
    together: dict[tuple[RequestInfo, ...], list[Finding]] = {}
    for finding in sorted(findings, key=lambda found: len(found.requests)):
        together.setdefault(finding.requests, []).append(finding)
    for finding in itertools.chain.from_iterable(together.values()):
        if accepted(finding) or not finding.requests:
            continue
        if not confirmation.sent(finding) and guard.requests_left < len(finding.requests):
            findings.label(finding.fingerprint, NOT_CONFIRMED)
            continue
        try:
            shown = confirmation.shows(finding)
        except BudgetExhausted:
            # Retries took what was left: this one, and every one after it, goes unconfirmed.
            findings.label(finding.fingerprint, NOT_CONFIRMED)
            continue
        if shown is not None:
            findings.label(finding.fingerprint, REPRODUCED if shown else NOT_REPRODUCED)
