"""What changed between two contract runs: findings, observed values, and the contract itself.

``dcs-contract diff OLD NEW`` answers a team reading last night's run: what is new, what went
away, and whether the contract they were judged by moved under them::

    from dcs_contract.results.diff import ReportDiff, render_text
    from dcs_contract.results.schema import read_report

    diff = ReportDiff.between(read_report(old_path), read_report(new_path))
    print(render_text(diff))
    exit_code = 1 if diff.something_new else 0

**Findings** are matched by :attr:`Finding.fingerprint`. A finding is *present* in a report
when it is one of its ``findings`` or one of its ``accepted`` (a baseline accepts it): a
finding a baseline accepts is still drift the target shows, so it is not "resolved" because a
baseline took it in, nor "new" because a baseline let it go. Each listed finding says whether
it is ``accepted`` in the report it is shown from (the new one for new and persisting
findings, the old one for resolved ones). A new finding that the new report accepts is listed,
but does not make :attr:`ReportDiff.something_new` true: someone already decided about it.

**Observed values** (``report.observed``: the status codes, each enum field's values, the
error codes) are compared by presence, per kind; counts are ignored, and the placeholder
``(other values)`` is a value like any other.

**The spec.** When both reports carry a spec and the hashes differ, :meth:`SpecDiff.between`
compares the two documents *structurally*: it walks each one generically (local ``$ref``
resolution, no :class:`~dcs_contract.contract.spec.Spec` needed, since an old document may not load as
today's spec) and compares facts, not text. Whatever it cannot read is a ``not-compared``
change that says what and why (never breaking: an old report's odd document must not fail
every night's diff); it never raises. A report without a spec, or with its hash but not its
document, is said so in :attr:`ReportDiff.spec_note`.

``something_new`` (the CLI's exit 1) is true for a new finding no baseline accepts, an observed
value that appeared, or a breaking spec change. A resolved finding, a value that disappeared,
or a spec missing from a report is reported but is not news.

A change is **breaking** when something that was fine for a consumer before may fail now: a
request it sends may be refused (a request side narrowed), or an answer may hold what it was
not promised (a response side widened), or a guarantee it relies on is withdrawn. The rules,
all in :data:`RULES`:

=============================  ========  =====================================================
kind                           breaking  why
=============================  ========  =====================================================
response-field-removed         yes       a consumer reading it gets nothing
response-field-optional        yes       a consumer may find it missing
response-type-changed          yes       the field may hold a JSON type a parser refuses
response-enum-value-added      yes       a client with a closed enum fails on, or misses, it
response-enum-lifted           yes       the field's values are no longer a closed list
response-bound-widened         yes       values past the old bound may come
response-bound-changed         yes       a pattern or format replaced: whether it widens is unknown
parameter-added-required       yes       a request without it is refused
parameter-removed              yes       a request that sends it may be refused or misread
parameter-required             yes       a request without it is refused
parameter-type-changed         yes       a value of a type no longer allowed is refused
parameter-enum-value-removed   yes       a request with that value is refused
parameter-enum-restricted      yes       values outside the new list are refused
parameter-bound-narrowed       yes       a request past the new bound is refused
parameter-bound-changed        yes       a pattern or format replaced: whether it narrows is unknown
status-removed                 yes       a consumer handling it gets the answer another way
success-status-added           yes       consumers accept only the success statuses they know
invariant-removed              yes       a guarantee consumers rely on is withdrawn
(any other kind)               no        added fields, removed response enum values, widened
                                         request bounds, narrowed response types or bounds,
                                         changed defaults, added error statuses and invariants,
                                         a changed invariant's wording, what was not compared
=============================  ========  =====================================================

A breaking change names the consumers it breaks, read from the spec's ``x-consumers`` (the new
document's, else the old one's), each with how it breaks:

- a response field's change: the consumers with a reliance naming the field's JSON pointer
  (``/backup_record_response/*/status``) that fits the change: for a field removed or made
  optional, a reliance without ``seen`` or with ``missing`` and without ``categories`` or with
  ``schema``; for a type, ``type`` and a ``seen`` that holds a new type; for an enum, ``enum``;
  for a bound, ``schema`` and a ``seen`` naming the keyword;
- a request parameter's change: the consumers that send it (a reliance with the parameter in
  ``within``); when the consumer's ``paging`` says the value it sends (``limit=10``) and that
  value still fits the new schema, it is not broken;
- a status removed: the consumers whose paging or reliances name the status;
- an invariant removed: the consumers with a reliance naming its id.

When no consumer is named, the rule's generic subject stands in ("clients with closed enums").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

from dcs_contract.contract.findings import CONSUMER_SEPARATOR, Finding, bounded, fingerprint_of
from dcs_contract.contract.formats import json_text, printable
from dcs_contract.contract.spec import OPERATION_PATH
from dcs_contract.results.markdown import Markdown, bullet, escape, heading
from dcs_contract.results.markdown import code as code_span
from dcs_contract.results.report import RunReport

__all__ = [
    "RULES",
    "FindingRef",
    "Impact",
    "ObservedValue",
    "ReportDiff",
    "Rule",
    "SpecChange",
    "SpecDiff",
    "as_dict",
    "render_markdown",
    "render_text",
]


# -- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How a kind of spec change is classified: ``who`` stands in when x-consumers names no consumer."""

    breaking: bool
    reason: str
    who: str = ""


# Every kind of change SpecDiff reports, and whether it breaks: the one table (the module's
# docstring lays it out for a reader).
RULES: Mapping[str, Rule] = MappingProxyType(
    {
        # The response: what a consumer reads. Widening it breaks, narrowing it does not.
        "response-field-added": Rule(False, "a client ignores a field it does not know"),
        "response-field-removed": Rule(True, "a consumer that reads the field gets nothing", "clients that read it"),
        "response-field-required": Rule(False, "a field now always present was allowed before"),
        "response-field-optional": Rule(True, "a consumer may now find the field missing", "clients that read it"),
        "response-type-changed": Rule(
            True, "the field may hold a JSON type a consumer's parser refuses", "clients with typed parsers"
        ),
        "response-type-narrowed": Rule(False, "the field holds fewer JSON types than before: each was allowed"),
        "response-enum-value-added": Rule(
            True, "a client with a closed enum fails on the new value, or misses it", "clients with closed enums"
        ),
        "response-enum-value-removed": Rule(False, "a value no longer sent was handled before"),
        "response-enum-lifted": Rule(
            True, "the field's values are no longer a closed list: any may come", "clients with closed enums"
        ),
        "response-enum-restricted": Rule(False, "the field's values are now a closed list, each allowed before"),
        "response-bound-widened": Rule(
            True,
            "values past the old bound may come, which a client validating or sizing by it refuses",
            "clients that validate the field",
        ),
        "response-bound-narrowed": Rule(False, "every value now allowed was allowed before"),
        "response-bound-changed": Rule(
            True, "the pattern or format was replaced: whether it widens cannot be told", "clients that validate it"
        ),
        "response-default-changed": Rule(False, "a response's default is documentation"),
        # The request: what a consumer sends. Narrowing it breaks, widening it does not.
        "parameter-added": Rule(False, "an optional parameter: requests without it are as before"),
        "parameter-added-required": Rule(True, "a request without the new parameter is refused", "every client"),
        "parameter-removed": Rule(
            True, "a request that sends it may be refused, or have it ignored", "clients that send it"
        ),
        "parameter-required": Rule(True, "a request without it is refused", "clients that omit it"),
        "parameter-optional": Rule(False, "requests that send it are as before"),
        "parameter-type-changed": Rule(True, "a value of a type no longer allowed is refused", "clients that send it"),
        "parameter-type-widened": Rule(False, "every value allowed before still is"),
        "parameter-enum-value-added": Rule(False, "every value allowed before still is"),
        "parameter-enum-value-removed": Rule(
            True, "a request with the removed value is refused", "clients that send it"
        ),
        "parameter-enum-restricted": Rule(True, "values outside the new list are refused", "clients that send it"),
        "parameter-enum-lifted": Rule(False, "every value allowed before still is"),
        "parameter-bound-narrowed": Rule(
            True, "a request past the new bound is refused, where it was answered", "clients that send it"
        ),
        "parameter-bound-widened": Rule(False, "every value allowed before still is"),
        "parameter-bound-changed": Rule(
            True, "the pattern or format was replaced: whether it narrows cannot be told", "clients that send it"
        ),
        "parameter-default-changed": Rule(
            False, "a request that omits the parameter is answered otherwise; one that sends it is not"
        ),
        # The statuses documented.
        "status-added": Rule(False, "an error status: a consumer already fails on an error it does not know"),
        "success-status-added": Rule(
            True, "a consumer accepts only the success statuses it knows", "clients that check the status"
        ),
        "status-removed": Rule(
            True,
            "a consumer that handles the status no longer gets it: its answers come as another",
            "clients that handle it",
        ),
        # The guarantees no schema states (x-invariants).
        "invariant-added": Rule(False, "a new guarantee"),
        "invariant-removed": Rule(True, "a guarantee consumers may rely on is withdrawn", "clients that rely on it"),
        "invariant-changed": Rule(
            False, "its wording changed: whether it still guarantees what consumers rely on is for a reader to judge"
        ),
        # What could not be read.
        "not-compared": Rule(False, "this part of the documents could not be compared"),
    }
)


# -- the values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Impact:
    """A consumer a change breaks and how (``how`` empty for a generic subject such as "clients with closed enums")."""

    consumer: str
    how: str = ""


@dataclass(frozen=True, kw_only=True)
class SpecChange:
    """One structural change of the contract: its kind (a key of :data:`RULES`), where, and what."""

    kind: str
    location: str
    detail: str
    breaking: bool
    reason: str
    consumers: tuple[Impact, ...] = ()
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class SpecDiff:
    """The structural changes between two OpenAPI documents: breaking ones first."""

    changes: tuple[SpecChange, ...] = ()

    @classmethod
    def between(cls, old_document: Any, new_document: Any) -> SpecDiff:
        """Compare two documents; never raises: what cannot be compared is a ``not-compared`` change."""
        try:
            changes = _compare(_Document(old_document, "old"), _Document(new_document, "new"))
        except RecursionError:
            changes = [_change("not-compared", "document", "the documents nest too deeply to compare")]
        except Exception as exc:  # a bug here must not cost the rest of the diff; the self-tests prove it unused
            changes = [
                _change("not-compared", "document", f"internal error in dcs-contract diff: {type(exc).__name__}")
            ]
        return cls(tuple(sorted(changes, key=_change_order)))

    @property
    def breaking(self) -> tuple[SpecChange, ...]:
        return tuple(change for change in self.changes if change.breaking)

    @property
    def not_breaking(self) -> tuple[SpecChange, ...]:
        return tuple(change for change in self.changes if not change.breaking)


@dataclass(frozen=True, kw_only=True)
class FindingRef:
    """A finding as a diff lists it: its key, and its texts made printable and bounded."""

    fingerprint: str
    check: str
    category: str
    title: str
    location: str
    detail: str
    consumers: tuple[str, ...]
    accepted: bool

    @classmethod
    def of(cls, finding: Finding, *, accepted: bool) -> FindingRef:
        return cls(
            fingerprint=_fingerprint(finding),
            check=_clean(finding.check, _NAME),
            category=_clean(finding.category, _NAME),
            title=_clean(finding.title, _TITLE),
            location=_clean(finding.location, _VALUE),
            detail=_clean(finding.detail, _VALUE),
            consumers=tuple(_clean(name, _NAME) for name in dict.fromkeys(_consumer_names(finding))),
            accepted=accepted,
        )


@dataclass(frozen=True)
class ObservedValue:
    """A value of one kind of ``report.observed`` (``http_status``, ``status``, ``error_code``...)."""

    kind: str
    value: str


@dataclass(frozen=True, kw_only=True)
class ReportDiff:
    """What changed from one run report to the next; :meth:`between` builds it."""

    new: tuple[FindingRef, ...] = ()
    resolved: tuple[FindingRef, ...] = ()
    persisting: tuple[FindingRef, ...] = ()
    appeared: tuple[ObservedValue, ...] = ()
    disappeared: tuple[ObservedValue, ...] = ()
    old_started: str = ""
    new_started: str = ""
    old_spec_sha256: str | None = None
    new_spec_sha256: str | None = None
    spec_note: str | None = None
    spec_diff: SpecDiff | None = None

    @classmethod
    def between(cls, old: RunReport, new: RunReport) -> ReportDiff:
        before, after = _present(old), _present(new)
        old_sha = old.spec.sha256 if old.spec is not None else None
        new_sha = new.spec.sha256 if new.spec is not None else None
        note, spec_diff = _spec_comparison(old, new)
        appeared, disappeared = _observed_changes(old.observed, new.observed)
        return cls(
            new=_refs(after[key] for key in after if key not in before),
            resolved=_refs(before[key] for key in before if key not in after),
            persisting=_refs(after[key] for key in after if key in before),
            appeared=appeared,
            disappeared=disappeared,
            old_started=_clean(old.started, _NAME),
            new_started=_clean(new.started, _NAME),
            old_spec_sha256=old_sha,
            new_spec_sha256=new_sha,
            spec_note=note,
            spec_diff=spec_diff,
        )

    @property
    def spec_changed(self) -> bool:
        """Both reports carry a spec, and they differ."""
        return None not in (self.old_spec_sha256, self.new_spec_sha256) and self.old_spec_sha256 != self.new_spec_sha256

    @property
    def something_new(self) -> bool:
        """A new finding no baseline accepts, an observed value that appeared, or a breaking spec change."""
        return (
            any(not ref.accepted for ref in self.new)
            or bool(self.appeared)
            or (self.spec_diff is not None and bool(self.spec_diff.breaking))
        )


# -- findings and observed values -----------------------------------------------------------

# Display limits for texts that came from the target or a report file.
_TITLE = 160
_VALUE = 120
_NAME = 80
_HOW = 300
# Persisting findings are listed when there are at most this many; otherwise counted.
_FEW = 5
# The kind of report.observed that holds status codes: shown first, sorted as numbers.
_HTTP_STATUS = "http_status"


def _consumer_names(finding: Finding) -> tuple[str, ...]:
    return tuple(entry.split(CONSUMER_SEPARATOR, 1)[0] for entry in finding.consumers if isinstance(entry, str))


def _fingerprint(finding: Finding) -> str:
    """:attr:`Finding.fingerprint`; for a finding read from a hand-made report.json with a lone surrogate
    (``"\\ud800"``), which no run writes, that of its fields made printable, rather than an error."""
    try:
        return finding.fingerprint
    except UnicodeEncodeError:
        parts = (finding.check, finding.category, finding.location, finding.detail)
        return fingerprint_of(*(printable(part) for part in parts))


def _present(report: RunReport) -> dict[str, tuple[Finding, bool]]:
    """The report's findings by fingerprint, each with whether a baseline accepts it."""
    present = {_fingerprint(finding): (finding, True) for finding in report.accepted}
    # A finding both reported and accepted (no writer makes one) counts as not accepted.
    present |= {_fingerprint(finding): (finding, False) for finding in report.findings}
    return present


def _refs(pairs: Iterable[tuple[Finding, bool]]) -> tuple[FindingRef, ...]:
    refs = [FindingRef.of(finding, accepted=accepted) for finding, accepted in pairs]
    return tuple(sorted(refs, key=lambda r: (r.category, r.location, r.check, r.detail, r.fingerprint)))


def _observed_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[tuple[ObservedValue, ...], tuple[ObservedValue, ...]]:
    """(values that appeared, values that disappeared), per kind, by presence."""

    def values(observed: Mapping[str, Any], kind: str) -> set[str]:
        seen = observed.get(kind) if isinstance(observed, Mapping) else None
        return {str(value) for value in seen} if isinstance(seen, Mapping) else set()

    kinds = sorted(
        {str(kind) for side in (old, new) if isinstance(side, Mapping) for kind in side},
        key=lambda kind: (kind != _HTTP_STATUS, kind),
    )
    appeared: list[ObservedValue] = []
    disappeared: list[ObservedValue] = []
    for kind in kinds:
        before, after = values(old, kind), values(new, kind)
        shown = _clean(kind, _NAME)
        appeared += [ObservedValue(shown, _clean(v, _VALUE)) for v in sorted(after - before, key=_value_order)]
        disappeared += [ObservedValue(shown, _clean(v, _VALUE)) for v in sorted(before - after, key=_value_order)]
    return tuple(appeared), tuple(disappeared)


def _value_order(value: str) -> tuple[int, int, str]:
    """Status codes as numbers, then every other value as text."""
    return (0, int(value), "") if value.isdigit() and len(value) < 10 else (1, 0, value)


def _spec_comparison(old: RunReport, new: RunReport) -> tuple[str | None, SpecDiff | None]:
    """(a note on why the specs were not compared, the diff when they were)."""
    missing = [side for side, report in (("old", old), ("new", new)) if report.spec is None]
    if len(missing) == 2:
        return "neither report carries its spec: the contracts were not compared", None
    if missing:
        return f"the {missing[0]} report carries no spec: the contracts were not compared", None
    assert old.spec is not None and new.spec is not None
    if old.spec.sha256 == new.spec.sha256:
        return None, None
    empty = [side for side, report in (("old", old), ("new", new)) if not report.spec or not report.spec.document]
    if empty:
        carry = "the old and new reports carry" if len(empty) == 2 else f"the {empty[0]} report carries"
        return f"{carry} the spec's hash but not its document: the contracts were not compared", None
    return None, SpecDiff.between(old.spec.document, new.spec.document)


# -- reading a document ---------------------------------------------------------------------

_MISSING: Any = object()
# How deep a response schema is walked, how many $refs one lookup follows, and how many fields
# a document may have before the walk stops: an odd document must not make the diff slow.
_MAX_DEPTH = 24
_MAX_REF_HOPS = 16
_MAX_FIELDS = 4000
_BOUND_KEYS = (
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "default",
)
# A larger value of these narrows; of the other numeric ones (the maxima), a smaller one.
_LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems"})
# Present narrows, absent widens, replaced cannot be told.
_SHAPE_BOUNDS = frozenset({"pattern", "format"})

_Side = Literal["response", "parameter"]
_FieldKey = tuple[str, tuple[str, ...]]  # (status, path tokens); "[]" is an array's items
# Joins the refs a walk followed when it met one of them again: the walk stops there.
_CYCLE = "\x00cycle"


@dataclass(frozen=True)
class _Facts:
    """What the diff compares of one field or parameter. ``None``: unrestricted (no type, no enum)."""

    types: frozenset[str] | None
    enum: frozenset[str] | None
    bounds: Mapping[str, Any]
    required: bool


class _Document:
    """One document, read defensively: whatever is missing or of another shape is noted, never raised."""

    def __init__(self, document: Any, side: str) -> None:
        self.root = document
        self.side = side
        self.problems: list[tuple[str, str]] = []

    def note(self, where: str, problem: str) -> None:
        self.problems.append((where, f"the {self.side} document's {problem}"))

    def lookup(self, ref: str) -> Any:
        """A local JSON pointer's target, or ``_MISSING``."""
        if ref != "#" and not ref.startswith("#/"):
            return _MISSING
        node = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return _MISSING
        return node

    def resolve(self, node: Any, where: str, chain: frozenset[str] = frozenset()) -> tuple[Any, frozenset[str]]:
        """(``node`` with its $refs followed, sibling keywords kept, and the refs followed so far)."""
        for _ in range(_MAX_REF_HOPS):
            if not isinstance(node, Mapping) or "$ref" not in node:
                return node, chain
            ref = node["$ref"]
            if not isinstance(ref, str) or ref in chain:
                if isinstance(ref, str):  # a cycle: the walk stops here, with what the node says itself
                    return {k: v for k, v in node.items() if k != "$ref"}, chain | {_CYCLE}
                self.note(where, f"$ref at {where} is {type(ref).__name__}, not a string")
                return {k: v for k, v in node.items() if k != "$ref"}, chain
            target = self.lookup(ref)
            if target is _MISSING:
                self.note(where, f"$ref {_clean(ref, _VALUE)!r} at {where} does not resolve within it")
                return {k: v for k, v in node.items() if k != "$ref"}, chain
            chain = chain | {ref}
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if isinstance(target, Mapping) and siblings else target
        self.note(where, f"$refs at {where} go more than {_MAX_REF_HOPS} deep")
        return {}, chain

    def schema(self, node: Any, where: str, chain: frozenset[str]) -> tuple[Mapping[str, Any], frozenset[str]]:
        """A schema resolved, with its ``allOf`` branches merged in (its own keywords win)."""
        resolved, chain = self.resolve(node, where, chain)
        if not isinstance(resolved, Mapping):
            if resolved is not None:
                self.note(where, f"schema at {where} is {type(resolved).__name__}, not a mapping")
            return {}, chain
        merged: dict[str, Any] = {}
        branches = resolved.get("allOf")
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            part, chain = self.resolve(branch, f"{where}/allOf/{index}", chain)
            if isinstance(part, Mapping):
                merged |= {str(k): v for k, v in part.items()}
        merged |= {str(k): v for k, v in resolved.items() if k != "allOf"}
        return merged, chain

    def path_item(self) -> Mapping[str, Any]:
        paths = self.root.get("paths") if isinstance(self.root, Mapping) else None
        item = paths.get(OPERATION_PATH) if isinstance(paths, Mapping) else None
        item, _ = self.resolve(item, f"paths/{OPERATION_PATH}")
        return item if isinstance(item, Mapping) else {}

    def operation(self) -> Mapping[str, Any] | None:
        """The GET operation, or None (noted) when the document has none."""
        operation = self.path_item().get("get")
        if isinstance(operation, Mapping):
            return operation
        if not isinstance(self.root, Mapping):
            self.note("document", f"root is {type(self.root).__name__}, not an OpenAPI document (a mapping)")
        else:
            self.note("operation", f"GET {OPERATION_PATH} is missing or not a mapping")
        return None


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list) and declared and all(isinstance(t, str) for t in declared):
        types = set(declared)
    else:
        branches = [schema.get(k) for k in ("oneOf", "anyOf")]
        options = [b for bs in branches if isinstance(bs, list) for b in bs if isinstance(b, Mapping)]
        found = [t for b in options if isinstance(t := b.get("type"), str)]
        if not options or len(found) != len(options):
            return None
        types = set(found)
    if schema.get("nullable") is True:  # OpenAPI 3.0's way of saying null
        types.add("null")
    return frozenset(types)


def _facts(schema: Mapping[str, Any], *, required: bool) -> _Facts:
    enum = schema.get("enum")
    return _Facts(
        types=_types(schema),
        enum=frozenset(json_text(value) for value in enum) if isinstance(enum, list) else None,
        bounds={key: schema[key] for key in _BOUND_KEYS if key in schema},
        required=required,
    )


def _response_fields(doc: _Document, operation: Mapping[str, Any]) -> dict[_FieldKey, _Facts] | None:
    """Every field of every documented response body, by status and path; None when there are no responses."""
    responses = operation.get("responses")
    if not isinstance(responses, Mapping):
        doc.note("responses", f"responses are {type(responses).__name__}, not a mapping")
        return None
    found: dict[_FieldKey, _Facts] = {}
    for status, raw in responses.items():
        where = f"responses/{status}"
        response, chain = doc.resolve(raw, where)
        content = response.get("content") if isinstance(response, Mapping) else None
        if not isinstance(content, Mapping) or not content:
            continue
        media = next((m for m in content if "json" in str(m)), next(iter(content)))
        body = content[media]
        schema = body.get("schema") if isinstance(body, Mapping) else None
        if schema is None:
            continue
        _walk(doc, schema, str(status), (), required=True, found=found, chain=chain, where=f"{where}/{media}")
    return found


def _walk(
    doc: _Document,
    node: Any,
    status: str,
    tokens: tuple[str, ...],
    *,
    required: bool,
    found: dict[_FieldKey, _Facts],
    chain: frozenset[str],
    where: str,
) -> None:
    if len(found) >= _MAX_FIELDS:
        doc.note("responses", f"responses have more than {_MAX_FIELDS} fields: the rest were not compared")
        return
    schema, chain = doc.schema(node, where, chain)
    if tokens:
        found[(status, tokens)] = _facts(schema, required=required)
    if len(tokens) >= _MAX_DEPTH or _CYCLE in chain:
        return
    branches = [schema, *(b for k in ("oneOf", "anyOf") if isinstance(schema.get(k), list) for b in schema[k])]
    for index, raw in enumerate(branches):
        branch, branch_chain = (schema, chain) if index == 0 else doc.schema(raw, f"{where}/of/{index}", chain)
        properties = branch.get("properties")
        if properties is not None and not isinstance(properties, Mapping):
            doc.note(where, f"properties at {where} are {type(properties).__name__}, not a mapping")
            continue
        names = branch.get("required")
        needed = {str(n) for n in names} if isinstance(names, list) else set()
        for name, sub in (properties or {}).items():
            _walk(
                doc,
                sub,
                status,
                (*tokens, str(name)),
                required=str(name) in needed,
                found=found,
                chain=branch_chain,
                where=f"{where}/{name}",
            )
        items = branch.get("items")
        if isinstance(items, Mapping):
            _walk(doc, items, status, (*tokens, "[]"), required=True, found=found, chain=branch_chain, where=where)


def _parameters(doc: _Document, operation: Mapping[str, Any]) -> dict[tuple[str, str], _Facts] | None:
    """Every parameter by (in, name): the path item's, overridden by the operation's."""
    found: dict[tuple[str, str], _Facts] = {}
    for where, holder in (("path item", doc.path_item()), ("operation", operation)):
        listed = holder.get("parameters", [])
        if not isinstance(listed, list):
            doc.note("parameters", f"{where} parameters are {type(listed).__name__}, not a list")
            return None
        for index, raw in enumerate(listed):
            parameter, chain = doc.resolve(raw, f"{where} parameters/{index}")
            name = parameter.get("name") if isinstance(parameter, Mapping) else None
            place = parameter.get("in") if isinstance(parameter, Mapping) else None
            if not isinstance(name, str) or not isinstance(place, str):
                doc.note("parameters", f"{where} parameter #{index} has no name and location (in)")
                continue
            assert isinstance(parameter, Mapping)
            schema, _ = doc.schema(parameter.get("schema"), f"parameter {name}", chain)
            found[(place, name)] = _facts(schema, required=parameter.get("required") is True)
    return found


def _invariants(doc: _Document, operation: Mapping[str, Any]) -> dict[str, dict[str, str]] | None:
    """x-invariants by id, each without its x- keys (its sources are not the guarantee)."""
    listed = operation.get("x-invariants", [])
    if not isinstance(listed, list):
        doc.note("x-invariants", f"x-invariants is {type(listed).__name__}, not a list")
        return None
    found: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(listed):
        ident = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(ident, str):
            doc.note("x-invariants", f"x-invariants[{index}] has no id")
            continue
        assert isinstance(entry, Mapping)
        found[ident] = {
            str(k): v if isinstance(v, str) else json_text(v) for k, v in entry.items() if not str(k).startswith("x-")
        }
    return found


# -- x-consumers, read leniently ------------------------------------------------------------


@dataclass(frozen=True)
class _Reliance:
    what: str
    breaks: str
    names: tuple[str, ...]
    within: tuple[str, ...]
    categories: tuple[str, ...]
    seen: tuple[str, ...]


@dataclass(frozen=True)
class _Consumer:
    name: str
    paging: str
    relies_on: tuple[_Reliance, ...]


def _consumers(*docs: _Document) -> tuple[_Consumer, ...]:
    """The first document's x-consumers that has any (the new one's, else the old one's)."""
    for doc in docs:
        operation = doc.path_item().get("get")
        entries = operation.get("x-consumers") if isinstance(operation, Mapping) else None
        consumers = tuple(c for e in (entries if isinstance(entries, list) else []) if (c := _consumer(e)))
        if consumers:
            return consumers
    return ()


def _words(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _consumer(entry: Any) -> _Consumer | None:
    if not isinstance(entry, Mapping) or not _words(entry.get("name")):
        return None
    relies_on = entry.get("relies-on")
    reliances = tuple(
        _Reliance(
            what=_words(r.get("what")),
            breaks=_words(r.get("breaks")),
            names=_strings(r.get("names")),
            within=_strings(r.get("within")),
            categories=_strings(r.get("categories")),
            seen=_strings(r.get("seen")),
        )
        for r in (relies_on if isinstance(relies_on, list) else [])
        if isinstance(r, Mapping)
    )
    return _Consumer(_clean(_words(entry.get("name")), _NAME), _words(entry.get("paging")), reliances)


def _impacts(consumers: Sequence[_Consumer], fits: Callable[[_Reliance], bool]) -> tuple[Impact, ...]:
    """Each consumer with a reliance ``fits(reliance)`` accepts, with how those reliances break."""
    impacts = []
    for consumer in consumers:
        ways = [r.breaks for r in consumer.relies_on if fits(r)]
        if ways:
            impacts.append(Impact(consumer.name, _clean("; ".join(dict.fromkeys(w for w in ways if w)), _HOW)))
    return tuple(impacts)


def _pointer(tokens: tuple[str, ...]) -> str:
    return "".join("/*" if t == "[]" else "/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _sent_value(paging: str, parameter: str) -> int | None:
    """The value a consumer's paging text says it sends (``limit=10``), when it says one."""
    match = re.search(rf"(?<![\w-]){re.escape(parameter)}\s*=\s*(-?\d+)(?![\w.])", paging)
    return int(match.group(1)) if match else None


def _fits(value: int, facts: _Facts) -> bool:
    """Whether a number a consumer sends fits a parameter's numeric bounds."""
    bounds = {k: v for k, v in facts.bounds.items() if _is_number(v)}
    return (
        ("minimum" not in bounds or value >= bounds["minimum"])
        and ("exclusiveMinimum" not in bounds or value > bounds["exclusiveMinimum"])
        and ("maximum" not in bounds or value <= bounds["maximum"])
        and ("exclusiveMaximum" not in bounds or value < bounds["exclusiveMaximum"])
    )


# -- comparing ------------------------------------------------------------------------------


def _change(
    kind: str,
    location: str,
    detail: str,
    *,
    consumers: tuple[Impact, ...] = (),
    before: str = "",
    after: str = "",
) -> SpecChange:
    rule = RULES[kind]
    if rule.breaking and not consumers:
        consumers = (Impact(rule.who),)
    return SpecChange(
        kind=kind,
        location=_clean(location, _TITLE),
        detail=_clean(detail, _TITLE),
        breaking=rule.breaking,
        reason=rule.reason,
        consumers=consumers if rule.breaking else (),
        before=_clean(before, _VALUE),
        after=_clean(after, _VALUE),
    )


def _change_order(change: SpecChange) -> tuple[int, str, str, str]:
    rank = 2 if change.kind == "not-compared" else (0 if change.breaking else 1)
    return rank, change.kind.split("-", 1)[0], change.location, change.detail


def _compare(old: _Document, new: _Document) -> list[SpecChange]:
    consumers = _consumers(new, old)
    old_op, new_op = old.operation(), new.operation()
    changes: list[SpecChange] = []
    if old_op is not None and new_op is not None:
        changes += _compare_statuses(old, new, old_op, new_op, consumers)
        changes += _compare_parameters(old, new, old_op, new_op, consumers)
        changes += _compare_responses(old, new, old_op, new_op, consumers)
        changes += _compare_invariants(old, new, old_op, new_op, consumers)
    problems = dict.fromkeys((where, problem) for doc in (old, new) for where, problem in doc.problems)
    changes += [_change("not-compared", where, problem) for where, problem in problems]
    return changes


def _compare_statuses(
    old: _Document, new: _Document, old_op: Mapping[str, Any], new_op: Mapping[str, Any], consumers: Sequence[_Consumer]
) -> list[SpecChange]:
    before, after = old_op.get("responses"), new_op.get("responses")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return []  # _response_fields notes it
    old_codes, new_codes = {str(k) for k in before}, {str(k) for k in after}
    changes = []
    for code in sorted(old_codes - new_codes):
        named = re.compile(rf"(?<![\w.]){re.escape(code)}(?!\w|\.\d)")
        impacts = []
        for consumer in consumers:
            ways = [r.breaks for r in consumer.relies_on if named.search(r.what) or named.search(r.breaks)]
            if not ways and named.search(consumer.paging):
                ways = [f"its paging: {consumer.paging}"]
            if ways:
                impacts.append(Impact(consumer.name, _clean("; ".join(dict.fromkeys(ways)), _HOW)))
        changes.append(_change("status-removed", f"status {code}", "no longer documented", consumers=tuple(impacts)))
    for code in sorted(new_codes - old_codes):
        kind = "success-status-added" if code.startswith("2") else "status-added"
        changes.append(_change(kind, f"status {code}", "documented"))
    return changes


def _compare_parameters(
    old: _Document, new: _Document, old_op: Mapping[str, Any], new_op: Mapping[str, Any], consumers: Sequence[_Consumer]
) -> list[SpecChange]:
    before, after = _parameters(old, old_op), _parameters(new, new_op)
    if before is None or after is None:
        return []
    changes = []
    for key in sorted(before.keys() | after.keys()):
        place, name = key
        location = f"{place} {name}"
        senders = [c for c in consumers if any(name in r.within for r in c.relies_on)]
        if key not in after:
            changes.append(_change("parameter-removed", location, "removed", consumers=_sending(senders, name)))
            continue
        new_facts = after[key]
        if key not in before:
            kind = "parameter-added-required" if new_facts.required else "parameter-added"
            changes.append(_change(kind, location, f"added ({'required' if new_facts.required else 'optional'})"))
            continue
        old_facts = before[key]
        if old_facts.required != new_facts.required:
            if new_facts.required:
                omitting = tuple(Impact(c.name, f"does not send {name}") for c in consumers if c not in senders)
                changes.append(_change("parameter-required", location, "optional -> required", consumers=omitting))
            else:
                changes.append(_change("parameter-optional", location, "required -> optional"))
        for kind, detail, before_text, after_text in _schema_changes(old_facts, new_facts, "parameter"):
            # Only a numeric bound can be checked against the value a consumer says it sends.
            fits = new_facts if kind == "parameter-bound-narrowed" else None
            hit = _sending(senders, name, fits) if RULES[kind].breaking else ()
            changes.append(_change(kind, location, detail, consumers=hit, before=before_text, after=after_text))
    return changes


def _sending(senders: Sequence[_Consumer], name: str, facts: _Facts | None = None) -> tuple[Impact, ...]:
    """The consumers that send parameter ``name``, but those whose paging says a value that fits ``facts``."""
    impacts = []
    for consumer in senders:
        value = _sent_value(consumer.paging, name)
        if facts is not None and value is not None and _fits(value, facts):
            continue
        ways = [r.breaks for r in consumer.relies_on if name in r.within]
        sends = f"sends {name}={value}" if value is not None else f"sends {name}"
        impacts.append(Impact(consumer.name, _clean(f"{sends}: {'; '.join(dict.fromkeys(ways))}", _HOW)))
    return tuple(impacts)


def _compare_responses(
    old: _Document, new: _Document, old_op: Mapping[str, Any], new_op: Mapping[str, Any], consumers: Sequence[_Consumer]
) -> list[SpecChange]:
    before, after = _response_fields(old, old_op), _response_fields(new, new_op)
    if before is None or after is None:
        return []
    # Statuses added or removed are changes of their own: their fields are not listed again.
    statuses = {status for status, _ in before} & {status for status, _ in after}
    before = {k: v for k, v in before.items() if k[0] in statuses}
    after = {k: v for k, v in after.items() if k[0] in statuses}
    found: list[_FieldChange] = []

    def add(
        key: _FieldKey, kind: str, detail: str, b: str = "", a: str = "", gained: frozenset[str] = frozenset()
    ) -> None:
        # x-consumers' pointers are into the 200 body: another status's fields name no consumer.
        hits = _field_impacts(consumers, kind, key[1], detail=detail, value=a, gained=gained) if key[0] == "200" else ()
        found.append(_FieldChange(key[0], key[1], kind, detail, b, a, hits))

    removed, added = before.keys() - after.keys(), after.keys() - before.keys()
    for keys, kind in ((removed, "response-field-removed"), (added, "response-field-added")):
        for key in sorted(keys):
            status, tokens = key
            if any((status, tokens[:n]) in keys for n in range(1, len(tokens))):
                continue  # a field of a field added or removed with it: counted there
            nested = sum(1 for s, t in keys if s == status and len(t) > len(tokens) and t[: len(tokens)] == tokens)
            with_nested = f" with its {nested} nested field{'s' * (nested != 1)}" if nested else ""
            if kind == "response-field-removed":
                add(key, kind, f"removed{with_nested}")
            else:
                add(key, kind, f"added ({'required' if after[key].required else 'optional'}){with_nested}")
    for key in sorted(before.keys() & after.keys()):
        old_facts, new_facts = before[key], after[key]
        if key[1][-1] != "[]" and old_facts.required != new_facts.required:
            if new_facts.required:
                add(key, "response-field-required", "optional -> required")
            else:
                add(key, "response-field-optional", "required -> optional")
        gained = (new_facts.types or frozenset()) - (old_facts.types or frozenset())
        for kind, detail, b, a in _schema_changes(old_facts, new_facts, "response"):
            add(key, kind, detail, b, a, gained)
    return _merge_statuses(found)


@dataclass(frozen=True)
class _FieldChange:
    status: str
    tokens: tuple[str, ...]
    kind: str
    detail: str
    before: str
    after: str
    consumers: tuple[Impact, ...]


def _field_impacts(
    consumers: Sequence[_Consumer],
    kind: str,
    tokens: tuple[str, ...],
    *,
    detail: str,
    value: str,
    gained: frozenset[str],
) -> tuple[Impact, ...]:
    """The consumers a breaking change of a 200 body's field breaks: a reliance on the field fits the change."""
    if not RULES[kind].breaking:
        return ()
    pointer = _pointer(tokens)
    # What a reliance's categories must allow, and what it must have seen if it names what it saw (a
    # JSON type, an enum value, a JSON Schema keyword, missing), for the change to be one it covers.
    category, seen = {
        "response-field-removed": ("schema", {"missing"}),
        "response-field-optional": ("schema", {"missing"}),
        "response-type-changed": ("type", set(gained)),
        "response-enum-value-added": ("enum", {value}),
        "response-enum-lifted": ("enum", set()),
    }.get(kind, ("schema", {detail.split(" ", 1)[0]}))
    removed = kind == "response-field-removed"

    def fits(reliance: _Reliance) -> bool:
        named = any(n == pointer or (removed and n.startswith(pointer + "/")) for n in reliance.names)
        return (
            named
            and (not reliance.categories or category in reliance.categories)
            and (not reliance.seen or bool(seen & set(reliance.seen)))
        )

    return _impacts(consumers, fits)


def _merge_statuses(found: Sequence[_FieldChange]) -> list[SpecChange]:
    """The 200 body's changes by path; another status's (error bodies, often one schema) merged across statuses."""
    changes = []
    merged: dict[tuple[tuple[str, ...], str, str, str, str], list[str]] = {}
    for item in found:
        if item.status == "200":
            location = _path(item.tokens)
            changes.append(
                _change(
                    item.kind, location, item.detail, consumers=item.consumers, before=item.before, after=item.after
                )
            )
        else:
            merged.setdefault((item.tokens, item.kind, item.detail, item.before, item.after), []).append(item.status)
    for (tokens, kind, detail, b, a), statuses in merged.items():
        location = f"{', '.join(sorted(statuses))}: {_path(tokens)}"
        changes.append(_change(kind, location, detail, before=b, after=a))
    return changes


def _path(tokens: tuple[str, ...]) -> str:
    """A field's path as the diff shows it: ``backup_record_response[].status``."""
    text = ""
    for token in tokens:
        text += token if token == "[]" else (f".{token}" if text else token)
    return text


def _schema_changes(old: _Facts, new: _Facts, side: _Side) -> Iterator[tuple[str, str, str, str]]:
    """(kind, detail, before, after) for the type, the enum and the bounds of one field or parameter."""
    response = side == "response"
    if old.types != new.types and not (old.types is None and new.types is None):
        gained = new.types is None or (old.types is not None and bool(new.types - old.types))
        lost = old.types is None or (new.types is not None and bool(old.types - new.types))
        if response:
            kind = "response-type-changed" if gained else "response-type-narrowed"
        else:
            kind = "parameter-type-changed" if lost else "parameter-type-widened"
        b, a = _types_text(old.types), _types_text(new.types)
        yield kind, f"type {b} -> {a}", b, a
    if old.enum is None and new.enum is not None:
        listed = _list(new.enum)
        yield (
            "response-enum-restricted" if response else "parameter-enum-restricted",
            f"enum set: {listed}",
            "",
            listed,
        )
    elif old.enum is not None and new.enum is None:
        listed = _list(old.enum)
        yield "response-enum-lifted" if response else "parameter-enum-lifted", f"enum dropped: {listed}", listed, ""
    elif old.enum is not None and new.enum is not None:
        for value in sorted(new.enum - old.enum):
            yield (
                "response-enum-value-added" if response else "parameter-enum-value-added",
                f"enum value {value} added",
                "",
                value,
            )
        for value in sorted(old.enum - new.enum):
            yield (
                "response-enum-value-removed" if response else "parameter-enum-value-removed",
                f"enum value {value} removed",
                value,
                "",
            )
    for key in _BOUND_KEYS:
        b_value, a_value = old.bounds.get(key, _MISSING), new.bounds.get(key, _MISSING)
        if _same(b_value, a_value):
            continue
        b, a = _bound_text(b_value), _bound_text(a_value)
        detail = f"{key} {b} -> {a}"
        if key == "default":
            yield ("response-default-changed" if response else "parameter-default-changed"), detail, b, a
            continue
        direction = _direction(key, b_value, a_value)
        # A request side narrowed breaks; a response side widened does.
        yield f"{'response' if response else 'parameter'}-bound-{direction}", detail, b, a


def _direction(key: str, before: Any, after: Any) -> Literal["narrowed", "widened", "changed"]:
    if after is _MISSING:
        return "widened"
    if before is _MISSING:
        return "narrowed"
    if key in _SHAPE_BOUNDS or not (_is_number(before) and _is_number(after)):
        return "changed"
    if key in _LOWER_BOUNDS:
        return "narrowed" if after > before else "widened"
    return "narrowed" if after < before else "widened"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(before: Any, after: Any) -> bool:
    if before is _MISSING or after is _MISSING:
        return before is after
    if _is_number(before) and _is_number(after):
        return bool(before == after)
    return json_text(before) == json_text(after) and type(before) is type(after)


def _bound_text(value: Any) -> str:
    return "(none)" if value is _MISSING else json_text(value)


def _types_text(types: frozenset[str] | None) -> str:
    return "any" if types is None else ", ".join(sorted(types)) or "(none)"


def _list(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _names_id(ident: str, reliance: _Reliance) -> bool:
    return ident in reliance.names


def _compare_invariants(
    old: _Document, new: _Document, old_op: Mapping[str, Any], new_op: Mapping[str, Any], consumers: Sequence[_Consumer]
) -> list[SpecChange]:
    before, after = _invariants(old, old_op), _invariants(new, new_op)
    if before is None or after is None:
        return []
    changes = []
    for ident in sorted(before.keys() - after.keys()):
        hits = _impacts(consumers, partial(_names_id, ident))
        changes.append(_change("invariant-removed", f"invariant {ident}", "removed", consumers=hits))
    for ident in sorted(after.keys() - before.keys()):
        rule = after[ident].get("rule", "")
        changes.append(_change("invariant-added", f"invariant {ident}", f"added: {rule}"))
    for ident in sorted(before.keys() & after.keys()):
        differ = sorted(
            k for k in before[ident].keys() | after[ident].keys() if before[ident].get(k) != after[ident].get(k)
        )
        if differ:
            changes.append(_change("invariant-changed", f"invariant {ident}", f"changed: {', '.join(differ)}"))
    return changes


# -- showing --------------------------------------------------------------------------------

# Characters a terminal or a Markdown reader would act on rather than show: control and format
# characters (escape sequences, bidi overrides), line separators, unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _clean(text: Any, limit: int) -> str:
    """A text from a report or a target, shown: printable, on one line, at most ``limit`` characters."""
    raw = bounded(text if isinstance(text, str) else str(text))[: limit * 2]
    shown = "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch
        for ch in printable(raw)
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _first(names: Sequence[str], limit: int = 4) -> str:
    """Names for one terminal line: the first few, and how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _summary(diff: ReportDiff) -> str:
    spec = diff.spec_diff
    if spec is not None:
        spec_text = f"spec: {len(spec.changes)} change{'s' * (len(spec.changes) != 1)}, {len(spec.breaking)} breaking"
    elif diff.spec_note:
        spec_text = "spec: not compared"
    else:
        spec_text = "spec: unchanged"
    return (
        f"{len(diff.new)} new, {len(diff.resolved)} resolved, {len(diff.persisting)} persisting; "
        f"{len(diff.appeared)} observed value{'s' * (len(diff.appeared) != 1)} appeared, "
        f"{len(diff.disappeared)} disappeared; {spec_text}"
    )


def _grouped(values: Sequence[ObservedValue]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for item in values:
        groups.setdefault(item.kind, []).append(item.value)
    return groups


def _spec_line(diff: ReportDiff) -> str:
    old, new = (sha[:12] if sha else "none" for sha in (diff.old_spec_sha256, diff.new_spec_sha256))
    return f"spec {old}" if old == new else f"spec {old} -> {new}"


def render_text(diff: ReportDiff) -> str:
    """The diff for a terminal: a verdict line, then each section, short and scannable."""
    verdict = "something new" if diff.something_new else "nothing new"
    lines = [f"dcs-contract diff: {verdict}", f"  {_summary(diff)}"]
    lines.append(f"  old run {diff.old_started or '?'}, new run {diff.new_started or '?'}; {_spec_line(diff)}")

    def finding_lines(refs: Sequence[FindingRef], *, breaks: bool) -> list[str]:
        out = []
        for ref in refs:
            detail = f" {ref.detail}" if ref.detail else ""
            accepted = "  (accepted)" if ref.accepted else ""
            out.append(f"  [{ref.category}] {ref.title}: {ref.location}{detail}  {ref.fingerprint}{accepted}")
            if breaks and ref.consumers:
                out.append(f"      breaks: {_first(ref.consumers)}")
        return out

    lines += ["", f"New findings ({len(diff.new)})", *finding_lines(diff.new, breaks=True)]
    lines += ["", f"Resolved ({len(diff.resolved)})", *finding_lines(diff.resolved, breaks=False)]
    lines += ["", f"Persisting ({len(diff.persisting)})"]
    if len(diff.persisting) <= _FEW:
        lines += finding_lines(diff.persisting, breaks=False)
    for title, values in (("appeared", diff.appeared), ("disappeared", diff.disappeared)):
        lines += ["", f"Observed: {title} ({len(values)})"]
        lines += [f"  {kind}: {', '.join(shown)}" for kind, shown in _grouped(values).items()]
    lines += ["", "Spec changes (breaking first)"]
    if diff.spec_note:
        lines.append(f"  {diff.spec_note}")
    elif diff.spec_diff is None:
        lines.append("  none: both runs used the same spec")
    elif not diff.spec_diff.changes:
        lines.append("  none in what the diff compares (the spec's text changed: descriptions, examples, sources)")
    else:
        for change in diff.spec_diff.changes:
            mark = "BREAKING" if change.breaking else ("?" if change.kind == "not-compared" else "ok")
            lines.append(f"  {mark:<8} {change.location}: {change.detail}")
            if change.breaking:
                lines.append(f"           {change.reason}; breaks {_first([i.consumer for i in change.consumers])}")
    return "\n".join(lines) + "\n"


def render_markdown(diff: ReportDiff) -> str:
    """The diff as Markdown, for a CI summary or a pull request comment."""
    verdict = "something new" if diff.something_new else "nothing new"
    lines = [heading(1, Markdown(f"dcs-contract diff: {verdict}")), "", escape(_summary(diff)), ""]
    old, new = escape(diff.old_started or "?"), escape(diff.new_started or "?")
    lines.append(bullet(Markdown(f"old run: {old}, new run: {new}")))
    lines.append(bullet(_spec_line(diff)))

    def finding_lines(refs: Sequence[FindingRef], *, breaks: bool) -> list[str]:
        out = []
        for ref in refs:
            detail = f" {code_span(ref.detail)}" if ref.detail else ""
            accepted = " (accepted by the baseline)" if ref.accepted else ""
            out.append(
                bullet(
                    Markdown(
                        f"**{escape(ref.category)}** {escape(ref.title)}: {code_span(ref.location)}{detail}, "
                        f"fingerprint {code_span(ref.fingerprint)}{accepted}"
                    )
                )
            )
            if breaks and ref.consumers:
                out.append(bullet(f"breaks: {', '.join(ref.consumers)}", depth=1))
        return out

    for title, refs, breaks in (("New findings", diff.new, True), ("Resolved", diff.resolved, False)):
        lines += ["", heading(2, Markdown(f"{title} ({len(refs)})")), ""]
        lines += finding_lines(refs, breaks=breaks) or ["None."]
    lines += ["", heading(2, Markdown(f"Persisting ({len(diff.persisting)})")), ""]
    if len(diff.persisting) <= _FEW:
        lines += finding_lines(diff.persisting, breaks=False) or ["None."]
    else:
        lines.append(f"{len(diff.persisting)} findings, in both reports.")
    for title, values in (("appeared", diff.appeared), ("disappeared", diff.disappeared)):
        lines += ["", heading(2, Markdown(f"Observed: {title} ({len(values)})")), ""]
        groups = _grouped(values).items()
        shown = [bullet(Markdown(f"{code_span(kind)}: {', '.join(code_span(v) for v in vs)}")) for kind, vs in groups]
        lines += shown or ["None."]
    lines += ["", heading(2, Markdown("Spec changes")), ""]
    if diff.spec_note:
        lines.append(escape(diff.spec_note))
    elif diff.spec_diff is None:
        lines.append("None: both runs used the same spec.")
    elif not diff.spec_diff.changes:
        lines.append("None in what the diff compares: the spec's text changed (descriptions, examples, sources).")
    else:
        for title, changes in (("Breaking", diff.spec_diff.breaking), ("Not breaking", diff.spec_diff.not_breaking)):
            lines += [heading(3, Markdown(f"{title} ({len(changes)})")), ""]
            for change in changes:
                lines.append(
                    bullet(
                        Markdown(
                            f"{code_span(change.location)}: {escape(change.detail)} ({code_span(change.kind)}): "
                            f"{escape(change.reason)}"
                        )
                    )
                )
                for impact in change.consumers:
                    how = f": {escape(impact.how)}" if impact.how else ""
                    lines.append(bullet(Markdown(f"{escape(impact.consumer)}{how}"), depth=1))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _change_dict(change: SpecChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "location": change.location,
        "detail": change.detail,
        "breaking": change.breaking,
        "reason": change.reason,
        "before": change.before,
        "after": change.after,
        "consumers": [{"consumer": i.consumer, "how": i.how} for i in change.consumers],
    }


def _ref_dict(ref: FindingRef) -> dict[str, Any]:
    return {
        "fingerprint": ref.fingerprint,
        "check": ref.check,
        "category": ref.category,
        "title": ref.title,
        "location": ref.location,
        "detail": ref.detail,
        "consumers": list(ref.consumers),
        "accepted": ref.accepted,
    }


def as_dict(diff: ReportDiff) -> dict[str, Any]:
    """The diff as JSON: every key always present, lists in the diff's order."""
    spec = diff.spec_diff
    return {
        "something_new": diff.something_new,
        "old": {"started": diff.old_started, "spec_sha256": diff.old_spec_sha256},
        "new": {"started": diff.new_started, "spec_sha256": diff.new_spec_sha256},
        "findings": {
            "new": [_ref_dict(r) for r in diff.new],
            "resolved": [_ref_dict(r) for r in diff.resolved],
            "persisting": [_ref_dict(r) for r in diff.persisting],
        },
        "observed": {
            "appeared": {kind: values for kind, values in _grouped(diff.appeared).items()},
            "disappeared": {kind: values for kind, values in _grouped(diff.disappeared).items()},
        },
        "spec": {
            "changed": diff.spec_changed,
            "note": diff.spec_note,
            "compared": spec is not None,
            "breaking": len(spec.breaking) if spec is not None else 0,
            "changes": [_change_dict(c) for c in spec.changes] if spec is not None else [],
        },
    }
