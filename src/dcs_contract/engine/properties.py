"""The properties of the contract suite, each registered by name with a probe and an exploration.

A property has up to two parts, and a run sends them in two passes:

- its **probe**: a few deterministic requests derived from the spec, the same whatever the
  seed, that try each of its checks once where drift shows first: a bound just outside,
  a window on a record's own second, a walk of three or four pages. Every property's probe
  is sent before any exploration: together they are the *probe plan*, whose size is known
  before the run starts (``ContractProperty.cost``), so that a small budget still tries
  every check and every invariant of the spec.
- its **exploration**: hypothesis draws cases and request sequences for as many requests
  as the property's share of the budget allows (``plan.BudgetPlan``, by ``weight``).

Each part takes its :class:`~dcs_contract.engine.run.PropertyRun`, a handle on the run bound to
the property's name. Registering reads like this::

    walk = contract_property("page-walk", evaluates=(...), weight=2)

    @walk.probe(cost=5, surveys=True)
    def walk_three_pages(run: PropertyRun) -> None: ...

    @walk.explore
    def walk_drawn_windows(run: PropertyRun) -> None: ...

``dcs-contract run`` and ``tests/contract/`` run every property in ``PROPERTIES``, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from dcs_contract.contract import checks
from dcs_contract.contract import invariants as rules
from dcs_contract.contract.formats import format_dcs_timestamp
from dcs_contract.contract.invariants import (
    PAGE_INVARIANTS,
    NarrowerWindow,
    Page,
    Paging,
    PastEnd,
    Walk,
    WindowInSurvey,
    WindowSplit,
    record_second,
)
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.drawing import Draws
from dcs_contract.engine.judge import (
    UNKNOWN_INSTANCE,
    Anonymous,
    EmptyInstance,
    InvalidInput,
    Listing,
    NegativeDraw,
    UnknownInstance,
)
from dcs_contract.engine.run import CHECKED_BY, ContractRun, PropertyRun
from dcs_contract.engine.strategies import (
    SplitWindow,
    paging_queries,
    probe_invalid_queries,
    probe_window,
    split_windows,
)
from dcs_contract.settings.target import Target

__all__ = ["PROPERTIES", "UNKNOWN_INSTANCE", "ContractProperty", "Part", "contract_property"]

# A part of a property: its probe or its exploration, given the property's handle on the run.
Part = Callable[[PropertyRun], None]
# The requests a probe sends at most, for a spec and a target (the empty instance is optional).
ProbeCost = Callable[[Spec, Target], int]
PROPERTIES: dict[str, ContractProperty] = {}
# A page walk stops after this many pages: a few requests check a lot, and a live instance
# with many thousands of backups must not eat the budget.
_MAX_WALK_PAGES = 4
# The probe plan walks the unfiltered listing in this many pages: enough for a page to
# overlap, repeat or come back empty between two others.
_PROBE_WALK_PAGES = 3
# What reading one page evaluates: the response checks, then the page's own invariants.
_PAGE = (*checks.check_names(checks.RESPONSE_CHECKS), *PAGE_INVARIANTS)


def _no_requests(spec: Spec, target: Target) -> int:
    return 0


@dataclass
class ContractProperty:
    """A property of the suite: what it evaluates, its probe and its exploration, and its weight.

    ``evaluates``: the response checks and invariant ids it can evaluate, so that a run can
    say why one never ran; a test holds it true. ``weight``: its share of the exploration
    budget against the others' (0: it has no exploration). ``surveys``: its probe reads the
    unfiltered listing at the largest page size, which the probe plan sends once.
    """

    name: str
    evaluates: tuple[str, ...]
    weight: int = 0
    probe_part: Part | None = None
    probe_cost: ProbeCost = _no_requests
    surveys: bool = False
    exploration: Part | None = field(default=None, repr=False)
    # What its exploration draws through its handle (PropertyRun.each_drawn), said only here; and
    # whether a run has the drawing helper draw it ahead (engine/drawing.py): not schema-positive's
    # cases, which gained the run nothing there (docs/benchmarks.md, 2026-12-06).
    draws: Draws | None = None
    drawn_ahead: bool = True

    def probe(self, *, cost: int | ProbeCost, surveys: bool = False) -> Callable[[Part], Part]:
        """Register the property's probe: deterministic, and at most ``cost`` requests besides the survey."""

        def register(part: Part) -> Part:
            self.probe_part = part
            self.probe_cost = cost if callable(cost) else (lambda spec, target: cost)
            self.surveys = surveys
            return part

        return register

    def explore(self, part: Part) -> Part:
        """Register the property's exploration: as many drawn cases as its share of the budget allows."""
        self.exploration = part
        return part

    def cost(self, spec: Spec, target: Target) -> int:
        """The requests its probe sends at most, the survey left out."""
        return self.probe_cost(spec, target) if self.probe_part is not None else 0

    def __call__(self, run: ContractRun) -> None:
        """The property alone: its probe, then its exploration with all that the run's budget allows."""
        self.run_probe(run)
        self.run_exploration(run, run.settings.max_requests)

    def run_probe(self, run: ContractRun) -> None:
        run.log.begin(self.name)
        if self.probe_part is None:
            return
        survey = 1 if self.surveys and not run.surveyed else 0
        with run.probing(self.name, self.cost(run.spec, run.target) + survey):
            self.probe_part(run.for_property(self.name, self.draws))

    def run_exploration(self, run: ContractRun, share: int) -> None:
        run.log.begin(self.name)
        if self.exploration is None:
            return
        if share <= 0:
            run.log.skip(self.name, "its exploration had no share of --max-requests left after the probe plan")
            return
        with run.exploring(self.name, share):
            self.exploration(run.for_property(self.name, self.draws))


def contract_property(
    name: str, *, evaluates: tuple[str, ...], weight: int = 0, draws: Draws | None = None, drawn_ahead: bool = True
) -> ContractProperty:
    """Register a property of the contract suite under ``name``; its parts register on it."""
    registered = ContractProperty(name, evaluates, weight, draws=draws, drawn_ahead=drawn_ahead)
    PROPERTIES[name] = registered
    CHECKED_BY[name] = evaluates
    return registered


def _survey_or_skip(run: PropertyRun) -> Page | None:
    survey = run.survey()
    if survey is None:
        run.skip("the unfiltered listing was not a readable page (see the schema findings)")
    return survey


def _record_moments(survey: Page) -> list[Any]:
    return [t for r in survey.records if (t := record_second(r.get("created_at"))) is not None]


# -- auth --------------------------------------------------------------------------------

auth = contract_property(
    "auth-probe", evaluates=(checks.UNAUTHENTICATED_REFUSED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS))
)


@auth.probe(cost=1)
def refused_without_credentials(run: PropertyRun) -> None:
    """One request without any credential is refused with 401 and the gateway's error body.

    It sends no credential at all, never a wrong signature: a bad signature with the user's
    AK counts towards the AK's lock-out.
    """
    run.expect(1)
    run.exchange(run.case({"limit": "1"}), Anonymous())


# -- schema conformance ------------------------------------------------------------------


def _conformance(run: PropertyRun) -> None:
    run.expect(min(run.settings.max_examples, run.share))
    kind = Listing() if run.draws is Draws.POSITIVE_CASES else NegativeDraw()
    # Schemathesis's cases of the property's kind, drawn ahead in the helper process when the run asked it.
    run.each_case(lambda case: run.exchange(case, kind))


positive = contract_property(
    "schema-positive", evaluates=_PAGE, weight=3, draws=Draws.POSITIVE_CASES, drawn_ahead=False
)


@positive.probe(cost=0, surveys=True)
def listing_at_the_largest_limit(run: PropertyRun) -> None:
    """The unfiltered listing at the largest page size: its body, its records, its page invariants."""
    run.survey()


@positive.explore
def schema_positive(run: PropertyRun) -> None:
    """Valid queries are answered 200 or 204, with bodies, content types and statuses as specified."""
    _conformance(run)


# -- instances: a request each, right after the survey ----------------------------------

unknown = contract_property(
    "unknown-instance", evaluates=(rules.unknown_instance_refused.id, *checks.check_names(checks.ERROR_BODY_CHECKS))
)


@unknown.probe(cost=1)
def unknown_instance_refused(run: PropertyRun) -> None:
    """An instance id nobody has is refused with a documented 4xx and a DCS error body."""
    run.exchange(run.case({}, instance_id=UNKNOWN_INSTANCE), UnknownInstance())


empty = contract_property("empty-instance", evaluates=(*_PAGE, rules.empty_instance_empty.id))


# The embedded mock, not yet started when a run is planned, always has an instance without backups.
@empty.probe(cost=lambda spec, target: 1 if target.empty_instance_id or target.is_mock else 0)
def empty_instance_lists_nothing(run: PropertyRun) -> None:
    """The instance known to have no backups lists none: 204, or 200 with an empty array."""
    if not run.target.empty_instance_id:
        run.skip("no empty instance configured (DCS_EMPTY_INSTANCE_ID)")
        return
    run.page({}, instance_id=run.target.empty_instance_id, kind=EmptyInstance())


# -- semantics: the time window ----------------------------------------------------------

time_windows = contract_property(
    "time-windows",
    evaluates=(*_PAGE, rules.window_complete.id, rules.narrower_window_not_more.id, rules.adjacent_windows_add_up.id),
    weight=2,
)


def _split_window_holds(run: PropertyRun, survey: Page, window: SplitWindow) -> tuple[Page, Page, Page] | None:
    """A window and its two halves: each lists what the survey has in it, and the halves add up."""
    largest = str(run.spec.query_parameters["limit"]["maximum"])
    whole = run.page({**window.whole, "limit": largest})
    left = run.page({**window.left, "limit": largest})
    right = run.page({**window.right, "limit": largest})
    if whole is None or left is None or right is None:
        return None
    # The survey holds every record only when they fit in one page of the largest size.
    if survey.total <= survey.entries:
        run.judge(WindowInSurvey(survey, whole))
    run.judge(NarrowerWindow(whole, left))
    run.judge(NarrowerWindow(whole, right))
    run.judge(WindowSplit(whole, left, right))
    return whole, left, right


@time_windows.probe(cost=5, surveys=True)
def windows_on_records_seconds(run: PropertyRun) -> None:
    """A record's second alone and the second after it; then a window that begins, splits and ends on records' seconds.

    The one-second window [split, split] lists exactly the records of that second; the one
    after it, [split + 1 s, split + 1 s], lists none of them: an end read as exclusive, a
    bound off by a second, a window read in another time zone or on another field each
    show in these two requests, sent first.
    """
    survey = _survey_or_skip(run)
    if survey is None:
        return
    window = probe_window(run.spec, around=_record_moments(survey))
    largest = str(run.spec.query_parameters["limit"]["maximum"])
    seconds: list[Page] = []
    for second in (window.split, window.split + timedelta(seconds=1)):
        moment = format_dcs_timestamp(second)
        page = run.page({"begin_time": moment, "end_time": moment, "limit": largest})
        if page is not None:
            seconds.append(page)
            if survey.total <= survey.entries:
                run.judge(WindowInSurvey(survey, page))
    halves = _split_window_holds(run, survey, window)
    if halves is not None:
        for page in seconds:
            run.judge(NarrowerWindow(halves[0], page))


@time_windows.explore
def windows_drawn_around_records(run: PropertyRun) -> None:
    """A window lists exactly its records; narrower windows list no more; adjacent ones add up."""
    survey = _survey_or_skip(run)
    if survey is None:
        return

    def holds(window: SplitWindow) -> None:
        _split_window_holds(run, survey, window)

    run.semantic(holds, window=split_windows(run.spec, around=_record_moments(survey)))


# -- semantics: walking the pages ------------------------------------------------------

walk = contract_property(
    "page-walk",
    evaluates=(
        *_PAGE,
        rules.total_independent_of_paging.id,
        rules.total_stable_through_walk.id,
        rules.no_empty_page_before_total.id,
        rules.pages_partition.id,
        rules.past_end_empty.id,
    ),
    weight=2,
)


def _walk(run: PropertyRun, filters: dict[str, str], sized: Page, pages: int) -> None:
    """Walk the pages of ``filters`` in ``pages`` pages (at most 4), as a client does, and judge the walk.

    ``sized``: a page of the same filters at the largest limit, whose total decides the
    page size. Judged as a client walks: total_num holds still from page to page, and no
    page before the end is empty. The Terraform data source stops only when the records
    it has seen equal total_num, so either drift has it stop early or loop forever.
    """
    if sized.total == 0:
        return
    largest = int(run.spec.query_parameters["limit"]["maximum"])
    total = sized.total
    # Integer ceiling: a total_num of hundreds of digits is no float.
    limit = min(largest, max(1, -(-total // pages)))
    walked: list[Page] = []
    offset = 0
    while offset < total and len(walked) < _MAX_WALK_PAGES:
        page = run.page({**filters, "limit": str(limit), "offset": str(offset)})
        if page is None:
            return
        walked.append(page)
        offset += limit
    complete = offset >= total
    run.judge(Paging((sized, *walked)))
    # pages-partition, total-stable-through-walk and no-empty-page-before-total.
    run.judge(Walk(tuple(walked), complete=complete))
    if complete:
        past = run.page({**filters, "limit": str(limit), "offset": str(total)})
        if past is not None:
            run.judge(PastEnd(past, total))


@walk.probe(cost=_MAX_WALK_PAGES + 1, surveys=True)
def walk_the_listing_in_three_pages(run: PropertyRun) -> None:
    """The unfiltered listing walked in three pages (four when they do not divide evenly), then past its end."""
    survey = _survey_or_skip(run)
    if survey is not None:
        _walk(run, {}, survey, _PROBE_WALK_PAGES)


@walk.explore
def page_walk(run: PropertyRun) -> None:
    """Walking the pages of drawn windows in 1 to 4 pages: disjoint pages that add up; past the end, nothing."""
    survey = _survey_or_skip(run)
    if survey is None:
        return
    largest = str(run.spec.query_parameters["limit"]["maximum"])

    def holds(window: SplitWindow | None, pages: int) -> None:
        # The total under the window decides a limit that ends the walk in `pages` pages.
        sized = run.page({**window.whole, "limit": largest}) if window else survey
        if sized is not None:
            _walk(run, window.whole if window else {}, sized, pages)

    windows = split_windows(run.spec, around=_record_moments(survey))
    run.semantic(holds, window=st.none() | windows, pages=st.integers(1, _MAX_WALK_PAGES))


# -- refusals --------------------------------------------------------------------------

negative = contract_property(
    "schema-negative", evaluates=checks.check_names(checks.RESPONSE_CHECKS), weight=1, draws=Draws.NEGATIVE_CASES
)


@negative.explore
def schema_negative(run: PropertyRun) -> None:
    """Invalid queries are rejected with a documented 4xx and a conforming error body."""
    _conformance(run)


single_faults = contract_property(
    "negative-inputs",
    evaluates=(checks.INVALID_INPUT_REJECTED, *checks.check_names(checks.ERROR_RESPONSE_CHECKS)),
    weight=2,
    draws=Draws.INVALID_QUERIES,
)


def _rejected(run: PropertyRun, parameter: str, query: dict[str, str]) -> None:
    run.exchange(run.case(query), InvalidInput(parameter))


@single_faults.probe(cost=lambda spec, target: len(probe_invalid_queries(spec)))
def each_bound_just_outside(run: PropertyRun) -> None:
    """Each bound just outside, a non-integer, 31 February, another time form, a reversed window: each 400."""
    faults = probe_invalid_queries(run.spec)
    run.expect(len(faults))
    for parameter, query in faults:
        _rejected(run, parameter, query)


@single_faults.explore
def negative_inputs(run: PropertyRun) -> None:
    """A query valid but for one parameter is answered 400 with a conforming error body.

    Schemathesis's negative mode breaks several parameters at once, so a service that
    ignores one bad parameter can hide behind another; here exactly one is wrong.
    """

    def rejected(fault: tuple[str, dict[str, str]]) -> None:
        _rejected(run, *fault)

    run.expect(min(run.settings.max_examples, run.share))
    # engine.strategies.invalid_queries (the property's draws), drawn ahead in the helper process if the run asked it.
    run.each_drawn(rejected)


# -- semantics: paging -------------------------------------------------------------------

paging = contract_property("paging-total", evaluates=(*_PAGE, rules.total_independent_of_paging.id), weight=1)


@paging.probe(cost=2, surveys=True)
def total_at_the_default_and_the_last_record(run: PropertyRun) -> None:
    """total_num with no limit at all (the default page size) and on the last record alone, as in the survey."""
    survey = _survey_or_skip(run)
    if survey is None:
        return
    last = {"limit": "1", "offset": str(max(survey.total - 1, 0))}
    pages = [survey, run.page({}), run.page(last)]
    run.judge(Paging(tuple(page for page in pages if page is not None)))


@paging.explore
def paging_total(run: PropertyRun) -> None:
    """total_num is the same whatever the limit and the offset, with or without a window."""
    survey = _survey_or_skip(run)
    if survey is None:
        return
    queries = st.lists(paging_queries(run.spec, total=survey.total), min_size=2, max_size=2)

    def holds(window: SplitWindow | None, queries: list[dict[str, str]]) -> None:
        filters = window.whole if window else {}
        pages = [run.page({**filters, **query}) for query in queries]
        run.judge(Paging(tuple(page for page in pages if page is not None)))

    windows = split_windows(run.spec, around=_record_moments(survey))
    run.semantic(holds, window=st.none() | windows, queries=queries)
