"""What a finding is: one contract violation, typed, with the requests that show it.

A :class:`Finding`'s ``fingerprint`` (check, category, location, and the ``detail`` that
tells two deviations at one location apart: the enum value, the JSON type seen) is stable
across runs, so that a baseline can accept it and a CI can tell new drift from known drift.
A :class:`BaselineEntry` is how a baseline names one.

A finding keeps its texts whole (up to :data:`RAW_TEXT_LIMIT`); only :meth:`Finding.scrubbed`
cuts them, after scrubbing, so that no writer can show a text the scrubber has not seen.

A finding names the consumers it breaks (``consumers``, filled from the spec's
``x-consumers`` by :mod:`dcs_contract.contract.consumers` when a run reports it): each as
a :class:`ConsumerImpact` (the consumer, and how it breaks), or :data:`NOBODY` alone.

    finding = Finding.about(response, check="page-size", category="paging", ...)
"""

from __future__ import annotations

import hashlib
import shlex
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, astuple, dataclass, field, fields, replace
from typing import Any

import httpx

from dcs_contract.contract.formats import printable
from dcs_contract.contract.severity import Severity
from dcs_contract.redaction import SENSITIVE_HEADERS, Scrubber
from dcs_contract.transport.signing import TOKEN_VARIABLE

__all__ = [
    "CATEGORIES",
    "NO_KNOWN_CONSUMER",
    "RAW_TEXT_LIMIT",
    "BaselineEntry",
    "ConsumerImpact",
    "Finding",
    "FindingLog",
    "RequestInfo",
    "bounded",
    "curl_command",
    "excerpt",
    "fingerprint_of",
]

CATEGORIES = (
    "schema",
    "enum",
    "type",
    "status",
    "error-body",
    "content-type",
    "paging",
    "window",
    "auth",
    "transport",
    "sdk",
    "latency",
    "wire",
)
# Display limits, applied after scrubbing.
_EXCERPT = 600
_ACTUAL = 200
_MESSAGE = 4000
# What a finding keeps of a text from the target: far past the display limits, so that a
# secret that straddles a display limit is still whole when it is scrubbed.
RAW_TEXT_LIMIT = 16 * 1024
# What a finding says when no consumer of the spec's x-consumers relies on what it shows.
NO_KNOWN_CONSUMER = "no known consumer relies on this"
# Placeholders shown instead of credentials in every reproduction command.
_TOKEN_PLACEHOLDER = f"X-Auth-Token: ${TOKEN_VARIABLE}"


def fingerprint_of(check: str, category: str, location: str, detail: str = "") -> str:
    """Stable across runs: the check, the category, the location and the detail; not the message or request.

    ``detail`` (an unknown enum value, the JSON type seen) joins the key only when set, so
    fingerprints of findings without one stay what they were.
    """
    key = "\x1f".join((check, category, location, *((detail,) if detail else ())))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def bounded(text: str) -> str:
    """A text from the target as a finding keeps it: whole up to :data:`RAW_TEXT_LIMIT`, not cut for display."""
    return text[:RAW_TEXT_LIMIT]


# The check name of the findings that stand for those a log or a response does not keep.
MORE_FINDINGS = "more_findings"


def excerpt(response: httpx.Response) -> str:
    """The response body as a finding keeps it (see :func:`bounded`); never raises, whatever the body.

    One text per response, however many findings it shows: a body with thousands of
    deviations does not hold thousands of copies of its excerpt.
    """
    known = response.extensions.get(_EXCERPT_KEY)
    if not isinstance(known, str):
        known = response.extensions[_EXCERPT_KEY] = printable(bounded(_text(response)))
    return known


def _text(response: httpx.Response) -> str:
    try:
        return response.text
    except httpx.ResponseNotRead:
        return ""
    except Exception:  # a charset whose codec is no text codec (rot13), or that fails on these bytes
        return response.content.decode("utf-8", errors="replace")


# Kept with the response, as formats.read_json keeps its parse.
_EXCERPT_KEY = "dcs_contract.excerpt"


def curl_command(method: str, url: str, *, authenticated: bool = True) -> str:
    """A curl that reproduces a request, authenticated by a token placeholder, never a secret.

    The header is in double quotes, so that the shell expands ``$DCS_AUTH_TOKEN`` when the
    line is pasted; it holds nothing else a shell would read. The URL, which came from the
    run, is single-quoted. curl cannot sign with an AK/SK: a report of such a run offers
    ``dcs-contract replay`` beside it.
    """
    auth = f'-H "{_TOKEN_PLACEHOLDER}" ' if authenticated else ""
    return f"curl -sS -X {method} {auth}{shlex.quote(url)}"


@dataclass(frozen=True, kw_only=True)
class RequestInfo:
    method: str
    url: str
    authenticated: bool = True

    @classmethod
    def from_request(cls, request: httpx.Request) -> RequestInfo:
        authenticated = any(name in request.headers for name in SENSITIVE_HEADERS)
        return cls(method=request.method, url=str(request.url), authenticated=authenticated)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestInfo:
        """A request as :meth:`as_dict` wrote it; its ``curl`` is derived, so it is not read back."""
        return cls(method=data["method"], url=data["url"], authenticated=data.get("authenticated", True))

    @property
    def curl(self) -> str:
        return curl_command(self.method, self.url, authenticated=self.authenticated)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "curl": self.curl}


@dataclass(frozen=True)
class ConsumerImpact:
    """A consumer a finding breaks, and how (the spec's own Markdown, from its ``x-consumers``).

    ``ConsumerImpact(NO_KNOWN_CONSUMER)``, with no ``how``, says that no known consumer relies
    on what the finding shows.
    """

    consumer: str
    how: str = ""

    def __str__(self) -> str:
        return f"{self.consumer}: {self.how}" if self.how else self.consumer

    @classmethod
    def from_json(cls, value: Any) -> ConsumerImpact:
        """One of report.json's ``consumers``; a report written before they were typed gave each as one
        text, which is kept whole as the consumer (its name and how are not told apart again)."""
        if isinstance(value, Mapping):
            return cls(str(value.get("consumer", "")), str(value.get("how", "")))
        return cls(str(value))

    def as_dict(self) -> dict[str, str]:
        return {"consumer": self.consumer, "how": self.how}

    def scrubbed(self, scrubber: Scrubber) -> ConsumerImpact:
        return ConsumerImpact(scrubber.text(self.consumer), scrubber.text(self.how))


NOBODY = ConsumerImpact(NO_KNOWN_CONSUMER)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One contract violation; ``location`` is a JSON pointer into the body or a parameter name.

    ``detail`` tells apart deviations at one location that a baseline must not accept
    together: the unknown enum value (accepting ``restoring`` must not accept ``archived``),
    or the JSON type seen.

    ``consumers``: the known consumers it breaks, each a :class:`ConsumerImpact`, or
    ``(NOBODY,)``; empty until a run reports the finding (and in a report written
    before consumers were named). It is not part of the fingerprint: what a finding breaks
    is read from the spec, and a baseline entry must outlive a change of the spec's prose.

    ``first_seen``: the number of the run's request (1 for its first) at which the finding
    was first seen, counted before any shorter reproduction replaced its requests: how early
    the run caught this drift. None for a finding no request showed (the SDK comparison).

    ``confirmation``: whether its requests, sent once more before the run ended, showed it
    again (``reproduce.CONFIRMATIONS``); empty when it was not confirmed (``--no-confirm``,
    a baseline accepts it, or the run was cut short). Not part of the fingerprint either.
    """

    check: str
    category: str
    title: str
    message: str
    location: str
    expected: str
    actual: str
    requests: tuple[RequestInfo, ...] = ()
    status: int | None = None
    response_excerpt: str = ""
    detail: str = ""
    consumers: tuple[ConsumerImpact, ...] = ()
    first_seen: int | None = None
    confirmation: str = ""
    # contract until a run grades it against the consumers (consumers.Consumers.annotate);
    # info for what is only observed. Not part of the fingerprint: it follows from the spec.
    severity: Severity = Severity.CONTRACT

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r}, but it must be one of {', '.join(CATEGORIES)}")

    @classmethod
    def about(
        cls,
        response: httpx.Response,
        *,
        check: str,
        category: str,
        title: str,
        message: str,
        location: str,
        expected: str,
        actual: str,
        detail: str = "",
    ) -> Finding:
        """A finding that one response shows: its request, its status and its body come from it.

        The texts that may hold what the target sent are kept whole but bounded in size, and
        writable as UTF-8 (lone surrogates as escapes).
        """
        return cls(
            check=check,
            category=category,
            title=title,
            message=printable(bounded(message)),
            location=printable(bounded(location)),
            expected=bounded(expected),
            actual=printable(bounded(actual)),
            detail=printable(bounded(detail)),
            requests=(RequestInfo.from_request(response.request),),
            status=response.status_code,
            response_excerpt=excerpt(response),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """A finding as :meth:`as_dict` wrote it. Its ``fingerprint`` is derived, so it is not read back."""
        return cls(
            check=data["check"],
            category=data["category"],
            title=data["title"],
            message=data.get("message", ""),
            location=data["location"],
            expected=data["expected"],
            actual=data["actual"],
            requests=tuple(RequestInfo.from_dict(request) for request in data.get("requests", ())),
            status=data.get("status"),
            response_excerpt=data.get("response_excerpt", ""),
            detail=data.get("detail", ""),
            consumers=tuple(ConsumerImpact.from_json(entry) for entry in data.get("consumers", ())),
            first_seen=data.get("first_seen"),
            confirmation=data.get("confirmation", ""),
            severity=Severity.read(data.get("severity"), _graded_by_consumers(data)),
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.check, self.category, self.location, self.detail)

    @property
    def consumer_names(self) -> tuple[str, ...]:
        """The names of the consumers it breaks, for a one-line summary; ``(NO_KNOWN_CONSUMER,)`` as it is."""
        return tuple(impact.consumer for impact in self.consumers)

    def scrubbed(self, scrubber: Scrubber) -> Finding:
        """This finding as it may be shown: every text scrubbed, then cut to its display limit."""
        return replace(
            self,
            title=scrubber.cut(self.title, _ACTUAL),
            message=scrubber.cut(self.message, _MESSAGE),
            location=scrubber.text(self.location),
            expected=scrubber.cut(self.expected, _ACTUAL),
            actual=scrubber.cut(self.actual, _ACTUAL),
            detail=scrubber.text(self.detail),
            consumers=tuple(impact.scrubbed(scrubber) for impact in self.consumers),
            requests=tuple(replace(r, url=scrubber.text(r.url)) for r in self.requests),
            response_excerpt=scrubber.cut(self.response_excerpt, _EXCERPT),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requests"] = [request.as_dict() for request in self.requests]
        data["consumers"] = [impact.as_dict() for impact in self.consumers]
        data["fingerprint"] = self.fingerprint
        data["severity"] = self.severity.value
        return data


def _graded_by_consumers(data: Mapping[str, Any]) -> Severity:
    """The severity of a finding a report wrote before severities: breaking when it named a consumer."""
    named = [ConsumerImpact.from_json(entry) for entry in data.get("consumers", ())]
    return Severity.of_finding(info=False, breaks_consumer=bool(named) and named != [NOBODY])


@dataclass(frozen=True)
class BaselineEntry:
    """A finding as a baseline names it: its fingerprint's parts, its title, and why it is accepted."""

    fingerprint: str
    check: str
    category: str
    location: str
    detail: str = ""
    title: str = ""
    reason: str = ""

    @classmethod
    def of(cls, finding: Finding, scrubber: Scrubber, reason: str = "") -> BaselineEntry:
        return cls(
            "", finding.check, finding.category, finding.location, finding.detail, finding.title, reason
        ).scrubbed(scrubber)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineEntry:
        """An entry as :meth:`as_dict` wrote it (its fields checked by whoever read the file)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def shown(self, scrubber: Scrubber) -> BaselineEntry:
        """This entry as a report shows it: every text scrubbed, the fingerprint the one in the file."""
        return BaselineEntry(*(scrubber.text(text) for text in astuple(self)))

    def scrubbed(self, scrubber: Scrubber) -> BaselineEntry:
        """This entry as it may be written, its fingerprint that of the scrubbed fields."""
        shown = self.shown(scrubber)
        return replace(shown, fingerprint=fingerprint_of(shown.check, shown.category, shown.location, shown.detail))

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class FindingLog:
    """Findings by fingerprint. For each, the shortest reproduction seen is kept.

    At most ``limit`` distinct findings are kept: a target that sends new keys or values on
    every answer would otherwise grow the log, and the report, without bound. Past the
    limit, a finding is counted under one "more findings" finding of its category.
    """

    limit: int = 500
    _by_fingerprint: dict[str, Finding] = field(default_factory=dict)
    occurrences: Counter[str] = field(default_factory=Counter)

    def add(self, finding: Finding, *, request: int | None = None) -> None:
        """Keep ``finding``; ``request``, the number of the run's request it was seen at."""
        key = finding.fingerprint
        if key not in self._by_fingerprint and len(self._by_fingerprint) >= self.limit:
            finding = self._overflow(finding.category)
            key = finding.fingerprint
        self.occurrences[key] += 1
        kept = self._by_fingerprint.get(key)
        first_seen = kept.first_seen if kept is not None else (finding.first_seen or request)
        if kept is None or _size(finding) < _size(kept):
            self._by_fingerprint[key] = replace(finding, first_seen=first_seen)

    def label(self, fingerprint: str, confirmation: str) -> None:
        """Say how the finding with ``fingerprint`` fared when its requests were sent again."""
        kept = self._by_fingerprint.get(fingerprint)
        if kept is not None:
            self._by_fingerprint[fingerprint] = replace(kept, confirmation=confirmation)

    def _overflow(self, category: str) -> Finding:
        return Finding(
            check=MORE_FINDINGS,
            category=category,
            title="More distinct findings than a report keeps",
            message=f"The run found more than {self.limit} distinct findings; the others of category {category} "
            "are counted here, not listed.",
            location="report",
            expected=f"at most {self.limit} distinct findings",
            actual="more, counted in this finding's occurrences",
        )

    def __len__(self) -> int:
        return len(self._by_fingerprint)

    @property
    def fingerprints(self) -> list[str]:
        return list(self._by_fingerprint)

    def __iter__(self) -> Iterator[Finding]:
        return iter(sorted(self._by_fingerprint.values(), key=lambda f: (f.category, f.location, f.check)))


def _size(finding: Finding) -> tuple[int, int]:
    return len(finding.requests), sum(len(r.url) for r in finding.requests)
