"""One pass over a JSON body's bytes: what the wire rules (:mod:`dcs_contract.contract.wire`) read.

:meth:`Scan.of` reads a body once and keeps what the rules ask about: numbers of the
integer fields, numbers longer than a decoder reads, ``NaN`` and ``Infinity``, duplicate
keys, lone surrogate escapes, how deep it nests and where its value ends. Each kept thing is
a :class:`Found`: the place with ``*`` for array indexes (one defect, one finding), the
place itself, the byte offset::

    scan = Scan.of(raw, start=0, fields={"/total_num": "int32"}, long_number=309, depths=(1000, 10000))
    scan.duplicates, scan.depth, scan.complete, scan.end

The scan is linear (possessive patterns, no backtracking), iterative (a stack, not
recursion) and never raises; it stops where the bytes stop being JSON. Python's C parser
first tries to prove a body clean, a hundred times faster: only a body it cannot is scanned.
A body proved clean nests within every consumer's limit, and its ``depth`` is left at 0: the
rules read a depth only past a limit.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["INTEGER_FORMATS", "Found", "Scan", "escaped", "pointer_token", "shown", "visible"]

# The formats a spec's integer field may name, and the values each holds.
INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# What the scan keeps of each kind: a body with a million bad numbers shows the first few.
_KEPT = 20


def escaped(name: str) -> str:
    """A name as a JSON pointer writes it (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def pointer_token(name: str) -> str:
    """A body's name as a finding's JSON pointer shows it: escaped, its control characters as escapes (visible)."""
    return escaped(visible(name))


def shown(token: bytes) -> str:
    """A token as a finding holds it: whole, as text, control characters escaped.

    Not cut here: the report scrubs a finding's texts and only then cuts them to their
    display limit, and a cut before the scrubbing could leave a piece of a secret too short
    to be recognised. A token is a slice of a body within the body cap, as other checks'
    values are, and a response gives at most ``MAX_FINDINGS_PER_RESPONSE`` findings.
    """
    return visible(token.decode("utf-8", "replace"))


def visible(text: str) -> str:
    r"""``text`` with control characters (and lone surrogates) as escapes: ``\x1b``, ``\udc80``.

    A finding's texts reach terminals, junit.xml and annotations: a raw ESC would colour a
    terminal, and a raw \x01 makes the XML invalid.
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


_WS = re.compile(rb"[ \t\n\r]*+")
_WS_BYTES = frozenset(b" \t\n\r")
# Possessive: a string never backtracks, so an unterminated one costs its length once.
_STRING = re.compile(rb'"[^"\\]*+(?:\\[\s\S][^"\\]*+)*+"')
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*+)(\.[0-9]++)?+([eE][+-]?[0-9]++)?+")
_LITERAL = re.compile(rb"true|false|null")
_NON_FINITE = re.compile(rb"NaN|-?Infinity")
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|[\s\S])")


@dataclass(frozen=True)
class Found:
    """Something the scan met: where (the pointer with ``*`` for indexes, and with them), the offset, the text."""

    location: str
    pointer: str
    offset: int
    text: str


@dataclass
class _Frame:
    is_object: bool
    key: str | int = 0
    keys: set[str] = field(default_factory=set)


@dataclass
class Scan:
    """What one pass over a body met. ``complete``: a whole value was read; ``end``: where it and its whitespace end."""

    numbers: list[tuple[Found, re.Match[bytes]]] = field(default_factory=list)
    long_numbers: list[Found] = field(default_factory=list)
    non_finite: list[Found] = field(default_factory=list)
    duplicates: list[Found] = field(default_factory=list)
    lone_surrogates: list[Found] = field(default_factory=list)
    depth: int = 0
    deepest_at: int = 0
    complete: bool = False
    end: int = 0

    @classmethod
    def of(
        cls, raw: bytes, *, start: int, fields: Mapping[str, str], long_number: int | None, depths: tuple[int, ...]
    ) -> Scan:
        """Scan ``raw`` from ``start``.

        ``fields``: the integer fields (pointer with ``*``, format) whose numbers are kept;
        ``long_number``: the length past which a number is kept; ``depths``: the consumers' depth
        limits, the scan going no deeper than the largest (past it, every consumer is past).
        A body that Python's own (C) parser shows to break no rule is not scanned again.
        """
        clean = _clean(raw, start, fields, long_number, depths[0] if depths else None)
        if clean is not None:
            return clean
        scan = cls()
        scan._run(raw, start, frozenset(fields), long_number, (depths[-1] if depths else _DEEPEST) + 1)
        return scan

    def _run(self, raw: bytes, pos: int, patterns: frozenset[str], long_number: int | None, deepest: int) -> None:
        stack: list[_Frame] = []
        deepest_pattern = max((p.count("/") for p in patterns), default=0)
        size = len(raw)
        state = "value"
        while True:
            if pos < size and raw[pos] in _WS_BYTES:
                pos = _end(_WS.match(raw, pos))
            if state == "after":
                if not stack:
                    self.complete, self.end = True, pos
                    return
                frame = stack[-1]
                closer = 0x7D if frame.is_object else 0x5D
                if pos < size and raw[pos] == 0x2C:  # ,
                    pos += 1
                    if frame.is_object:
                        state = "key"
                    else:
                        frame.key = int(frame.key) + 1
                        state = "value"
                elif pos < size and raw[pos] == closer:
                    stack.pop()
                    pos += 1
                else:
                    return
                continue
            if pos >= size:
                return
            byte = raw[pos]
            if state in ("first-key", "first-value"):
                if byte == (0x7D if state == "first-key" else 0x5D):
                    stack.pop()
                    pos, state = pos + 1, "after"
                    continue
                state = "key" if state == "first-key" else "value"
            if state == "key":
                string = _STRING.match(raw, pos)
                if string is None:
                    return
                frame = stack[-1]
                frame.key = _decoded(string.group())
                if frame.key in frame.keys:
                    self._keep(self.duplicates, stack, pos, frame.key)
                frame.keys.add(frame.key)
                self._surrogates(string, stack)
                pos = _end(_WS.match(raw, string.end()))
                if pos >= size or raw[pos] != 0x3A:  # :
                    return
                pos, state = pos + 1, "value"
                continue
            # a value
            if byte in (0x7B, 0x5B):  # { [
                stack.append(_Frame(is_object=byte == 0x7B))
                if len(stack) > self.depth:
                    self.depth, self.deepest_at = len(stack), pos
                if len(stack) >= deepest:
                    return  # past every consumer's limit: deeper is no news, and would cost a frame a byte
                pos, state = pos + 1, "first-key" if byte == 0x7B else "first-value"
                continue
            state = "after"
            if byte == 0x22:  # "
                string = _STRING.match(raw, pos)
                if string is None:
                    return
                self._surrogates(string, stack)
                pos = string.end()
            elif (special := _NON_FINITE.match(raw, pos)) is not None:
                self._keep(self.non_finite, stack, pos, special.group().decode())
                pos = special.end()
            elif (number := _NUMBER.match(raw, pos)) is not None:
                self._number(number, stack, patterns if len(stack) <= deepest_pattern else frozenset(), long_number)
                pos = number.end()
            elif (literal := _LITERAL.match(raw, pos)) is not None:
                pos = literal.end()
            else:
                return

    def _number(
        self, number: re.Match[bytes], stack: list[_Frame], patterns: frozenset[str], long_number: int | None
    ) -> None:
        length = number.end() - number.start()
        if long_number is not None and length > long_number:
            self._keep(self.long_numbers, stack, number.start(), str(length))
        if patterns and _pattern(stack) in patterns and len(self.numbers) < _KEPT:
            self.numbers.append((_found(stack, number.start(), ""), number))

    def _surrogates(self, string: re.Match[bytes], stack: list[_Frame]) -> None:
        token = string.group()
        if b"\\u" not in token:
            return
        high_ends = -1  # where the last unpaired high surrogate's escape ends
        for escape in _ESCAPE.finditer(token):
            unit = int(escape.group(1), 16) if escape.group(1) else -1
            if high_ends >= 0 and not (0xDC00 <= unit <= 0xDFFF and escape.start() == high_ends):
                self._keep(self.lone_surrogates, stack, string.start() + high_ends - 6, shown(token))
                return
            if 0xDC00 <= unit <= 0xDFFF and high_ends < 0:
                self._keep(self.lone_surrogates, stack, string.start() + escape.start(), shown(token))
                return
            high_ends = escape.end() if 0xD800 <= unit <= 0xDBFF and high_ends < 0 else -1
        if high_ends >= 0:
            self._keep(self.lone_surrogates, stack, string.start() + high_ends - 6, shown(token))

    @staticmethod
    def _keep(kept: list[Found], stack: list[_Frame], offset: int, text: str) -> None:
        if len(kept) < _KEPT:
            kept.append(_found(stack, offset, text))


# How deep the scan goes when no consumer states a limit: Go's encoding/json's own.
_DEEPEST = 10000
# What may be a surrogate's escape: only a body that has one is searched for a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# A high surrogate's escape not followed by a low one's, or a low one's not preceded by a high
# one's: a lone surrogate, where every backslash begins an escape (see _lone_surrogate). Each
# match begins with the literal backslash-u, which the regex engine searches for fast.
_UNPAIRED_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD](?:[89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|[c-fC-F][0-9a-fA-F]{2}(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))"
)
# A surrogate in a string the C parser made: paired escapes make one character, so this one was alone.
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_WS = " \t\n\r"


class _Unclean(Exception):
    """Raised from the C parser's hooks: this body breaks a rule, and the scan must say where."""


def _clean(
    raw: bytes, start: int, fields: Mapping[str, str], long_number: int | None, shallowest: int | None
) -> Scan | None:
    """The scan of a body that breaks no rule the scan judges, read by the C parser; None when it may break one.

    The C parser is a hundred times faster than the scan: the bodies of a run, large pages
    included, cost little; a body it does not read whole is scanned, up to where it stops
    being JSON.
    """
    if long_number is not None and _has_number_run(raw, start, long_number):
        return None

    text = raw[start:].decode("utf-8", "replace")
    begin = len(text) - len(text.lstrip(_JSON_WS))
    try:
        value, end = _STRICT_DECODER.raw_decode(text, begin)
    except (_Unclean, RecursionError, ValueError):  # ValueError: not JSON, which the scan reads up to where it stops
        return None
    if text[end:].strip(_JSON_WS):
        return None
    # Python 3.11's C parser gives up past the recursion limit: below a consumer's limit, it had
    # to measure nothing. From 3.12 it has a deeper limit of its own, so the depth is measured.
    measure = shallowest is not None and (sys.version_info >= (3, 12) or sys.getrecursionlimit() > shallowest)
    if _SURROGATE_ESCAPE.search(raw, start) is not None and _lone_surrogate(raw, start, value):
        return None
    if measure and shallowest is not None and _depth(value, shallowest) > shallowest:
        return None
    for pointer, fmt in fields.items():
        low, high = INTEGER_FORMATS[fmt]
        for found in _at_pointer(value, pointer):
            number = isinstance(found, int | float) and not isinstance(found, bool)
            if number and (isinstance(found, float) or not low <= found <= high):
                return None
    # Not measured, or within every consumer's limit: the rule reads the depth only past one.
    return Scan(complete=True, end=len(raw))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object as the C parser read it, unless a key comes twice: the scan says where."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Unclean
    return value


def _no_constant(name: str) -> Any:
    """NaN and the infinities are no JSON: the scan says where."""
    raise _Unclean


# Stateless: one for every body.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_unique_keys)


# Each byte a number may be written with, as "1"; every other as "0". A run of ones longer than
# a limit is then one substring search: linear, where a regex tried every start within a run.
_NUMBER_BYTES = bytes(0x31 if chr(byte) in "-+.eE0123456789" else 0x30 for byte in range(256))


def _has_number_run(raw: bytes, start: int, longest: int) -> bool:
    """Whether ``raw`` may hold a number longer than ``longest``: such a body is scanned, which tells for sure."""
    return raw.translate(_NUMBER_BYTES).find(b"1" * (longest + 1), start) != -1


# What the C parser makes of objects and arrays: these types, never a subclass.
_CONTAINERS = (dict, list)


def _lone_surrogate(raw: bytes, start: int, value: Any) -> bool:
    """Whether the body ``raw`` parsed to ``value`` holds a lone surrogate (see _SURROGATE).

    Read on the bytes where every backslash begins an escape, that is, where no two are adjacent:
    then an escape's neighbour is an escape too, and the pattern is exact. The mock's pages write
    an emoji as escapes: on one of 1,000 records, the bytes took 0.9 ms and the parsed strings 6
    to 11 ms (medians of 40, 2026-12-07).
    """
    if raw.find(b"\\\\", start) == -1:
        return _UNPAIRED_SURROGATE_ESCAPE.search(raw, start) is not None
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is str:
            if _SURROGATE.search(item):
                return True
        elif type(item) is dict:
            if any(_SURROGATE.search(key) for key in item):
                return True
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return False


def _depth(value: Any, deepest: int) -> int:
    """How deep a parsed body nests, a level at a time, without recursion; ``deepest + 1`` once past ``deepest``."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level and depth <= deepest:
        depth += 1
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in _CONTAINERS
        ]
    return depth


def _at_pointer(value: Any, pointer: str) -> Iterator[Any]:
    """The values at ``pointer`` (``*``: every item of an array) in a parsed body."""
    found = [value]
    for part in pointer.split("/")[1:]:
        name = part.replace("~1", "/").replace("~0", "~")
        if part == "*":
            found = [item for each in found if isinstance(each, list) for item in each]
        else:
            found = [each[name] for each in found if isinstance(each, dict) and name in each]
    yield from found


def _end(match: re.Match[bytes] | None) -> int:
    assert match is not None  # the whitespace pattern matches everywhere, if only the empty string
    return match.end()


def _decoded(token: bytes) -> str:
    """A JSON string token's value; its text as it is when it does not decode."""
    if b"\\" not in token:  # no escape: the value is the text between the quotes, as the parser would make it
        return token[1:-1].decode("utf-8", "replace")
    text = token.decode("utf-8", "replace")
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def _pattern(stack: list[_Frame]) -> str:
    return "".join("/" + (pointer_token(str(f.key)) if f.is_object else "*") for f in stack)


def _found(stack: list[_Frame], offset: int, text: str) -> Found:
    # Only the first few of each kind are kept, so a pointer is built a bounded number of times.
    pointer = "".join("/" + pointer_token(str(f.key)) for f in stack)
    return Found(_pattern(stack), pointer, offset, text)
