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
from dcs_contract.settings.table import plugin_options

# The suite's own short names for some of the plugin's options (the same dest, type and help).
_ALIASES = {
    "--max-examples": "--dcs-max-examples",
    "--contract-seed": "--dcs-seed",
    "--max-requests": "--dcs-max-requests",
    "--rate-limit": "--dcs-rate-limit",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dcs-contract")
    options = dict(plugin_options())
    for alias, flag in _ALIASES.items():
        group.addoption(alias, **{**options[flag], "default": None})


@pytest.fixture(scope="session")
def spec(dcs_spec: Spec) -> Spec:
    """The bundled spec (``--dcs-spec`` another), for the harness's own tests."""
    return dcs_spec
