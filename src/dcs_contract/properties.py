"""The properties of the contract suite, each a small function registered by name.

A property takes the :class:`~dcs_contract.engine.ContractRun` and spends requests where
they find drift: schema conformance on many generated cases; the semantic invariants of
the spec's ``x-invariants`` on a few request sequences each, which cover a lot.

``dcs-contract run`` and ``tests/contract/`` run every property in ``PROPERTIES``, in order.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from dcs_contract import checks
from dcs_contract.engine import CHECKED_BY, ContractRun
from dcs_contract.invariants import PAGE_INVARIANTS, Page, record_second
from dcs_contract.strategies import SplitWindow, edge_invalid_queries, invalid_queries, paging_queries, split_windows
from dcs_contract.transport import EXPECT_REFUSAL

__all__ = ["PROPERTIES", "Property", "contract_property"]

Property = Callable[[ContractRun], None]
PROPERTIES: dict[str, Property] = {}
# A page walk stops after this many pages: a few requests check a lot, and a live instance
# with many thousands of backups must not eat the budget.
_MAX_WALK_PAGES = 4
# What reading one page evaluates: the response checks, then the page's own invariants.
_PAGE = (*checks.check_names(checks.RESPONSE_CHECKS), *PAGE_INVARIANTS)


def contract_property(name: str, *, evaluates: tuple[str, ...]) -> Callable[[Property], Property]:
    """Register a property of the contract suite under ``name``.

    ``evaluates``: the response checks and invariant ids it can evaluate, so that a run can
    say why one never ran (its property was skipped, or not run). A test holds it true.
    """

    def register(function: Property) -> Property:
        @functools.wraps(function)
        def run_property(run: ContractRun) -> None:
            run.begin(name)
            function(run)

        PROPERTIES[name] = run_property
        CHECKED_BY[name] = evaluates
        return run_property

    return register


# -- auth --------------------------------------------------------------------------------


@contract_property(
    "auth-probe", evaluates=(checks.UNAUTHENTICATED_REFUSED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS))
)
def auth_probe(run: ContractRun) -> None:
    """One request without any credential is refused with 401 and the gateway's error body.

    It sends no credential at all, never a wrong signature: a bad signature with the user's
    AK counts towards the AK's lock-out.
    """
    run.expected["auth-probe"] = 1
    case = run.case({"limit": "1"})
    answer = run.answer("auth-probe", case, auth=None, extensions={EXPECT_REFUSAL: True})
    response = answer if isinstance(answer, httpx.Response) else None
    status = answer.status_code
    run.evaluated[checks.UNAUTHENTICATED_REFUSED] += 1
    if status != 401:
        run.add([checks.unauthenticated_not_refused(answer.request, status, response)])
    elif response is not None:
        run.add(run.check(case, response, checks.ERROR_RESPONSE_CHECKS))


# -- schema conformance ------------------------------------------------------------------


def _conformance(run: ContractRun, mode: GenerationMode, name: str) -> None:
    run.expected[name] = run.settings.max_examples

    @run.hypothesis
    @given(case=run.cases_of(mode))
    def conforms(case: Case[Any]) -> None:
        response = run.exchange(name, case)
        if mode.is_positive:
            run.read_page(case, response)

    conforms()


@contract_property("schema-positive", evaluates=_PAGE)
def schema_positive(run: ContractRun) -> None:
    """Valid queries are answered 200 or 204, with bodies, content types and statuses as specified."""
    _conformance(run, GenerationMode.POSITIVE, "schema-positive")


@contract_property("schema-negative", evaluates=checks.check_names(checks.RESPONSE_CHECKS))
def schema_negative(run: ContractRun) -> None:
    """Invalid queries are rejected with a documented 4xx and a conforming error body."""
    _conformance(run, GenerationMode.NEGATIVE, "schema-negative")


@contract_property(
    "negative-inputs", evaluates=(checks.INVALID_INPUT_REJECTED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS))
)
def negative_inputs(run: ContractRun) -> None:
    """A query valid but for one parameter is answered 400 with a conforming error body.

    Schemathesis's negative mode breaks several parameters at once, so a service that
    ignores one bad parameter can hide behind another; here exactly one is wrong.
    """

    def rejected(fault: tuple[str, dict[str, str]]) -> None:
        name, query = fault
        response = run.exchange("negative-inputs", run.case(query), checks.ERROR_RESPONSE_CHECKS)
        if response is None:
            return
        run.evaluated[checks.INVALID_INPUT_REJECTED] += 1
        if response.status_code != 400:
            run.add([checks.invalid_input_accepted(name, response)])

    test = given(fault=invalid_queries(run.spec))(rejected)
    edges = edge_invalid_queries(run.spec)
    for fault in edges:
        test = example(fault=fault)(test)
    run.expected["negative-inputs"] = run.settings.max_examples + len(edges)
    run.hypothesis(test)()


# -- semantics: paging -------------------------------------------------------------------


def _survey_or_skip(run: ContractRun, name: str) -> Page | None:
    survey = run.survey(name)
    if survey is None:
        run.skip(name, "the unfiltered listing was not a readable page (see the schema findings)")
    return survey


def _windows(run: ContractRun, survey: Page) -> Any:
    moments = [t for r in survey.records if (t := record_second(r.get("created_at"))) is not None]
    return split_windows(run.spec, around=moments)


@contract_property("paging-total", evaluates=(*_PAGE, "total-independent-of-paging"))
def paging_total(run: ContractRun) -> None:
    """total_num is the same whatever the limit and the offset, with or without a window."""
    name = "paging-total"
    survey = _survey_or_skip(run, name)
    if survey is None:
        return
    queries = st.lists(paging_queries(run.spec, total=survey.matching), min_size=2, max_size=2)

    def holds(window: SplitWindow | None, queries: list[dict[str, str]]) -> None:
        filters = window.whole if window else {}
        pages = [run.page(name, {**filters, **query}) for query in queries]
        run.add(run.invariants.total_independent_of_paging([page for page in pages if page is not None]))

    run.semantic(holds, window=st.none() | _windows(run, survey), queries=queries)


@contract_property("page-walk", evaluates=(*_PAGE, "total-independent-of-paging", "pages-partition", "past-end-empty"))
def page_walk(run: ContractRun) -> None:
    """Walking the pages gives disjoint pages that together are the matching set; past the end, nothing."""
    name = "page-walk"
    survey = _survey_or_skip(run, name)
    if survey is None:
        return
    largest = str(run.spec.query_parameters["limit"]["maximum"])

    def holds(window: SplitWindow | None, pages: int) -> None:
        filters = window.whole if window else {}
        # The total under these filters decides a limit that ends the walk in `pages` pages.
        sized = run.page(name, {**filters, "limit": largest}) if window else survey
        if sized is None or sized.matching == 0:
            return
        total = sized.matching
        # Integer ceiling: a total_num of hundreds of digits is no float.
        limit = min(int(largest), max(1, -(-total // pages)))
        walk: list[Page] = []
        offset = 0
        while offset < total and len(walk) < _MAX_WALK_PAGES:
            page = run.page(name, {**filters, "limit": str(limit), "offset": str(offset)})
            if page is None:
                return
            walk.append(page)
            offset += limit
        complete = offset >= total
        run.add(run.invariants.total_independent_of_paging([sized, *walk]))
        run.add(run.invariants.pages_partition(walk, complete=complete))
        if complete:
            past = run.page(name, {**filters, "limit": str(limit), "offset": str(total)})
            if past is not None:
                run.add(run.invariants.past_end_empty(past, total=total))

    run.semantic(holds, window=st.none() | _windows(run, survey), pages=st.integers(1, _MAX_WALK_PAGES))


# -- semantics: the time window ----------------------------------------------------------


@contract_property(
    "time-windows", evaluates=(*_PAGE, "window-complete", "narrower-window-not-more", "adjacent-windows-add-up")
)
def time_windows(run: ContractRun) -> None:
    """A window lists exactly its records; narrower windows list no more; adjacent ones add up."""
    name = "time-windows"
    survey = _survey_or_skip(run, name)
    if survey is None:
        return
    largest = str(run.spec.query_parameters["limit"]["maximum"])
    # The survey holds every record only when they fit in one page of the largest size.
    complete = survey.matching <= survey.entries

    def holds(window: SplitWindow) -> None:
        whole = run.page(name, {**window.whole, "limit": largest})
        left = run.page(name, {**window.left, "limit": largest})
        right = run.page(name, {**window.right, "limit": largest})
        if whole is None or left is None or right is None:
            return
        if complete:
            run.add(run.invariants.window_complete(survey, whole))
        run.add(run.invariants.narrower_window_not_more(whole, left))
        run.add(run.invariants.narrower_window_not_more(whole, right))
        run.add(run.invariants.adjacent_windows_add_up(whole, left, right))

    run.semantic(holds, window=_windows(run, survey))


# -- semantics: instances ----------------------------------------------------------------


@contract_property(
    "unknown-instance", evaluates=("unknown-instance-refused", *checks.check_names(checks.ERROR_BODY_CHECKS))
)
def unknown_instance(run: ContractRun) -> None:
    """An instance id nobody has is refused with a documented 4xx and a DCS error body."""
    name = "unknown-instance"
    stranger = str(uuid.UUID(int=random.Random(run.settings.seed).getrandbits(128), version=4))
    case = run.case({}, instance_id=stranger)
    # The status is judged by the invariant, which names instance_id; the body by the schema.
    response = run.exchange(name, case, checks.ERROR_BODY_CHECKS)
    if response is not None:
        run.add(run.invariants.unknown_instance_refused(response))


@contract_property("empty-instance", evaluates=(*_PAGE, "empty-instance-empty"))
def empty_instance(run: ContractRun) -> None:
    """The instance known to have no backups lists none: 204, or 200 with an empty array."""
    name = "empty-instance"
    if not run.target.empty_instance_id:
        run.skip(name, "no empty instance configured (DCS_EMPTY_INSTANCE_ID)")
        return
    page = run.page(name, {}, instance_id=run.target.empty_instance_id)
    if page is not None:
        run.add(run.invariants.empty_instance_empty(page))
