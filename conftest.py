"""Pytest options and fixtures shared by the contract suite and the harness's own tests.

The contract suite's target comes from the same environment as ``dcs-contract run``
(DCS_BASE_URL, DCS_PROJECT_ID, ...); with none set it is the embedded mock, served once
for the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dcs_contract.spec import Spec, load_spec
from dcs_contract.suite import embedded_mock
from dcs_contract.target import RunSettings, Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dcs-contract")
    group.addoption("--max-examples", type=int, default=None, help="cases per contract property")
    group.addoption("--contract-seed", type=int, default=None, help="replay the contract suite with this seed")


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


@pytest.fixture(scope="session")
def run_settings(request: pytest.FixtureRequest, configured_target: Target) -> RunSettings:
    return RunSettings.for_target(
        configured_target,
        max_examples=request.config.getoption("--max-examples"),
        seed=request.config.getoption("--contract-seed"),
    )
