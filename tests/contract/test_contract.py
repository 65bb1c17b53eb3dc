"""The contract suite as pytest: each registered property must hold against the target.

It runs on the dcs-contract pytest plugin: ``dcs_target`` is the target the environment
configures (else the embedded mock) and every property sends through ``dcs_guard``, the
session's one guarded transport, so that ``--max-requests`` and ``--rate-limit`` hold for
the whole suite.
"""

from __future__ import annotations

import pytest

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.suite import PROPERTIES, run_contract
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import GuardedTransport

pytestmark = pytest.mark.contract


def _describe(findings: list[Finding]) -> str:
    return "\n".join(
        f"[{f.category}] {f.title} at {f.location}: expected {f.expected}, got {f.actual}\n  {f.requests[0].curl}"
        for f in findings
    )


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_property_holds(
    name: str, dcs_spec: Spec, dcs_target: Target, dcs_settings: RunSettings, dcs_guard: GuardedTransport
) -> None:
    report = run_contract(dcs_spec, dcs_target, dcs_settings, properties=[name], guard=dcs_guard)
    assert report.error is None, f"the target could not be tested: {report.error}"
    if name in report.skipped:
        pytest.skip(report.skipped[name])
    assert report.cases.get(name, 0) > 0, f"{name} ran no case"
    assert not report.findings, f"seed {report.seed}:\n{_describe(list(report.findings))}"
