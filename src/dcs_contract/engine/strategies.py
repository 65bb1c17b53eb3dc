"""Hypothesis strategies of the domain, so that "valid" is really valid.

A naive generator following the spec's pattern would send 20230231000000, which a faithful
service rightly rejects, and windows whose begin is after their end. These strategies make
real calendar times, ordered windows, and lean to the edges where services break: the last
second of a month, 29 February, one-second windows, offset 0, limit 1 and the maximum.

    >>> from dcs_contract.contract.spec import load_spec
    >>> query_times(load_spec()).example()  # doctest: +SKIP
    '20240229235959'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from hypothesis import strategies as st
from schemathesis import Case

from dcs_contract.contract.formats import format_dcs_timestamp, is_dcs_timestamp, parse_dcs_timestamp
from dcs_contract.contract.query import QueryFault, QueryRule
from dcs_contract.contract.spec import Spec, per_spec

__all__ = [
    "SplitWindow",
    "invalid_queries",
    "invalid_values",
    "limits",
    "offsets",
    "order_window",
    "paging_queries",
    "probe_invalid_queries",
    "probe_window",
    "pulled_apart",
    "query_times",
    "split_windows",
    "valid_queries",
    "wide_windows",
    "windows",
]


_SECOND = timedelta(seconds=1)


def _month_ends(year: int) -> list[datetime]:
    firsts = [datetime(year + (m == 12), m % 12 + 1, 1, tzinfo=UTC) for m in range(1, 13)]
    return [first - timedelta(seconds=1) for first in firsts]


def query_times(spec: Spec, *, around: datetime | None = None) -> st.SearchStrategy[str]:
    """``yyyyMMddHHmmss`` strings the spec's QueryTime accepts, leaning to recent times and edges."""
    schema = spec.component("QueryTime")
    valid = spec.validator(schema).is_valid
    now = around or datetime.now(UTC)
    recent = st.datetimes(
        min_value=datetime(now.year - 4, 1, 1),
        max_value=datetime(now.year + 1, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    )
    edges = st.sampled_from(
        [
            *_month_ends(now.year - 2),
            datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
            datetime(now.year, 1, 1, tzinfo=UTC),
        ]
    )
    formatted = st.one_of(recent, edges).map(format_dcs_timestamp)
    return st.one_of(formatted, formatted, _anywhere(schema["pattern"])).filter(valid)


def _anywhere(pattern: str) -> st.SearchStrategy[str]:
    """Any calendar time the spec's pattern allows, so that the far corners are tried too.

    Drawn as datetimes over the years the pattern admits, not with ``st.from_regex``: its
    draws cost four times as much, and a third of them fell on days no calendar has.
    """
    years = _pattern_years(pattern)
    if years is None:  # a pattern whose years cannot be read off: draw from it, as it says
        return st.from_regex(pattern, fullmatch=True).filter(is_dcs_timestamp)
    first, last = years
    moments = st.datetimes(min_value=datetime(first, 1, 1), max_value=datetime(last, 12, 31, 23, 59, 59))
    return moments.map(format_dcs_timestamp)


@functools.lru_cache(maxsize=8)
def _pattern_years(pattern: str) -> tuple[int, int] | None:
    """The first and the last year whose first second ``pattern`` matches, if any does."""
    matches = re.compile(pattern).fullmatch
    years = [year for year in range(datetime.min.year, datetime.max.year + 1) if matches(f"{year:04d}0101000000")]
    return (years[0], years[-1]) if years else None


def _in_order(pair: tuple[str, str]) -> tuple[str, str]:
    first, second = sorted(pair, key=parse_dcs_timestamp)
    return first, second


def _ordered(times: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(times, times).map(_in_order)


def windows(spec: Spec) -> st.SearchStrategy[tuple[str, str]]:
    """(begin, end) with begin not later than end; one-second windows are common."""
    times = query_times(spec)
    return st.one_of(_ordered(times), times.map(lambda t: (t, t)))


def wide_windows(spec: Spec) -> st.SearchStrategy[tuple[str, str]]:
    """(begin, end) with begin strictly earlier than end: a window that reads differently reversed."""
    # Built, not filtered: hypothesis often draws both times alike, and each such draw would
    # be thrown away. Equal times are pulled a second apart, within what a query can carry.
    valid = spec.validator(spec.component("QueryTime")).is_valid
    return _ordered(query_times(spec)).map(lambda window: pulled_apart(window, valid))


def pulled_apart(window: tuple[str, str], valid: Callable[[str], bool]) -> tuple[str, str]:
    """``window`` if its times differ; else the second from its time on, or the one up to it at the end of time."""
    begin, end = window
    if begin != end:
        return window
    moment = parse_dcs_timestamp(begin)
    for shift in (0, -1):
        try:
            pair = tuple(format_dcs_timestamp(moment + (shift + n) * _SECOND) for n in (0, 1))
        except OverflowError:  # the last second of year 9999
            continue
        if all(map(valid, pair)):
            return pair[0], pair[1]
    raise AssertionError(f"the spec's QueryTime allows no window of two seconds around {begin}")


def _bounded(spec: Spec, name: str) -> st.SearchStrategy[int]:
    schema = spec.query_parameters[name]
    low, high = schema["minimum"], schema["maximum"]
    edges = [value for value in (low, low + 1, schema.get("default"), high) if value is not None]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def limits(spec: Spec) -> st.SearchStrategy[int]:
    """Valid limits, often the minimum, the default or the maximum."""
    return _bounded(spec, "limit")


def offsets(spec: Spec) -> st.SearchStrategy[int]:
    """Valid offsets, often 0, 1 and the maximum."""
    return _bounded(spec, "offset")


def order_window(case: Case[Any]) -> Case[Any]:
    """Swap a generated window whose begin is later than its end: a valid query has begin <= end."""
    query: dict[str, Any] = case.query or {}
    begin, end = query.get("begin_time"), query.get("end_time")
    if not (isinstance(begin, str) and isinstance(end, str)):
        return case
    if is_dcs_timestamp(begin) and is_dcs_timestamp(end) and parse_dcs_timestamp(begin) > parse_dcs_timestamp(end):
        query["begin_time"], query["end_time"] = end, begin
    return case


def valid_queries(spec: Spec) -> st.SearchStrategy[dict[str, str]]:
    """Valid queries as sent on the wire: any subset of a window, a limit and an offset."""
    # Built once, not per draw: each one compiles the spec's validators and patterns.
    window_of, paging_of = windows(spec), _optional_paging(limits(spec), offsets(spec))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        query: dict[str, str] = {}
        if draw(st.booleans()):
            query["begin_time"], query["end_time"] = draw(window_of)
        return {**query, **draw(paging_of)}

    return build()


def _optional_paging(
    limit_of: st.SearchStrategy[int], offset_of: st.SearchStrategy[int]
) -> st.SearchStrategy[dict[str, str]]:
    """A limit and an offset, each present or left to its default."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        query: dict[str, str] = {}
        if draw(st.booleans()):
            query["limit"] = str(draw(limit_of))
        if draw(st.booleans()):
            query["offset"] = str(draw(offset_of))
        return query

    return build()


# "\u0661" is an Arabic-Indic digit one and "\uff12..." full-width digits: digits to
# str.isdigit(), not to a service that parses ASCII.
_NOT_INTEGERS = ["ten", "1.5", "", "1e3", "0x10", " 1", "+-1", "\u0661"]
_INT32_MAX = 2**31 - 1
# 31 February, and a time in the form the records' own times take (RFC 3339).
_IMPOSSIBLE_DATE, _OTHER_TIME_FORM = "20230231000000", "2023-02-01T00:00:00Z"
_NOT_TIMES = [
    _IMPOSSIBLE_DATE,
    _OTHER_TIME_FORM,
    "2023023100000",
    "2023-02-01000000",
    "20230229000000",
    "202302010000000",
    "",
    "\uff12\uff10\uff12\uff13\uff10\uff11\uff10\uff11\uff10\uff10\uff10\uff10\uff10\uff10",
]


def _invalid_edges(spec: Spec, name: str) -> list[str]:
    schema = spec.query_parameters[name]
    if schema["type"] == "integer":
        return [str(schema["minimum"] - 1), str(schema["maximum"] + 1), *_NOT_INTEGERS]
    return list(_NOT_TIMES)


def invalid_values(spec: Spec, name: str) -> st.SearchStrategy[str]:
    """Values of one query parameter that the query rule refuses, as they go on the wire."""
    schema = spec.query_parameters[name]
    rule = QueryRule.of(spec)
    edges = st.sampled_from(_invalid_edges(spec, name))
    if schema["type"] == "integer":
        beyond = st.integers(max_value=schema["minimum"] - 1) | st.integers(min_value=schema["maximum"] + 1)
        return edges | beyond.map(str)
    # Refused by the rule the mock answers and check-har judges by, so the value is invalid to both.
    return edges | st.text(max_size=16).filter(lambda value: isinstance(rule.read_value(name, value), QueryFault))


def probe_invalid_queries(spec: Spec) -> list[tuple[str, dict[str, str]]]:
    """(the parameter at fault, a query invalid in it alone): the probe plan's negative edges.

    Deterministic and derived from the spec: each integer parameter just below its minimum
    and just above its maximum where it has one; a reversed window; 31 February in the first
    time parameter and the records' own RFC 3339 form in the second; the first integer
    parameter as a non-integer. Each is one request that a lenient service gets wrong, so
    none is left to chance. The edges of ``limit`` and ``offset`` come first: they catch the
    most. ``offset`` above the int32 maximum is left to exploration: no client sends it.
    """
    parameters = spec.query_parameters
    integers = sorted(name for name, schema in parameters.items() if schema["type"] == "integer")
    times = sorted(name for name, schema in parameters.items() if schema["type"] != "integer")
    faults: list[tuple[str, dict[str, str]]] = []
    for name in integers:
        faults.append((name, {name: str(parameters[name]["minimum"] - 1)}))
    for name in integers:
        # A maximum that clients page against (limit), not the end of the int32 range (offset).
        if parameters[name].get("maximum", _INT32_MAX) < _INT32_MAX:
            faults.append((name, {name: str(parameters[name]["maximum"] + 1)}))
    if {"begin_time", "end_time"} <= set(parameters):
        faults.append(("begin_time", {"begin_time": "20240101000001", "end_time": "20240101000000"}))
    for name, value in zip(times, (_IMPOSSIBLE_DATE, _OTHER_TIME_FORM), strict=False):
        faults.append((name, {name: value}))
    if integers:
        faults.append((integers[0], {integers[0]: _NOT_INTEGERS[1]}))
    return faults


def invalid_queries(spec: Spec) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """(the parameter at fault, a query valid but for it), reversed windows included."""
    # Built once, not per draw: each one compiles the spec's validators and patterns.
    queries = valid_queries(spec)
    wide = wide_windows(spec)
    names = sorted(spec.query_parameters)
    bad_values = {name: invalid_values(spec, name) for name in names}

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
        query = draw(queries)
        if draw(st.integers(0, len(names))) == 0:
            begin, end = draw(wide)
            return "begin_time", {**query, "begin_time": end, "end_time": begin}
        name = draw(st.sampled_from(names))
        return name, {**query, name: draw(bad_values[name])}

    return build()


class SplitWindow(NamedTuple):
    """[begin, end] split into [begin, split] and [split + 1 s, end]; begin <= split < end."""

    begin: datetime
    split: datetime
    end: datetime

    @property
    def whole(self) -> dict[str, str]:
        return {"begin_time": format_dcs_timestamp(self.begin), "end_time": format_dcs_timestamp(self.end)}

    @property
    def left(self) -> dict[str, str]:
        return {"begin_time": format_dcs_timestamp(self.begin), "end_time": format_dcs_timestamp(self.split)}

    @property
    def right(self) -> dict[str, str]:
        after = self.split + timedelta(seconds=1)
        return {"begin_time": format_dcs_timestamp(after), "end_time": format_dcs_timestamp(self.end)}


# The probe plan's window when no record has a readable second: any fixed day will do.
_NO_RECORD_DAY = datetime(2024, 1, 1, tzinfo=UTC)


# Seconds whose validity is remembered, per spec: every record's second of a few thousand
# backups, and the seconds drawn anywhere, in about 3 MB when full. A target with more distinct
# seconds has them validated again at each exploration, as they all were before.
_REMEMBERED_SECONDS = 1 << 14


@per_spec
def _queryable(spec: Spec) -> Callable[[datetime], bool]:
    """Whether a second and its neighbours are times a query can carry, remembered by second.

    Each window exploration asks it of every record's second, and each asking validates three
    texts against the spec's QueryTime: unremembered, 8% of py-spy's samples in the drift-switch runs.
    """
    valid = spec.validator(spec.component("QueryTime")).is_valid

    @functools.lru_cache(maxsize=_REMEMBERED_SECONDS)
    def queryable(moment: datetime) -> bool:
        # A record's own second and its neighbours must be times a query can carry: a target
        # may list a backup of year 1 or 9999, one second short of the datetime's range.
        try:
            return all(valid(format_dcs_timestamp(moment + n * _SECOND)) for n in (-1, 0, 1))
        except OverflowError:
            return False

    return queryable


def _record_seconds(spec: Spec, around: Sequence[datetime]) -> list[datetime]:
    queryable = _queryable(spec)
    return sorted({second for moment in around if queryable(second := moment.replace(microsecond=0))})


def probe_window(spec: Spec, *, around: Sequence[datetime]) -> SplitWindow:
    """The probe plan's window: it begins, splits and ends on records' creation seconds.

    [a quarter in, the middle] and [the middle + 1 s, three quarters in] of the records'
    distinct seconds: a window end that is exclusive, off by a second, in another time zone
    or on another field lists other records than the unfiltered listing has in it.
    """
    seconds = _record_seconds(spec, around)
    if not seconds:
        return SplitWindow(_NO_RECORD_DAY, _NO_RECORD_DAY, _NO_RECORD_DAY + 86_400 * _SECOND)
    count = len(seconds)
    begin, split = seconds[count // 4], seconds[count // 2]
    return SplitWindow(begin, split, max(seconds[(3 * count) // 4], split + _SECOND))


def split_windows(spec: Spec, *, around: Sequence[datetime] = ()) -> st.SearchStrategy[SplitWindow]:
    """Windows with a split point, leaning on the seconds in ``around`` (the records' creation times).

    Edges on a record's own second, or one second either side, are where an exclusive end,
    an off-by-one or a filter on the wrong field shows; with no records, any valid times.
    """
    seconds = _record_seconds(spec, around)
    anywhere = query_times(spec).map(parse_dcs_timestamp).filter(_queryable(spec))
    if seconds:
        jitter = st.sampled_from([0, 0, 0, -1, 1]).map(lambda n: n * _SECOND)
        near = st.builds(lambda moment, delta: moment + delta, st.sampled_from(seconds), jitter)
        moments = st.one_of(near, near, near, anywhere)
    else:
        moments = anywhere

    @st.composite
    def build(draw: st.DrawFn) -> SplitWindow:
        begin, end = sorted((draw(moments), draw(moments)))
        if end == begin:
            end = begin + _SECOND
        inside = [moment for moment in seconds if begin <= moment < end]
        width = int((end - begin).total_seconds())
        choices = st.integers(0, width - 1).map(lambda n: begin + n * _SECOND)
        split = draw(st.sampled_from(inside) | choices if inside else choices)
        return SplitWindow(begin, split, end)

    return build()


def paging_queries(spec: Spec, *, total: int) -> st.SearchStrategy[dict[str, str]]:
    """A limit and an offset, each present or defaulted, with offsets near ``total`` and its edges."""
    offset_edges = st.sampled_from(sorted({0, max(total - 1, 0), total, total + 1}))
    return _optional_paging(limits(spec), st.one_of(offset_edges, st.integers(0, total + 1)))
