"""What the documentation page shows, read from the spec and from run reports.

The templates only lay this out: every name, bound, enum value, status code, error body
and source comes from here, and here from the spec. A report.json is checked against
:data:`REPORT_SCHEMA` where it is read, then read as the typed :class:`RunReport`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dcs_contract.contract.consumers import Consumer, Consumers, DecoderBreak
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.contract.wire import WIRE_RULES, WireRule
from dcs_contract.docs.timeline import Timeline
from dcs_contract.results.report import RunReport

__all__ = [
    "Alternatives",
    "ConformancePanel",
    "DocsModel",
    "Field",
    "Parameter",
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
class WireRow:
    """A wire rule as the page shows it: the rule, and each consumer whose decoder refuses or garbles its breach."""

    rule: WireRule
    breaks: list[tuple[str, DecoderBreak]]


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


@dataclass(frozen=True)
class Sample:
    """One of the spec's response examples: its status, name, summary and body as JSON text."""

    status: int
    name: str
    summary: str
    body: str


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
            # error_code's values are the error-code table of Errors: one table, not two.
            if "enum" not in schema or name == "error_code":
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
    def wire_rules(self) -> list[WireRow]:
        """The wire rules (contract/wire.py), each with the consumers' decoders that break on it (``x-consumers``)."""
        consumers = self.consumers
        return [
            WireRow(rule, [(c.name, c.decoder.breaks_on[rule.id]) for c in consumers if rule.id in c.decoder.breaks_on])
            for rule in WIRE_RULES.values()
        ]

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
    def samples(self) -> list[Sample]:
        """The spec's response examples, each status's in order: the sample 200 body and the error bodies."""
        rows = []
        for code in self.spec.status_codes:
            for content in self.operation["responses"][str(code)].get("content", {}).values():
                for name, example in content.get("examples", {}).items():
                    body = json.dumps(example.get("value"), indent=2, ensure_ascii=False)
                    rows.append(Sample(code, str(name), str(example.get("summary", "")), body))
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
        coverage = [Coverage("HTTP status", [str(code) for code in self.spec.status_codes], dict(observed.http_status))]
        for name, values in self.spec.enum_fields.items():
            coverage.append(
                Coverage(name, [json.dumps(value) for value in values], dict(observed.enum_values.get(name, {})))
            )
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
