"""Semantic invariants: what the answers must satisfy beyond their schemas.

The spec states each one under ``x-invariants`` (rule, category, location, source); this
module implements them, one small function per id, registered by :func:`invariant`. A
schema sees the shape of one response; these see what it means, within one page or across
several: that ``total_num`` is the total, that pages partition the set, that the window is
applied.

Each invariant is declared on the type of what it judges, its *subject*: a :class:`Page`
for the per-page invariants, which run on every 200 or 204 answer to a valid query; for the
others a small frozen record of the pages a property gathered (:class:`Walk`,
:class:`Paging`, :class:`PastEnd`, :class:`WindowInSurvey`, :class:`NarrowerWindow`,
:class:`WindowSplit`, :class:`UnknownInstanceAnswer`, :class:`EmptyInstancePage`), so that mypy
checks every call. A finding names only the requests needed to see it. Every invariant
takes the :class:`Judge` first and returns its findings::

    @invariant("page-size", Page)
    def page_size(judge: Judge, page: Page) -> list[Finding]: ...

The subject type is the decision table: every invariant declared on a subject judges it
(:meth:`Invariants.of`), so a :class:`Walk` is judged by the three walk rules at once.

Loading a spec whose ``x-invariants`` differ from the registry fails: each rule of the
contract has exactly one implementation.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Self, TypeVar

import httpx

from dcs_contract.contract.findings import Finding, RequestInfo, bounded, excerpt
from dcs_contract.contract.formats import is_dcs_timestamp, json_text, parse_dcs_timestamp, parse_record_time, read_json
from dcs_contract.contract.spec import Spec
from dcs_contract.errors import SpecError

__all__ = [
    "INVARIANTS",
    "PAGE_INVARIANTS",
    "EmptyInstancePage",
    "Invariant",
    "Invariants",
    "Judge",
    "NarrowerWindow",
    "Page",
    "Paging",
    "PastEnd",
    "UnknownInstanceAnswer",
    "Walk",
    "WindowInSurvey",
    "WindowSplit",
    "invariant",
    "record_second",
]

_SHOWN_RECORDS = 3


@dataclass(frozen=True)
class Page:
    """A 200 or 204 answer to a valid query, read as one page of the matching records.

    ``entries`` counts every item of the array; ``records`` are those that are objects. An
    invariant reads only the fields it can (a string where the spec says string, a time with
    its zone) and leaves the rest out: the schema findings name them.
    """

    status: int
    total: int
    entries: int
    records: tuple[dict[str, Any], ...]
    limit: int
    offset: int
    begin: datetime | None
    end: datetime | None
    instance_id: str
    request: RequestInfo
    excerpt: str

    @classmethod
    def read(cls, response: httpx.Response, defaults: Mapping[str, Any], instance_id: str) -> Page | None:
        """The page, or None when the answer is not a readable page (the schema checks say why)."""
        query = response.request.url.params
        try:
            limit = int(query.get("limit", defaults["limit"]))
            offset = int(query.get("offset", defaults["offset"]))
        except ValueError:
            return None
        total: Any
        items: Any
        if response.status_code == 204:
            total, items = 0, []
        elif response.status_code == 200:
            body = read_json(response)
            value = body.value if body.readable and isinstance(body.value, dict) else {}
            total, items = value.get("total_num"), value.get("backup_record_response")
            # A negative total counts nothing: there is no page to check against it.
            if not isinstance(total, int) or isinstance(total, bool) or total < 0 or not isinstance(items, list):
                return None
        else:
            return None
        return cls(
            status=response.status_code,
            total=total,
            entries=len(items),
            records=tuple(item for item in items if isinstance(item, dict)),
            limit=limit,
            offset=offset,
            begin=_query_time(query.get("begin_time")),
            end=_query_time(query.get("end_time")),
            instance_id=instance_id,
            request=RequestInfo.from_request(response.request),
            excerpt=excerpt(response),
        )

    @property
    def ids(self) -> list[str]:
        """The backup ids that can be matched across pages: strings, as the spec has them."""
        return [record["backup_id"] for record in self.records if isinstance(record.get("backup_id"), str)]

    @property
    def identified(self) -> bool:
        """Every entry is a record with a readable backup_id."""
        return len(self.ids) == self.entries

    def describe(self) -> str:
        return f"{self.request.url} -> {self.status}, total_num {self.total}, {self.entries} records"


def _query_time(value: str | None) -> datetime | None:
    return parse_dcs_timestamp(value) if value is not None and is_dcs_timestamp(value) else None


def record_second(value: Any) -> datetime | None:
    """A record time truncated to its second, as the window compares it; None if it names no instant."""
    if not isinstance(value, str):
        return None
    # A record's times are read by several rules, and again on each page of a walk that shows
    # them: remembered, but only at the length of a time, so a hostile text is not kept.
    return _remembered_second(value) if len(value) <= _TIME_LENGTH else _second(value)


_TIME_LENGTH = 40


def _second(value: str) -> datetime | None:
    try:
        return parse_record_time(value).replace(microsecond=0)
    except ValueError:
        return None


_remembered_second = functools.lru_cache(maxsize=4096)(_second)


def _strings(record: Mapping[str, Any], *fields: str) -> bool:
    """The record holds each field as a string: what a rule comparing them can read."""
    return all(isinstance(record.get(name), str) for name in fields)


def _shown(records: Iterable[dict[str, Any]], *fields: str) -> str:
    shown = [{name: record.get(name) for name in ("backup_id", *fields)} for record in records]
    text = json_text(shown[:_SHOWN_RECORDS])
    return text + (f" and {len(shown) - _SHOWN_RECORDS} more" if len(shown) > _SHOWN_RECORDS else "")


# -- what the invariants across requests judge ------------------------------------------------
# Each record says what one piece of evidence is; ``recorded`` reads it back from the pages
# (and answers) of a finding's requests, in the order they were sent, for replay and
# confirmation: None when they are not that evidence.


@dataclass(frozen=True)
class Paging:
    """Pages of the same filters at several limits or offsets (total-independent-of-paging)."""

    pages: tuple[Page, ...]

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(tuple(pages))


@dataclass(frozen=True)
class Walk:
    """The pages of one walk from offset 0, in the order asked for; ``complete`` when it reached the end."""

    pages: tuple[Page, ...]
    complete: bool

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(tuple(pages), complete=cls.reaches_end(pages))

    @staticmethod
    def reaches_end(pages: Sequence[Page]) -> bool:
        """The pages start at offset 0 and the last one reaches the first one's total_num."""
        return bool(pages) and pages[0].offset == 0 and pages[-1].offset + pages[-1].limit >= pages[0].total


@dataclass(frozen=True)
class PastEnd:
    """A page at or past ``total``, the total_num its filters were read with."""

    page: Page
    total: int

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        # A finding carries the page past the end alone: its own total_num is the one to hold it to.
        return cls(pages[-1], pages[-1].total) if pages and pages[-1].status == 200 else None


@dataclass(frozen=True)
class WindowInSurvey:
    """``survey``: the complete unfiltered listing; ``window``: the same instance in a window."""

    survey: Page
    window: Page

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(*pages) if len(pages) == 2 else None


@dataclass(frozen=True)
class NarrowerWindow:
    """A window (``inner``) within another (``outer``) of the same instance."""

    outer: Page
    inner: Page

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(*pages) if len(pages) == 2 else None


@dataclass(frozen=True)
class WindowSplit:
    """A window and its two halves, ``left`` ending the second before ``right`` begins."""

    whole: Page
    left: Page
    right: Page

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(*pages) if len(pages) == 3 else None


@dataclass(frozen=True)
class UnknownInstanceAnswer:
    """The answer for an instance id nobody has: not a page, a refusal to judge."""

    response: httpx.Response

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(responses[0]) if responses else None


@dataclass(frozen=True)
class EmptyInstancePage:
    """The page of the instance known to have no backups."""

    page: Page

    @classmethod
    def recorded(cls, pages: Sequence[Page], responses: Sequence[httpx.Response]) -> Self | None:
        return cls(pages[0]) if pages else None


# What an invariant is declared on: a page, or one of the records above.
Subject = TypeVar("Subject")


@dataclass(frozen=True)
class Invariant(Generic[Subject]):
    """One rule of the spec's ``x-invariants``, the type of what it judges, and the function that checks it."""

    id: str
    subject: type[Subject]
    check: Callable[[Judge, Subject], list[Finding]]

    @property
    def per_page(self) -> bool:
        """It judges one page: every 200 or 204 answer to a valid query is read with it."""
        return self.subject is Page


# Every invariant, by the id the spec gives it; filled by @invariant.
INVARIANTS: dict[str, Invariant[Any]] = {}


def invariant(
    rule_id: str, subject: type[Subject]
) -> Callable[[Callable[[Judge, Subject], list[Finding]]], Invariant[Subject]]:
    """Register the function that checks the spec's invariant ``rule_id`` on a ``subject``."""

    def register(check: Callable[[Judge, Subject], list[Finding]]) -> Invariant[Subject]:
        if rule_id in INVARIANTS:
            raise ValueError(f"invariant {rule_id!r} is registered twice")
        rule = Invariant(rule_id, subject, check)
        INVARIANTS[rule_id] = rule
        return rule

    return register


class Judge:
    """What one invariant needs to judge: its rule in the spec, and the run's record of what was judged.

    ``evaluated`` counts, by rule id, the times a rule judged something: a page, or at least
    one record whose fields it could read. ``unjudged`` keeps why a rule that was asked had
    nothing to judge, for the run's coverage.
    """

    def __init__(self, spec: Spec, rule_id: str, evaluated: Counter[str], unjudged: dict[str, str]) -> None:
        self.spec = spec
        self.rule_id = rule_id
        self.rule = spec.invariants[rule_id]
        self.error_codes = spec.enum_values("error_code")
        self._evaluated = evaluated
        self._unjudged = unjudged

    def judges(self, judged: bool = True, reason: str = "") -> bool:
        """Record whether the rule had something to judge (and why not); returns ``judged``."""
        if judged:
            self._evaluated[self.rule_id] += 1
        else:
            self._unjudged[self.rule_id] = reason
        return judged

    def not_applicable(self, reason: str) -> None:
        """Nothing to judge, and that says less than an applicable rule with nothing readable."""
        self._unjudged.setdefault(self.rule_id, reason)

    def violation(self, pages: Sequence[Page], *, expected: str, actual: str) -> Finding:
        """A finding for the rule, with the category and location the spec gives it."""
        return Finding(
            check=self.rule_id,
            category=self.rule["category"],
            title=f"Invariant {self.rule_id} broken",
            message=bounded(self.rule["rule"] + "\n" + "\n".join(page.describe() for page in pages)),
            location=self.rule["location"],
            expected=expected,
            actual=bounded(actual),
            requests=tuple(page.request for page in pages),
            status=pages[-1].status if pages else None,
            response_excerpt=pages[-1].excerpt if pages else "",
        )


class Invariants:
    """The registry's invariants bound to one run: the spec's rules, and its counters.

    Fails to build unless the registry and the spec's ``x-invariants`` name the same rules.
    """

    def __init__(
        self, spec: Spec, *, evaluated: Counter[str] | None = None, unjudged: dict[str, str] | None = None
    ) -> None:
        if set(INVARIANTS) != set(spec.invariants):
            missing = sorted(set(spec.invariants) - set(INVARIANTS))
            unknown = sorted(set(INVARIANTS) - set(spec.invariants))
            raise SpecError(
                "the spec's x-invariants and the implemented invariants differ: "
                f"not implemented {missing or 'none'}, not in the spec {unknown or 'none'}"
            )
        counters = (evaluated if evaluated is not None else Counter(), unjudged if unjudged is not None else {})
        self._judges = {rule_id: Judge(spec, rule_id, *counters) for rule_id in INVARIANTS}

    def of_page(self, page: Page) -> list[Finding]:
        """Every per-page invariant on ``page``."""
        return self.of(page)

    def of(self, subject: object) -> list[Finding]:
        """Every invariant declared on ``subject``'s type, in the registry's order."""
        return [
            finding
            for rule in INVARIANTS.values()
            if type(subject) is rule.subject
            for finding in rule.check(self._judges[rule.id], subject)
        ]

    def judge(self, rule: Invariant[Subject], subject: Subject) -> list[Finding]:
        """One invariant on what a property gathered."""
        return rule.check(self._judges[rule.id], subject)


# -- within one page ----------------------------------------------------------------------


@invariant("page-size", Page)
def page_size(judge: Judge, page: Page) -> list[Finding]:
    if not judge.judges(page.status == 200, "no page was answered 200"):
        return []
    expected = max(0, min(page.limit, page.total - page.offset))
    if page.entries != expected:
        return [
            judge.violation(
                [page],
                expected=f"{expected} records (limit {page.limit}, offset {page.offset}, total_num {page.total})",
                actual=f"{page.entries} records",
            )
        ]
    return []


@invariant("record-of-path-instance", Page)
def record_of_path_instance(judge: Judge, page: Page) -> list[Finding]:
    readable = [r for r in page.records if _strings(r, "instance_id")]
    if not judge.judges(bool(readable), "no record had a readable instance_id"):
        return []
    strangers = [r for r in readable if r["instance_id"] != page.instance_id]
    if strangers:
        return [
            judge.violation(
                [page],
                expected=f"instance_id {page.instance_id}",
                actual=_shown(strangers, "instance_id"),
            )
        ]
    return []


@invariant("window-contains", Page)
def window_contains(judge: Judge, page: Page) -> list[Finding]:
    if page.begin is None and page.end is None:
        judge.not_applicable("no page was read for a time window")
        return []
    created = [(r, moment) for r in page.records if (moment := record_second(r.get("created_at"))) is not None]
    if not judge.judges(bool(created), "no record listed for a time window had a created_at with its time zone"):
        return []
    outside = [
        r
        for r, moment in created
        if (page.begin is not None and moment < page.begin) or (page.end is not None and moment > page.end)
    ]
    if outside:
        return [
            judge.violation(
                [page],
                expected=f"created_at within [{page.begin}, {page.end}]",
                actual=_shown(outside, "created_at"),
            )
        ]
    return []


@invariant("error-code-iff-failed", Page)
def error_code_iff_failed(judge: Judge, page: Page) -> list[Finding]:
    # An absent error_code is not set; one that is neither null nor a string is the schema's finding.
    readable = [
        r for r in page.records if _strings(r, "status") and (r.get("error_code") is None or _strings(r, "error_code"))
    ]
    if not judge.judges(bool(readable), "no record had a readable status and error_code"):
        return []
    wrong = [
        r
        for r in readable
        if (r["status"] == "failed") != (r.get("error_code") is not None)
        or (r.get("error_code") is not None and r["error_code"] not in judge.error_codes)
    ]
    if wrong:
        return [
            judge.violation(
                [page],
                expected="error_code set (a documented code) exactly when status is failed",
                actual=_shown(wrong, "status", "error_code"),
            )
        ]
    return []


@invariant("updated-not-before-created", Page)
def updated_not_before_created(judge: Judge, page: Page) -> list[Finding]:
    times = [
        (r, created, updated)
        for r in page.records
        if (created := record_second(r.get("created_at"))) is not None
        and (updated := record_second(r.get("updated_at"))) is not None
    ]
    if not judge.judges(
        bool(times),
        "no record had both created_at and updated_at with their time zones",
    ):
        return []
    wrong = [r for r, created, updated in times if updated < created]
    if wrong:
        return [
            judge.violation(
                [page],
                expected="updated_at not earlier than created_at",
                actual=_shown(wrong, "created_at", "updated_at"),
            )
        ]
    return []


@invariant("progress-complete-when-succeeded", Page)
def progress_complete_when_succeeded(judge: Judge, page: Page) -> list[Finding]:
    # A succeeded backup without progress breaks the rule; one with a progress of another type is the schema's.
    readable = [
        r
        for r in page.records
        if _strings(r, "status") and (r["status"] != "succeed" or "progress" not in r or _strings(r, "progress"))
    ]
    if not judge.judges(bool(readable), "no record had a readable status"):
        return []
    wrong = [r for r in readable if r["status"] == "succeed" and r.get("progress") != "100.00"]
    if wrong:
        return [
            judge.violation(
                [page],
                expected='progress "100.00" when status is succeed',
                actual=_shown(wrong, "status", "progress"),
            )
        ]
    return []


# -- across pages ---------------------------------------------------------------------------


@invariant("total-independent-of-paging", Paging)
def total_independent_of_paging(judge: Judge, paging: Paging) -> list[Finding]:
    answered = [page for page in paging.pages if page.status == 200]
    if not judge.judges(len(answered) > 1, "no two pages of the same filters were answered 200"):
        return []
    # Any two pages that differ means one differs from the first: one pass, not every pair.
    first = answered[0]
    other = next((page for page in answered if page.total != first.total), None)
    if other is None:
        return []
    return [
        judge.violation(
            [first, other],
            expected=f"the same total_num for the same filters ({first.total})",
            actual=f"{other.total} with limit {other.limit}, offset {other.offset}",
        )
    ]


@invariant("pages-partition", Walk)
def pages_partition(judge: Judge, walked: Walk) -> list[Finding]:
    """Consecutive pages from offset 0; their number is checked only when the walk is complete."""
    walk = walked.pages
    if not judge.judges(bool(walk), "no page walk was read"):
        return []
    seen: dict[str, Page] = {}
    for page in walk:
        # A record without a string backup_id is the schema checks' finding; it cannot be matched here.
        for backup_id in page.ids:
            if backup_id in seen:
                first = seen[backup_id]
                pages = [first] if first is page else [first, page]
                return [
                    judge.violation(
                        pages,
                        expected="disjoint pages, every backup_id once",
                        actual=f"backup_id {backup_id} at offset {first.offset} and at offset {page.offset}",
                    )
                ]
            seen[backup_id] = page
    total = walk[0].total
    if walked.complete and all(page.identified for page in walk) and len(seen) != total:
        return [
            judge.violation(
                walk,
                expected=f"the pages together list total_num = {total} records",
                actual=f"{len(seen)} distinct records over {len(walk)} pages",
            )
        ]
    return []


@invariant("past-end-empty", PastEnd)
def past_end_empty(judge: Judge, past: PastEnd) -> list[Finding]:
    page, total = past.page, past.total
    judge.judges()
    if page.offset >= total and page.entries:
        return [
            judge.violation(
                [page],
                expected=f"no record at offset {page.offset} of {total}",
                actual=f"{page.entries} records: {_shown(page.records)}",
            )
        ]
    return []


@invariant("total-stable-through-walk", Walk)
def total_stable_through_walk(judge: Judge, walk: Walk) -> list[Finding]:
    """The pages of one walk, in the order they were asked for.

    A 204 carries no total_num to compare: its emptiness is no-empty-page-before-total's to judge.
    """
    answered = [page for page in walk.pages if page.status == 200]
    if not judge.judges(len(answered) > 1, "no walk had two pages answered 200"):
        return []
    for before, page in itertools.pairwise(answered):
        if page.total != before.total:
            return [
                judge.violation(
                    [before, page],
                    expected=f"total_num {before.total} on every page of the walk, as at offset {before.offset}",
                    actual=f"{page.total} at offset {page.offset}",
                )
            ]
    return []


@invariant("no-empty-page-before-total", Walk)
def no_empty_page_before_total(judge: Judge, walked: Walk) -> list[Finding]:
    """The pages of one walk from offset 0, in the order they were asked for.

    A client asks for the next page while its offset is below the total_num it last read: so
    each page is held to the total of the 200 page before it, the first page to its own.
    """
    walk = walked.pages
    if not judge.judges(bool(walk), "no page walk was read"):
        return []
    told: Page | None = None
    for page in walk:
        known = told if told is not None else page if page.status == 200 else None
        if known is not None and page.offset < known.total and not page.entries:
            shown = "204, no body" if page.status == 204 else "200 with no record"
            return [
                judge.violation(
                    [known, page] if known is not page else [page],
                    expected=f"records at offset {page.offset}, below total_num {known.total}",
                    actual=f"an empty page ({shown})",
                )
            ]
        if page.status == 200:
            told = page
    return []


@invariant("window-complete", WindowInSurvey)
def window_complete(judge: Judge, evidence: WindowInSurvey) -> list[Finding]:
    """The window's total against the records of the complete unfiltered listing in it.

    An entry of the survey whose created_at names no instant may or may not be in the
    window: the window's count must then lie between the sure ones and all of them.
    """
    survey, window = evidence.survey, evidence.window
    judge.judges()
    moments = [moment for r in survey.records if (moment := record_second(r.get("created_at"))) is not None]
    unknown = survey.entries - len(moments)
    inside = sum(
        1
        for moment in moments
        if (window.begin is None or moment >= window.begin) and (window.end is None or moment <= window.end)
    )
    if not inside <= window.total <= inside + unknown:
        span = f"{inside}" if not unknown else f"{inside} to {inside + unknown}"
        return [
            judge.violation(
                [survey, window],
                expected=f"{span} records created in [{window.begin}, {window.end}], as the unfiltered "
                "listing has them" + (f" ({unknown} without a readable created_at)" if unknown else ""),
                actual=f"{window.total}",
            )
        ]
    return []


@invariant("narrower-window-not-more", NarrowerWindow)
def narrower_window_not_more(judge: Judge, windows: NarrowerWindow) -> list[Finding]:
    outer, inner = windows.outer, windows.inner
    judge.judges()
    if inner.total > outer.total:
        return [
            judge.violation(
                [outer, inner],
                expected=f"at most {outer.total} records in [{inner.begin}, {inner.end}]",
                actual=f"{inner.total} records",
            )
        ]
    return []


@invariant("adjacent-windows-add-up", WindowSplit)
def adjacent_windows_add_up(judge: Judge, split: WindowSplit) -> list[Finding]:
    whole, left, right = split.whole, split.left, split.right
    judge.judges()
    if left.total + right.total != whole.total:
        return [
            judge.violation(
                [whole, left, right],
                expected=f"{whole.total} records, as [{whole.begin}, {whole.end}] lists",
                actual=f"{left.total} + {right.total} in [{left.begin}, {left.end}] and [{right.begin}, {right.end}]",
            )
        ]
    return []


@invariant("unknown-instance-refused", UnknownInstanceAnswer)
def unknown_instance_refused(judge: Judge, answer: UnknownInstanceAnswer) -> list[Finding]:
    response = answer.response
    judge.judges()
    status = response.status_code
    if 400 <= status < 500 and status in judge.spec.status_codes:
        return []
    documented = ", ".join(str(code) for code in judge.spec.status_codes if 400 <= code < 500)
    rule = judge.rule
    actual = f"{status}, which the spec does not document" if status not in judge.spec.status_codes else str(status)
    return [
        Finding.about(
            response,
            check=judge.rule_id,
            category=rule["category"],
            title="Unknown instance not refused as documented",
            message=rule["rule"],
            location=rule["location"],
            expected=f"a documented 4xx ({documented}) with a DCS error body",
            actual=actual,
        )
    ]


@invariant("empty-instance-empty", EmptyInstancePage)
def empty_instance_empty(judge: Judge, empty: EmptyInstancePage) -> list[Finding]:
    page = empty.page
    judge.judges()
    if page.entries or page.total:
        return [
            judge.violation(
                [page],
                expected="204, or 200 with total_num 0 and no record",
                actual=f"{page.status}, total_num {page.total}, {page.entries} records",
            )
        ]
    return []


# The invariants of one page, by id: every 200 or 204 answer to a valid query is read with them.
PAGE_INVARIANTS: dict[str, Invariant[Page]] = {rule_id: rule for rule_id, rule in INVARIANTS.items() if rule.per_page}
