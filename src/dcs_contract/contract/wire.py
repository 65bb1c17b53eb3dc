"""The body as the consumers' decoders see it: rules on the raw bytes of a JSON answer.

The harness reads answers tolerantly, so that it never crashes on them: any charset, a byte
order mark skipped, any JSON number. The consumers do not: Go's ``encoding/json`` and
jsoniter refuse a byte order mark, a Go ``*int32`` refuses ``57.0``, a Python SDK that meets
data after the value silently returns an empty response. This module holds the rules the
bytes themselves must keep, one small registered function each (schemathesis's checks
registry is the model), each citing where it comes from::

    context = WireContext.of(spec, limits={"depth-within-decoders": (1000, 10000)})
    for violation in wire_violations(body, content_type, status=200, context=context):
        violation.rule, violation.location, violation.offset

Each rule reads one :class:`WireBody`, whose scan (:class:`Scan`) is made once, in one pass
over the bytes: linear in their length, iterative (no recursion, whatever the nesting), and
it never raises. Most bodies are clean, and Python's C parser proves that a hundred times
faster: only a body it cannot prove clean is scanned. Where the bytes stop being JSON the
scan stops too; that the body does not parse is the schema check's to say, not a wire rule's.

Which consumers a violation breaks is the spec's to say: each consumer's ``decoder`` in
``x-consumers``, keyed by these rules' ids (:mod:`dcs_contract.contract.consumers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property

from dcs_contract.contract.json_scan import INTEGER_FORMATS, Found, Scan, shown
from dcs_contract.contract.spec import Spec

__all__ = [
    "INTEGER_FORMATS",
    "WIRE_RULES",
    "Scan",
    "WireBody",
    "WireContext",
    "WireRule",
    "WireViolation",
    "is_json_media_type",
    "sub_detail",
    "wire_detail",
    "wire_violations",
]

BOM = b"\xef\xbb\xbf"
_RFC = "RFC 8259 (https://www.rfc-editor.org/rfc/rfc8259)"


@dataclass(frozen=True, kw_only=True)
class WireViolation:
    """One rule broken by one body.

    ``location``: a JSON pointer with ``*`` for each array index, ``body`` or ``Content-Type``:
    the same for every answer that breaks the rule at the same place, so that one defect is
    one finding. ``pointer``: where in this body (indexes kept); ``offset``: the byte offset.
    ``detail``: what tells consumers apart on it (``fractional``, ``int64``, the decoder limit
    the value is past), from the rule's ``details`` or its consumers' limits.
    """

    rule: str
    location: str
    actual: str
    pointer: str = ""
    offset: int | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class WireRule:
    """A registered rule: its id, what it asks, where the ask comes from, and the function that judges it.

    ``details``: the values its violations' ``detail`` may take; ``limited``: its bound is the
    consumers' own (their ``decoder.limits``), not a fixed one.
    """

    id: str
    title: str
    rule: str
    source: str
    judge: Callable[[WireBody], Iterator[WireViolation]]
    details: tuple[str, ...] = ()
    limited: bool = False


WIRE_RULES: dict[str, WireRule] = {}


def wire_rule(
    id: str, *, title: str, rule: str, source: str, details: tuple[str, ...] = (), limited: bool = False
) -> Callable[[Callable[[WireBody], Iterator[WireViolation]]], Callable[[WireBody], Iterator[WireViolation]]]:
    def register(judge: Callable[[WireBody], Iterator[WireViolation]]) -> Callable[[WireBody], Iterator[WireViolation]]:
        WIRE_RULES[id] = WireRule(
            id=id, title=title, rule=rule, source=source, judge=judge, details=details, limited=limited
        )
        return judge

    return register


def wire_detail(status: int, detail: str) -> str:
    """A wire finding's ``detail``: the status its answer had (one finding per kind of answer), and the rule's own."""
    return f"{status} {detail}" if detail else str(status)


def sub_detail(detail: str) -> str:
    """The rule's own part of a wire finding's ``detail`` (see :func:`wire_detail`)."""
    return detail.partition(" ")[2]


def is_json_media_type(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


# The names of UTF-8 a charset parameter may give: IANA's, and the alias every consumer's runtime knows.
_UTF_8 = ("utf-8", "utf8")


def _charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type, unquoted, or None; any case and spacing."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip()
    return None


@dataclass(frozen=True)
class WireContext:
    """What the rules read of the spec: its integer fields by status, and the consumers' decoder limits.

    ``integer_fields``: for each status, each integer field's pointer (``*`` for indexes) and
    format. ``limits``: for each limited rule, the distinct limits of the consumers' decoders.
    """

    integer_fields: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    limits: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: Spec, limits: Mapping[str, tuple[int, ...]] | None = None) -> WireContext:
        fields = {status: {f.pointer: f.format for f in found} for status, found in spec.integer_fields.items()}
        return cls(fields, {rule: tuple(sorted(set(values))) for rule, values in (limits or {}).items()})


# -- a body, and the rules on it ------------------------------------------------------------


@dataclass
class WireBody:
    """The raw bytes of one JSON answer, its Content-Type and status, and the context the rules read."""

    raw: bytes
    content_type: str
    status: int
    context: WireContext

    @cached_property
    def bom(self) -> bool:
        return self.raw.startswith(BOM)

    @cached_property
    def integer_fields(self) -> Mapping[str, str]:
        return self.context.integer_fields.get(self.status, {})

    @cached_property
    def scan(self) -> Scan:
        long_number = self.context.limits.get("number-length-within-decoders", ())
        return Scan.of(
            self.raw,
            start=len(BOM) if self.bom else 0,
            fields=self.integer_fields,
            long_number=long_number[0] if long_number else None,
            depths=self.context.limits.get("depth-within-decoders", ()),
        )

    def passed(self, rule: str, value: int) -> str | None:
        """The largest of the consumers' limits for ``rule`` that ``value`` is past, as text; None when within all."""
        past = [limit for limit in self.context.limits.get(rule, ()) if value > limit]
        return str(past[-1]) if past else None


def wire_violations(raw: bytes, content_type: str, *, status: int, context: WireContext) -> list[WireViolation]:
    """Every wire rule ``raw`` breaks, in the registry's order; none for an empty body, or one not JSON by its type."""
    if not raw or not is_json_media_type(content_type):
        return []
    body = WireBody(raw, content_type, status, context)
    return [violation for rule in WIRE_RULES.values() for violation in rule.judge(body)]


@wire_rule(
    "no-bom",
    title="The body starts with a byte order mark",
    rule="The body does not start with a UTF-8 byte order mark (EF BB BF).",
    source=f"{_RFC} section 8.1: implementations MUST NOT add a byte order mark to a networked JSON text",
)
def no_bom(body: WireBody) -> Iterator[WireViolation]:
    if body.bom:
        yield WireViolation(rule="no-bom", location="body", actual="EF BB BF at byte 0", offset=0)


@wire_rule(
    "utf-8",
    title="The body is not UTF-8",
    rule="The body's bytes are UTF-8 (RFC 3629): no byte sequence another charset wrote.",
    source=f"{_RFC} section 8.1: JSON text exchanged between systems MUST be encoded using UTF-8",
    details=("as-utf-8", "as-named-charset"),
)
def utf_8(body: WireBody) -> Iterator[WireViolation]:
    try:
        body.raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = body.raw[exc.start : exc.start + 4].hex(" ").upper()
        # A decoder that honours the charset named reads such bytes right: the detail tells it which was asked.
        charset = _charset(body.content_type)
        named = charset is not None and charset.lower() not in _UTF_8
        yield WireViolation(
            rule="utf-8",
            location="body",
            actual=f"{bad} at byte {exc.start}",
            offset=exc.start,
            detail="as-named-charset" if named else "as-utf-8",
        )


@wire_rule(
    "charset-utf-8",
    title="The Content-Type names a charset other than UTF-8",
    rule="A charset parameter of the Content-Type, if there is one, is UTF-8 (in any case, quoted or not).",
    source=f"{_RFC} sections 8.1 and 11: JSON is UTF-8, and application/json defines no charset parameter",
)
def charset_utf_8(body: WireBody) -> Iterator[WireViolation]:
    charset = _charset(body.content_type)
    if charset is not None and charset.lower() not in _UTF_8:
        yield WireViolation(rule="charset-utf-8", location="Content-Type", actual=body.content_type)


@wire_rule(
    "no-lone-surrogate",
    title="A string holds a lone surrogate escape",
    rule="Every \\uD800-\\uDFFF escape in a string is half of a surrogate pair.",
    source=f"{_RFC} section 8.2: a string with an unpaired surrogate makes a receiver's behaviour unpredictable",
)
def no_lone_surrogate(body: WireBody) -> Iterator[WireViolation]:
    for found in body.scan.lone_surrogates:
        yield _at("no-lone-surrogate", found, f"{found.text} at byte {found.offset}")


@wire_rule(
    "no-non-finite",
    title="A number is NaN or Infinity",
    rule="No NaN, Infinity or -Infinity: JSON has no literal for them.",
    source=f"{_RFC} section 6: numeric values such as Infinity and NaN are not permitted",
)
def no_non_finite(body: WireBody) -> Iterator[WireViolation]:
    for found in body.scan.non_finite:
        yield _at("no-non-finite", found, f"{found.text} at byte {found.offset}")


@wire_rule(
    "no-duplicate-key",
    title="An object names a key twice",
    rule="The names within an object are unique.",
    source=f"{_RFC} section 4: names SHOULD be unique; with duplicates, receivers differ in the value they keep",
)
def no_duplicate_key(body: WireBody) -> Iterator[WireViolation]:
    for found in body.scan.duplicates:
        yield _at("no-duplicate-key", found, f"{json.dumps(found.text)} again at byte {found.offset}")


@wire_rule(
    "no-trailing-data",
    title="The body has data after its JSON value",
    rule="Nothing but whitespace follows the JSON value.",
    source=f"{_RFC} section 2: a JSON text is one serialized value, with whitespace around it",
)
def no_trailing_data(body: WireBody) -> Iterator[WireViolation]:
    scan = body.scan
    if scan.complete and scan.end < len(body.raw):
        shown = body.raw[scan.end : scan.end + 20].decode("utf-8", "replace")
        yield WireViolation(
            rule="no-trailing-data", location="body", actual=f"{shown!r} at byte {scan.end}", offset=scan.end
        )


@wire_rule(
    "integer-written-as-integer",
    title="An integer field is written with a fraction or an exponent",
    rule="A field the spec types integer (int32, int64) is written as digits alone: no '.', no exponent.",
    source='the consumers\' decoders: json-iterator/go iter_int.go (assertInteger: "can not decode float as int") '
    "into the Go SDK's *int32 and *int64 (services/dcs/v2/model/model_list_backup_records_response.go)",
    details=("whole", "fractional"),
)
def integer_written_as_integer(body: WireBody) -> Iterator[WireViolation]:
    for found, number in body.scan.numbers:
        if number.group(1) or number.group(2):
            whole = _value(number.group()) is not None and _is_whole(number.group())
            yield _at(
                "integer-written-as-integer",
                found,
                f"{shown(number.group())} at byte {found.offset}",
                "whole" if whole else "fractional",
            )


@wire_rule(
    "integer-within-format",
    title="An integer field is past its format's range",
    rule="A field the spec types integer holds a value its format holds: int32 or int64.",
    source="the spec's formats, which the SDK models follow: Go *int32 and *int64 (json-iterator/go iter_int.go "
    "reports an overflow), Java Integer and Long (Jackson's getIntValue and getLongValue report one)",
    details=tuple(INTEGER_FORMATS),
)
def integer_within_format(body: WireBody) -> Iterator[WireViolation]:
    for found, number in body.scan.numbers:
        fmt = body.integer_fields[found.location]
        low, high = INTEGER_FORMATS[fmt]
        value = _value(number.group())
        if value is None or not low <= value <= high:
            yield _at("integer-within-format", found, f"{shown(number.group())} at byte {found.offset}", fmt)


@wire_rule(
    "depth-within-decoders",
    title="The body nests deeper than a consumer's decoder reads",
    rule="Objects and arrays nest no deeper than the consumers' decoders accept (their decoder.limits).",
    source="json-iterator/go iter.go (maxDepth 10000); golang/go src/encoding/json/scanner.go (maxNestingDepth "
    "10000); FasterXML/jackson-core 2.15.4 StreamReadConstraints.java (DEFAULT_MAX_DEPTH 1000); simplejson's C "
    "scanner (the interpreter's recursion limit, 1000 by default)",
    limited=True,
)
def depth_within_decoders(body: WireBody) -> Iterator[WireViolation]:
    scan = body.scan
    passed = body.passed("depth-within-decoders", scan.depth)
    if passed is not None:
        yield WireViolation(
            rule="depth-within-decoders",
            location="body",
            actual=f"nested {scan.depth} deep, the deepest at byte {scan.deepest_at}",
            offset=scan.deepest_at,
            detail=passed,
        )


@wire_rule(
    "number-length-within-decoders",
    title="A number is longer than a consumer's decoder reads",
    rule="No number is written with more characters than the consumers' decoders accept (their decoder.limits).",
    source="FasterXML/jackson-core 2.15.4 StreamReadConstraints.java (DEFAULT_MAX_NUM_LEN 1000); CPython's int() "
    "and simplejson (4300 digits); golang/go strconv.ParseFloat (past float64's range, about 309 digits)",
    limited=True,
)
def number_length_within_decoders(body: WireBody) -> Iterator[WireViolation]:
    for found in body.scan.long_numbers:
        passed = body.passed("number-length-within-decoders", int(found.text))
        if passed is not None:
            yield _at(
                "number-length-within-decoders",
                found,
                f"a number of {found.text} characters at byte {found.offset}",
                passed,
            )


def _at(rule: str, found: Found, actual: str, detail: str = "") -> WireViolation:
    return WireViolation(
        rule=rule,
        location=found.location or "body",
        pointer=found.pointer,
        offset=found.offset,
        actual=actual,
        detail=detail,
    )


def _value(token: bytes) -> Decimal | None:
    try:
        return Decimal(token.decode("ascii"))
    except (InvalidOperation, ValueError):
        return None


def _is_whole(token: bytes) -> bool:
    value = _value(token)
    try:
        return value is not None and value == value.to_integral_value()
    except ArithmeticError:
        return False
