"""A structural diff of two versions of the spec: what changed, whether it breaks, and for whom.

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

from dcs_contract.contract.findings import bounded
from dcs_contract.contract.formats import json_text, printable
from dcs_contract.contract.spec import OPERATION_PATH

__all__ = ["RULES", "Impact", "Rule", "SpecChange", "SpecDiff"]


# Display limits of the texts a diff shows, shared with the report diff (results/diff.py).
# Display limits for texts that came from the target or a report file.
TITLE_CHARS = 160

VALUE_CHARS = 120

NAME_CHARS = 80

HOW_CHARS = 300

_MISSING: Any = object()

# Characters a terminal or a Markdown reader would act on rather than show: control and format
# characters (escape sequences, bidi overrides), line separators, unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_text(text: Any, limit: int) -> str:
    """A text from a report or a target, shown: printable, on one line, at most ``limit`` characters."""
    raw = bounded(text if isinstance(text, str) else str(text))[: limit * 2]
    shown = "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch
        for ch in printable(raw)
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


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
                self.note(where, f"$ref {clean_text(ref, VALUE_CHARS)!r} at {where} does not resolve within it")
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
    return _Consumer(clean_text(_words(entry.get("name")), NAME_CHARS), _words(entry.get("paging")), reliances)


def _impacts(consumers: Sequence[_Consumer], fits: Callable[[_Reliance], bool]) -> tuple[Impact, ...]:
    """Each consumer with a reliance ``fits(reliance)`` accepts, with how those reliances break."""
    impacts = []
    for consumer in consumers:
        ways = [r.breaks for r in consumer.relies_on if fits(r)]
        if ways:
            impacts.append(Impact(consumer.name, clean_text("; ".join(dict.fromkeys(w for w in ways if w)), HOW_CHARS)))
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
        location=clean_text(location, TITLE_CHARS),
        detail=clean_text(detail, TITLE_CHARS),
        breaking=rule.breaking,
        reason=rule.reason,
        consumers=consumers if rule.breaking else (),
        before=clean_text(before, VALUE_CHARS),
        after=clean_text(after, VALUE_CHARS),
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
                impacts.append(Impact(consumer.name, clean_text("; ".join(dict.fromkeys(ways)), HOW_CHARS)))
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
        impacts.append(Impact(consumer.name, clean_text(f"{sends}: {'; '.join(dict.fromkeys(ways))}", HOW_CHARS)))
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
