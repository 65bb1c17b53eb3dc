"""Pytest options and fixtures shared by the contract suite and the harness's own tests.

The contract suite runs on dcs-contract's own pytest plugin (:mod:`dcs_contract.pytest_plugin`),
as a team's tests do: its spec, its target (the environment's, as for ``dcs-contract run``,
else the embedded mock, served once for the session) and the one guarded transport that every
property sends through are the plugin's ``dcs_spec``, ``dcs_target`` and ``dcs_guard``. So
the request budget and the rate limit hold for the session, not per test; under pytest-xdist
each worker gets its share of both, and together they stay within what was asked.

The suite's own flags are kept: each is another name for the plugin's (the same ``dest``).
"""

from __future__ import annotations

import pytest

from dcs_contract.contract.spec import Spec


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dcs-contract")
    group.addoption(
        "--max-examples", dest="dcs_max_examples", metavar="N", type=int, help="cases per contract property"
    )
    group.addoption(
        "--contract-seed", dest="dcs_seed", metavar="SEED", type=int, help="replay the contract suite with this seed"
    )
    group.addoption(
        "--max-requests",
        dest="dcs_max_requests",
        metavar="N",
        type=int,
        help="request budget of the contract suite, all workers",
    )
    group.addoption(
        "--rate-limit",
        dest="dcs_rate_limit",
        metavar="PER_SECOND",
        type=float,
        help="requests per second, all workers together",
    )


@pytest.fixture(scope="session")
def spec(dcs_spec: Spec) -> Spec:
    """The bundled spec (``--dcs-spec`` another), for the harness's own tests."""
    return dcs_spec
