"""The official SDK's models against the spec: names and types of the request and the record.

huaweicloudsdkdcs is generated from Huawei's own API description, so its models are a second
statement of the contract. A difference means one of the two drifted; the spec lists under
``info.x-sdk.differences`` those that are known, each with its reason.

The SDK is a test extra, not a dependency: ``compare_with_sdk`` raises ConfigError without it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import Spec
from dcs_contract.errors import ConfigError
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo

__all__ = ["SdkComparison", "compare_with_sdk"]

_PYTHON_TYPES = {"integer": "int", "string": "str", "boolean": "bool", "number": "float"}
# What accepts a known difference, as the report names it.
_ACCEPTED_BY = "the spec's info.x-sdk.differences"


@dataclass(frozen=True)
class SdkComparison:
    sdk: str  # package and version
    compared: int  # names compared
    findings: list[Finding]  # differences not listed in the spec
    accepted: list[Finding]  # differences the spec lists, with their reason in the message

    def report(self, *, started: str, finished: str) -> RunReport:
        """The comparison in the harness's report format: nothing was sent, and the spec accepts what it lists."""
        return RunReport(
            target=TargetInfo(sdk=self.sdk, credentials="none: nothing is sent"),
            started=started,
            finished=finished,
            seed=None,
            cases={"sdk-check": self.compared},
            requests=RequestCounts(),
            findings=self.findings,
            accepted=self.accepted,
            accepted_by=_ACCEPTED_BY,
        )


def _model(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the official SDK is not installed ({exc.name}): pip install huaweicloudsdkdcs, "
            "or install this project with its test extra"
        ) from exc


def _python_type(spec: Spec, schema: dict[str, Any]) -> str:
    """The type the SDK's generator would give a schema: int, str, list[BackupRecordResponse]."""
    resolved = spec.resolve(schema)
    declared = resolved.get("type")
    if "$ref" in schema and declared == "object":
        return str(schema["$ref"]).rsplit("/", 1)[-1]  # a model class of its own
    types = [str(t) for t in (declared if isinstance(declared, list) else [declared]) if t and t != "null"]
    if types == ["array"]:
        return f"list[{_python_type(spec, resolved['items'])}]"
    return _PYTHON_TYPES.get(types[0], "object") if types else "object"


def _fields(spec: Spec, component: str) -> dict[str, str]:
    return {name: _python_type(spec, s) for name, s in spec.component(component)["properties"].items()}


def _difference(location: str, expected: str, actual: str, reason: str | None) -> Finding:
    return Finding(
        check="sdk_model_agrees",
        category="sdk",
        title="The spec and the official SDK disagree",
        message=f"accepted in the spec: {reason}" if reason else "not listed in the spec's x-sdk.differences",
        location=location,
        expected=expected,
        actual=actual,
    )


def compare_with_sdk(spec: Spec) -> SdkComparison:
    """Compare parameter and field names and types; every difference becomes a Finding."""
    declared = spec.document["info"]["x-sdk"]
    reasons = {entry["location"]: entry["reason"] for entry in declared.get("differences", [])}
    parameters = {name: _python_type(spec, p["schema"]) for name, p in spec.parameters.items()}
    pairs: list[tuple[str, dict[str, str], Any]] = [
        ("request", parameters, declared["request"]),
        ("", _fields(spec, "ListBackupRecordsBody"), declared["response"]),
        ("/backup_record_response/*", _fields(spec, "BackupRecordResponse"), declared["record"]),
    ]
    differences: list[Finding] = []
    compared = 0
    for prefix, ours, dotted in pairs:
        model = _model(dotted)
        # attribute_map: Python attribute -> name on the wire; openapi_types: attribute -> type.
        theirs = {model.attribute_map[attr]: kind for attr, kind in model.openapi_types.items()}
        for name in sorted(set(ours) | set(theirs)):
            compared += 1
            location = f"{prefix}/{name}"
            spec_side = f"{name}: {ours[name]}" if name in ours else "absent"
            sdk_side = f"{name}: {theirs[name]}" if name in theirs else "absent"
            if name not in ours or name not in theirs or ours[name] != theirs[name]:
                differences.append(_difference(location, f"spec {spec_side}", f"SDK {sdk_side}", reasons.get(location)))
    try:
        sdk = f"{declared['package']} {version(declared['package'])}"
    except PackageNotFoundError:  # pragma: no cover - importable but not installed as a distribution
        sdk = declared["package"]
    return SdkComparison(
        sdk=sdk,
        compared=compared,
        findings=[f for f in differences if f.location not in reasons],
        accepted=[f for f in differences if f.location in reasons],
    )
