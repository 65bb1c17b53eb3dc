"""Drift switches: named ways for the mock to break the contract, as a real service might.

The self-tests turn one on and prove that ``dcs-contract run`` catches it, naming the field
or parameter. With none set, the mock is the faithful service: the app does not even call
into this module.

A switch can change the dataset once (``data``), configure the service (``service``), wrap
each call to the service (``wrap``: rewrite the query before, the answer after, or both),
or open the gateway to requests without credentials. The registry is built without a spec;
``wrap`` is given the spec the mock serves, so that a switch reads the bounds and defaults
it plays with (the largest ``limit``, its default) instead of restating them.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from dcs_contract.contract.formats import format_dcs_timestamp, is_dcs_timestamp, parse_dcs_timestamp
from dcs_contract.contract.spec import Spec
from dcs_contract.mock.service import INVALID_PARAMETER, ServiceAnswer, ServiceCall, error_body

__all__ = ["DRIFTS", "Drift", "Handler", "Wrap", "drifts_named"]

Handler = Callable[[ServiceCall], ServiceAnswer]
# A handler around the given one, for the spec the mock serves.
Wrap = Callable[[Handler, Spec], Handler]
Records = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Drift:
    name: str
    category: str  # the kind of drift, as the report's categories name them
    description: str
    data: Callable[[Records], Records] | None = None
    service: Mapping[str, Any] = field(default_factory=dict)
    wrap: Wrap | None = None
    serves_anonymous: bool = False


DRIFTS: dict[str, Drift] = {}


def _register(name: str, category: str, description: str, **how: Any) -> None:
    DRIFTS[name] = Drift(name, category, description, **how)


def drifts_named(names: tuple[str, ...] | list[str]) -> tuple[Drift, ...]:
    """The switches by name; a ValueError lists the known ones."""
    unknown = [name for name in names if name not in DRIFTS]
    if unknown:
        raise ValueError(f"unknown drift switch {', '.join(unknown)}; known: {', '.join(sorted(DRIFTS))}")
    return tuple(DRIFTS[name] for name in names)


# -- how a switch changes things ------------------------------------------------------


def _query(change: Callable[[dict[str, str]], dict[str, str]]) -> Wrap:
    """Rewrite the query (as a dict of the last value of each name) before the service sees it."""

    def wrap(handler: Handler, spec: Spec) -> Handler:
        def call(request: ServiceCall) -> ServiceAnswer:
            before = dict(request.pairs)
            after = change(dict(before))
            # Names left alone keep every value they came with: a repeated parameter stays repeated.
            kept = [(name, value) for name, value in request.pairs if name in after and after[name] == before[name]]
            changed = [(name, value) for name, value in after.items() if before.get(name) != value]
            return handler(replace(request, pairs=kept + changed))

        return call

    return wrap


def _answer(change: Callable[[ServiceAnswer], ServiceAnswer]) -> Wrap:
    def wrap(handler: Handler, spec: Spec) -> Handler:
        return lambda request: change(handler(request))

    return wrap


def _records(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Wrap:
    """Rewrite every record of every 200 page."""

    def page(answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status != 200 or answer.body is None:
            return answer
        records = [change(dict(record)) for record in answer.body["backup_record_response"]]
        return replace(answer, body={**answer.body, "backup_record_response": records})

    return _answer(page)


def _dataset(change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Callable[[Records], Records]:
    """Rewrite the stored records once; ``change`` returns None to keep a record as it is."""

    def data(records: Records) -> Records:
        return {
            instance: [change(copy.deepcopy(record)) or record for record in rows] for instance, rows in records.items()
        }

    return data


def _count(value: str) -> int | None:
    """A query value that is a count written in ASCII digits, as an int; str.isdigit() also passes "²"."""
    return int(value) if value.isascii() and value.isdigit() else None


def _max_limit(spec: Spec) -> int:
    return int(spec.query_parameters["limit"]["maximum"])


def _shift(value: str, seconds: int) -> str:
    return format_dcs_timestamp(parse_dcs_timestamp(value) + timedelta(seconds=seconds))


def _errors(change: Callable[[ServiceAnswer], ServiceAnswer]) -> Wrap:
    return _answer(lambda answer: change(answer) if answer.status == 400 else answer)


# -- schema, type and enum ------------------------------------------------------------

_register(
    "extra-field",
    "schema",
    "every record gains a field the spec does not know",
    wrap=_records(lambda r: {**r, "backup_region": "cn-north-4"}),
)
_register(
    "missing-backup-id",
    "schema",
    "records come without backup_id",
    wrap=_records(lambda r: {k: v for k, v in r.items() if k != "backup_id"}),
)
_register(
    "period-as-object",
    "type",
    "period comes as {}, as the reference page's example shows it",
    wrap=_records(lambda r: {**r, "period": {}}),
)
_register(
    "size-as-string",
    "type",
    "size comes as a string of digits",
    wrap=_records(lambda r: {**r, "size": str(r["size"])}),
)
_register(
    "restore-flag-boolean",
    "type",
    "is_support_restore comes as a JSON boolean instead of the string TRUE/FALSE",
    wrap=_records(lambda r: {**r, "is_support_restore": r["is_support_restore"] == "TRUE"}),
)
_register(
    "format-upper-case",
    "enum",
    "backup_format comes back upper case (AOF), as on the old v1.0 page",
    wrap=_records(lambda r: {**r, "backup_format": str(r["backup_format"]).upper()}),
)
_register(
    "status-past-tense",
    "enum",
    "status says succeeded instead of succeed",
    wrap=_records(lambda r: {**r, "status": "succeeded" if r["status"] == "succeed" else r["status"]}),
)
_register(
    "empty-as-null",
    "type",
    "nothing matching is a 200 with backup_record_response null instead of a 204",
    wrap=_answer(
        lambda a: ServiceAnswer(200, {"total_num": 0, "backup_record_response": None}) if a.status == 204 else a
    ),
)

# -- cross-field rules (x-invariants in the spec) -------------------------------------

_register(
    "error-code-on-success",
    "schema",
    "succeeded backups carry an error code",
    data=_dataset(lambda r: {**r, "error_code": "dcs.08.0002"} if r["status"] == "succeed" else None),
)
_register(
    "failed-without-error-code",
    "schema",
    "failed backups carry no error code",
    data=_dataset(lambda r: {**r, "error_code": None} if r["status"] == "failed" else None),
)
_register(
    "updated-before-created",
    "schema",
    "updated_at is earlier than created_at",
    data=_dataset(lambda r: {**r, "updated_at": "2000-01-01T00:00:00.000Z"}),
)
_register(
    "progress-short-on-success",
    "schema",
    "succeeded backups report a progress below 100.00",
    data=_dataset(lambda r: {**r, "progress": "99.00"} if r["status"] == "succeed" else None),
)
_register(
    "progress-over-hundred",
    "schema",
    "backups in progress report a progress past 100.00 (100.50), which the spec's pattern once let through",
    data=_dataset(lambda r: {**r, "progress": "100.50"} if r["status"] == "backuping" else None),
)

# -- status: bad input answered 2xx, valid input refused, undocumented statuses ---------

_register(
    "negative-offset-accepted",
    "status",
    "a negative offset is read as 0 and answered 200 instead of 400",
    wrap=_query(lambda q: {**q, "offset": "0"} if q.get("offset", "").startswith("-") else q),
)


def _clamp_limit(handler: Handler, spec: Spec) -> Handler:
    maximum = _max_limit(spec)

    def clamp(query: dict[str, str]) -> dict[str, str]:
        limit = _count(query.get("limit", ""))
        return {**query, "limit": str(maximum)} if limit is not None and limit > maximum else query

    return _query(clamp)(handler, spec)


def _error_at_max_limit(handler: Handler, spec: Spec) -> Handler:
    maximum = str(_max_limit(spec))

    def call(request: ServiceCall) -> ServiceAnswer:
        if dict(request.pairs).get("limit") == maximum:
            return ServiceAnswer(500, error_body("DCS.5000", "Internal service error."))
        return handler(request)

    return call


_register(
    "limit-over-max-clamped",
    "status",
    "a limit above the maximum is clamped to the maximum instead of refused",
    wrap=_clamp_limit,
)
_register(
    "reversed-window-accepted",
    "status",
    "a window whose begin is after its end is swapped and answered instead of refused",
    wrap=_query(
        lambda q: (
            {**q, "begin_time": q["end_time"], "end_time": q["begin_time"]}
            if all(is_dcs_timestamp(q.get(k, "")) for k in ("begin_time", "end_time"))
            and parse_dcs_timestamp(q["begin_time"]) > parse_dcs_timestamp(q["end_time"])
            else q
        )
    ),
)
_register(
    "bad-time-ignored",
    "status",
    "a begin_time or end_time that is not a real time is ignored instead of refused",
    wrap=_query(lambda q: {k: v for k, v in q.items() if k not in ("begin_time", "end_time") or is_dcs_timestamp(v)}),
)
_register(
    "server-error-at-max-limit",
    "status",
    "a limit at the documented maximum is answered 500",
    wrap=_error_at_max_limit,
)
_register(
    "unknown-instance-404",
    "status",
    "an unknown instance is answered 404, which the endpoint's page does not document",
    wrap=_answer(
        lambda a: (
            ServiceAnswer(404, error_body("DCS.3022", "This DCS instance does not exist."))
            if a.status == 400 and a.body is not None and a.body.get("error_msg") == "Invalid instance_id parameter."
            else a
        )
    ),
)

_register(
    "unknown-instance-empty",
    "status",
    "an unknown instance is answered 204, as if it had no backups, instead of refused",
    wrap=_answer(
        lambda a: (
            ServiceAnswer(204)
            if a.status == 400 and a.body is not None and a.body.get("error_msg") == "Invalid instance_id parameter."
            else a
        )
    ),
)

# -- error bodies and content types ---------------------------------------------------

_register(
    "error-body-renamed",
    "error-body",
    "400 bodies say code/message instead of error_code/error_msg",
    wrap=_errors(lambda a: replace(a, body={"code": INVALID_PARAMETER, "message": "Invalid parameter."})),
)
_register(
    "error-as-text",
    "content-type",
    "400 answers are plain text",
    wrap=_errors(lambda a: replace(a, raw=b"Invalid parameter.", content_type="text/plain; charset=utf-8")),
)
_register(
    "json-as-html",
    "content-type",
    "200 answers say Content-Type text/html",
    wrap=_answer(lambda a: replace(a, content_type="text/html; charset=utf-8") if a.status == 200 else a),
)
_register(
    "truncated-body",
    "transport",
    "200 bodies are cut short: the JSON does not parse",
    wrap=_answer(
        lambda a: replace(a, raw=json.dumps(a.body).encode()[:-7]) if a.status == 200 and a.body is not None else a
    ),
)

# -- paging ---------------------------------------------------------------------------


def _one_based(q: dict[str, str]) -> dict[str, str]:
    offset = _count(q.get("offset", ""))
    return {**q, "offset": str(offset - 1)} if offset else q


def _past_end_repeats(handler: Handler, spec: Spec) -> Handler:
    """An offset at or past the end gives the last page again, as a client that never stops sees it."""
    default_limit = str(spec.defaults["limit"])

    def call(request: ServiceCall) -> ServiceAnswer:
        answer = handler(request)
        if answer.status != 200 or answer.body is None or answer.body["backup_record_response"]:
            return answer
        query = dict(request.pairs)
        limit = int(query.get("limit", default_limit))
        last = max(answer.body["total_num"] - limit, 0)
        return handler(replace(request, pairs=list({**query, "offset": str(last)}.items())))

    return call


def _offset(request: ServiceCall, spec: Spec) -> int:
    """The offset a call asked for (its default when absent); 0 for one the service would refuse."""
    return _count(dict(request.pairs).get("offset", str(spec.defaults["offset"]))) or 0


def _total_from_offset(handler: Handler, spec: Spec) -> Handler:
    """total_num counts the records from the page's offset on: it shrinks as a walk goes on."""

    def call(request: ServiceCall) -> ServiceAnswer:
        answer = handler(request)
        if answer.status != 200 or answer.body is None:
            return answer
        remaining = max(answer.body["total_num"] - _offset(request, spec), 0)
        return replace(answer, body={**answer.body, "total_num": remaining})

    return call


def _later_pages_empty(handler: Handler, spec: Spec) -> Handler:
    """Every page after the first comes back empty, while total_num still counts every record."""

    def call(request: ServiceCall) -> ServiceAnswer:
        answer = handler(request)
        if answer.status != 200 or answer.body is None or not _offset(request, spec):
            return answer
        return replace(answer, body={**answer.body, "backup_record_response": []})

    return call


def _other_instance(records: Records) -> Records:
    stranger = str(uuid.UUID(int=7, version=4))
    return {
        instance: [{**r, "instance_id": stranger} if i % 3 == 1 else r for i, r in enumerate(rows)]
        for instance, rows in records.items()
    }


def _empty_not_empty(records: Records) -> Records:
    donor = next((rows for rows in records.values() if rows), [])
    return {instance: rows or [{**r, "instance_id": instance} for r in donor[:3]] for instance, rows in records.items()}


_register(
    "offset-ignored",
    "paging",
    "offset is ignored: every page is the first",
    wrap=_query(lambda q: {k: v for k, v in q.items() if k != "offset"}),
)
_register(
    "one-based-offset",
    "paging",
    "offset counts from 1, as the old v1.0 'start': pages overlap by one",
    wrap=_query(_one_based),
)
_register(
    "limit-ignored",
    "paging",
    "limit is ignored: every page has the default number of records",
    wrap=_query(lambda q: {k: v for k, v in q.items() if k != "limit"}),
)
_register(
    "total-is-page-size",
    "paging",
    "total_num is the size of the page, not the number of matching records",
    wrap=_answer(
        lambda a: (
            replace(a, body={**a.body, "total_num": len(a.body["backup_record_response"])})
            if a.status == 200 and a.body is not None
            else a
        )
    ),
)
_register(
    "past-end-repeats-last-page", "paging", "an offset past the end repeats the last page", wrap=_past_end_repeats
)
_register(
    "total-counts-from-offset",
    "paging",
    "total_num counts the records from the page's offset on, so it shrinks as a walk goes on",
    wrap=_total_from_offset,
)
_register(
    "later-pages-empty",
    "paging",
    "pages after the first come back empty, while total_num still counts every record",
    wrap=_later_pages_empty,
)
_register("other-instance-leaks", "paging", "every third record belongs to another instance", data=_other_instance)
_register("empty-instance-not-empty", "paging", "the instance without backups lists some", data=_empty_not_empty)

# -- the time window ------------------------------------------------------------------

_register(
    "window-ignored",
    "window",
    "begin_time and end_time are ignored",
    wrap=_query(lambda q: {k: v for k, v in q.items() if k not in ("begin_time", "end_time")}),
)


def _end_exclusive(handler: Handler, spec: Spec) -> Handler:
    """The window as [begin, end): at second resolution, its last second is left out."""

    def call(request: ServiceCall) -> ServiceAnswer:
        query = dict(request.pairs)
        begin, end = query.get("begin_time", ""), query.get("end_time", "")
        if not (is_dcs_timestamp(begin) and is_dcs_timestamp(end)) or begin > end:
            return handler(request)
        if begin == end:
            answer = handler(request)  # still validated: only the empty window is wrong
            return ServiceAnswer(204) if answer.status == 200 else answer
        pairs = [(k, _shift(v, -1) if k == "end_time" else v) for k, v in request.pairs]
        return handler(replace(request, pairs=pairs))

    return call


_register("window-end-exclusive", "window", "the window leaves out its last second: [begin, end)", wrap=_end_exclusive)
# Beijing time, UTC+8: the zone of a console in cn-north, which a service may read a time in.
_LOCAL_OFFSET = 8 * 3600


def _window_in_local_time(handler: Handler, spec: Spec) -> Handler:
    """begin_time and end_time read as UTC+8: the window the service applies is 8 hours earlier."""

    def local(name: str, value: str) -> str:
        if name not in ("begin_time", "end_time") or not is_dcs_timestamp(value):
            return value
        try:
            return _shift(value, -_LOCAL_OFFSET)
        except OverflowError:  # the first hours of year 1 have no earlier time: left as sent
            return value

    def call(request: ServiceCall) -> ServiceAnswer:
        return handler(replace(request, pairs=[(k, local(k, v)) for k, v in request.pairs]))

    return call


_register(
    "window-in-local-time",
    "window",
    "the window's times are read in UTC+8 (Beijing time), not UTC: it lists the records of 8 hours earlier",
    wrap=_window_in_local_time,
)
_register(
    "window-on-updated-at",
    "window",
    "the window filters on updated_at instead of created_at",
    service={"window_field": "updated_at"},
)
_register(
    "one-second-window-unbounded",
    "window",
    "a window whose begin equals its end is ignored: everything is listed",
    wrap=_query(
        lambda q: (
            {k: v for k, v in q.items() if k not in ("begin_time", "end_time")}
            if q.get("begin_time") is not None and q.get("begin_time") == q.get("end_time")
            else q
        )
    ),
)

# -- the wire: bytes a tolerant reader forgives and a consumer's decoder does not ---------


def _wire(
    name: str, description: str, write: Callable[[dict[str, Any]], bytes], media: str = "application/json"
) -> None:
    """A switch that writes every 200 page's bytes with ``write``, sent with Content-Type ``media``."""

    def page(answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status != 200 or answer.body is None:
            return answer
        return replace(answer, raw=write(answer.body), content_type=media)

    _register(name, "wire", description, wrap=_answer(page))


def _dumped(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _each(body: dict[str, Any], change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    return {**body, "backup_record_response": [change(dict(r)) for r in body["backup_record_response"]]}


def _status_twice(body: dict[str, Any]) -> bytes:
    # The last value is the record's own: every consumer keeps the last, so only the bytes drift.
    fields = [[("status", "waiting"), *r.items()] for r in body["backup_record_response"]]
    records = ["{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}" for pairs in fields]
    return f'{{"total_num": {body["total_num"]}, "backup_record_response": [{", ".join(records)}]}}'.encode()


def _nested_period(body: dict[str, Any]) -> bytes:
    marker = "dcs-contract:nested"
    deep = b"[" * 1000 + b"]" * 1000  # the first record's period 1000 deep: 1003 in all, past Jackson's 1000
    written = _dumped(_each(body, lambda r: {**r, "period": marker}))
    return written.replace(json.dumps(marker).encode(), deep, 1)


_wire("body-with-bom", "200 bodies start with a UTF-8 byte order mark", lambda b: b"\xef\xbb\xbf" + _dumped(b))
_wire(
    "body-in-gb18030",
    "200 bodies are written in GB18030, and labelled application/json alone",
    lambda b: json.dumps(b, ensure_ascii=False).encode("gb18030"),
)
_wire(
    "charset-gb18030",
    "200 bodies are written in GB18030, and labelled so: charset=GB18030",
    lambda b: json.dumps(b, ensure_ascii=False).encode("gb18030"),
    media="application/json; charset=GB18030",
)
_wire(
    "lone-surrogate-in-remark",
    "remarks end in a lone surrogate escape (\\ud800)",
    lambda b: _dumped(_each(b, lambda r: {**r, "remark": f"{r.get('remark') or ''}\ud800"})),
)
_wire("size-as-nan", "size is written NaN", lambda b: _dumped(_each(b, lambda r: {**r, "size": float("nan")})))
_wire("status-key-twice", "each record names status twice, its own value last", _status_twice)
_wire("data-after-body", "200 bodies go on after their JSON value", lambda b: _dumped(b) + b"\n{}")
_wire(
    "total-with-fraction",
    "total_num is written 57.0, not 57",
    lambda b: _dumped({**b, "total_num": float(b["total_num"])}),
)
_wire(
    "size-past-int64",
    "size is past int64 (2^63 more)",
    lambda b: _dumped(_each(b, lambda r: {**r, "size": 2**63 + r["size"]})),
)
_wire("period-nested-deep", "the first record's period nests 1000 arrays deep", _nested_period)
_wire(
    "size-of-1001-digits",
    "size is written with 1001 digits, past Jackson's maxNumberLength",
    lambda b: _dumped(_each(b, lambda r: {**r, "size": 10**1000})),
)

# -- auth -----------------------------------------------------------------------------

_register(
    "served-without-credentials",
    "auth",
    "the gateway serves a request that carries no credential at all",
    serves_anonymous=True,
)
