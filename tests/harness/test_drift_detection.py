"""Pointed at a mock that breaks the contract, the suite fails and names the field or parameter."""

from __future__ import annotations

from dcs_contract.report import RunReport
from dcs_contract.spec import Spec
from dcs_contract.suite import embedded_mock, run_contract
from dcs_contract.target import RunSettings, Target


def _run_against(spec: Spec, drift: str, property_name: str) -> RunReport:
    target = Target.from_env({})
    settings = RunSettings.for_target(target, max_examples=60, seed=12345)
    with embedded_mock(spec, target, drifts=(drift,)) as (mock_target, _state):
        return run_contract(spec, mock_target, settings, properties=[property_name])


def test_an_extra_field_is_reported_by_name(spec: Spec) -> None:
    report = _run_against(spec, "extra-field", "schema-positive")
    assert report.verdict == "violations"
    assert [(f.category, f.location) for f in report.findings] == [
        ("schema", "/backup_record_response/*/backup_region")
    ]


def test_a_wrong_enum_value_is_reported_by_field(spec: Spec) -> None:
    report = _run_against(spec, "format-upper-case", "schema-positive")
    assert report.verdict == "violations"
    finding = next(iter(report.findings))
    assert (finding.category, finding.location) == ("enum", "/backup_record_response/*/backup_format")
    assert finding.actual in ('"AOF"', '"RDB"')


def test_a_200_for_a_negative_offset_is_reported_by_parameter(spec: Spec) -> None:
    report = _run_against(spec, "negative-offset-accepted", "negative-inputs")
    assert report.verdict == "violations"
    assert [(f.check, f.location) for f in report.findings] == [("invalid_input_rejected", "offset")]
    assert "offset=-" in next(iter(report.findings)).requests[0].url


def test_the_faithful_mock_has_no_such_finding(spec: Spec) -> None:
    """The control: the same run against the faithful mock conforms."""
    target = Target.from_env({})
    settings = RunSettings.for_target(target, max_examples=60, seed=12345)
    with embedded_mock(spec, target) as (mock_target, _state):
        report = run_contract(spec, mock_target, settings)
    assert report.verdict == "conforms", [f.location for f in report.findings]
