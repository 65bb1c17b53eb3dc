"""The one rule for "is this query valid", read from the spec's query parameters.

The mock answers a query with it, check-har classifies a recorded query with it, and the
strategies' tests hold what they draw to it, so that the three cannot disagree.

    >>> from dcs_contract.contract.spec import load_spec
    >>> rule = QueryRule.of(load_spec())
    >>> rule.read([("limit", "25")]).values
    {'limit': 25, 'offset': 0}
    >>> rule.read([("limit", "10\\n")]).first.kind
    <FaultKind.NOT_INTEGER: 'not-integer'>

Each parameter's ``type``, bounds, ``pattern``, ``format``, ``default`` and ``required`` come
from the spec. Two things the spec cannot say in its schemas are written here, once:

- how an integer is spelt on the wire: ASCII digits with an optional leading ``-``, the
  whole value, and no more than :data:`MAX_INTEGER_DIGITS` digits. A decision, the rule the
  mock and check-har always meant: Python's ``int()`` would also take ``" 10"``, ``"1_0"``,
  ``"+1"``, ``"\\u0661"`` (an Arabic-Indic one) and ``"10\\n"``, and the contract refuses them;
- the window: ``begin_time`` not later than ``end_time``, which the spec states in prose
  (end_time's description, DCS.4025).

A pattern is matched as JSON Schema means it, with ECMA-262's ``$`` (the very end; Python's
``$`` also matches before a trailing newline) and ASCII ``\\d`` and ``\\w``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from dcs_contract.contract.formats import parse_dcs_timestamp
from dcs_contract.contract.spec import Spec, per_spec

__all__ = [
    "MAX_INTEGER_DIGITS",
    "WINDOW",
    "FaultKind",
    "InvalidQuery",
    "QueryFault",
    "QueryRule",
    "ValidQuery",
    "ecma_pattern",
]

# The window's ends: the only parameter names this module knows, for the one rule across two.
WINDOW = ("begin_time", "end_time")
# An integer on the wire (a decision, see the module's docstring). [0-9], not \d: \d takes any script's digits.
_INTEGER = re.compile(r"-?[0-9]+")
# int() refuses more digits than sys.get_int_max_str_digits(), which a process may lower to this
# threshold and no further: at most this many digits always convert, and a longer value is a
# fault, never a ValueError that a caller mistakes for a bug (the mock once answered it 500).
MAX_INTEGER_DIGITS = sys.int_info.str_digits_check_threshold


class FaultKind(StrEnum):
    """Why a parameter is at fault: the harness's own reasons, then the schema keyword broken."""

    DUPLICATE = "duplicate"
    MISSING = "missing"
    NOT_INTEGER = "not-integer"
    TOO_MANY_DIGITS = "too-many-digits"
    BELOW_MINIMUM = "below-minimum"
    ABOVE_MAXIMUM = "above-maximum"
    PATTERN = "pattern"
    FORMAT = "format"
    SCHEMA = "schema"
    REVERSED_WINDOW = "reversed-window"


# A schema error's keyword as a kind; when a value breaks several, the first kind listed here is
# the one reported: the bound before int32's format, the shape (pattern) before the calendar (format).
_KEYWORD_KINDS = {
    "minimum": FaultKind.BELOW_MINIMUM,
    "exclusiveMinimum": FaultKind.BELOW_MINIMUM,
    "maximum": FaultKind.ABOVE_MAXIMUM,
    "exclusiveMaximum": FaultKind.ABOVE_MAXIMUM,
    "pattern": FaultKind.PATTERN,
    "format": FaultKind.FORMAT,
}
_PRECEDENCE = list(FaultKind)


@dataclass(frozen=True, kw_only=True)
class QueryFault:
    """One parameter at fault: which, why, the value as sent (None when missing), and a sentence."""

    parameter: str
    kind: FaultKind
    value: str | None
    message: str
    # The schema keyword broken, for the kinds that come from the schema; else None.
    keyword: str | None = None


@dataclass(frozen=True)
class ValidQuery:
    """A valid query's parameters, typed as their schemas say: those given, and the defaults of the others."""

    values: Mapping[str, int | str]

    def integer(self, name: str) -> int:
        """An integer parameter's value, given or its default; LookupError when it has neither."""
        value = self.values.get(name)
        if not isinstance(value, int):
            raise LookupError(f"{name} is not an integer of this query: absent with no default, or not an integer")
        return value

    def text(self, name: str) -> str | None:
        """A string parameter's value, or None when it is absent and has no default."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class InvalidQuery:
    """A refused query: every fault, in the spec's order of the parameters, the window's last."""

    faults: tuple[QueryFault, ...]

    @property
    def first(self) -> QueryFault:
        """The fault a service that stops at the first bad parameter names."""
        return self.faults[0]

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters at fault, each once."""
        return tuple(dict.fromkeys(fault.parameter for fault in self.faults))


@dataclass(frozen=True)
class _Parameter:
    name: str
    integer: bool
    required: bool
    default: int | str | None
    validator: Validator
    pattern: re.Pattern[str] | None


class QueryRule:
    """Whether a query is valid, and its typed values: built from a spec, the same for every caller.

    ``QueryRule.of(spec)`` gives the one rule of a spec, built on first use.
    """

    def __init__(self, spec: Spec) -> None:
        # Nothing here keeps the spec alive: QueryRule.of caches by the spec's life.
        self._parameters = {
            name: _Parameter(
                name=name,
                integer=schema.get("type") == "integer",
                required=bool(spec.parameters[name].get("required", False)),
                default=schema.get("default"),
                validator=spec.validator(schema),
                pattern=ecma_pattern(schema["pattern"]) if isinstance(schema.get("pattern"), str) else None,
            )
            for name, schema in spec.query_parameters.items()
        }
        self._window = WINDOW if set(WINDOW) <= set(self._parameters) else None

    @classmethod
    def of(cls, spec: Spec) -> QueryRule:
        """The rule of ``spec``, built once and kept while the spec lives."""
        return _rule_of(spec)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The query parameters the rule reads, in the spec's order; any other is ignored."""
        return tuple(self._parameters)

    def read(self, pairs: Sequence[tuple[str, str]]) -> ValidQuery | InvalidQuery:
        """The query's values, or every fault in it; parameters the spec does not define are ignored."""
        faults: list[QueryFault] = []
        values: dict[str, int | str] = {}
        for name, parameter in self._parameters.items():
            raws = [value for key, value in pairs if key == name]
            if not raws:
                if parameter.required:
                    faults.append(
                        QueryFault(parameter=name, kind=FaultKind.MISSING, value=None, message=f"{name} is required")
                    )
                if parameter.default is not None:
                    values[name] = parameter.default
                continue
            if len(raws) > 1:
                message = f"{name} is given {len(raws)} times, but it may be given once"
                faults.append(QueryFault(parameter=name, kind=FaultKind.DUPLICATE, value=raws[0], message=message))
                continue
            value = self._value(parameter, raws[0])
            if isinstance(value, QueryFault):
                faults.append(value)
            else:
                values[name] = value
        window = self._window_fault(values, {fault.parameter for fault in faults})
        if window is not None:
            faults.append(window)
        return InvalidQuery(tuple(faults)) if faults else ValidQuery(values)

    def read_value(self, name: str, raw: str) -> int | str | QueryFault:
        """One parameter's value as its schema types it, or why it is at fault."""
        return self._value(self._parameters[name], raw)

    def accepts(self, pairs: Sequence[tuple[str, str]]) -> bool:
        return isinstance(self.read(pairs), ValidQuery)

    def _value(self, parameter: _Parameter, raw: str) -> int | str | QueryFault:
        name = parameter.name
        value: int | str = raw
        if parameter.integer:
            if not _INTEGER.fullmatch(raw):
                message = f"{name}={raw!r}, but it must be an integer: ASCII digits, with an optional leading '-'"
                return QueryFault(parameter=name, kind=FaultKind.NOT_INTEGER, value=raw, message=message)
            digits = len(raw.removeprefix("-"))
            if digits > MAX_INTEGER_DIGITS:
                message = f"{name} has {digits} digits, but an integer here has {MAX_INTEGER_DIGITS} at most"
                return QueryFault(parameter=name, kind=FaultKind.TOO_MANY_DIGITS, value=raw, message=message)
            value = int(raw)
        elif parameter.pattern is not None and not parameter.pattern.search(raw):
            message = f"{name}={raw!r}, but it must match {parameter.pattern.pattern!r}"
            return QueryFault(parameter=name, kind=FaultKind.PATTERN, value=raw, message=message, keyword="pattern")
        errors = list(parameter.validator.iter_errors(value))
        if not errors:
            return value
        error = min(errors, key=_kind_rank)
        return QueryFault(
            parameter=name,
            kind=_kind(error),
            value=raw,
            message=f"{name}={raw!r}, but {error.message}",
            keyword=str(error.validator),
        )

    def _window_fault(self, values: Mapping[str, Any], faulty: set[str]) -> QueryFault | None:
        """begin_time after end_time, when both are given and valid: begin_time's fault, as DCS.4025 says."""
        if self._window is None:
            return None
        begin_name, end_name = self._window
        begin, end = values.get(begin_name), values.get(end_name)
        if faulty & set(self._window) or not isinstance(begin, str) or not isinstance(end, str):
            return None
        try:
            if parse_dcs_timestamp(begin) <= parse_dcs_timestamp(end):
                return None
        except ValueError:
            return None  # a spec without the dcs-timestamp format: times that do not order are no window
        message = f"{begin_name}={begin!r} is later than {end_name}={end!r}"
        return QueryFault(parameter=begin_name, kind=FaultKind.REVERSED_WINDOW, value=begin, message=message)


@per_spec
def _rule_of(spec: Spec) -> QueryRule:
    return QueryRule(spec)


def _kind(error: ValidationError) -> FaultKind:
    return _KEYWORD_KINDS.get(str(error.validator), FaultKind.SCHEMA)


def _kind_rank(error: ValidationError) -> int:
    return _PRECEDENCE.index(_kind(error))


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` compiled to match as ECMA-262 does, not as Python's ``re`` would.

    ``$`` outside a character class becomes ``\\Z``: in ECMA-262 it is the end of the text,
    in Python also the place before a final newline, so ``^[0-9]+$`` would take ``"10\\n"``.
    ``re.ASCII``: ECMA-262's ``\\d`` and ``\\w`` are ASCII (its ``\\s`` is wider, a difference
    no query pattern here meets).
    """
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out), re.ASCII)
