"""Semantic invariants: what the answers must satisfy beyond their schemas.

The spec states each one under ``x-invariants`` (rule, category, location, source); this
module implements them, one small function per id, registered by :func:`invariant`. A
schema sees the shape of one response; these see what it means, within one page or across
several: that ``total_num`` is the total, that pages partition the set, that the window is
applied.

Per-page invariants (``per_page=True``) run on every 200 or 204 answer to a valid query.
The others take the pages a property gathered and name, in each finding, only the requests
needed to see it. Every invariant takes the :class:`Judge` first and returns its findings::

    @invariant("page-size", per_page=True)
    def page_size(judge: Judge, page: Page) -> list[Finding]: ...

Loading a spec whose ``x-invariants`` differ from the registry fails: each rule of the
contract has exactly one implementation.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from dcs_contract.contract.findings import Finding, RequestInfo, bounded, excerpt
from dcs_contract.contract.formats import is_dcs_timestamp, json_text, parse_dcs_timestamp, parse_record_time, read_json
from dcs_contract.contract.spec import Spec
from dcs_contract.errors import SpecError

__all__ = ["INVARIANTS", "PAGE_INVARIANTS", "Invariant", "Invariants", "Judge", "Page", "invariant", "record_second"]

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
    try:
        return parse_record_time(value).replace(microsecond=0)
    except ValueError:
        return None


def _strings(record: Mapping[str, Any], *fields: str) -> bool:
    """The record holds each field as a string: what a rule comparing them can read."""
    return all(isinstance(record.get(name), str) for name in fields)


def _shown(records: Iterable[dict[str, Any]], *fields: str) -> str:
    shown = [{name: record.get(name) for name in ("backup_id", *fields)} for record in records]
    text = json_text(shown[:_SHOWN_RECORDS])
    return text + (f" and {len(shown) - _SHOWN_RECORDS} more" if len(shown) > _SHOWN_RECORDS else "")


@dataclass(frozen=True)
class Invariant:
    """One rule of the spec's ``x-invariants`` and the function that checks it."""

    id: str
    check: Callable[..., list[Finding]]
    per_page: bool


# Every invariant, by the id the spec gives it; filled by @invariant.
INVARIANTS: dict[str, Invariant] = {}


def invariant(rule_id: str, *, per_page: bool = False) -> Callable[[Callable[..., list[Finding]]], Invariant]:
    """Register the function that checks the spec's invariant ``rule_id``."""

    def register(check: Callable[..., list[Finding]]) -> Invariant:
        if rule_id in INVARIANTS:
            raise ValueError(f"invariant {rule_id!r} is registered twice")
        INVARIANTS[rule_id] = Invariant(rule_id, check, per_page)
        return INVARIANTS[rule_id]

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
        return [finding for rule in PAGE_INVARIANTS.values() for finding in self.judge(rule, page)]

    def judge(self, rule: Invariant, *args: Any, **kwargs: Any) -> list[Finding]:
        """One invariant on what a property gathered."""
        return rule.check(self._judges[rule.id], *args, **kwargs)


# -- within one page ----------------------------------------------------------------------


@invariant("page-size", per_page=True)
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


@invariant("record-of-path-instance", per_page=True)
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


@invariant("window-contains", per_page=True)
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


@invariant("error-code-iff-failed", per_page=True)
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


@invariant("updated-not-before-created", per_page=True)
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


@invariant("progress-complete-when-succeeded", per_page=True)
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


@invariant("total-independent-of-paging")
def total_independent_of_paging(judge: Judge, pages: Sequence[Page]) -> list[Finding]:
    answered = [page for page in pages if page.status == 200]
    if not judge.judges(len(answered) > 1, "no two pages of the same filters were answered 200"):
        return []
    for first in answered:
        for other in answered:
            if other.total != first.total:
                return [
                    judge.violation(
                        [first, other],
                        expected=f"the same total_num for the same filters ({first.total})",
                        actual=f"{other.total} with limit {other.limit}, offset {other.offset}",
                    )
                ]
    return []


@invariant("pages-partition")
def pages_partition(judge: Judge, walk: Sequence[Page], *, complete: bool) -> list[Finding]:
    """``walk``: consecutive pages from offset 0; ``complete`` when it reached the end."""
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
    if complete and all(page.identified for page in walk) and len(seen) != total:
        return [
            judge.violation(
                walk,
                expected=f"the pages together list total_num = {total} records",
                actual=f"{len(seen)} distinct records over {len(walk)} pages",
            )
        ]
    return []


@invariant("past-end-empty")
def past_end_empty(judge: Judge, page: Page, *, total: int) -> list[Finding]:
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


@invariant("total-stable-through-walk")
def total_stable_through_walk(judge: Judge, walk: Sequence[Page]) -> list[Finding]:
    """``walk``: the pages of one walk, in the order they were asked for.

    A 204 carries no total_num to compare: its emptiness is no-empty-page-before-total's to judge.
    """
    answered = [page for page in walk if page.status == 200]
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


@invariant("no-empty-page-before-total")
def no_empty_page_before_total(judge: Judge, walk: Sequence[Page]) -> list[Finding]:
    """``walk``: the pages of one walk from offset 0, in the order they were asked for.

    A client asks for the next page while its offset is below the total_num it last read: so
    each page is held to the total of the 200 page before it, the first page to its own.
    """
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


@invariant("window-complete")
def window_complete(judge: Judge, survey: Page, window: Page) -> list[Finding]:
    """``survey``: the complete unfiltered listing; ``window``: the same instance in a window.

    An entry of the survey whose created_at names no instant may or may not be in the
    window: the window's count must then lie between the sure ones and all of them.
    """
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


@invariant("narrower-window-not-more")
def narrower_window_not_more(judge: Judge, outer: Page, inner: Page) -> list[Finding]:
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


@invariant("adjacent-windows-add-up")
def adjacent_windows_add_up(judge: Judge, whole: Page, left: Page, right: Page) -> list[Finding]:
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


@invariant("unknown-instance-refused")
def unknown_instance_refused(judge: Judge, response: httpx.Response) -> list[Finding]:
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


@invariant("empty-instance-empty")
def empty_instance_empty(judge: Judge, page: Page) -> list[Finding]:
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
PAGE_INVARIANTS: dict[str, Invariant] = {rule_id: rule for rule_id, rule in INVARIANTS.items() if rule.per_page}
