"""Findings as annotations on the spec: GitHub workflow commands and a GitLab Code Quality report.

Each finding is put on the line of the spec that defines what it violates: the invariant
(its ``x-invariants`` entry), the parameter, or the schema of the field its JSON pointer
names (through ``$ref``), so that a drifted field shows in a pull request's diff on the line
that defines it. The lines are read from the YAML's node marks, never written down here.

    lines = SpecLines.read(spec_path)
    sys.stdout.write(github_commands(findings, lines, spec_file="spec/dcs-backups.yaml"))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.severity import Severity
from dcs_contract.contract.spec import OPERATION_PATH

__all__ = ["FORMATS", "SpecLines", "code_quality", "escape_data", "github_commands"]

FORMATS = ("github", "gitlab")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# GitLab's Code Quality severities, by the finding's.
_GITLAB_SEVERITY = {Severity.BREAKING: "critical", Severity.CONTRACT: "major", Severity.INFO: "info"}
# GitHub's annotation levels: only what fails a run is an error.
_GITHUB_LEVEL = {Severity.BREAKING: "error", Severity.CONTRACT: "error", Severity.INFO: "notice"}


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for name, value in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key and isinstance(value, yaml.Node):
            return value
    return None


def _key_line(node: yaml.Node | None, key: str) -> int | None:
    """The 1-based line of ``key`` in a mapping node: where a field or a keyword is defined."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for name, _ in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key:
            return int(name.start_mark.line) + 1
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _entries(node: yaml.Node | None) -> Iterator[yaml.MappingNode]:
    if isinstance(node, yaml.SequenceNode):
        yield from (entry for entry in node.value if isinstance(entry, yaml.MappingNode))


def _scalar(node: yaml.Node | None) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


@dataclass(frozen=True)
class SpecLines:
    """Where each thing a finding can violate is defined in the spec's text."""

    root: yaml.Node

    @classmethod
    def read(cls, path: Path) -> SpecLines:
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> SpecLines:
        root = yaml.compose(text, Loader=_LOADER)
        if root is None:
            raise ValueError("the spec is empty")
        return cls(root)

    @property
    def _operation(self) -> yaml.Node | None:
        return _child(_child(_child(self.root, "paths"), OPERATION_PATH), "get")

    def operation_line(self) -> int:
        operation = _child(_child(self.root, "paths"), OPERATION_PATH)
        get = _key_line(operation, "get")
        return get if get is not None else 1

    def line_of(self, finding: Finding) -> int:
        """The line that defines what ``finding`` violates; the operation's when nothing closer is found."""
        for find in (self._invariant, self._parameter, self._field, self._response):
            line = find(finding)
            if line is not None:
                return line
        return self.operation_line()

    def _invariant(self, finding: Finding) -> int | None:
        for entry in _entries(_child(self._operation, "x-invariants")):
            if _scalar(_child(entry, "id")) == finding.check:
                return _line(entry)
        return None

    def _parameter(self, finding: Finding) -> int | None:
        # A window finding names both ends ("begin_time,end_time"): the first is where it shows.
        name = finding.location.split(",")[0].strip()
        for entry in _entries(_child(self._operation, "parameters")):
            parameter = self._resolved(entry)
            if _scalar(_child(parameter, "name")) == name:
                return _line(parameter)
        return None

    def _schemas(self, status: int | None) -> Iterator[yaml.Node]:
        """The response schemas a body pointer may point into: the finding's status first, then the others."""
        responses = _child(self._operation, "responses")
        if not isinstance(responses, yaml.MappingNode):
            return
        keys = [_scalar(key) for key, _ in responses.value]
        order = sorted(keys, key=lambda key: (key != str(status), key != "200"))
        for key in order:
            content = _child(_child(responses, key or ""), "content")
            if isinstance(content, yaml.MappingNode):
                for _, media in content.value:
                    schema = _child(media, "schema")
                    if schema is not None:
                        yield self._resolved(schema)

    def _field(self, finding: Finding) -> int | None:
        if not finding.location.startswith("/"):
            return None
        steps = [step.replace("~1", "/").replace("~0", "~") for step in finding.location.split("/")[1:]]
        for schema in self._schemas(finding.status):
            line = self._walk(schema, steps)
            if line is not None:
                return line
        return None

    def _walk(self, schema: yaml.Node, steps: Sequence[str]) -> int | None:
        """The line of the last step the schema defines; the object's own line for a field it does not."""
        line: int | None = None
        node: yaml.Node | None = schema
        for step in steps:
            node = self._resolved(node) if node is not None else None
            if step == "*" or step.isdigit():
                items = _child(node, "items")
                if items is None:
                    return line
                node = items
                continue
            properties = _child(node, "properties")
            found = _key_line(properties, step)
            if found is None:
                # An undeclared field: the object that refuses it (its additionalProperties), or itself.
                refused = _key_line(node, "additionalProperties")
                return refused if refused is not None else (_line(node) if node is not None else line)
            line, node = found, _child(properties, step)
        return line

    def _response(self, finding: Finding) -> int | None:
        responses = _child(self._operation, "responses")
        if finding.status is not None:
            found = _key_line(responses, str(finding.status))
            if found is not None:
                return found
        return _key_line(self._operation, "responses")

    def _resolved(self, node: yaml.Node) -> yaml.Node:
        """A node with its local ``$ref`` followed (a few steps deep: the spec's refs do not chain far)."""
        for _ in range(8):
            ref = _scalar(_child(node, "$ref"))
            if ref is None or not ref.startswith("#/"):
                return node
            target: yaml.Node | None = self.root
            for part in ref[2:].split("/"):
                target = _child(target, part.replace("~1", "/").replace("~0", "~"))
            if target is None:
                return node
            node = target
        return node


def escape_data(text: str) -> str:
    # GitHub's workflow-command escaping: a message is one line, whatever the finding says.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(finding: Finding) -> str:
    return f"{finding.title}: expected {finding.expected}, got {finding.actual} ({finding.fingerprint})"


def github_commands(findings: Sequence[Finding], lines: SpecLines, *, spec_file: str) -> str:
    """One ``::error`` (or ``::notice`` below breaking and contract) per finding, on its spec line."""
    out = []
    for finding in findings:
        level = _GITHUB_LEVEL[finding.severity]
        title = f"{finding.check} {finding.location}"
        properties = f"file={_escape_property(spec_file)},line={lines.line_of(finding)},title={_escape_property(title)}"
        out.append(f"::{level} {properties}::{escape_data(_message(finding))}\n")
    return "".join(out)


def code_quality(findings: Sequence[Finding], lines: SpecLines, *, spec_file: str) -> str:
    """GitLab's Code Quality report: a JSON array of issues, each on its spec line."""
    issues = [
        {
            "description": _message(finding),
            "check_name": finding.check,
            "fingerprint": hashlib.sha256(f"{spec_file}\x1f{finding.fingerprint}".encode()).hexdigest(),
            "severity": _GITLAB_SEVERITY[finding.severity],
            "location": {"path": spec_file, "lines": {"begin": lines.line_of(finding)}},
        }
        for finding in findings
    ]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
