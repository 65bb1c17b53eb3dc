"""Recorded traffic checked against the spec, with no request sent: ``dcs-contract check-har``.

    report = check_har(load_spec(), [Path("traffic.har")])
    print(report.verdict, [finding.location for finding in report.findings])

Every exchange of the endpoint in the HAR files (GET on a path of the form
``/v2/{project_id}/instances/{instance_id}/backups``, on any host) is rebuilt as an
``httpx.Request`` and ``httpx.Response`` and judged as a live run judges its own: the same
response checks (:func:`dcs_contract.contract.checks.validate`), the page read the same way
(:meth:`Page.read <dcs_contract.contract.invariants.Page.read>`) with its per-page invariants, and a
body over ``max_body`` reported as ``body_within_cap``. The same drift gives the same
finding: the same check, category and location, so one baseline serves ``run`` and
``check-har`` alike. The report is a :class:`~dcs_contract.results.report.RunReport`, written and
exited on as ``run``'s: 0 conforms, 1 findings; a recording with no exchange of the endpoint
to check tested nothing, and says so in ``error`` (untestable, 3).

What a recording can judge, and what it cannot:

- A query is classified by the spec's query rule
  (:class:`~dcs_contract.contract.query.QueryRule`), the one the mock's service answers by:
  valid, invalid in one parameter (judged by ``invalid_input_rejected``, as the
  ``negative-inputs`` property does), or invalid in several (its error body checked only).
  Only the answer to a valid query is read as a page.
- ``negative_data_rejection`` and ``positive_data_acceptance`` need to know how schemathesis
  drew a case, which a recording does not carry; ``positive_data_acceptance`` could not be
  judged anyway: a valid query answered 4xx may be for an instance that does not exist.
- ``unauthenticated_refused`` is judged only in dcs-contract's own recordings, which keep
  every request's credential headers (redacted): a browser's sanitized export strips them,
  and every request would look anonymous.
- Across requests, within one file (a recording is one session; two files may be days
  apart), by host, project, instance and window: ``total-independent-of-paging`` (the
  pages of the same filters with different limit or offset), a *walk* (the same filters
  and limit, offsets 0, limit, 2*limit ... in the recorded order, two pages at least,
  ending where a client stops) for ``pages-partition``, ``total-stable-through-walk`` and
  ``no-empty-page-before-total``, ``past-end-empty`` (a page at or past the total of the
  same filters' first page), and, by instance, ``window-complete`` (an unfiltered page
  holding every record, and each window), ``narrower-window-not-more`` and
  ``adjacent-windows-add-up`` (over the first :data:`MAX_WINDOWS` windows of an instance).
- ``unknown-instance-refused`` is judged only for :data:`~dcs_contract.engine.judge.UNKNOWN_INSTANCE`, the id
  dcs-contract's own probe asks for, which is no one's: a recording cannot tell that any
  other instance does not exist. ``empty-instance-empty`` is judged only for the instance
  named by ``empty_instance_id``: a recording cannot tell which instance should have no
  backups. The report's ``not_evaluated`` says why each check or invariant did not run.
- The invariants across requests take the instance's backups to hold still through the
  recording, as a live run does through its own: a backup made between two recorded pages
  (a browser session of hours) shows as drift.

What is counted and not checked (the report's ``skipped["check-har"]`` says how many of
each, never a failure): exchanges of other paths or methods (a browser's favicon, scripts,
other APIs), exchanges with no response (status 0), answers 429/502/503/504 (a live run
retries them and checks only what comes after), and answers whose body the recording did
not keep (``content.text`` absent with a ``content.size`` above 0). The report's
``requests`` count the recorded exchanges of the endpoint, by status; ``cases`` the
exchanges checked, by file; a finding's ``first_seen`` is the number of the checked
exchange, counted over the files in order, at which it showed.

A HAR is not trusted. A file over :data:`MAX_HAR_SIZE` bytes is refused before it is read;
a file that is not UTF-8, not JSON (cut short), nested too deep, not shaped as a HAR, or
with an entry that lacks what a HAR entry has is a :class:`~dcs_contract.errors.ConfigError`
(exit 2) naming the file and the entry: ``traffic.har: entry 7 (log.entries[6]):
response.status is missing``. Entries are numbered from 1, as a HAR viewer lists them.

Bodies: ``response.content.text``, decoded from base64 when ``encoding`` says so. HAR 1.2
stores the body *decoded* (decompressed), so ``Content-Encoding``, ``Content-Length`` and
``Transfer-Encoding`` are dropped from the recorded headers, as the transport drops them
from what it hands on; only bytes that still carry the gzip magic number under a gzip
``Content-Encoding`` (a tool that stored the raw bytes in base64) are inflated, within the
cap. The cap counts decoded bytes. A body dcs-contract's recorder cut at
``MAX_RECORDED_BODY`` is judged for its status and content type, not its body.

Secrets: nothing of a recorded request but its method and URL reaches a finding. The URL
loses its user-info, its fragment, and every query parameter the spec does not define
(a signature or a token may ride there; the spec's parameters carry none); each credential
header it had (Authorization, X-Auth-Token, X-Security-Token) is kept by name only, valued
``[REDACTED]``, so that its reproduction shows the token placeholder. Cookies are dropped.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from dcs_contract.contract import checks
from dcs_contract.contract import invariants as rules
from dcs_contract.contract.formats import json_document, json_type
from dcs_contract.contract.invariants import NarrowerWindow, Page, Paging, PastEnd, Walk, WindowInSurvey, WindowSplit
from dcs_contract.contract.query import QueryRule
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.judge import OFFLINE_CHECKS, CutShort, Evidence, ExchangeJudge
from dcs_contract.engine.operation import Operation
from dcs_contract.engine.run import RunLog
from dcs_contract.errors import ConfigError, ResponseTooLarge
from dcs_contract.redaction import SENSITIVE_HEADERS
from dcs_contract.results.report import RunReport, TargetInfo, utc_now
from dcs_contract.settings.target import BOUNDS, RunSettings, Target
from dcs_contract.transport.deadline import BodyTooLarge, read_body
from dcs_contract.transport.guard import (
    DEFAULT_MAX_BODY,
    MAX_RECORDED_BODY,
    REDACTED,
    RETRYABLE_STATUSES,
    TrafficStats,
)

__all__ = ["CHECK_HAR", "CREDENTIALS", "MAX_HAR_SIZE", "MAX_WINDOWS", "OFFLINE_CHECKS", "check_har"]

# The instance id the unknown-instance probe asks for (properties.py): the same on every run, and no
# one's. Its answer in a recording is judged as the probe judges it; no other instance is known unknown.
# A HAR file larger than this is refused unread: a run's recording keeps at most 256 KiB of
# each body, so even thousands of exchanges fit, while json.loads of a file takes several
# times its size in memory.
MAX_HAR_SIZE = 256 * 1024 * 1024
# The name check-har goes by in the report: the key of its skipped reason, the prefix of its others.
CHECK_HAR = "check-har"
# What the report says of the credentials: check-har has none and needs none.
CREDENTIALS = "none: nothing is sent"
# The windows of one instance compared pairwise: the first this many, so that a recording
# of thousands of windows costs no more than millions of comparisons.
MAX_WINDOWS = 200
_CREATOR = "dcs-contract"
# The endpoint's path, matched on the raw (still percent-encoded) path: an id with %2F is one segment.
_PATH_RE = re.compile(r"/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/backups")
# The headers that describe how the body travelled: the recorded text is the body already decoded.
_CODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_GZIP_MAGIC = b"\x1f\x8b"
# dcs-contract's recorder marks an exchange whose body was over its cap: "_error": "body over N bytes".
_OVERSIZE_RE = re.compile(r"body over (?P<limit>[0-9]{1,19}) bytes")
_ONE_SECOND = timedelta(seconds=1)

# Why a check or invariant that never ran did not, offline; the log's own reason comes first.
_REASONS = {
    "negative_data_rejection": "judges a case schemathesis drew as invalid, and a recording does not say how a "
    "request was drawn; invalid_input_rejected judges the queries invalid in one parameter instead",
    "positive_data_acceptance": "a valid query answered 4xx may be for an instance that does not exist, "
    "which a recording cannot tell",
    checks.INVALID_INPUT_REJECTED: "no query invalid in exactly one parameter in the recording",
    rules.total_independent_of_paging.id: "no two pages of the same instance and filters with different limit "
    "or offset in the recording",
    rules.pages_partition.id: "no page walk in the recording (the same filters and limit, offsets 0, limit, "
    "2*limit ...)",
    rules.total_stable_through_walk.id: "no page walk in the recording (the same filters and limit, offsets 0, "
    "limit, 2*limit ...)",
    rules.no_empty_page_before_total.id: "no page walk in the recording (the same filters and limit, offsets 0, "
    "limit, 2*limit ...)",
    rules.past_end_empty.id: "no page at or past the total_num of the same filters in the recording",
    rules.window_complete.id: "no window of an instance whose whole unfiltered listing the recording has",
    rules.narrower_window_not_more.id: "no window within another window of the same instance in the recording",
    rules.adjacent_windows_add_up.id: "no window with both of its halves in the recording",
    rules.unknown_instance_refused.id: "judged only for the instance id dcs-contract's probe asks for, which is "
    "no one's: a recording cannot tell that any other instance does not exist",
    rules.empty_instance_empty.id: "judged only for the empty instance named (DCS_EMPTY_INSTANCE_ID): a recording "
    "cannot tell which instance should have no backups",
}
_ANONYMOUS_NOT_OURS = (
    "judged only in dcs-contract's own recordings, which keep each request's credential headers (redacted); "
    "other tools may strip them (a browser's sanitized export), and every request would look anonymous"
)
_ANONYMOUS_NONE = "no request without credentials in the recording"
# Why exchanges of the endpoint were not checked, by kind, as the skipped reason says it:
# {n} is the count, {s} the plural's s, {were} was or were.
_UNCHECKED = {
    "other": "{n} exchange{s} of other paths or methods {were} not checked",
    "unanswered": "{n} exchange{s} without a response (status 0) {were} not checked",
    "throttled": "{n} exchange{s} answered 429, 502, 503 or 504 {were} not checked: a live run retries them",
    "unrecorded": "{n} exchange{s} whose body the recording did not keep {were} not checked",
    "cut": "{n} exchange{s} whose body dcs-contract's recorder cut short {were} checked for status and content "
    "type only",
}


def check_har(
    spec: Spec,
    paths: Sequence[Path],
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_file_size: int = MAX_HAR_SIZE,
    empty_instance_id: str | None = None,
) -> RunReport:
    """Judge the recorded exchanges of the endpoint in ``paths``; nothing is sent.

    ``max_body``: the decoded bytes of one body, as ``run --max-body``; past it, a
    ``body_within_cap`` finding. ``max_file_size``: a larger HAR file is refused unread.
    ``empty_instance_id``: an instance known to have no backups (``DCS_EMPTY_INSTANCE_ID``),
    whose pages ``empty-instance-empty`` judges.
    Raises :class:`ConfigError` for a file that cannot be read as a HAR, naming it and the
    entry at fault.
    """
    BOUNDS["max_body"].check("--max-body", max_body)
    if not paths:
        raise ConfigError("check-har needs at least one HAR file")
    started = utc_now()
    judged = _HarCheck(spec, max_body=max_body, empty_instance_id=empty_instance_id)
    for path in paths:
        judged.file(path, max_file_size=max_file_size)
    return judged.report(started)


# -- reading a HAR file -------------------------------------------------------------------


def _read_document(path: Path, max_size: int) -> Any:
    """The JSON document in ``path``, read no further than ``max_size`` bytes."""
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ConfigError(f"{name}: is a directory, not a HAR file")
        if size > max_size:
            raise ConfigError(f"{name}: {size} bytes, over the {max_size} bytes check-har reads of a HAR file")
        with path.open("rb") as file:
            # Past the size stat gave (a file growing, a device): still no more than the cap.
            raw = file.read(max_size + 1)
    except FileNotFoundError:
        raise ConfigError(f"{name}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > max_size:
        raise ConfigError(f"{name}: over the {max_size} bytes check-har reads of a HAR file")
    try:
        return json_document(raw, f"{name}:", what="a HAR file")
    except ConfigError as exc:
        cut = _entries_before_the_break(raw)
        if cut is None:
            raise
        raise ConfigError(f"{name}: entry {cut + 1} (log.entries[{cut}]) is cut short or not JSON: {exc}") from None


def _entries_before_the_break(raw: bytes) -> int | None:
    """How many of ``log.entries`` read whole before a HAR's text breaks; None when the break is elsewhere.

    A HAR cut short (a download, a full disk) breaks inside an entry: naming it tells how much
    of the recording is whole. Best effort: the first ``"entries"`` key is taken as the array.
    """
    text = raw.decode("utf-8-sig", errors="replace")
    start = text.find('"entries"')
    bracket = text.find("[", start) if start >= 0 else -1
    if bracket < 0:
        return None
    decoder = json.JSONDecoder()
    index, count = bracket + 1, 0
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text):
            return count
        if text[index] == "]":
            return None
        try:
            _, index = decoder.raw_decode(text, index)
        except (ValueError, RecursionError):
            return count
        count += 1


@dataclass(frozen=True)
class _Where:
    """An entry of a file, as an error names it."""

    file: str
    number: int

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: entry {self.number} (log.entries[{self.number - 1}]): {message}")

    def field(self, container: dict[str, Any], key: str, where: str, kind: type, *, required: bool = True) -> Any:
        """``container[key]`` if it is a ``kind``; None if absent and not ``required``; else the error."""
        if key not in container or (container[key] is None and not required):
            if required:
                raise self.error(f"{where} is missing")
            return None
        value = container[key]
        # A JSON true is no status: bool is an int to Python.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(f"{where} is a JSON {json_type(value)}, not {_KINDS[kind]}")
        return value


_KINDS: dict[type, str] = {dict: "an object", list: "an array", str: "a string", int: "an integer"}


def _entries(document: Any, name: str) -> tuple[list[Any], bool]:
    """The entries of a HAR document, and whether dcs-contract recorded it."""
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict):
        raise ConfigError(f"{name}: not a HAR file: it has no log object")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise ConfigError(f"{name}: not a HAR file: log.entries is missing or not an array")
    creator = log.get("creator")
    ours = isinstance(creator, dict) and creator.get("name") == _CREATOR
    return entries, ours


def _headers(where: _Where, message: dict[str, Any], side: str) -> list[tuple[str, str]]:
    headers = where.field(message, "headers", f"{side}.headers", list, required=False) or []
    pairs = []
    for index, header in enumerate(headers):
        label = f"{side}.headers[{index}]"
        if not isinstance(header, dict):
            raise where.error(f"{label} is a JSON {json_type(header)}, not an object")
        pairs.append(
            (where.field(header, "name", f"{label}.name", str), where.field(header, "value", f"{label}.value", str))
        )
    return pairs


# -- one exchange -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    """A recorded request of the endpoint, as the checks see it: no secret in it."""

    origin: str
    project_id: str
    instance_id: str
    query: tuple[tuple[str, str], ...]
    url: httpx.URL


def _endpoint(method: str, url: str, known: frozenset[str]) -> _Endpoint | None:
    """The request's URL rebuilt for checking, or None when it is not a GET of the endpoint.

    ``known``: the spec's query parameters, the only ones kept.
    """
    if method != "GET":
        return None
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoded from IDNA here: an xn-- label that does not decode raises
    except (httpx.InvalidURL, ValueError):
        return None  # not a URL httpx reads: no request this harness could have sent
    if parsed.scheme not in ("http", "https") or not host:
        return None
    match = _PATH_RE.fullmatch(parsed.raw_path.split(b"?", 1)[0].decode("ascii", "replace"))
    if match is None:
        return None
    query = tuple((name, value) for name, value in parsed.params.multi_items() if name in known)
    # No user-info, no fragment, no parameter the spec does not define: nothing that may hold a secret.
    clean = httpx.URL(parsed.copy_with(userinfo=b"", query=None, fragment=None), params=list(query))
    return _Endpoint(
        origin=f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}",
        project_id=unquote(match["project_id"]),
        instance_id=unquote(match["instance_id"]),
        query=query,
        url=clean,
    )


def _request(url: httpx.URL, headers: Iterable[tuple[str, str]]) -> httpx.Request:
    """The GET as a finding shows it: each credential header it had, by name only; no other header."""
    credentials = sorted({name.lower() for name, _ in headers if name.lower() in SENSITIVE_HEADERS})
    return httpx.Request("GET", url, headers=[(name, REDACTED) for name in credentials])


@dataclass(frozen=True)
class _Oversize:
    """A body over the cap: what a live run's ResponseTooLarge says of it."""

    detail: str
    limit: int


def _decoded(
    where: _Where, content: dict[str, Any], text: str, headers: list[tuple[str, str]], limit: int
) -> bytes | _Oversize:
    """The body's bytes from ``content.text``, within ``limit`` decoded bytes."""
    encoding = where.field(content, "encoding", "response.content.encoding", str, required=False)
    if encoding in (None, ""):
        # Each character is a byte at least: a text this long is over the cap unencoded.
        if len(text) > limit:
            return _Oversize(f"over {limit} bytes", limit)
        # A lone surrogate (JSON's "\ud800") stays as bytes that are not UTF-8: the checks say so.
        data = text.encode("utf-8", "surrogatepass")
    elif encoding.lower() == "base64":
        if len(text) // 4 * 3 > limit + 3:
            return _Oversize(f"over {limit} bytes", limit)
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise where.error(f"response.content.text is not valid base64: {exc}") from None
    else:
        raise where.error(f"response.content.encoding={encoding!r}, but check-har reads base64 or none")
    if len(data) > limit:
        return _Oversize(f"over {limit} bytes", limit)
    codings = [
        part.strip().lower()
        for name, value in headers
        if name.lower() == "content-encoding"
        for part in value.split(",")
    ]
    if data[:2] == _GZIP_MAGIC and codings and codings[-1] in ("gzip", "x-gzip"):
        # Raw bytes as they were sent, not the decoded text HAR 1.2 asks for: inflated within the cap.
        stream = httpx.Response(200, headers=[("content-encoding", "gzip")], stream=httpx.ByteStream(data))
        try:
            return read_body(
                stream, request=httpx.Request("GET", "http://har.invalid/"), limit=limit, expired=lambda: False
            )
        except BodyTooLarge as exc:
            return _Oversize(str(exc), limit)
    return data


def _header_bytes(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # A recorded value may hold any character; httpx takes bytes as they are.
    return [(name.encode("utf-8", "replace"), value.encode("utf-8", "replace")) for name, value in headers]


# -- the check ------------------------------------------------------------------------------

# Pages of one listing: (origin, project, instance, begin, end) in a file.
_Listing = tuple[str, str, str, datetime | None, datetime | None]
_Instance = tuple[str, str, str]


@dataclass
class _HarCheck:
    """The state of one check-har: the log a live run keeps, and what the recordings held."""

    spec: Spec
    max_body: int
    empty_instance_id: str | None = None
    log: RunLog = field(init=False)
    judge: ExchangeJudge = field(init=False)
    operation: Operation = field(init=False)
    # The number of the exchange being judged, counted over every checked exchange: a finding's first_seen.
    at: int = 0
    unchecked: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    cases: Counter[str] = field(default_factory=Counter)
    targets: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    any_ours: bool = False
    # The number of the exchange each page came from, for the findings across pages.
    seen_at: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = RunLog(self.spec, requests_sent=lambda: self.at)
        self.judge = ExchangeJudge(self.spec, evaluated=self.log.evaluated, unjudged=self.log.unjudged)
        self.operation = Operation.of(self.spec)
        self._known = frozenset(QueryRule.of(self.spec).parameters)

    # -- a file ------------------------------------------------------------------------------
    def file(self, path: Path, *, max_file_size: int) -> None:
        name = str(path)
        entries, ours = _entries(_read_document(path, max_file_size), name)
        self.any_ours |= ours
        listings: dict[_Listing, list[Page]] = {}
        for number, entry in enumerate(entries, start=1):
            where = _Where(name, number)
            if not isinstance(entry, dict):
                raise where.error(f"is a JSON {json_type(entry)}, not an object")
            request = where.field(entry, "request", "request", dict)
            response = where.field(entry, "response", "response", dict)
            method = where.field(request, "method", "request.method", str)
            url = where.field(request, "url", "request.url", str)
            status = where.field(response, "status", "response.status", int)
            if status > 999:
                raise where.error(f"response.status={status}, but an HTTP status has three digits")
            endpoint = _endpoint(method, url, self._known)
            if endpoint is None:
                self.unchecked["other"] += 1
                continue
            sent = _request(endpoint.url, _headers(where, request, "request"))
            page = self.exchange(where, endpoint, sent, status, response, entry, ours=ours)
            if page is not None:
                begin_end = (page.begin, page.end)
                listings.setdefault(
                    (endpoint.origin, endpoint.project_id, endpoint.instance_id, *begin_end), []
                ).append(page)
        self.across(listings)

    def exchange(
        self,
        where: _Where,
        endpoint: _Endpoint,
        request: httpx.Request,
        status: int,
        response: dict[str, Any],
        entry: dict[str, Any],
        *,
        ours: bool,
    ) -> Page | None:
        """One recorded exchange of the endpoint, checked as a live run checks its own; its page, if it is one."""
        self.by_status[str(status) if status >= 100 else "error"] += 1
        if status < 100:
            self.unchecked["unanswered"] += 1
            return None
        if status in RETRYABLE_STATUSES:
            self.unchecked["throttled"] += 1
            return None
        headers = _headers(where, response, "response")
        body = self.body(where, response, entry, headers, ours=ours)
        if body is None:
            self.unchecked["unrecorded"] += 1
            return None
        self.at += 1
        self.cases[where.file] += 1
        self.targets[(endpoint.origin, endpoint.project_id, endpoint.instance_id)] += 1
        # Only dcs-contract's recorder keeps every credential header: elsewhere, none may mean stripped.
        anonymous = ours and not any(name in request.headers for name in SENSITIVE_HEADERS)
        answer: httpx.Response | ResponseTooLarge
        if isinstance(body, _Oversize):
            self.log.observe_status(status)
            message = f"{request.method} {request.url.path} was answered {status} with a body {body.detail}"
            answer = ResponseTooLarge(
                f"{message} (--max-body {body.limit})", request=request, status_code=status, limit=body.limit
            )
        else:
            kept = [(name, value) for name, value in headers if name.lower() not in _CODING_HEADERS]
            answer = httpx.Response(status, headers=_header_bytes(kept), content=body, request=request)
            # What the client stamps on a response once read, and schemathesis reads: the recorded time.
            answer.elapsed = _elapsed(entry.get("time"))
            self.log.observe(answer)
        case = self.operation.case(
            path_parameters={"project_id": endpoint.project_id, "instance_id": endpoint.instance_id},
            query=dict(reversed(endpoint.query)),  # the first value of a repeated parameter, as a server reads it
        )
        # check-har decides only the kind of the exchange; what a kind is held to, the judge decides.
        kind = self.judge.kind_of(
            endpoint.query,
            instance_id=endpoint.instance_id,
            anonymous=anonymous,
            status=status,
            empty_instance_id=self.empty_instance_id,
            cut_short=ours and isinstance(body, bytes) and _recorder_cut(body),
        )
        judged = self.judge.exchange(case, answer, kind)
        self.log.add(judged.findings)
        if isinstance(kind, CutShort):
            self.unchecked["cut"] += 1
        if judged.page is not None:
            self.seen_at[id(judged.page)] = self.at
        return judged.page

    def body(
        self,
        where: _Where,
        response: dict[str, Any],
        entry: dict[str, Any],
        headers: list[tuple[str, str]],
        *,
        ours: bool,
    ) -> bytes | _Oversize | None:
        """The recorded body, decoded; over the cap; or None when the recording did not keep it."""
        content = where.field(response, "content", "response.content", dict, required=False) or {}
        error = entry.get("_error")
        if ours and isinstance(error, str) and (oversize := _OVERSIZE_RE.match(error)):
            # dcs-contract's recorder: the body was over that run's cap and not kept.
            return _Oversize(error.removeprefix("body "), int(oversize["limit"]))
        text = where.field(content, "text", "response.content.text", str, required=False)
        if text is None:
            size = content.get("size")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                return None
            text = ""
        return _decoded(where, content, text, headers, self.max_body)

    # -- across requests -----------------------------------------------------------------------
    def across_pages(self, pages: Sequence[Page], evidence: Evidence) -> None:
        """Evidence from recorded ``pages``, judged: a finding is first seen at the latest of them."""
        self.at = max((self.seen_at.get(id(page), 0) for page in pages), default=self.at)
        self.log.add(self.judge.evidence(evidence))

    def across(self, listings: dict[_Listing, list[Page]]) -> None:
        """The invariants across requests, on what one file holds."""
        last = self.at
        instances: dict[_Instance, list[Page]] = {}
        for key, pages in listings.items():
            self.paging(pages)
            instances.setdefault(key[:3], []).extend(pages)
        for pages in instances.values():
            self.windows(sorted(pages, key=lambda page: self.seen_at.get(id(page), 0)))
        self.at = last

    def paging(self, pages: list[Page]) -> None:
        """The pages of one listing (the same instance and filters), in the recorded order."""
        by_paging: dict[tuple[int, int], Page] = {}
        for page in pages:
            by_paging.setdefault((page.limit, page.offset), page)
        if len(by_paging) > 1:
            distinct = list(by_paging.values())
            self.across_pages(distinct, Paging(tuple(distinct)))
        for walk in _walks(pages):
            # Every walk found starts at offset 0: complete when its last page reaches the first's total.
            self.across_pages(walk, Walk(tuple(walk), complete=Walk.reaches_end(walk)))
        first = next((page for page in pages if page.status == 200), None)
        if first is not None and first.total > 0:
            for page in pages:
                if page.offset >= first.total:
                    self.across_pages([first, page], PastEnd(page, first.total))

    def windows(self, pages: list[Page]) -> None:
        """The pages of one instance, in the recorded order: windows against the listing and each other."""
        survey = next(
            (p for p in pages if p.begin is None and p.end is None and p.offset == 0 and p.total <= p.entries), None
        )
        windows: dict[tuple[datetime | None, datetime | None], Page] = {}
        for page in pages:
            if (page.begin is not None or page.end is not None) and len(windows) < MAX_WINDOWS:
                windows.setdefault((page.begin, page.end), page)
        if survey is not None:
            for window in windows.values():
                self.across_pages([survey, window], WindowInSurvey(survey, window))
        for outer, inner in itertools.permutations(windows.values(), 2):
            if _within(inner, outer):
                self.across_pages([outer, inner], NarrowerWindow(outer, inner))
        for (begin, end), whole in windows.items():
            if begin is None or end is None:
                continue
            for (left_begin, split), left in windows.items():
                right = windows.get((_next_second(split), end)) if split is not None else None
                if left_begin == begin and split is not None and split < end and right is not None:
                    self.across_pages([whole, left, right], WindowSplit(whole, left, right))

    # -- the report -----------------------------------------------------------------------------
    def report(self, started: str) -> RunReport:
        (origin, project_id, instance_id), _ = (
            self.targets.most_common(1)[0] if self.targets else ((None, None, None), 0)
        )
        checked = sum(self.cases.values())
        error = None
        if not checked:
            error = (
                "check-har: no exchange of GET /v2/{project_id}/instances/{instance_id}/backups with a response "
                "to check in the recording"
            )
        traffic = TrafficStats(attempts=sum(self.by_status.values()), by_status=Counter(self.by_status))
        report = self.log.report(
            target=Target(base_url=origin, project_id=project_id, instance_id=instance_id),
            settings=RunSettings(),
            started=started,
            traffic=traffic,
            error=error,
        )
        names = [*checks.CHECK_NAMES, *self.spec.invariants]
        evaluated = {name: self.log.evaluated[name] for name in names if self.log.evaluated[name]}
        not_evaluated = {name: f"{CHECK_HAR}: {self.why_not(name)}" for name in names if name not in evaluated}
        return replace(
            report,
            target=TargetInfo(
                base_url=origin,
                project_id=project_id,
                instance_id=instance_id,
                empty_instance_id=self.empty_instance_id,
                credentials=CREDENTIALS,
            ),
            cases=dict(self.cases),
            evaluated=evaluated,
            not_evaluated=not_evaluated,
            skipped=self.skipped(),
        )

    def why_not(self, name: str) -> str:
        if name in self.log.unjudged:
            return self.log.unjudged[name]
        if name == checks.UNAUTHENTICATED_REFUSED:
            return _ANONYMOUS_NONE if self.any_ours else _ANONYMOUS_NOT_OURS
        return _REASONS.get(name, "no exchange in the recording reached it")

    def skipped(self) -> dict[str, str]:
        """What was recorded and not checked, by kind: counted, never a failure."""
        parts = [
            template.format(n=count, s="" if count == 1 else "s", were="was" if count == 1 else "were")
            for kind, template in _UNCHECKED.items()
            if (count := self.unchecked[kind])
        ]
        return {CHECK_HAR: "; ".join(parts)} if parts else {}


def _recorder_cut(body: bytes) -> bool:
    """dcs-contract's recorder cut this body at MAX_RECORDED_BODY characters and marked the cut with "…"."""
    return (
        len(body) > MAX_RECORDED_BODY
        and body.endswith("…".encode())
        and len(body.decode("utf-8", "replace")) == MAX_RECORDED_BODY + 1
    )


def _elapsed(milliseconds: Any) -> timedelta:
    """The entry's ``time``, when it is one: HAR gives milliseconds, -1 or nothing when unknown."""
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool) and 0 <= milliseconds < 1e12:
        return timedelta(milliseconds=milliseconds)
    return timedelta(0)


def _next_second(moment: datetime) -> datetime | None:
    """The second after ``moment``; None after the last second a datetime holds (31 December 9999)."""
    try:
        return moment + _ONE_SECOND
    except OverflowError:
        return None


def _walks(pages: Sequence[Page]) -> list[list[Page]]:
    """The walks among one listing's pages, as a client walks: offset 0, then limit further each time.

    A client asks for the next page while its offset is below the total it knows: the
    larger of the listing's first total_num and those the walk read. One page is no walk.
    """
    known = next((page.total for page in pages if page.status == 200), 0)
    walks: list[list[Page]] = []
    current: dict[int, list[Page]] = {}
    # Each walk's reach, kept as it grows: taken anew at each page, a long walk cost its square.
    reach: dict[int, int] = {}
    for page in pages:
        walk = current.get(page.limit)
        if page.offset == 0:
            current[page.limit] = [page]
            reach[page.limit] = max(known, page.total)
            walks.append(current[page.limit])
        elif walk is not None and page.offset == walk[-1].offset + page.limit and page.offset < reach[page.limit]:
            walk.append(page)
            reach[page.limit] = max(reach[page.limit], page.total)
    return [walk for walk in walks if len(walk) > 1]


def _within(inner: Page, outer: Page) -> bool:
    """``inner``'s window lies within ``outer``'s and is not the same; no bound is no limit."""
    if (inner.begin, inner.end) == (outer.begin, outer.end):
        return False
    after = outer.begin is None or (inner.begin is not None and inner.begin >= outer.begin)
    before = outer.end is None or (inner.end is not None and inner.end <= outer.end)
    return after and before
