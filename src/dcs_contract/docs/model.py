"""What the documentation page shows, read from the spec and from run reports.

The templates only lay this out: every name, bound, enum value, status code, error body
and source comes from here, and here from the spec. A report.json is checked against
:data:`REPORT_SCHEMA` where it is read, then read as the typed :class:`RunReport`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from dcs_contract.contract.consumers import Consumer, Consumers
from dcs_contract.contract.findings import CATEGORIES, BaselineEntry, Finding
from dcs_contract.contract.formats import printable, read_json_file
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.docs.timeline import Timeline
from dcs_contract.errors import ConfigError
from dcs_contract.results.report import VERDICTS, RunReport, TargetInfo

__all__ = [
    "REPORT_SCHEMA",
    "Alternatives",
    "ConformancePanel",
    "DocsModel",
    "Field",
    "Parameter",
    "load_report",
    "read_report",
]

_NULL_MEANING = "not set: null, or the field left out"
_BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "pattern", "format")


def _sources(node: dict[str, Any]) -> list[tuple[str, str]]:
    """``x-source`` as (what, source) pairs: ("", "seed") for a whole node, else per keyword."""
    source = node.get("x-source")
    if isinstance(source, str):
        return [("", source)]
    if isinstance(source, dict):
        return [(str(what), str(where)) for what, where in source.items()]
    return []


def _types(schema: dict[str, Any]) -> tuple[str, bool]:
    """The type as written for a reader, and whether null is allowed."""
    declared = schema.get("type", "object")
    types = declared if isinstance(declared, list) else [declared]
    nullable = "null" in types
    shown = [t for t in types if t != "null"]
    text = " | ".join(shown) or "null"
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text, nullable


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    bounds: list[tuple[str, Any]]
    default: Any
    description: str
    sources: list[tuple[str, str]]


@dataclass(frozen=True)
class Field:
    """One field of the response, with the path a reader would write: ``backup_record_response[].status``."""

    path: str
    name: str
    depth: int
    type: str
    nullable: bool
    required: bool
    description: str
    bounds: list[tuple[str, Any]]
    enum: list[Any]
    sources: list[tuple[str, str]]
    # The component the field is written as ("#/components/schemas/RecordTime"), if it refers to one.
    ref: str | None = None

    @property
    def anchor(self) -> str:
        return "field-" + self.path.replace("[]", "").replace(".", "-")


@dataclass(frozen=True)
class Alternatives:
    """A schema whose form the sources disagree on: its pattern, the contract, and the forms they give."""

    schema: str
    pattern: str
    sources: list[tuple[str, str]]
    used_by: list[Field]
    forms: list[dict[str, Any]]

    @property
    def anchor(self) -> str:
        return f"alternatives-{self.schema}"


@dataclass(frozen=True)
class EnumTable:
    field: str
    anchor: str
    values: list[tuple[Any, str]]  # (value, meaning)


@dataclass(frozen=True)
class Coverage:
    """Documented values of one thing (status codes, an enum) against those a run observed."""

    name: str
    documented: list[str]
    observed: dict[str, int]

    @property
    def undocumented(self) -> list[str]:
        return sorted(value for value in self.observed if value not in self.documented)


@dataclass(frozen=True)
class ConformancePanel:
    """One target's last run, from its report.json."""

    source: str
    target: str
    instance: str
    started: str
    finished: str
    verdict: str
    error: str | None
    requests: int
    findings_by_category: dict[str, int]
    accepted: int
    findings: Sequence[Finding]
    coverage: list[Coverage]


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
        "consumers": {"type": "array", "items": _TEXT},
        "first_seen": {"type": ["integer", "null"], "minimum": 1},
        "confirmation": _TEXT,
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
        "budget": {"type": "object", "additionalProperties": _COUNT},
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


@dataclass
class DocsModel:
    spec: Spec
    reports: list[tuple[str, RunReport]] = field(default_factory=list)
    # Each target's last runs and its drift, from a run history; no Timeline section without one.
    timeline: Timeline | None = None

    # -- the endpoint ----------------------------------------------------------------------
    @property
    def title(self) -> str:
        return str(self.spec.document["info"]["title"])

    @property
    def operation(self) -> dict[str, Any]:
        return self.spec.operation

    @property
    def path(self) -> str:
        return OPERATION_PATH

    @property
    def server(self) -> str:
        return str(self.spec.document["servers"][0]["url"])

    @property
    def sources(self) -> dict[str, str]:
        return dict(self.spec.document["info"].get("x-sources", {}))

    @property
    def auth(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.spec.document["components"]["securitySchemes"].items())

    @property
    def defects(self) -> list[dict[str, str]]:
        return list(self.spec.document["info"].get("x-reference-defects", []))

    @property
    def invariants(self) -> list[dict[str, Any]]:
        return list(self.spec.invariants.values())

    # -- parameters and fields -------------------------------------------------------------
    @property
    def parameters(self) -> list[Parameter]:
        rows = []
        for name, parameter in self.spec.parameters.items():
            schema = parameter["schema"]
            type_text, _ = _types(schema)
            rows.append(
                Parameter(
                    name=name,
                    location=parameter["in"],
                    required=bool(parameter.get("required")),
                    type=type_text,
                    bounds=[(key, schema[key]) for key in _BOUNDS if key in schema and key != "format"],
                    default=schema.get("default"),
                    description=str(parameter.get("description", "")).strip(),
                    sources=_sources(parameter) + [(f"schema {w}".strip(), s) for w, s in _sources(schema)],
                )
            )
        return rows

    def _fields(self, schema: dict[str, Any], prefix: str, depth: int) -> list[Field]:
        rows: list[Field] = []
        required = set(schema.get("required", []))
        for name, raw in schema.get("properties", {}).items():
            node = self.spec.resolve(raw)
            type_text, nullable = _types(node)
            path = f"{prefix}{name}"
            items = self.spec.resolve(node["items"]) if node.get("type") == "array" and "items" in node else None
            if items is not None and items.get("type") == "object":
                type_text = f"array of {items.get('title') or raw['items']['$ref'].rsplit('/', 1)[-1]}"
            rows.append(
                Field(
                    path=path,
                    name=name,
                    depth=depth,
                    type=type_text,
                    nullable=nullable,
                    required=name in required,
                    description=str(node.get("description", "")).strip(),
                    bounds=[(key, node[key]) for key in _BOUNDS if key in node and key != "format"],
                    enum=list(node.get("enum", [])),
                    sources=_sources(raw) or _sources(node),
                    ref=raw.get("$ref"),
                )
            )
            if items is not None and items.get("type") == "object":
                rows += self._fields(items, f"{path}[].", depth + 1)
        return rows

    @property
    def fields(self) -> list[Field]:
        return self._fields(self.spec.component("ListBackupRecordsBody"), "", 0)

    def body_fields(self, component: str) -> list[Field]:
        return self._fields(self.spec.component(component), "", 0)

    @property
    def enums(self) -> list[EnumTable]:
        tables = []
        for name, schema in self.spec.record_fields.items():
            if "enum" not in schema:
                continue
            meanings = schema.get("x-enum-descriptions", {})
            values = [(value, _NULL_MEANING if value is None else meanings.get(value, "")) for value in schema["enum"]]
            tables.append(EnumTable(field=name, anchor=f"enum-{name}", values=values))
        return tables

    @property
    def alternatives(self) -> list[Alternatives]:
        """Every schema with ``x-alternatives``, and the response fields written in it."""
        rows = []
        for name, schema in self.spec.document["components"]["schemas"].items():
            if "x-alternatives" not in schema:
                continue
            rows.append(
                Alternatives(
                    schema=name,
                    pattern=str(schema.get("pattern", "")),
                    sources=[(what, where) for what, where in _sources(schema) if what in ("", "pattern")],
                    used_by=[f for f in self.fields if f.ref == f"#/components/schemas/{name}"],
                    forms=list(schema["x-alternatives"]),
                )
            )
        return rows

    # -- consumers -------------------------------------------------------------------------
    @property
    def consumers(self) -> tuple[Consumer, ...]:
        """The endpoint's known consumers (``x-consumers``): what each relies on, and how it breaks."""
        return Consumers.of(self.spec).consumers

    @property
    def error_codes(self) -> list[tuple[str, str]]:
        """The record-level DCS error codes (dcs.08.*) and their meanings."""
        schema = self.spec.record_fields["error_code"]
        return [(code, schema["x-enum-descriptions"][code]) for code in self.spec.enum_values("error_code")]

    @property
    def statuses(self) -> list[tuple[int, str, str | None]]:
        """(status, meaning, the component its body is) for each documented status."""
        rows = []
        for code in self.spec.status_codes:
            response = self.operation["responses"][str(code)]
            schema = self.spec.response_schema(code)
            body = schema["$ref"].rsplit("/", 1)[-1] if schema and "$ref" in schema else None
            rows.append((code, " ".join(str(response.get("description", "")).split()), body))
        return rows

    @property
    def error_bodies(self) -> list[str]:
        """The components that the error statuses' bodies are, each once, in the order of the statuses."""
        return list(dict.fromkeys(body for code, _, body in self.statuses if code >= 400 and body is not None))

    # -- the conformance panel -------------------------------------------------------------
    @property
    def panels(self) -> list[ConformancePanel]:
        return [self._panel(source, report) for source, report in self.reports]

    def _panel(self, source: str, report: RunReport) -> ConformancePanel:
        observed = report.observed
        coverage = [
            Coverage("HTTP status", [str(code) for code in self.spec.status_codes], observed.get("http_status", {}))
        ]
        for name, values in self.spec.enum_fields.items():
            coverage.append(Coverage(name, [json.dumps(value) for value in values], observed.get(name, {})))
        return ConformancePanel(
            source=source,
            target=report.target.base_url or "embedded mock",
            instance=report.target.instance_id or "",
            started=report.started,
            finished=report.finished,
            verdict=report.verdict,
            error=report.error,
            requests=report.requests.total,
            findings_by_category=dict(Counter(finding.category for finding in report.findings)),
            accepted=len(report.accepted),
            findings=report.findings,
            coverage=coverage,
        )
