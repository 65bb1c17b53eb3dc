"""Semantic invariants: what the answers must satisfy beyond their schemas.

The spec states each one under ``x-invariants`` (rule, category, location, source); this
module implements them, one small function per id. A schema sees the shape of one response;
these see what it means, within one page or across several: that ``total_num`` is the
total, that pages partition the set, that the window is applied.

Per-page invariants run on every 200 or 204 answer to a valid query. The others take the
pages a property gathered and name, in each finding, only the requests needed to see it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from dcs_contract.formats import is_dcs_timestamp, json_text, parse_dcs_timestamp, parse_record_time, read_json
from dcs_contract.report import Finding, RequestInfo, bounded, excerpt
from dcs_contract.spec import Spec

__all__ = ["INVARIANTS", "PAGE_INVARIANTS", "Invariants", "Page", "record_second"]

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

    @property
    def matching(self) -> int:
        """How many records the answer says match: its total, or none for a 204."""
        return self.total if self.status == 200 else 0

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


class Invariants:
    """The spec's invariants, bound to it: each method checks one and returns its findings.

    ``evaluated`` counts, by rule id, the times a rule judged something: a page, or at least
    one record whose fields it could read. ``unjudged`` keeps why a rule that was asked had
    nothing to judge, for the run's coverage.
    """

    def __init__(self, spec: Spec, evaluated: Counter[str] | None = None) -> None:
        self.spec = spec
        self.rules = spec.invariants
        self._error_codes = spec.enum_values("error_code")
        self.evaluated: Counter[str] = evaluated if evaluated is not None else Counter()
        self.unjudged: dict[str, str] = {}

    def _judges(self, rule_id: str, judged: bool, reason: str) -> bool:
        if judged:
            self.evaluated[rule_id] += 1
        else:
            self.unjudged[rule_id] = reason
        return judged

    def violation(self, rule_id: str, pages: Sequence[Page], *, expected: str, actual: str) -> Finding:
        """A finding for ``rule_id``, with the category and location the spec gives it."""
        rule = self.rules[rule_id]
        return Finding(
            check=rule_id,
            category=rule["category"],
            title=f"Invariant {rule_id} broken",
            message=bounded(rule["rule"] + "\n" + "\n".join(page.describe() for page in pages)),
            location=rule["location"],
            expected=expected,
            actual=bounded(actual),
            requests=tuple(page.request for page in pages),
            status=pages[-1].status if pages else None,
            response_excerpt=pages[-1].excerpt if pages else "",
        )

    # -- within one page ------------------------------------------------------------------
    def of_page(self, page: Page) -> list[Finding]:
        return [finding for check in PAGE_INVARIANTS.values() for finding in check(self, page)]

    def page_size(self, page: Page) -> list[Finding]:
        if not self._judges("page-size", page.status == 200, "no page was answered 200"):
            return []
        expected = max(0, min(page.limit, page.total - page.offset))
        if page.entries != expected:
            return [
                self.violation(
                    "page-size",
                    [page],
                    expected=f"{expected} records (limit {page.limit}, offset {page.offset}, total_num {page.total})",
                    actual=f"{page.entries} records",
                )
            ]
        return []

    def record_of_path_instance(self, page: Page) -> list[Finding]:
        readable = [r for r in page.records if _strings(r, "instance_id")]
        if not self._judges("record-of-path-instance", bool(readable), "no record had a readable instance_id"):
            return []
        strangers = [r for r in readable if r["instance_id"] != page.instance_id]
        if strangers:
            return [
                self.violation(
                    "record-of-path-instance",
                    [page],
                    expected=f"instance_id {page.instance_id}",
                    actual=_shown(strangers, "instance_id"),
                )
            ]
        return []

    def window_contains(self, page: Page) -> list[Finding]:
        if page.begin is None and page.end is None:
            # Not applicable, which says less than a windowed page with nothing readable.
            self.unjudged.setdefault("window-contains", "no page was read for a time window")
            return []
        created = [(r, moment) for r in page.records if (moment := record_second(r.get("created_at"))) is not None]
        if not self._judges(
            "window-contains", bool(created), "no record listed for a time window had a created_at with its time zone"
        ):
            return []
        outside = [
            r
            for r, moment in created
            if (page.begin is not None and moment < page.begin) or (page.end is not None and moment > page.end)
        ]
        if outside:
            return [
                self.violation(
                    "window-contains",
                    [page],
                    expected=f"created_at within [{page.begin}, {page.end}]",
                    actual=_shown(outside, "created_at"),
                )
            ]
        return []

    def error_code_iff_failed(self, page: Page) -> list[Finding]:
        # An absent error_code is not set; one that is neither null nor a string is the schema's finding.
        readable = [
            r
            for r in page.records
            if _strings(r, "status") and (r.get("error_code") is None or _strings(r, "error_code"))
        ]
        if not self._judges("error-code-iff-failed", bool(readable), "no record had a readable status and error_code"):
            return []
        wrong = [
            r
            for r in readable
            if (r["status"] == "failed") != (r.get("error_code") is not None)
            or (r.get("error_code") is not None and r["error_code"] not in self._error_codes)
        ]
        if wrong:
            return [
                self.violation(
                    "error-code-iff-failed",
                    [page],
                    expected="error_code set (a documented code) exactly when status is failed",
                    actual=_shown(wrong, "status", "error_code"),
                )
            ]
        return []

    def updated_not_before_created(self, page: Page) -> list[Finding]:
        times = [
            (r, created, updated)
            for r in page.records
            if (created := record_second(r.get("created_at"))) is not None
            and (updated := record_second(r.get("updated_at"))) is not None
        ]
        if not self._judges(
            "updated-not-before-created",
            bool(times),
            "no record had both created_at and updated_at with their time zones",
        ):
            return []
        wrong = [r for r, created, updated in times if updated < created]
        if wrong:
            return [
                self.violation(
                    "updated-not-before-created",
                    [page],
                    expected="updated_at not earlier than created_at",
                    actual=_shown(wrong, "created_at", "updated_at"),
                )
            ]
        return []

    def progress_complete_when_succeeded(self, page: Page) -> list[Finding]:
        # A succeeded backup without progress breaks the rule; one with a progress of another type is the schema's.
        readable = [
            r
            for r in page.records
            if _strings(r, "status") and (r["status"] != "succeed" or "progress" not in r or _strings(r, "progress"))
        ]
        if not self._judges("progress-complete-when-succeeded", bool(readable), "no record had a readable status"):
            return []
        wrong = [r for r in readable if r["status"] == "succeed" and r.get("progress") != "100.00"]
        if wrong:
            return [
                self.violation(
                    "progress-complete-when-succeeded",
                    [page],
                    expected='progress "100.00" when status is succeed',
                    actual=_shown(wrong, "status", "progress"),
                )
            ]
        return []

    # -- across pages ---------------------------------------------------------------------
    def total_independent_of_paging(self, pages: Sequence[Page]) -> list[Finding]:
        answered = [page for page in pages if page.status == 200]
        if not self._judges(
            "total-independent-of-paging", len(answered) > 1, "no two pages of the same filters were answered 200"
        ):
            return []
        for first in answered:
            for other in answered:
                if other.total != first.total:
                    return [
                        self.violation(
                            "total-independent-of-paging",
                            [first, other],
                            expected=f"the same total_num for the same filters ({first.total})",
                            actual=f"{other.total} with limit {other.limit}, offset {other.offset}",
                        )
                    ]
        return []

    def pages_partition(self, walk: Sequence[Page], *, complete: bool) -> list[Finding]:
        """``walk``: consecutive pages from offset 0; ``complete`` when it reached the end."""
        if not self._judges("pages-partition", bool(walk), "no page walk was read"):
            return []
        seen: dict[str, Page] = {}
        for page in walk:
            # A record without a string backup_id is the schema checks' finding; it cannot be matched here.
            for backup_id in page.ids:
                if backup_id in seen:
                    first = seen[backup_id]
                    pages = [first] if first is page else [first, page]
                    return [
                        self.violation(
                            "pages-partition",
                            pages,
                            expected="disjoint pages, every backup_id once",
                            actual=f"backup_id {backup_id} at offset {first.offset} and at offset {page.offset}",
                        )
                    ]
                seen[backup_id] = page
        total = walk[0].matching
        if complete and all(page.identified for page in walk) and len(seen) != total:
            return [
                self.violation(
                    "pages-partition",
                    walk,
                    expected=f"the pages together list total_num = {total} records",
                    actual=f"{len(seen)} distinct records over {len(walk)} pages",
                )
            ]
        return []

    def past_end_empty(self, page: Page, *, total: int) -> list[Finding]:
        self._judges("past-end-empty", True, "")
        if page.offset >= total and page.entries:
            return [
                self.violation(
                    "past-end-empty",
                    [page],
                    expected=f"no record at offset {page.offset} of {total}",
                    actual=f"{page.entries} records: {_shown(page.records)}",
                )
            ]
        return []

    def window_complete(self, survey: Page, window: Page) -> list[Finding]:
        """``survey``: the complete unfiltered listing; ``window``: the same instance in a window.

        An entry of the survey whose created_at names no instant may or may not be in the
        window: the window's count must then lie between the sure ones and all of them.
        """
        self._judges("window-complete", True, "")
        moments = [moment for r in survey.records if (moment := record_second(r.get("created_at"))) is not None]
        unknown = survey.entries - len(moments)
        inside = sum(
            1
            for moment in moments
            if (window.begin is None or moment >= window.begin) and (window.end is None or moment <= window.end)
        )
        if not inside <= window.matching <= inside + unknown:
            span = f"{inside}" if not unknown else f"{inside} to {inside + unknown}"
            return [
                self.violation(
                    "window-complete",
                    [survey, window],
                    expected=f"{span} records created in [{window.begin}, {window.end}], as the unfiltered "
                    "listing has them" + (f" ({unknown} without a readable created_at)" if unknown else ""),
                    actual=f"{window.matching}",
                )
            ]
        return []

    def narrower_window_not_more(self, outer: Page, inner: Page) -> list[Finding]:
        self._judges("narrower-window-not-more", True, "")
        if inner.matching > outer.matching:
            return [
                self.violation(
                    "narrower-window-not-more",
                    [outer, inner],
                    expected=f"at most {outer.matching} records in [{inner.begin}, {inner.end}]",
                    actual=f"{inner.matching} records",
                )
            ]
        return []

    def adjacent_windows_add_up(self, whole: Page, left: Page, right: Page) -> list[Finding]:
        self._judges("adjacent-windows-add-up", True, "")
        if left.matching + right.matching != whole.matching:
            return [
                self.violation(
                    "adjacent-windows-add-up",
                    [whole, left, right],
                    expected=f"{whole.matching} records, as [{whole.begin}, {whole.end}] lists",
                    actual=f"{left.matching} + {right.matching} in [{left.begin}, {left.end}] and "
                    f"[{right.begin}, {right.end}]",
                )
            ]
        return []

    def unknown_instance_refused(self, response: httpx.Response) -> list[Finding]:
        self._judges("unknown-instance-refused", True, "")
        status = response.status_code
        if 400 <= status < 500 and status in self.spec.status_codes:
            return []
        documented = ", ".join(str(code) for code in self.spec.status_codes if 400 <= code < 500)
        rule = self.rules["unknown-instance-refused"]
        actual = f"{status}, which the spec does not document" if status not in self.spec.status_codes else str(status)
        return [
            Finding(
                check="unknown-instance-refused",
                category=rule["category"],
                title="Unknown instance not refused as documented",
                message=rule["rule"],
                location=rule["location"],
                expected=f"a documented 4xx ({documented}) with a DCS error body",
                actual=actual,
                requests=(RequestInfo.from_request(response.request),),
                status=status,
                response_excerpt=excerpt(response),
            )
        ]

    def empty_instance_empty(self, page: Page) -> list[Finding]:
        self._judges("empty-instance-empty", True, "")
        if page.entries or page.matching:
            return [
                self.violation(
                    "empty-instance-empty",
                    [page],
                    expected="204, or 200 with total_num 0 and no record",
                    actual=f"{page.status}, total_num {page.total}, {page.entries} records",
                )
            ]
        return []


# The invariants of one page, by id: every 200 or 204 answer to a valid query is read with them.
PAGE_INVARIANTS: dict[str, Callable[[Invariants, Page], list[Finding]]] = {
    "page-size": Invariants.page_size,
    "record-of-path-instance": Invariants.record_of_path_instance,
    "window-contains": Invariants.window_contains,
    "error-code-iff-failed": Invariants.error_code_iff_failed,
    "updated-not-before-created": Invariants.updated_not_before_created,
    "progress-complete-when-succeeded": Invariants.progress_complete_when_succeeded,
}
# Every x-invariants id of the spec and the method that checks it; a test holds them equal.
INVARIANTS: dict[str, Callable[..., Any]] = {
    **PAGE_INVARIANTS,
    "total-independent-of-paging": Invariants.total_independent_of_paging,
    "pages-partition": Invariants.pages_partition,
    "past-end-empty": Invariants.past_end_empty,
    "window-complete": Invariants.window_complete,
    "narrower-window-not-more": Invariants.narrower_window_not_more,
    "adjacent-windows-add-up": Invariants.adjacent_windows_add_up,
    "unknown-instance-refused": Invariants.unknown_instance_refused,
    "empty-instance-empty": Invariants.empty_instance_empty,
}
