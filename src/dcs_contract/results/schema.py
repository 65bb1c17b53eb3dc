"""report.json read back: its JSON Schema, and the one reader that checks a file against it.

The shape is :meth:`RunReport.as_dict`'s; :func:`read_report` gives the :class:`RunReport`
(``replay``, ``diff``, ``docs`` and ``history`` read reports through it), or a ConfigError
that names the file and the field at fault.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from dcs_contract.contract.findings import CATEGORIES, BaselineEntry
from dcs_contract.contract.formats import printable, read_json_file
from dcs_contract.contract.severity import SEVERITIES
from dcs_contract.errors import ConfigError
from dcs_contract.results.report import VERDICTS, BudgetSummary, RunReport, TargetInfo

__all__ = ["REPORT_SCHEMA", "load_report", "read_report"]


_TEXT: dict[str, Any] = {"type": "string"}
_OPTIONAL_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["method", "url"],
    "properties": {"method": _TEXT, "url": _TEXT, "authenticated": {"type": "boolean"}, "curl": _TEXT},
}
_FINDING: dict[str, Any] = {
    "type": "object",
    "required": ["check", "category", "title", "location", "expected", "actual"],
    "properties": {
        **{
            name: _TEXT
            for name in ("check", "title", "location", "expected", "actual", "message", "response_excerpt", "detail")
        },
        "category": {"enum": list(CATEGORIES)},
        "fingerprint": _TEXT,
        "occurrences": _COUNT,
        "status": {"type": ["integer", "null"]},
        "requests": {"type": "array", "items": _REQUEST},
        # Each {"consumer", "how"}; a report written before they were typed gave each as one text.
        "consumers": {
            "type": "array",
            "items": {
                "anyOf": [
                    _TEXT,
                    {"type": "object", "required": ["consumer"], "properties": {"consumer": _TEXT, "how": _TEXT}},
                ]
            },
        },
        "first_seen": {"type": ["integer", "null"], "minimum": 1},
        "confirmation": _TEXT,
        # Absent from a report written before severities: read as breaking when it names a consumer.
        "severity": {"enum": list(SEVERITIES)},
    },
}
_SECONDS: dict[str, Any] = {"type": "number", "minimum": 0}
_TIERS: dict[str, Any] = {
    "type": "object",
    "required": ["p50", "p95", "max"],
    "properties": {"p50": _SECONDS, "p95": _SECONDS, "max": _SECONDS},
}
# Per property: its timed answers, and seconds to the headers and to the last byte.
_LATENCY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "required": ["requests", "headers", "total"],
        "properties": {"requests": _COUNT, "headers": _TIERS, "total": _TIERS},
    },
}
_BASELINE_ENTRY: dict[str, Any] = {
    "type": "object",
    "required": ["fingerprint", "check", "category", "location"],
    "properties": {entry.name: _TEXT for entry in fields(BaselineEntry)},
}
# The shape of report.json as ``RunReport.as_dict`` writes it, as far as ``RunReport.from_dict``
# reads it: checked once when a report is loaded, so that reading it never meets a wrong type.
# Fields added after a report was written (crash, evaluated, ...) are optional: older reports still load.
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dcs-contract report.json",
    "type": "object",
    "required": ["verdict", "target", "started", "finished", "requests", "findings"],
    "properties": {
        "verdict": {"enum": list(VERDICTS)},
        "target": {
            "type": "object",
            "properties": {
                **{info.name: _OPTIONAL_TEXT for info in fields(TargetInfo) if info.name != "embedded_mock"},
                "embedded_mock": {"type": "boolean"},
            },
        },
        "started": _TEXT,
        "finished": _TEXT,
        "seed": {"type": ["integer", "null"]},
        "cases": {"type": "object", "additionalProperties": _COUNT},
        "skipped": {"type": "object", "additionalProperties": _TEXT},
        "drawn_in_run": {"type": "object", "additionalProperties": _TEXT},
        "requests": {
            "type": "object",
            "required": ["total"],
            "properties": {
                "total": _COUNT,
                "retries": _COUNT,
                "by_status": {"type": "object", "additionalProperties": _COUNT},
            },
        },
        "error": _OPTIONAL_TEXT,
        "crash": _OPTIONAL_TEXT,
        "evaluated": {"type": "object", "additionalProperties": _COUNT},
        "not_evaluated": {"type": "object", "additionalProperties": _TEXT},
        "observed": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": _COUNT}},
        "findings": {"type": "array", "items": _FINDING},
        "baseline": {
            "type": ["object", "null"],
            "properties": {
                "file": _OPTIONAL_TEXT,
                "accepted_by": _OPTIONAL_TEXT,
                "accepted": {"type": "array", "items": _FINDING},
                "resolved": {"type": "array", "items": _BASELINE_ENTRY},
            },
        },
        "harness_version": _OPTIONAL_TEXT,
        "credentials_refused": {"type": "boolean"},
        "fail_on": {"enum": list(SEVERITIES)},
        "degraded": {"type": "boolean"},
        "latency": _LATENCY,
        "slo": {"type": "object", "additionalProperties": _SECONDS},
        # Derived from the spec and ``observed`` (results/coverage.py): written, never read back.
        "coverage": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"kind": _TEXT, "what": _TEXT, "value": _TEXT, "invariants": {"type": "array"}},
            },
        },
        # Empty for a report without one; else the fields a budget cannot be read without.
        "budget": {
            "type": "object",
            "additionalProperties": _COUNT,
            "if": {"minProperties": 1},
            "then": {"required": [f.name for f in fields(BudgetSummary) if f.default is MISSING]},
        },
        "stopped": _OPTIONAL_TEXT,
        "settings": {"type": "object"},
        "spec": {
            "type": ["object", "null"],
            "required": ["sha256"],
            "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "document": {"type": "object"}},
        },
    },
}
_REPORT_VALIDATOR = Draft202012Validator(REPORT_SCHEMA)
# What an error message shows of jsonschema's text, which repeats the value at fault.
_PROBLEM = 200


def _where(path: Path) -> str:
    return f"--report={str(path)!r}"


def read_report(path: Path, *, where: str | None = None) -> RunReport:
    """The run report in a report.json, or a ConfigError that names the file and what is wrong with it."""
    data = load_report(path, where=where)
    try:
        return RunReport.from_dict(data)
    except ValueError as exc:
        raise ConfigError(f"{where or _where(path)} is not a dcs-contract report.json: {exc}") from None


def load_report(path: Path, *, where: str | None = None) -> dict[str, Any]:
    """A report.json of the shape :data:`REPORT_SCHEMA` gives, or a ConfigError that names the file and the field.

    The JSON document as it is, checked: :func:`read_report` reads it as a :class:`RunReport`.
    """
    where = where or _where(path)
    try:
        data = read_json_file(path, where, what="a dcs-contract report.json")
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist: run dcs-contract run first") from None
    if not isinstance(data, dict) or "verdict" not in data:
        raise ConfigError(f"{where} is not a dcs-contract report.json (it has no verdict)")
    try:
        error = best_match(_REPORT_VALIDATOR.iter_errors(data))
    except RecursionError:
        raise ConfigError(f"{where} nests too deeply to be a dcs-contract report.json") from None
    if error is not None:
        field_name = error.json_path.removeprefix("$").removeprefix(".") or "the top level"
        problem = error.message if len(error.message) <= _PROBLEM else error.message[:_PROBLEM] + "…"
        raise ConfigError(f"{where} is not a dcs-contract report.json: at {field_name}, {problem}")
    try:
        writable: dict[str, Any] = _writable(data)
    except RecursionError:  # the schema leaves unknown keys free: one may nest deeply
        raise ConfigError(f"{where} nests too deeply to be a dcs-contract report.json") from None
    return writable


def _writable(value: Any) -> Any:
    """``value`` with every string, keys included, as UTF-8 can carry it.

    JSON may escape a lone surrogate (``"\\ud800"``), which no page can be written with: it is
    shown as its escape instead, as the scrubber shows one in a report.
    """
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(key): _writable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_writable(item) for item in value]
    return value
