"""A finding's requests sent again and judged as the run judged them: confirmation and replay.

A finding carries the requests that show it (``Finding.requests``). A :class:`Reproduction`
sends them again through the run's guarded client, in order, and judges the answers with the
same response checks and the same invariants that made the finding; it says whether the
finding shows again (the same fingerprint). Findings that share their requests share one
sending of them. The answers are judged by the one judge (engine/judge.py),
each request as the kind it shows, as check-har infers a recorded request's. Two commands use it:

- a run, before it exits 1, confirms each new finding once (``suite.confirm_findings``): the label,
  ``reproduced`` or ``not reproduced (intermittent)``, is for triage; both fail the run,
  since a non-conforming answer is drift even once;
- ``dcs-contract replay REPORT`` re-sends a report's findings against the target the
  settings name now: FIXED or STILL FAILING.

The requests are moved onto the target being tested: its base URL, and its project and
instances in place of the report's (:class:`Rebase`), so that a report from staging can be
replayed against a fix deployed elsewhere. An instance the report's target did not name (the
unknown instance of the probe plan) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from schemathesis import Case

from dcs_contract.contract import invariants as rules
from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.contract.invariants import INVARIANTS, EmptyInstancePage, Page, UnknownInstanceAnswer
from dcs_contract.contract.spec import OPERATION_PATH
from dcs_contract.engine.judge import ANSWER_CHECKS, EVIDENCE, ExchangeJudge
from dcs_contract.errors import ConfigError, ResponseTooLarge
from dcs_contract.results.report import TargetInfo
from dcs_contract.settings.target import check_id

if TYPE_CHECKING:
    from dcs_contract.engine.run import ContractRun

__all__ = [
    "CONFIRMATIONS",
    "NOT_CONFIRMED",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "Rebase",
    "Reproduction",
    "not_replayable",
    "rejudge",
]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced (intermittent)"
NOT_CONFIRMED = "not confirmed: no request was left in the budget"
# Every label a finding's confirmation may carry (report.json's schema reads them from here).
CONFIRMATIONS = (REPRODUCED, NOT_REPRODUCED, NOT_CONFIRMED)

# The path's segments, from the operation: /v2/{project_id}/instances/{instance_id}/backups.
_SEGMENTS = OPERATION_PATH.strip("/").split("/")


@dataclass(frozen=True)
class Rebase:
    """How a recorded request maps onto the target being tested: ids of the report's target -> ours."""

    ids: dict[str, str]

    @classmethod
    def between(cls, recorded: TargetInfo, project_id: str, instance_id: str, empty_instance_id: str | None) -> Rebase:
        pairs = [
            (recorded.project_id, project_id),
            (recorded.instance_id, instance_id),
            (recorded.empty_instance_id, empty_instance_id),
        ]
        return cls({old: new for old, new in pairs if old and new})

    def path_parameters(self, url: str) -> dict[str, str] | None:
        """The path's project and instance for our target, or None when the URL is not of this endpoint."""
        try:
            parts = urlsplit(url).path.strip("/").split("/")
        except ValueError:  # an unclosed [ of an IPv6 host, say: a report is a file anyone may have edited
            return None
        if len(parts) != len(_SEGMENTS):
            return None
        found: dict[str, str] = {}
        for part, segment in zip(parts, _SEGMENTS, strict=True):
            if segment.startswith("{"):
                value = self.ids.get(part, part)
                # As a run's ids: one safe segment. A report is a file anyone may have edited, and
                # ".." or "%2F" would send the GET to a path the contract does not cover.
                try:
                    found[segment.strip("{}")] = check_id(value, segment)
                except ConfigError:
                    return None
            elif part != segment:
                return None
        return found


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def replayable_check(check: str) -> bool:
    """Whether ``replay`` can judge a finding of ``check`` again: report.md offers a replay line only then."""
    return check in _ONE_ANSWER_CHECKS or check in INVARIANTS


def not_replayable(finding: Finding, rebase: Rebase) -> str | None:
    """Why ``finding`` cannot be judged again from its requests, or None when it can; decided before sending."""
    if not finding.requests:
        return "it carries no request"
    if finding.check not in _ONE_ANSWER_CHECKS and finding.check not in INVARIANTS:
        return f"{finding.check} is no check or invariant of this harness (a team's rule, a count of findings)"
    for request in finding.requests:
        if request.method != "GET" or rebase.path_parameters(request.url) is None:
            return f"{request.method} {request.url} is not a GET of this endpoint with safe ids"
    return None


def rejudge(run: ContractRun, finding: Finding, rebase: Rebase, *, as_property: str) -> list[Finding] | None:
    """Every finding ``finding``'s requests show when sent again and judged; None when it cannot be told.

    None, with nothing sent, for a finding :func:`not_replayable` refuses. Raises what the
    transport raises (a spent budget, a refused credential): the caller says what that means.
    """
    return Reproduction(run, rebase, as_property=as_property).rejudge(finding)


class Reproduction:
    """One pass of findings sent again (a run's confirmation, a replay): each sequence of requests once.

    Findings often share their requests: a body that breaks three checks makes three findings of
    one request. They are judged on the same answers, so that a live target is asked once for
    all of them and the answers are judged once, not once per finding.
    """

    def __init__(self, run: ContractRun, rebase: Rebase, *, as_property: str) -> None:
        self.run, self.rebase, self.as_property = run, rebase, as_property
        # The answers of the last requests sent only: a body may be megabytes, and findings of
        # the same requests come together (confirm_findings groups them).
        self._last: tuple[tuple[RequestInfo, ...], list[_Answer]] | None = None
        # By the requests and the invariant judged across them (None: the answers' own checks).
        self._judged: dict[tuple[tuple[RequestInfo, ...], str | None], list[Finding] | None] = {}

    def sent(self, finding: Finding) -> bool:
        """Whether judging ``finding`` sends nothing more: its requests' answers are at hand, or judged already."""
        return self._at_hand(finding) is not None or self._key(finding) in self._judged

    def shows(self, finding: Finding) -> bool | None:
        """Whether ``finding`` shows again (the same fingerprint); None when it cannot be told."""
        judged = self.rejudge(finding)
        return None if judged is None else finding.fingerprint in {found.fingerprint for found in judged}

    def rejudge(self, finding: Finding) -> list[Finding] | None:
        """Every finding ``finding``'s requests show when sent again and judged; None when it cannot be told."""
        if not_replayable(finding, self.rebase) is not None:
            return None
        key = self._key(finding)
        if key not in self._judged:
            self._judged[key] = _judge(self.run, finding, self._send(finding))
        return self._judged[key]

    @staticmethod
    def _key(finding: Finding) -> tuple[tuple[RequestInfo, ...], str | None]:
        rule = INVARIANTS.get(finding.check)
        return finding.requests, rule.id if rule is not None else None

    def _at_hand(self, finding: Finding) -> list[_Answer] | None:
        """The answers to ``finding``'s requests if they were the last sent."""
        return self._last[1] if self._last is not None and self._last[0] == finding.requests else None

    def _send(self, finding: Finding) -> list[_Answer]:
        at_hand = self._at_hand(finding)
        if at_hand is not None:
            return at_hand
        self._last = None
        answers: list[_Answer] = []
        for request in finding.requests:
            path = self.rebase.path_parameters(request.url)
            assert path is not None, "checked by not_replayable"
            case = self.run.operation.case(path_parameters=path, query=_query(request.url))
            anonymous = not request.authenticated
            answer = self.run.send(self.as_property, case, anonymous=anonymous, counted=False)
            answers.append((case, anonymous, answer))
        self._last = (finding.requests, answers)
        return answers


# A request sent again: its case, whether it went without credentials, and what came back.
_Answer = tuple[Case[Any], bool, httpx.Response | ResponseTooLarge]


def _judge(run: ContractRun, finding: Finding, answers: Sequence[_Answer]) -> list[Finding] | None:
    """The findings these answers show, judged by the one judge: its own counters, not the run's.

    Each request is judged as its kind, inferred as check-har infers a recorded request's;
    a finding of the empty instance says that its instance is the empty one. A finding of an
    invariant across requests then has its evidence read back from the answers' pages.
    """
    judge = ExchangeJudge(run.spec)
    rule = INVARIANTS.get(finding.check)
    found: list[Finding] = []
    pages: list[Page] = []
    responses: list[httpx.Response] = []
    for case, anonymous, answer in answers:
        instance_id = str(case.path_parameters["instance_id"])
        empty = instance_id if rule is rules.empty_instance_empty else run.target.empty_instance_id
        kind = judge.kind_of(
            list((case.query or {}).items()),
            instance_id=instance_id,
            anonymous=anonymous,
            status=answer.status_code,
            empty_instance_id=empty,
        )
        judged = judge.exchange(case, answer, kind)
        found.extend(judged.findings)
        if not isinstance(answer, ResponseTooLarge):
            responses.append(answer)
        if judged.page is not None:
            pages.append(judged.page)
    if rule is None:
        return found if finding.check in _ONE_ANSWER_CHECKS else None
    if rule.per_page or rule.subject in _JUDGED_BY_KIND:
        return found
    evidence = rule.subject.recorded(pages, responses)
    return found + judge.evidence(evidence) if isinstance(evidence, EVIDENCE) else found


# The checks a single answer shows, which re-sending its request judges again: its bytes' wire rules too.
_ONE_ANSWER_CHECKS = frozenset(ANSWER_CHECKS)
# The evidence the kind of a request brings with it: judged with the exchange itself.
_JUDGED_BY_KIND = (UnknownInstanceAnswer, EmptyInstancePage)
