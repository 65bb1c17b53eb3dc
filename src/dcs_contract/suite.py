"""Running the contract suite: every registered property against one target, into one report.

    report = run_contract(spec, target, RunSettings.for_target(target))

``embedded_mock`` serves the mock on loopback for a run that has no target of its own. The
pytest face of the suite is ``tests/contract/``; ``dcs-contract run`` writes the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from dcs_contract.engine import ContractRun, ProgressCallback
from dcs_contract.errors import AuthRejected, TargetUnavailable
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.properties import PROPERTIES
from dcs_contract.report import RunReport, utc_now
from dcs_contract.spec import Spec
from dcs_contract.target import Credentials, RunSettings, Target
from dcs_contract.transport import GuardedTransport, build_client

__all__ = ["PROPERTIES", "embedded_mock", "guarded", "run_contract"]


@contextmanager
def embedded_mock(spec: Spec, target: Target, **mock_options: Any) -> Iterator[tuple[Target, MockState]]:
    """Serve the embedded mock on loopback and point ``target`` at it."""
    state = MockState.default(spec, **mock_options)
    with MockServer(create_app(state)) as server:
        creds = state.credentials
        credentials = Credentials(access_key=creds.access_key, secret_key=creds.secret_key, origin="the embedded mock")
        yield (
            target.with_mock(
                server.base_url, state.project_id, state.instance_id, state.empty_instance_id, credentials
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


def guarded(settings: RunSettings, *, shared: bool = False) -> GuardedTransport:
    """The guarded transport that ``settings`` ask for, over a real HTTP transport."""
    return GuardedTransport(
        httpx.HTTPTransport(),
        max_requests=settings.max_requests,
        rate_limit=settings.rate_limit,
        retries=settings.retries,
        record=settings.record_traffic,
        shared=shared,
    )


def run_contract(
    spec: Spec,
    target: Target,
    settings: RunSettings,
    *,
    properties: list[str] | None = None,
    progress: ProgressCallback | None = None,
    guard: GuardedTransport | None = None,
) -> RunReport:
    """Run the suite's properties against a live (already resolved) target; never raises for the target's faults.

    ``guard``: a transport shared with other runs, whose budget and rate limit they all
    share; by default the run has its own, from ``settings``.
    """
    assert target.base_url is not None, "resolve the embedded mock first (embedded_mock)"
    assert target.project_id is not None
    started = utc_now()
    guard = guard or guarded(settings)
    sent_before, by_status_before = guard.stats.attempts, Counter(guard.stats.by_status)
    retries_before, exchanges_before = guard.stats.retries, len(guard.stats.exchanges)
    client = build_client(
        target.base_url, auth=target.credentials.auth(target.project_id), guard=guard, timeout=settings.timeout
    )
    run = ContractRun(spec, target, settings, client, progress)
    error: str | None = None
    with client:
        for name in properties or list(PROPERTIES):
            try:
                PROPERTIES[name](run)
            except AuthRejected as exc:
                error = _what_to_check(exc, target)
                break
            except TargetUnavailable as exc:
                error = str(exc)
                break
    stats = guard.stats
    by_status = Counter(stats.by_status)
    by_status.subtract(by_status_before)
    return RunReport(
        target=target.describe(),
        started=started,
        finished=utc_now(),
        seed=settings.seed,
        cases=dict(run.cases),
        requests={
            "total": stats.attempts - sent_before,
            "retries": stats.retries - retries_before,
            "by_status": {status: count for status, count in by_status.items() if count},
        },
        findings=list(run.findings),
        occurrences=dict(run.findings.occurrences),
        error=error,
        observed={key: dict(counter) for key, counter in run.observed.items()},
        skipped=dict(run.skipped),
        traffic=list(stats.exchanges[exchanges_before:]),
    )
