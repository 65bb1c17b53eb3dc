"""The contract suite's engine: one run against one target, and the handle each property gets on it.

Three pieces, each with one job:

- :class:`RunLog` is what a run learned: findings, cases, observed values, what each check
  and invariant judged, what was skipped. It builds the :class:`~dcs_contract.results.report.RunReport`.
- :class:`ContractRun` is the run itself: the guarded client, the spec's operation, the
  hypothesis settings and shrinking, and the exchange of one case, checked and read as a page.
- :class:`PropertyRun` is a property's handle on the run, bound to the property's name, so
  that a property says ``run.page(query)`` and the log knows whose request it was.

A property (``properties.py``) draws cases with hypothesis and hands each to its handle,
which sends it through the one guarded client, checks the response against the spec, reads
it as a page for the semantic invariants, and records findings instead of stopping at the
first: a drift report lists every distinct violation with the shortest reproduction seen.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import given
from hypothesis.errors import Flaky
from hypothesis.strategies import SearchStrategy
from schemathesis import Case

from dcs_contract.contract import checks
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import Finding, FindingLog
from dcs_contract.contract.formats import json_text, read_json
from dcs_contract.contract.invariants import Invariants, Page
from dcs_contract.contract.severity import DEFAULT_FAIL_ON, Severity
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.ahead import DrawnAhead
from dcs_contract.engine.drawing import Draws
from dcs_contract.engine.hypothesis_settings import with_run_settings
from dcs_contract.engine.judge import Anonymous, Evidence, ExchangeJudge, Judged, Kind, Listing
from dcs_contract.engine.latency import LatencyLog, Slo
from dcs_contract.engine.operation import Operation
from dcs_contract.engine.selection import NOT_SELECTED, CheckSelection
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.results.observed import ObservationTally
from dcs_contract.results.report import BudgetSummary, RequestCounts, RunReport, SpecInfo, utc_now
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import EXPECT_REFUSAL, TrafficStats

__all__ = [
    "CHECKED_BY",
    "ContractRun",
    "FirstFinding",
    "ProgressCallback",
    "PropertyRun",
    "RunLog",
    "ShareSpent",
]

# (property, cases done, cases expected or None when a property's request count is not known ahead)
ProgressCallback = Callable[[str, int, int | None], None]

# Distinct values of one enum field kept for the docs' coverage table, and the text of each.
_MAX_OBSERVED_VALUES = 50
_MAX_OBSERVED_TEXT = 200
_OTHER_VALUES = "(other values)"
# Calls one shrink may make (each a few requests): enough to drop what does not matter.
_SHRINK_CALLS = 40
# Property name -> the response checks and invariants it can evaluate; the properties
# register themselves here, so that a run can say why a check never ran.
CHECKED_BY: dict[str, tuple[str, ...]] = {}
# What a property's request is unless it says otherwise: a valid query, read as a page.
_LISTING: Kind = Listing()


class _Reproduced(Exception):
    """The finding being shrunk showed again: hypothesis should look for a simpler draw."""


class ShareSpent(BaseException):
    """A property's part has sent all the requests it was given: the part ends here.

    A BaseException, so that hypothesis, which catches every Exception as a failing example
    to replay and shrink, lets it through at once and sends nothing more.
    """


class FirstFinding(BaseException):
    """``--fail-fast``: a finding that no baseline accepts was made, and the run stops at it."""


@dataclass
class RunLog:
    """What one run learned, property by property; it builds the run's report."""

    spec: Spec
    progress: ProgressCallback | None = None
    # How many requests the run has sent so far: a finding records the one it was first seen at.
    requests_sent: Callable[[], int] = lambda: 0
    findings: FindingLog = field(default_factory=FindingLog)
    cases: Counter[str] = field(default_factory=Counter)
    observed: ObservationTally = field(default_factory=ObservationTally)
    skipped: dict[str, str] = field(default_factory=dict)
    # Property -> why cases asked of the drawing helper were drawn in the run's process after all.
    drawn_in_run: dict[str, str] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    # Response check name or invariant id -> how often it judged a response or a page.
    evaluated: Counter[str] = field(default_factory=Counter)
    # Invariant id -> why it had nothing to judge when it was asked.
    unjudged: dict[str, str] = field(default_factory=dict)
    # The properties begun, in order.
    begun: list[str] = field(default_factory=list)
    # --fail-fast: stop at the first finding that ``accepted`` (a baseline's) does not accept.
    fail_fast: bool = False
    accepted: Callable[[Finding], bool] = lambda finding: False
    # --fail-fast stops only at a finding that would fail the run (--fail-on).
    fail_on: Severity = DEFAULT_FAIL_ON
    # The spec's x-consumers, read when the run starts (a spec they do not fit fails there, not
    # at the end): every finding of the report names the consumers it breaks.
    consumers: Consumers = field(init=False, repr=False)
    # --checks, --exclude-checks: the findings of a check left out are not kept.
    selection: CheckSelection = field(default_factory=CheckSelection)
    # Each timed answer, by the property that sent it.
    latency: LatencyLog = field(default_factory=LatencyLog)

    def __post_init__(self) -> None:
        self.consumers = Consumers.of(self.spec)

    def add(self, findings: Sequence[Finding]) -> None:
        sent = self.requests_sent() or None
        findings = [finding for finding in findings if self.selection.selects(finding.check)]
        for finding in findings:
            self.findings.add(finding, request=sent)
        if self.fail_fast and any(not self.accepted(finding) and self._fails(finding) for finding in findings):
            raise FirstFinding()

    def _fails(self, finding: Finding) -> bool:
        """Whether ``finding``, graded as the report will grade it, is at or above ``fail_on``."""
        [graded] = self.consumers.annotate([finding])
        return graded.severity.at_least(self.fail_on)

    def begin(self, property_name: str) -> None:
        """A property starts: what it evaluates (``CHECKED_BY``) is now expected to run."""
        if property_name not in self.begun:
            self.begun.append(property_name)

    def expect(self, property_name: str, cases: int) -> None:
        """How many more cases the property will send, for the progress line."""
        self.expected[property_name] = self.cases[property_name] + cases

    def count(self, property_name: str) -> None:
        self.cases[property_name] += 1
        if self.progress is not None:
            self.progress(property_name, self.cases[property_name], self.expected.get(property_name))

    def skip(self, property_name: str, reason: str) -> None:
        self.skipped[property_name] = reason

    def observe_status(self, status: int) -> None:
        self.observed.http_status()[str(status)] += 1

    def observe(self, response: httpx.Response) -> None:
        """Remember the status codes, enum values and error codes seen, for the docs and for ``diff``."""
        self.observe_status(response.status_code)
        if response.status_code >= 400:
            self._observe_error_code(response)
        if response.status_code != 200:
            return
        body = read_json(response)
        records = body.value.get("backup_record_response") if isinstance(body.value, dict) else None
        if not isinstance(records, list):
            return
        # A page is up to a thousand records: each pass below is one comprehension over them.
        objects = [record for record in records if isinstance(record, dict)]
        for field_name in self.spec.enum_fields:
            seen = self.observed.enum_values(field_name)
            for value, count in _tally([record[field_name] for record in objects if field_name in record]):
                _count_observed(seen, value, count)
        # The spec's record fields that came with a value (only those: the count stays bounded),
        # so that the history can say which optional field no run has seen.
        named = self.spec.record_fields
        fields = self.observed.record_fields()
        fields.update(
            name for record in objects for name, value in record.items() if value is not None and name in named
        )

    def _observe_error_code(self, response: httpx.Response) -> None:
        body = read_json(response).value
        code = body.get("error_code") if isinstance(body, dict) else None
        if code is not None:
            _count_observed(self.observed.error_codes(), code)

    def coverage(self) -> tuple[dict[str, int], dict[str, str]]:
        """(evaluations by response check and invariant id, and why each of the others never ran).

        Covers every response check the harness has and every invariant of the spec, so that
        a summary can list what ran and what did not, read from this run.
        """
        names = [*checks.CHECK_NAMES, *self.spec.invariants]
        selected = [name for name in names if self.selection.selects(name)]
        evaluated = {name: self.evaluated[name] for name in selected if self.evaluated[name]}
        return evaluated, {name: self._not_evaluated(name) for name in names if name not in evaluated}

    def _not_evaluated(self, name: str) -> str:
        if not self.selection.selects(name):
            return NOT_SELECTED
        # An invariant that was asked knows best why it judged nothing (no readable record).
        if name in self.unjudged:
            return self.unjudged[name]
        owners = [prop for prop, evaluates in CHECKED_BY.items() if name in evaluates]
        ran = [prop for prop in owners if prop in self.begun]
        if not owners:
            return "no property of the suite evaluates it"
        if not ran:
            return f"{', '.join(owners)} did not run"
        if all(prop in self.skipped for prop in ran):
            return "; ".join(f"{prop} skipped: {self.skipped[prop]}" for prop in ran)
        return f"no response reached it in {', '.join(ran)}"

    def report(
        self,
        *,
        target: Target,
        settings: RunSettings,
        started: str,
        traffic: TrafficStats,
        error: str | None = None,
        crash: str | None = None,
        stopped: str | None = None,
        budget: BudgetSummary | None = None,
        credentials_refused: bool = False,
    ) -> RunReport:
        """The report of the run: what it learned, and ``traffic``, what it sent."""
        evaluated, not_evaluated = self.coverage()
        return RunReport(
            target=target.describe(),
            started=started,
            finished=utc_now(),
            seed=settings.seed,
            cases=dict(self.cases),
            requests=RequestCounts(total=traffic.attempts, retries=traffic.retries, by_status=dict(traffic.by_status)),
            findings=self.consumers.annotate(self.findings),
            occurrences=dict(self.findings.occurrences),
            error=error,
            crash=crash,
            stopped=stopped,
            budget=budget,
            settings=settings.described(),
            observed=self.observed.observations(),
            skipped=dict(self.skipped),
            drawn_in_run=dict(self.drawn_in_run),
            evaluated=evaluated,
            not_evaluated=not_evaluated,
            traffic=list(traffic.exchanges),
            spec=SpecInfo(sha256=self.spec.sha256, document=self.spec.document),
            credentials_refused=credentials_refused,
            fail_on=Severity(settings.fail_on),
            latency=self.latency.summary(),
            slo=_slo(settings).as_dict(),
        )


@dataclass
class ContractRun:
    """One run of the suite against one target."""

    spec: Spec
    target: Target
    settings: RunSettings
    client: httpx.Client
    log: RunLog
    # The name of a signal that asked the run to stop (its guard's stop_signal): a wait outside
    # a request, for the drawing helper's next case, ends on it.
    stopped: Callable[[], str | None] = field(default=lambda: None, repr=False)
    operation: Operation = field(init=False)
    # Every exchange of the run is judged by it (engine/judge.py), with the log's counters.
    judge: ExchangeJudge = field(init=False)
    invariants: Invariants = field(init=False)
    # The unfiltered listing, read once (None when it was not a readable page).
    survey_page: Page | None = field(init=False, default=None)
    surveyed: bool = field(init=False, default=False)
    # Requests the run has handed to the transport, and the count at which the part being
    # run has spent what it was given (None: no limit but the transport's budget).
    sends: int = field(init=False, default=0)
    stop_at: int | None = field(init=False, default=None)
    # What the drawing helper draws ahead for this run (engine/ahead.py).
    ahead: DrawnAhead = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.operation = Operation.of(self.spec)
        self.ahead = DrawnAhead(
            self.spec, self.settings, self.path_parameters, self.log.drawn_in_run, stopped=self.stopped
        )
        self.judge = ExchangeJudge(
            self.spec, evaluated=self.log.evaluated, unjudged=self.log.unjudged, slo=_slo(self.settings)
        )
        self.invariants = self.judge.invariants

    def for_property(self, name: str, draws: Draws | None = None) -> PropertyRun:
        """The handle a property gets: this run, bound to the property's name and what it draws."""
        return PropertyRun(self, name, draws)

    # -- the budget of the part being run -------------------------------------------------
    @contextmanager
    def probing(self, property_name: str, requests: int) -> Iterator[None]:
        """A property's probe, given the ``requests`` its declared cost allows.

        A probe that would send more is a bug in its declared cost, which the probe plan's
        size and the minimum budget are computed from: it fails the run as a bug.
        """
        try:
            with self._limited(requests):
                yield
        except ShareSpent:
            raise AssertionError(
                f"the probe of {property_name} tried to send more than the {requests} requests it declares"
            ) from None

    @contextmanager
    def exploring(self, property_name: str, share: int) -> Iterator[None]:
        """A property's exploration, ended quietly once it has sent its ``share`` of the budget."""
        with suppress(ShareSpent), self._limited(share):
            yield

    @contextmanager
    def _limited(self, requests: int) -> Iterator[None]:
        self.stop_at = self.sends + requests
        try:
            yield
        finally:
            self.stop_at = None

    @property
    def share_left(self) -> int | None:
        """Requests the part being run may still send; None when only the transport's budget limits it."""
        return None if self.stop_at is None else max(0, self.stop_at - self.sends)

    # -- what the run knows ----------------------------------------------------------------
    @property
    def path_parameters(self) -> dict[str, str]:
        assert self.target.project_id is not None and self.target.instance_id is not None
        return {"project_id": self.target.project_id, "instance_id": self.target.instance_id}

    @property
    def semantic_examples(self) -> int:
        """Examples per semantic property: each costs several requests, so a tenth of the schema's."""
        return max(3, self.settings.max_examples // 10)

    # -- hypothesis ------------------------------------------------------------------------
    def hypothesis(
        self, test: Callable[..., None], *, max_examples: int | None = None, shrink: bool = False
    ) -> Callable[..., None]:
        """Apply the run's hypothesis settings. No shrinking unless asked: see :meth:`semantic`."""
        return with_run_settings(
            test, max_examples=max_examples or self.settings.max_examples, seed=self.settings.seed, shrink=shrink
        )

    def each_case(self, draws: Draws, body: Callable[[Case[Any]], object], *, by: str | None = None) -> None:
        """``body`` on each of the ``max_examples`` schemathesis cases ``draws`` draws (see :meth:`each_drawn`)."""
        if not draws.cases:
            raise ValueError(f"{draws} draws no schemathesis cases")

        def rebuilt(drawn: tuple[dict[str, Any], Any]) -> None:
            query, meta = drawn
            body(self.operation.case(path_parameters=self.path_parameters, query=query, meta=meta))

        self.each_drawn(draws, rebuilt, by=by)

    def each_drawn(self, draws: Draws, body: Callable[[Any], object], *, by: str | None = None) -> None:
        """``body`` on each of the ``max_examples`` examples of ``draws``, drawn ahead where the run
        asked it (engine/ahead.py). ``by``: the property drawing, as the report names it."""
        self.ahead.each(draws, body, by=by or draws.value)

    def semantic(self, body: Callable[..., None], **strategies: SearchStrategy[Any]) -> None:
        """Run a semantic property: explore, then shrink each new finding to its smallest example.

        Exploring records every violation without stopping. Shrinking then asks hypothesis for
        the simplest draw that still shows one finding; the finding log keeps the shortest
        reproduction, so the report carries the smallest request sequence seen. Each shrink
        is capped in calls, and off on a live target unless asked (``RunSettings.shrink``).
        """
        findings = self.log.findings
        known = set(findings.fingerprints)
        self.hypothesis(given(**strategies)(body), max_examples=self.semantic_examples)()
        if not self.settings.shrink:
            return
        for fingerprint in sorted(set(findings.fingerprints) - known):
            self._shrink(fingerprint, body, strategies)

    def _shrink(self, fingerprint: str, body: Callable[..., None], strategies: dict[str, SearchStrategy[Any]]) -> None:
        calls = 0
        occurrences = self.log.findings.occurrences

        def reproduces(**drawn: Any) -> None:
            nonlocal calls
            if calls >= _SHRINK_CALLS:
                return  # spent: every further draw "passes" without a request, so shrinking ends
            calls += 1
            before = occurrences[fingerprint]
            body(**drawn)
            if occurrences[fingerprint] > before:
                raise _Reproduced(fingerprint)

        test = self.hypothesis(given(**strategies)(reproduces), max_examples=self.semantic_examples, shrink=True)
        # Flaky: the cap ended the final replay of the shrunk example; the log has it already.
        with suppress(_Reproduced, Flaky):
            test()

    # -- one exchange ----------------------------------------------------------------------
    def case(self, query: dict[str, str], *, instance_id: str | None = None) -> Case[Any]:
        path = {**self.path_parameters, **({"instance_id": instance_id} if instance_id else {})}
        return self.operation.case(path_parameters=path, query=query)

    def send(
        self, property_name: str, case: Case[Any], *, anonymous: bool = False, counted: bool = True
    ) -> httpx.Response | ResponseTooLarge:
        """Send a case through the guarded client, and count it once answered.

        Only its path and query are taken from the case. ``anonymous`` sends no credential
        at all, and expects a refusal: its 401 does not stop the run. A body over the cap
        comes back instead of a response, with the status and the request: the judge files it.
        ``counted=False``: a request sent again to confirm a finding, no case of the run.
        """
        options: dict[str, Any] = {"auth": None, "extensions": {EXPECT_REFUSAL: True}} if anonymous else {}
        if self.stop_at is not None and self.sends >= self.stop_at:
            raise ShareSpent(property_name)
        self.sends += 1
        try:
            response = self.client.get(case.formatted_path, params=_wire_params(case.query or {}), **options)
        except ResponseTooLarge as exc:
            if not counted:
                return exc
            self.log.count(property_name)
            self.log.observe_status(exc.status_code)
            return exc
        # Counted once answered: a case the transport refused to send was not tested.
        if counted:
            self.log.count(property_name)
            self.log.observe(response)
            self.log.latency.add(property_name, response)
        return response

    def exchange(self, property_name: str, case: Case[Any], kind: Kind = _LISTING) -> Judged:
        """One case of a property: sent (with no credential when its kind is Anonymous), counted,
        observed, and judged as its kind says (engine/judge.py); its findings are kept."""
        answer = self.send(property_name, case, anonymous=isinstance(kind, Anonymous))
        judged = self.judge.exchange(case, answer, kind)
        self.log.add([*judged.findings, *self.judge.response_time(answer)])
        return judged

    def page(
        self, property_name: str, query: dict[str, str], *, instance_id: str | None = None, kind: Kind = _LISTING
    ) -> Page | None:
        """A valid query, exchanged, and its answer read as a page."""
        return self.exchange(property_name, self.case(query, instance_id=instance_id), kind).page

    def survey(self, property_name: str) -> Page | None:
        """The unfiltered listing at the largest page size, fetched once per run.

        Semantic properties draw windows around the times it shows and compare against it.
        """
        if not self.surveyed:
            self.surveyed = True
            largest = str(self.spec.query_parameters["limit"]["maximum"])
            self.survey_page = self.page(property_name, {"limit": largest})
        return self.survey_page


@dataclass(frozen=True)
class PropertyRun:
    """A property's handle on the run: every request it sends and every finding it makes is its own.

    The property never names itself: the handle is bound to its name when the registry
    calls it.
    """

    run: ContractRun
    name: str
    # What the property's exploration draws (its contract_property's draws=).
    draws: Draws | None = None

    @property
    def spec(self) -> Spec:
        return self.run.spec

    @property
    def settings(self) -> RunSettings:
        return self.run.settings

    @property
    def target(self) -> Target:
        return self.run.target

    @property
    def share(self) -> int:
        """Requests this part may still send: its share of the budget, or the cost of its probe."""
        left = self.run.share_left
        return self.run.settings.max_requests if left is None else left

    # -- drawing cases ---------------------------------------------------------------------
    def case(self, query: dict[str, str], *, instance_id: str | None = None) -> Case[Any]:
        return self.run.case(query, instance_id=instance_id)

    def each_case(self, body: Callable[[Case[Any]], object]) -> None:
        """``body`` on each schemathesis case of the property's ``draws``."""
        self.run.each_case(self._draws(), body, by=self.name)

    def each_drawn(self, body: Callable[[Any], object]) -> None:
        """``body`` on each example of the property's ``draws``."""
        self.run.each_drawn(self._draws(), body, by=self.name)

    def _draws(self) -> Draws:
        if self.draws is None:
            raise ValueError(f"{self.name} declares nothing to draw (contract_property's draws=)")
        return self.draws

    def hypothesis(self, test: Callable[..., None]) -> Callable[..., None]:
        return self.run.hypothesis(test)

    def semantic(self, body: Callable[..., None], **strategies: SearchStrategy[Any]) -> None:
        self.run.semantic(body, **strategies)

    # -- sending and judging ---------------------------------------------------------------
    def exchange(self, case: Case[Any], kind: Kind = _LISTING) -> Judged:
        return self.run.exchange(self.name, case, kind)

    def page(self, query: dict[str, str], *, instance_id: str | None = None, kind: Kind = _LISTING) -> Page | None:
        return self.run.page(self.name, query, instance_id=instance_id, kind=kind)

    def survey(self) -> Page | None:
        return self.run.survey(self.name)

    def judge(self, evidence: Evidence) -> None:
        """Every invariant of the spec declared on what this property gathered; its findings are kept."""
        self.add(self.run.judge.evidence(evidence))

    def add(self, findings: Sequence[Finding]) -> None:
        self.run.log.add(findings)

    # -- bookkeeping -----------------------------------------------------------------------
    def expect(self, cases: int) -> None:
        self.run.log.expect(self.name, cases)

    def skip(self, reason: str) -> None:
        self.run.log.skip(self.name, reason)


def _tally(values: Iterable[Any]) -> list[tuple[Any, int]]:
    """Each distinct value with its count, in the order first seen.

    A page holds up to a thousand records with a handful of distinct values: each is written
    as text once, not once per record. The type is part of the key, since ``1``, ``1.0`` and
    ``true`` are equal in Python and distinct in JSON; a value that cannot be hashed (an
    object or array a hostile target sent) is its own entry.
    """
    values = list(values)
    try:  # the common page, all scalars: counted in C
        return [(value, count) for (_, value), count in Counter(zip(map(type, values), values, strict=True)).items()]
    except TypeError:
        pass
    counts: dict[Any, int] = {}
    first: dict[Any, Any] = {}
    for position, value in enumerate(values):
        try:
            key: Any = (type(value), value)
            hash(key)
        except TypeError:
            key = (list, position)
        if key not in counts:
            counts[key], first[key] = 0, value
        counts[key] += 1
    return [(first[key], count) for key, count in counts.items()]


def _slo(settings: RunSettings) -> Slo:
    return Slo(settings.max_response_time, settings.degraded_response_time)


def _count_observed(seen: Counter[str], value: Any, count: int = 1) -> None:
    """Count a value a target sent, as bounded text.

    A target inventing a value per record must not grow the report without bound: past the
    first values, the others are counted together.
    """
    text = json_text(value)[:_MAX_OBSERVED_TEXT]
    seen[text if text in seen or len(seen) < _MAX_OBSERVED_VALUES else _OTHER_VALUES] += count


def _wire_params(query: dict[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    """Query values as strings on the wire; negative cases may hold null, lists or objects."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                pairs.append((name, item))
            elif isinstance(item, bool) or item is None:
                pairs.append((name, json.dumps(item)))
            elif isinstance(item, (int, float)):
                pairs.append((name, str(item)))
            else:
                pairs.append((name, json.dumps(item, ensure_ascii=False)))
    return pairs
