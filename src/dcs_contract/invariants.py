"""Semantic invariants: what the answers must satisfy beyond their schemas.

The spec states each one under ``x-invariants`` (rule, category, location, source); this
module implements them, one small function per id. A schema sees the shape of one response;
these see what it means, within one page or across several: that ``total_num`` is the
total, that pages partition the set, that the window is applied.

Per-page invariants run on every 200 or 204 answer to a valid query. The others take the
pages a property gathered and name, in each finding, only the requests needed to see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from dcs_contract.formats import is_dcs_timestamp, parse_dcs_timestamp, parse_record_time
from dcs_contract.report import Finding, RequestInfo, excerpt
from dcs_contract.spec import Spec

__all__ = ["INVARIANTS", "PAGE_INVARIANTS", "Invariants", "Page", "record_second"]

_SHOWN_RECORDS = 3


@dataclass(frozen=True)
class Page:
    """A 200 or 204 answer to a valid query, read as one page of the matching records."""

    status: int
    total: int
    records: tuple[dict[str, Any], ...]
    limit: int
    offset: int
    begin: datetime | None
    end: datetime | None
    instance_id: str
    request: RequestInfo
    excerpt: str

    @classmethod
    def read(cls, response: httpx.Response, defaults: Mapping[str, Any]) -> Page | None:
        """The page, or None when the answer is not a readable page (the schema checks say why)."""
        query = response.request.url.params
        try:
            limit = int(query.get("limit", defaults["limit"]))
            offset = int(query.get("offset", defaults["offset"]))
        except ValueError:
            return None
        total: Any
        records: Any
        if response.status_code == 204:
            total, records = 0, []
        elif response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                return None
            total = body.get("total_num") if isinstance(body, dict) else None
            records = body.get("backup_record_response") if isinstance(body, dict) else None
            if not isinstance(total, int) or isinstance(total, bool) or not isinstance(records, list):
                return None
        else:
            return None
        return cls(
            status=response.status_code,
            total=total,
            records=tuple(record for record in records if isinstance(record, dict)),
            limit=limit,
            offset=offset,
            begin=_query_time(query.get("begin_time")),
            end=_query_time(query.get("end_time")),
            instance_id=response.request.url.path.rstrip("/").split("/")[-2],
            request=RequestInfo.from_request(response.request),
            excerpt=excerpt(response),
        )

    @property
    def ids(self) -> list[Any]:
        return [record.get("backup_id") for record in self.records]

    @property
    def matching(self) -> int:
        """How many records the answer says match: its total, or none for a 204."""
        return self.total if self.status == 200 else 0

    def describe(self) -> str:
        return f"{self.request.url} -> {self.status}, total_num {self.total}, {len(self.records)} records"


def _query_time(value: str | None) -> datetime | None:
    return parse_dcs_timestamp(value) if value is not None and is_dcs_timestamp(value) else None


def record_second(value: Any) -> datetime | None:
    """A record time truncated to its second, as the window compares it; None if it is not one."""
    try:
        return parse_record_time(value).replace(microsecond=0) if isinstance(value, str) else None
    except ValueError:
        return None


def _shown(records: Iterable[dict[str, Any]], *fields: str) -> str:
    shown = [{name: record.get(name) for name in ("backup_id", *fields)} for record in records]
    text = json.dumps(shown[:_SHOWN_RECORDS], ensure_ascii=False)
    return text + (f" and {len(shown) - _SHOWN_RECORDS} more" if len(shown) > _SHOWN_RECORDS else "")


class Invariants:
    """The spec's invariants, bound to it: each method checks one and returns its findings."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rules = spec.invariants
        self._error_codes = spec.enum_values("error_code")

    def violation(self, rule_id: str, pages: Sequence[Page], *, expected: str, actual: str) -> Finding:
        """A finding for ``rule_id``, with the category and location the spec gives it."""
        rule = self.rules[rule_id]
        return Finding(
            check=rule_id,
            category=rule["category"],
            title=f"Invariant {rule_id} broken",
            message=rule["rule"] + "\n" + "\n".join(page.describe() for page in pages),
            location=rule["location"],
            expected=expected,
            actual=actual,
            requests=tuple(page.request for page in pages),
            status=pages[-1].status if pages else None,
            response_excerpt=pages[-1].excerpt if pages else "",
        )

    # -- within one page ------------------------------------------------------------------
    def of_page(self, page: Page) -> list[Finding]:
        return [finding for check in PAGE_INVARIANTS for finding in check(self, page)]

    def page_size(self, page: Page) -> Iterator[Finding]:
        if page.status != 200:
            return
        expected = max(0, min(page.limit, page.total - page.offset))
        if len(page.records) != expected:
            yield self.violation(
                "page-size",
                [page],
                expected=f"{expected} records (limit {page.limit}, offset {page.offset}, total_num {page.total})",
                actual=f"{len(page.records)} records",
            )

    def record_of_path_instance(self, page: Page) -> Iterator[Finding]:
        strangers = [r for r in page.records if r.get("instance_id") != page.instance_id]
        if strangers:
            yield self.violation(
                "record-of-path-instance",
                [page],
                expected=f"instance_id {page.instance_id}",
                actual=_shown(strangers, "instance_id"),
            )

    def window_contains(self, page: Page) -> Iterator[Finding]:
        if page.begin is None and page.end is None:
            return
        outside = [
            r
            for r in page.records
            if (created := record_second(r.get("created_at"))) is not None
            and ((page.begin is not None and created < page.begin) or (page.end is not None and created > page.end))
        ]
        if outside:
            yield self.violation(
                "window-contains",
                [page],
                expected=f"created_at within [{page.begin}, {page.end}]",
                actual=_shown(outside, "created_at"),
            )

    def error_code_iff_failed(self, page: Page) -> Iterator[Finding]:
        wrong = [
            r
            for r in page.records
            if "status" in r
            and (
                (r["status"] == "failed") != (r.get("error_code") is not None)
                or (r.get("error_code") is not None and r["error_code"] not in self._error_codes)
            )
        ]
        if wrong:
            yield self.violation(
                "error-code-iff-failed",
                [page],
                expected="error_code set (a documented code) exactly when status is failed",
                actual=_shown(wrong, "status", "error_code"),
            )

    def updated_not_before_created(self, page: Page) -> Iterator[Finding]:
        wrong = [
            r
            for r in page.records
            if (created := record_second(r.get("created_at"))) is not None
            and (updated := record_second(r.get("updated_at"))) is not None
            and updated < created
        ]
        if wrong:
            yield self.violation(
                "updated-not-before-created",
                [page],
                expected="updated_at not earlier than created_at",
                actual=_shown(wrong, "created_at", "updated_at"),
            )

    def progress_complete_when_succeeded(self, page: Page) -> Iterator[Finding]:
        wrong = [r for r in page.records if r.get("status") == "succeed" and r.get("progress") != "100.00"]
        if wrong:
            yield self.violation(
                "progress-complete-when-succeeded",
                [page],
                expected='progress "100.00" when status is succeed',
                actual=_shown(wrong, "status", "progress"),
            )

    # -- across pages ---------------------------------------------------------------------
    def total_independent_of_paging(self, pages: Sequence[Page]) -> list[Finding]:
        answered = [page for page in pages if page.status == 200]
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
        seen: dict[Any, Page] = {}
        for page in walk:
            # A record without backup_id is the schema checks' finding; it cannot be matched here.
            for backup_id in (i for i in page.ids if i is not None):
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
        total = walk[0].matching if walk else 0
        identified = all(i is not None for page in walk for i in page.ids)
        if complete and identified and len(seen) != total:
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
        if page.offset >= total and page.records:
            return [
                self.violation(
                    "past-end-empty",
                    [page],
                    expected=f"no record at offset {page.offset} of {total}",
                    actual=f"{len(page.records)} records: {_shown(page.records)}",
                )
            ]
        return []

    def window_complete(self, survey: Page, window: Page) -> list[Finding]:
        """``survey``: the complete unfiltered listing; ``window``: the same instance in a window."""
        expected = [
            r
            for r in survey.records
            if (created := record_second(r.get("created_at"))) is not None
            and (window.begin is None or created >= window.begin)
            and (window.end is None or created <= window.end)
        ]
        if len(expected) != window.matching:
            return [
                self.violation(
                    "window-complete",
                    [survey, window],
                    expected=f"{len(expected)} records created in [{window.begin}, {window.end}], as the unfiltered "
                    "listing has them",
                    actual=f"{window.matching}",
                )
            ]
        return []

    def narrower_window_not_more(self, outer: Page, inner: Page) -> list[Finding]:
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
        if page.records or page.matching:
            return [
                self.violation(
                    "empty-instance-empty",
                    [page],
                    expected="204, or 200 with total_num 0 and no record",
                    actual=f"{page.status}, total_num {page.total}, {len(page.records)} records",
                )
            ]
        return []


PAGE_INVARIANTS: tuple[Callable[[Invariants, Page], Iterator[Finding]], ...] = (
    Invariants.page_size,
    Invariants.record_of_path_instance,
    Invariants.window_contains,
    Invariants.error_code_iff_failed,
    Invariants.updated_not_before_created,
    Invariants.progress_complete_when_succeeded,
)
# Every x-invariants id of the spec and the method that checks it; a test holds them equal.
INVARIANTS: dict[str, Callable[..., Any]] = {
    "total-independent-of-paging": Invariants.total_independent_of_paging,
    "page-size": Invariants.page_size,
    "pages-partition": Invariants.pages_partition,
    "past-end-empty": Invariants.past_end_empty,
    "record-of-path-instance": Invariants.record_of_path_instance,
    "window-contains": Invariants.window_contains,
    "window-complete": Invariants.window_complete,
    "narrower-window-not-more": Invariants.narrower_window_not_more,
    "adjacent-windows-add-up": Invariants.adjacent_windows_add_up,
    "error-code-iff-failed": Invariants.error_code_iff_failed,
    "updated-not-before-created": Invariants.updated_not_before_created,
    "progress-complete-when-succeeded": Invariants.progress_complete_when_succeeded,
    "unknown-instance-refused": Invariants.unknown_instance_refused,
    "empty-instance-empty": Invariants.empty_instance_empty,
}
