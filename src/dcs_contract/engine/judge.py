"""The one judge: which checks and invariants an exchange of the endpoint is held to.

It decides, for an exchange and its *kind* (what the request was sent to show), which
response checks run on the answer, whether the answer is read as a page with the per-page
invariants, and which invariant judges it as evidence of its own; and, for the evidence a
property gathers across requests (a :class:`~dcs_contract.contract.invariants.Walk`, a
:class:`~dcs_contract.contract.invariants.WindowSplit` ...), every invariant declared on it.
The run's properties, confirmation and replay, check-har and the pytest plugin's page walk
all judge through it, so one drift gives one finding whoever sees it::

    judge = ExchangeJudge(spec)
    judged = judge.exchange(case, response, Listing())
    judged.findings, judged.page          # the checks' and the page's findings; the page read
    judge.evidence(Walk(pages, complete=True))

The kind of a request the harness did not send itself (a recording, a finding's requests)
is inferred by :meth:`ExchangeJudge.kind_of`, from what the request shows: no credential,
a query the spec's query rule refuses, the probe's unknown instance, the empty instance.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from schemathesis import Case
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from dcs_contract.contract import checks
from dcs_contract.contract.consumers import WIRE, Consumers
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.invariants import (
    EmptyInstancePage,
    Invariants,
    NarrowerWindow,
    Page,
    Paging,
    PastEnd,
    UnknownInstanceAnswer,
    Walk,
    WindowInSurvey,
    WindowSplit,
)
from dcs_contract.contract.query import InvalidQuery, QueryRule
from dcs_contract.contract.spec import Spec, per_spec
from dcs_contract.contract.wire import WIRE_RULES, WireContext, wire_detail, wire_violations
from dcs_contract.engine.latency import Slo
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.transport.guard import AUTH_STATUSES

__all__ = [
    "ANSWER_CHECKS",
    "EVIDENCE",
    "OFFLINE_CHECKS",
    "STATUS_CHECKS",
    "UNKNOWN_INSTANCE",
    "Anonymous",
    "CredentialsRefused",
    "CutShort",
    "EmptyInstance",
    "Evidence",
    "ExchangeJudge",
    "InvalidInput",
    "Judged",
    "Kind",
    "Listing",
    "NegativeDraw",
    "UnknownInstance",
]

# The probe plan's unknown instance: the same on every run, and no one's.
UNKNOWN_INSTANCE = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/dcs-contract/unknown-instance"))
# The response checks of a request whose drawing is unknown: these two judge how schemathesis drew a case.
OFFLINE_CHECKS: tuple[checks.CheckFunction, ...] = tuple(
    check for check in checks.RESPONSE_CHECKS if check not in (negative_data_rejection, positive_data_acceptance)
)
# Every check this judge holds one answer to, by the name its findings carry: the response
# checks and the wire rules. With the spec's invariants, what a run can report.
ANSWER_CHECKS: tuple[str, ...] = (*checks.CHECK_NAMES, *WIRE_RULES)
# Status and content type: what a body cut short still shows.
STATUS_CHECKS: tuple[checks.CheckFunction, ...] = tuple(
    check for check in OFFLINE_CHECKS if check is not response_schema_conformance
)


# -- the kinds of exchange ------------------------------------------------------------------


@dataclass(frozen=True)
class Anonymous:
    """A request with no credential at all (the auth probe): refused with 401, then its error body."""


@dataclass(frozen=True)
class CredentialsRefused:
    """A signed request the gateway refused (401, 403): its status and error body."""


@dataclass(frozen=True)
class Listing:
    """A valid query (a probe's, a walk's or a window's page, a positive draw): read as a page.

    ``recorded``: rebuilt from a recording or a finding, which do not say how schemathesis
    drew it, so the two checks that judge a draw are left out.
    """

    recorded: bool = False


@dataclass(frozen=True)
class NegativeDraw:
    """A case schemathesis drew as invalid: every response check, no page."""


@dataclass(frozen=True)
class InvalidInput:
    """A query invalid in ``parameter`` alone (None: in several), refused with a 400 and an error body."""

    parameter: str | None


@dataclass(frozen=True)
class UnknownInstance:
    """The probe's unknown instance: its status is the invariant's to judge, its body the schema's."""


@dataclass(frozen=True)
class EmptyInstance:
    """The page of the instance that has no backups: a listing, and empty."""

    recorded: bool = False


@dataclass(frozen=True)
class CutShort:
    """A body dcs-contract's recorder cut short: its status and content type only."""


Kind = (
    Anonymous | CredentialsRefused | Listing | NegativeDraw | InvalidInput | UnknownInstance | EmptyInstance | CutShort
)
# What the invariants across requests judge: each type names the invariants declared on it.
Evidence = (
    Paging | Walk | PastEnd | WindowInSurvey | NarrowerWindow | WindowSplit | UnknownInstanceAnswer | EmptyInstancePage
)

# The same types, for isinstance: what a finding's requests may be read back as.
EVIDENCE = (
    Paging,
    Walk,
    PastEnd,
    WindowInSurvey,
    NarrowerWindow,
    WindowSplit,
    UnknownInstanceAnswer,
    EmptyInstancePage,
)


@dataclass(frozen=True)
class Judged:
    """What one exchange showed: its findings, in order, and its answer read as a page, if it is one."""

    findings: list[Finding]
    page: Page | None = None


@per_spec
def _wire_context(spec: Spec) -> WireContext:
    """What the wire rules read of ``spec``: a judge is made per replay and per check-har, the spec once."""
    return WireContext.of(spec, Consumers.of(spec).limits())


@dataclass
class ExchangeJudge:
    """The judge of one run (or one check-har, one replay): the spec, and the counters it fills.

    ``evaluated`` counts each check and invariant that judged something, ``unjudged`` why a
    rule asked had nothing to judge: a run's coverage (a fresh pair when not given).
    """

    spec: Spec
    evaluated: Counter[str] = field(default_factory=Counter)
    unjudged: dict[str, str] = field(default_factory=dict)
    # The run's latency objective (--max-response-time, --degraded-response-time): none by default.
    slo: Slo = field(default_factory=Slo)
    invariants: Invariants = field(init=False)
    query_rule: QueryRule = field(init=False)
    # What the wire check reads of the spec: its integer fields, the consumers' decoder limits.
    wire: WireContext = field(init=False)

    def __post_init__(self) -> None:
        self.invariants = Invariants(self.spec, evaluated=self.evaluated, unjudged=self.unjudged)
        self.query_rule = QueryRule.of(self.spec)
        self.wire = _wire_context(self.spec)

    def exchange(self, case: Case[Any], answer: httpx.Response | ResponseTooLarge, kind: Kind) -> Judged:
        """The findings of one exchange of ``kind``: its bytes' wire rules, its response checks, its page's rules."""
        if isinstance(answer, ResponseTooLarge) or isinstance(kind, CutShort):
            return self._exchange(case, answer, kind)
        # On the bytes as they came, before anything reads them tolerantly; the reading that follows is unchanged.
        wire = self.wire_findings(answer)
        judged = self._exchange(case, answer, kind)
        return Judged(wire + judged.findings, judged.page)

    def wire_findings(self, answer: httpx.Response) -> list[Finding]:
        """Each wire rule the body's bytes break (contract/wire.py): one finding per rule, place and status."""
        try:
            raw = answer.content
        except httpx.ResponseNotRead:
            return []
        violations = wire_violations(
            raw, answer.headers.get("content-type", ""), status=answer.status_code, context=self.wire
        )
        found = []
        for violation in violations:
            rule = WIRE_RULES[violation.rule]
            where = f" at {violation.pointer}" if violation.pointer else ""
            found.append(
                Finding.about(
                    answer,
                    check=rule.id,
                    category=WIRE,
                    title=rule.title,
                    message=f"{rule.title}{where}: {violation.actual}. {rule.rule} Source: {rule.source}.",
                    location=violation.location,
                    expected=rule.rule.removesuffix("."),
                    actual=violation.actual,
                    detail=wire_detail(answer.status_code, violation.detail),
                )
            )
        return found

    def _exchange(self, case: Case[Any], answer: httpx.Response | ResponseTooLarge, kind: Kind) -> Judged:
        if isinstance(answer, ResponseTooLarge):
            # No body to check or read; the status of an anonymous request is still judged.
            found = [checks.body_too_large(answer)]
            if isinstance(kind, Anonymous):
                found += self._anonymous(answer.request, answer.status_code, None)
            return Judged(found)
        if isinstance(kind, Anonymous):
            refusal = self._anonymous(answer.request, answer.status_code, answer)
            return Judged(refusal or self._checks(case, answer, checks.ERROR_RESPONSE_CHECKS))
        if isinstance(kind, CredentialsRefused):
            return Judged(self._checks(case, answer, checks.ERROR_RESPONSE_CHECKS))
        if isinstance(kind, InvalidInput):
            found = self._checks(case, answer, checks.ERROR_RESPONSE_CHECKS)
            if kind.parameter is not None:
                self.evaluated[checks.INVALID_INPUT_REJECTED] += 1
                found += checks.invalid_input_findings(kind.parameter, answer)
            return Judged(found)
        if isinstance(kind, UnknownInstance):
            found = self._checks(case, answer, checks.ERROR_BODY_CHECKS)
            return Judged(found + self.evidence(UnknownInstanceAnswer(answer)))
        if isinstance(kind, NegativeDraw):
            return Judged(self._checks(case, answer, checks.RESPONSE_CHECKS))
        if isinstance(kind, CutShort):
            return Judged(self._checks(case, answer, STATUS_CHECKS))
        found = self._checks(case, answer, OFFLINE_CHECKS if kind.recorded else checks.RESPONSE_CHECKS)
        page = Page.read(answer, self.spec.defaults, str(case.path_parameters["instance_id"]))
        if page is None:
            return Judged(found)
        found += self.evidence(page)
        if isinstance(kind, EmptyInstance):
            found += self.evidence(EmptyInstancePage(page))
        return Judged(found, page)

    def response_time(self, answer: httpx.Response | ResponseTooLarge) -> list[Finding]:
        """The SLO's finding of an answer slower than one of its tiers, as the guard timed it."""
        return [] if isinstance(answer, ResponseTooLarge) else self.slo.findings(answer)

    def evidence(self, subject: Page | Evidence) -> list[Finding]:
        """Every invariant declared on what ``subject`` is: a page, a walk, a window split ..."""
        return self.invariants.of(subject)

    def kind_of(
        self,
        query: Sequence[tuple[str, str]],
        *,
        instance_id: str,
        anonymous: bool,
        status: int,
        empty_instance_id: str | None = None,
        cut_short: bool = False,
    ) -> Kind:
        """The kind of a request the harness did not send itself (a recording's, a finding's), from what it shows.

        In this order: no credential; a signed request refused; a query the spec's rule
        refuses (by the one parameter at fault, or several); the probe's unknown instance; a
        body the recorder cut; the empty instance named; else a listing.
        """
        if anonymous:
            return Anonymous()
        if status in AUTH_STATUSES:
            return CredentialsRefused()
        read = self.query_rule.read(query)
        if isinstance(read, InvalidQuery):
            return InvalidInput(read.parameters[0] if len(read.parameters) == 1 else None)
        if instance_id == UNKNOWN_INSTANCE:
            return UnknownInstance()
        if cut_short:
            return CutShort()
        if empty_instance_id is not None and instance_id == empty_instance_id:
            return EmptyInstance(recorded=True)
        return Listing(recorded=True)

    def _checks(
        self, case: Case[Any], answer: httpx.Response, selected: tuple[checks.CheckFunction, ...]
    ) -> list[Finding]:
        self.evaluated.update(checks.check_names(selected))
        return checks.validate(self.spec, case, answer, selected)

    def _anonymous(self, request: httpx.Request, status: int, answer: httpx.Response | None) -> list[Finding]:
        self.evaluated[checks.UNAUTHENTICATED_REFUSED] += 1
        return checks.anonymous_request_findings(request, status, answer)
