"""The properties of the contract suite, each a small function registered by name.

A property takes its :class:`~dcs_contract.engine.PropertyRun`, a handle on the run bound
to its name, and spends requests where they find drift: schema conformance on many
generated cases; the semantic invariants of the spec's ``x-invariants`` on a few request
sequences each, which cover a lot.

``dcs-contract run`` and ``tests/contract/`` run every property in ``PROPERTIES``, in order.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from dcs_contract import checks
from dcs_contract import invariants as rules
from dcs_contract.engine import CHECKED_BY, ContractRun, PropertyRun
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.invariants import PAGE_INVARIANTS, Page, record_second
from dcs_contract.strategies import SplitWindow, edge_invalid_queries, invalid_queries, paging_queries, split_windows

__all__ = ["PROPERTIES", "Property", "contract_property"]

# As registered: the function a property is, and what the registry calls, with the run.
Property = Callable[[PropertyRun], None]
PROPERTIES: dict[str, Callable[[ContractRun], None]] = {}
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
            run.log.begin(name)
            function(run.for_property(name))

        PROPERTIES[name] = run_property
        CHECKED_BY[name] = evaluates
        return function

    return register


# -- auth --------------------------------------------------------------------------------


@contract_property(
    "auth-probe", evaluates=(checks.UNAUTHENTICATED_REFUSED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS))
)
def auth_probe(run: PropertyRun) -> None:
    """One request without any credential is refused with 401 and the gateway's error body.

    It sends no credential at all, never a wrong signature: a bad signature with the user's
    AK counts towards the AK's lock-out.
    """
    run.expect(1)
    case = run.case({"limit": "1"})
    answer = run.send(case, anonymous=True)
    # A body over the cap still has a status to judge; it has no body to check.
    response = None if isinstance(answer, ResponseTooLarge) else answer
    run.evaluated(checks.UNAUTHENTICATED_REFUSED)
    if answer.status_code != 401:
        run.add([checks.unauthenticated_not_refused(answer.request, answer.status_code, response)])
    elif response is not None:
        run.check(case, response, checks.ERROR_RESPONSE_CHECKS)


# -- schema conformance ------------------------------------------------------------------


def _conformance(run: PropertyRun, mode: GenerationMode) -> None:
    run.expect(run.settings.max_examples)

    @run.hypothesis
    @given(case=run.cases(mode))
    def conforms(case: Case[Any]) -> None:
        response = run.exchange(case)
        if mode.is_positive:
            run.read_page(case, response)

    conforms()


@contract_property("schema-positive", evaluates=_PAGE)
def schema_positive(run: PropertyRun) -> None:
    """Valid queries are answered 200 or 204, with bodies, content types and statuses as specified."""
    _conformance(run, GenerationMode.POSITIVE)


@contract_property("schema-negative", evaluates=checks.check_names(checks.RESPONSE_CHECKS))
def schema_negative(run: PropertyRun) -> None:
    """Invalid queries are rejected with a documented 4xx and a conforming error body."""
    _conformance(run, GenerationMode.NEGATIVE)


@contract_property(
    "negative-inputs", evaluates=(checks.INVALID_INPUT_REJECTED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS))
)
def negative_inputs(run: PropertyRun) -> None:
    """A query valid but for one parameter is answered 400 with a conforming error body.

    Schemathesis's negative mode breaks several parameters at once, so a service that
    ignores one bad parameter can hide behind another; here exactly one is wrong.
    """

    def rejected(fault: tuple[str, dict[str, str]]) -> None:
        parameter, query = fault
        response = run.exchange(run.case(query), checks.ERROR_RESPONSE_CHECKS)
        if response is None:
            return
        run.evaluated(checks.INVALID_INPUT_REJECTED)
        if response.status_code != 400:
            run.add([checks.invalid_input_accepted(parameter, response)])

    test = given(fault=invalid_queries(run.spec))(rejected)
    edges = edge_invalid_queries(run.spec)
    for fault in edges:
        test = example(fault=fault)(test)
    run.expect(run.settings.max_examples + len(edges))
    run.hypothesis(test)()


# -- semantics: paging -------------------------------------------------------------------


def _survey_or_skip(run: PropertyRun) -> Page | None:
    survey = run.survey()
    if survey is None:
        run.skip("the unfiltered listing was not a readable page (see the schema findings)")
    return survey


def _windows(run: PropertyRun, survey: Page) -> Any:
    moments = [t for r in survey.records if (t := record_second(r.get("created_at"))) is not None]
    return split_windows(run.spec, around=moments)


@contract_property("paging-total", evaluates=(*_PAGE, rules.total_independent_of_paging.id))
def paging_total(run: PropertyRun) -> None:
    """total_num is the same whatever the limit and the offset, with or without a window."""
    survey = _survey_or_skip(run)
    if survey is None:
        return
    queries = st.lists(paging_queries(run.spec, total=survey.total), min_size=2, max_size=2)

    def holds(window: SplitWindow | None, queries: list[dict[str, str]]) -> None:
        filters = window.whole if window else {}
        pages = [run.page({**filters, **query}) for query in queries]
        run.judge(rules.total_independent_of_paging, [page for page in pages if page is not None])

    run.semantic(holds, window=st.none() | _windows(run, survey), queries=queries)


@contract_property(
    "page-walk",
    evaluates=(
        *_PAGE,
        rules.total_independent_of_paging.id,
        rules.total_stable_through_walk.id,
        rules.no_empty_page_before_total.id,
        rules.pages_partition.id,
        rules.past_end_empty.id,
    ),
)
def page_walk(run: PropertyRun) -> None:
    """Walking the pages gives disjoint pages that together are the matching set; past the end, nothing.

    As a client walks them: total_num holds still from page to page, and no page before the
    end is empty. The Terraform data source stops only when the records it has seen equal
    total_num, so either drift has it stop early or loop forever.
    """
    survey = _survey_or_skip(run)
    if survey is None:
        return
    largest = str(run.spec.query_parameters["limit"]["maximum"])

    def holds(window: SplitWindow | None, pages: int) -> None:
        filters = window.whole if window else {}
        # The total under these filters decides a limit that ends the walk in `pages` pages.
        sized = run.page({**filters, "limit": largest}) if window else survey
        if sized is None or sized.total == 0:
            return
        total = sized.total
        # Integer ceiling: a total_num of hundreds of digits is no float.
        limit = min(int(largest), max(1, -(-total // pages)))
        walk: list[Page] = []
        offset = 0
        while offset < total and len(walk) < _MAX_WALK_PAGES:
            page = run.page({**filters, "limit": str(limit), "offset": str(offset)})
            if page is None:
                return
            walk.append(page)
            offset += limit
        complete = offset >= total
        run.judge(rules.total_independent_of_paging, [sized, *walk])
        run.judge(rules.total_stable_through_walk, walk)
        run.judge(rules.no_empty_page_before_total, walk)
        run.judge(rules.pages_partition, walk, complete=complete)
        if complete:
            past = run.page({**filters, "limit": str(limit), "offset": str(total)})
            if past is not None:
                run.judge(rules.past_end_empty, past, total=total)

    run.semantic(holds, window=st.none() | _windows(run, survey), pages=st.integers(1, _MAX_WALK_PAGES))


# -- semantics: the time window ----------------------------------------------------------


@contract_property(
    "time-windows",
    evaluates=(*_PAGE, rules.window_complete.id, rules.narrower_window_not_more.id, rules.adjacent_windows_add_up.id),
)
def time_windows(run: PropertyRun) -> None:
    """A window lists exactly its records; narrower windows list no more; adjacent ones add up."""
    survey = _survey_or_skip(run)
    if survey is None:
        return
    largest = str(run.spec.query_parameters["limit"]["maximum"])
    # The survey holds every record only when they fit in one page of the largest size.
    complete = survey.total <= survey.entries

    def holds(window: SplitWindow) -> None:
        whole = run.page({**window.whole, "limit": largest})
        left = run.page({**window.left, "limit": largest})
        right = run.page({**window.right, "limit": largest})
        if whole is None or left is None or right is None:
            return
        if complete:
            run.judge(rules.window_complete, survey, whole)
        run.judge(rules.narrower_window_not_more, whole, left)
        run.judge(rules.narrower_window_not_more, whole, right)
        run.judge(rules.adjacent_windows_add_up, whole, left, right)

    run.semantic(holds, window=_windows(run, survey))


# -- semantics: instances ----------------------------------------------------------------


@contract_property(
    "unknown-instance", evaluates=(rules.unknown_instance_refused.id, *checks.check_names(checks.ERROR_BODY_CHECKS))
)
def unknown_instance(run: PropertyRun) -> None:
    """An instance id nobody has is refused with a documented 4xx and a DCS error body."""
    stranger = str(uuid.UUID(int=random.Random(run.settings.seed).getrandbits(128), version=4))
    case = run.case({}, instance_id=stranger)
    # The status is judged by the invariant, which names instance_id; the body by the schema.
    response = run.exchange(case, checks.ERROR_BODY_CHECKS)
    if response is not None:
        run.judge(rules.unknown_instance_refused, response)


@contract_property("empty-instance", evaluates=(*_PAGE, rules.empty_instance_empty.id))
def empty_instance(run: PropertyRun) -> None:
    """The instance known to have no backups lists none: 204, or 200 with an empty array."""
    if not run.target.empty_instance_id:
        run.skip("no empty instance configured (DCS_EMPTY_INSTANCE_ID)")
        return
    page = run.page({}, instance_id=run.target.empty_instance_id)
    if page is not None:
        run.judge(rules.empty_instance_empty, page)
