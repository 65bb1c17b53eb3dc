"""Pytest options and fixtures shared by the contract suite and the harness's own tests.

The contract suite's target comes from the same environment as ``dcs-contract run``
(DCS_BASE_URL, DCS_PROJECT_ID, ...); with none set it is the embedded mock, served once
for the session.

Every property of a session sends through one guarded transport, so that the request
budget and the rate limit hold for the session, not per test. Under pytest-xdist each
worker gets its share of both: together they stay within what was asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest

from dcs_contract.spec import Spec, load_spec
from dcs_contract.suite import embedded_mock, guarded
from dcs_contract.target import RunSettings, Target
from dcs_contract.transport import GuardedTransport


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dcs-contract")
    group.addoption("--max-examples", type=int, default=None, help="cases per contract property")
    group.addoption("--contract-seed", type=int, default=None, help="replay the contract suite with this seed")
    group.addoption("--max-requests", type=int, default=None, help="request budget of the contract suite, all workers")
    group.addoption("--rate-limit", type=float, default=None, help="requests per second, all workers together")


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec()


@pytest.fixture(scope="session")
def configured_target() -> Target:
    """The target as the environment configures it; ``base_url=None`` is the embedded mock."""
    return Target.from_env(os.environ)


@pytest.fixture(scope="session")
def contract_target(spec: Spec, configured_target: Target) -> Iterator[Target]:
    """A resolved target: the live one, or the embedded mock running on loopback."""
    if not configured_target.is_mock:
        yield configured_target
        return
    with embedded_mock(spec, configured_target) as (target, _state):
        yield target


def _workers() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


@pytest.fixture(scope="session")
def run_settings(request: pytest.FixtureRequest, configured_target: Target) -> RunSettings:
    """The session's settings; under pytest-xdist, this worker's share of the budget and the rate."""
    settings = RunSettings.for_target(
        configured_target,
        max_examples=request.config.getoption("--max-examples"),
        seed=request.config.getoption("--contract-seed"),
        max_requests=request.config.getoption("--max-requests"),
        rate_limit=request.config.getoption("--rate-limit"),
    )
    workers = _workers()
    if workers == 1:
        return settings
    return replace(
        settings,
        max_requests=max(1, settings.max_requests // workers),
        rate_limit=settings.rate_limit / workers if settings.rate_limit else None,
    )


@pytest.fixture(scope="session")
def contract_guard(run_settings: RunSettings) -> Iterator[GuardedTransport]:
    """The one guarded transport of this session (of this worker, under pytest-xdist)."""
    guard = guarded(run_settings, shared=True)
    yield guard
    guard.shutdown()
