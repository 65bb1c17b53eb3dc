"""dcs-contract: contract tests for Huawei Cloud DCS "List DCS Instance Backup Records".

The command line is ``dcs-contract`` (``cli.py``). From Python::

    import os

    from dcs_contract import RunSettings, Target, embedded_mock, load_spec, run_contract

    spec = load_spec()
    target = Target.from_env(os.environ)
    with embedded_mock(spec, target) as (mock_target, _state):
        report = run_contract(spec, mock_target, RunSettings.for_target(target))
    print(report.verdict, [f.location for f in report.findings])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcs_contract.lazy import exports

# Each public name and the module it lives in, imported on first use (dcs_contract.lazy).
_PUBLIC = {
    "AkSkAuth": "dcs_contract.transport.signing",
    "AuthRejected": "dcs_contract.errors",
    "Baseline": "dcs_contract.results.baseline",
    "BudgetExhausted": "dcs_contract.errors",
    "BudgetPlan": "dcs_contract.engine.plan",
    "ConfigError": "dcs_contract.errors",
    "Credentials": "dcs_contract.settings.target",
    "DcsContractError": "dcs_contract.errors",
    "Finding": "dcs_contract.contract.findings",
    "History": "dcs_contract.results.history",
    "HistoryError": "dcs_contract.results.history",
    "PROPERTIES": "dcs_contract.engine.suite",
    "ReportDiff": "dcs_contract.results.diff",
    "RequestCounts": "dcs_contract.results.report",
    "RunReport": "dcs_contract.results.report",
    "RunSettings": "dcs_contract.settings.target",
    "Spec": "dcs_contract.contract.spec",
    "SpecDiff": "dcs_contract.results.diff",
    "SpecError": "dcs_contract.errors",
    "StillThrottled": "dcs_contract.errors",
    "Target": "dcs_contract.settings.target",
    "TargetInfo": "dcs_contract.results.report",
    "TargetUnavailable": "dcs_contract.errors",
    "TokenAuth": "dcs_contract.transport.signing",
    "Unreachable": "dcs_contract.errors",
    "build_docs": "dcs_contract.docs",
    "check_har": "dcs_contract.har.check",
    "embedded_mock": "dcs_contract.engine.suite",
    "load_spec": "dcs_contract.contract.spec",
    "run_contract": "dcs_contract.engine.suite",
    "write_reports": "dcs_contract.results.report",
}

if TYPE_CHECKING:
    from dcs_contract.contract.findings import Finding
    from dcs_contract.contract.spec import Spec, load_spec
    from dcs_contract.docs import build_docs
    from dcs_contract.engine.plan import BudgetPlan
    from dcs_contract.engine.suite import PROPERTIES, embedded_mock, run_contract
    from dcs_contract.errors import (
        AuthRejected,
        BudgetExhausted,
        ConfigError,
        DcsContractError,
        SpecError,
        StillThrottled,
        TargetUnavailable,
        Unreachable,
    )
    from dcs_contract.har.check import check_har
    from dcs_contract.results.baseline import Baseline
    from dcs_contract.results.diff import ReportDiff, SpecDiff
    from dcs_contract.results.history import History, HistoryError
    from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo, write_reports
    from dcs_contract.settings.target import Credentials, RunSettings, Target
    from dcs_contract.transport.signing import AkSkAuth, TokenAuth

__getattr__, __dir__ = exports(__name__, _PUBLIC)

__all__ = [
    "PROPERTIES",
    "AkSkAuth",
    "AuthRejected",
    "Baseline",
    "BudgetExhausted",
    "BudgetPlan",
    "ConfigError",
    "Credentials",
    "DcsContractError",
    "Finding",
    "History",
    "HistoryError",
    "ReportDiff",
    "RequestCounts",
    "RunReport",
    "RunSettings",
    "Spec",
    "SpecDiff",
    "SpecError",
    "StillThrottled",
    "Target",
    "TargetInfo",
    "TargetUnavailable",
    "TokenAuth",
    "Unreachable",
    "build_docs",
    "check_har",
    "embedded_mock",
    "load_spec",
    "run_contract",
    "write_reports",
]
