"""A finding's requests sent again and judged as the run judged them: confirmation and replay.

A finding carries the requests that show it (``Finding.requests``). :func:`reproduce` sends
them again through the run's guarded client, in order, and judges the answers with the same
response checks and the same invariant that made the finding; it says whether the finding
shows again (the same fingerprint). Two commands use it:

- a run, before it exits 1, confirms each new finding once (``Confirmation``): the label,
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

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from dcs_contract.contract import checks
from dcs_contract.contract import invariants as rules
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.invariants import INVARIANTS, Invariants, Page
from dcs_contract.contract.spec import OPERATION_PATH
from dcs_contract.errors import ConfigError, ResponseTooLarge
from dcs_contract.results.report import TargetInfo
from dcs_contract.settings.target import check_id

if TYPE_CHECKING:
    from dcs_contract.engine.run import ContractRun

__all__ = ["CONFIRMATIONS", "NOT_CONFIRMED", "NOT_REPRODUCED", "REPRODUCED", "Rebase", "not_replayable", "reproduce"]

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
        parts = urlsplit(url).path.strip("/").split("/")
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


def not_replayable(finding: Finding, rebase: Rebase) -> str | None:
    """Why ``finding`` cannot be judged again from its requests, or None when it can; decided before sending."""
    if not finding.requests:
        return "it carries no request"
    if finding.check not in _ONE_ANSWER_CHECKS and finding.check not in INVARIANTS:
        return f"{finding.check} is no check or invariant of this harness (a team's rule, a count of findings)"
    rule = INVARIANTS.get(finding.check)
    if rule is not None and not rule.per_page and rule.id not in _ACROSS_REQUESTS:
        return f"{rule.id} is not judged again from recorded requests"
    for request in finding.requests:
        if request.method != "GET" or rebase.path_parameters(request.url) is None:
            return f"{request.method} {request.url} is not a GET of this endpoint with safe ids"
    return None


def reproduce(run: ContractRun, finding: Finding, rebase: Rebase, *, as_property: str) -> bool | None:
    """Whether ``finding`` shows again when its requests are sent again; None when it cannot be told.

    None, with nothing sent, for a finding :func:`not_replayable` refuses. Raises what the
    transport raises (a spent budget, a refused credential): the caller says what that means
    for its label.
    """
    if not_replayable(finding, rebase) is not None:
        return None
    answers: list[tuple[Any, httpx.Response | ResponseTooLarge]] = []
    for request in finding.requests:
        path = rebase.path_parameters(request.url)
        assert path is not None, "checked by not_replayable"
        case = run.operation.case(path_parameters=path, query=_query(request.url))
        answers.append((case, run.send(as_property, case, anonymous=not request.authenticated, counted=False)))
    judged = _judge(run, finding, answers)
    return None if judged is None else finding.fingerprint in {found.fingerprint for found in judged}


def _judge(
    run: ContractRun, finding: Finding, answers: Sequence[tuple[Any, httpx.Response | ResponseTooLarge]]
) -> list[Finding] | None:
    """The findings these answers show, judged by what made ``finding``: its own counters, not the run's."""
    invariants = Invariants(run.spec, evaluated=Counter(), unjudged={})
    found: list[Finding] = []
    pages: list[Page] = []
    responses: list[httpx.Response] = []
    for case, answer in answers:
        if isinstance(answer, ResponseTooLarge):
            found.append(checks.body_too_large(answer))
            continue
        responses.append(answer)
        if finding.check == checks.INVALID_INPUT_REJECTED:
            found.extend(checks.invalid_input_findings(finding.location, answer))
        elif finding.check == checks.UNAUTHENTICATED_REFUSED:
            found.extend(checks.anonymous_request_findings(answer.request, answer.status_code, answer))
        else:
            found.extend(checks.validate(run.spec, case, answer, checks.RESPONSE_CHECKS))
        page = Page.read(answer, run.spec.defaults, str(case.path_parameters["instance_id"]))
        if page is not None:
            pages.append(page)
            found.extend(invariants.of_page(page))
    rule = INVARIANTS.get(finding.check)
    if rule is None or rule.per_page:
        return found if finding.check in _ONE_ANSWER_CHECKS or rule is not None else None
    judge = _ACROSS_REQUESTS.get(rule.id)
    if judge is None:
        return None
    return found + judge(lambda *args, **kwargs: invariants.judge(rule, *args, **kwargs), pages, responses)


# The checks a single answer shows, which re-sending its request judges again.
_ONE_ANSWER_CHECKS = frozenset(checks.CHECK_NAMES)

_Judged = Callable[..., list[Finding]]


def _walk_complete(pages: Sequence[Page]) -> bool:
    return bool(pages) and pages[0].offset == 0 and pages[-1].offset + pages[-1].limit >= pages[0].total


# Each invariant across requests, given the pages of its finding in the order the run read them.
_ACROSS_REQUESTS: dict[str, Callable[[_Judged, list[Page], list[httpx.Response]], list[Finding]]] = {
    rules.total_independent_of_paging.id: lambda judged, pages, _: judged(pages),
    rules.total_stable_through_walk.id: lambda judged, pages, _: judged(pages),
    rules.no_empty_page_before_total.id: lambda judged, pages, _: judged(pages),
    rules.pages_partition.id: lambda judged, pages, _: judged(pages, complete=_walk_complete(pages)),
    rules.past_end_empty.id: lambda judged, pages, _: (
        judged(pages[-1], total=pages[-1].total) if pages and pages[-1].status == 200 else []
    ),
    rules.window_complete.id: lambda judged, pages, _: judged(*pages) if len(pages) == 2 else [],
    rules.narrower_window_not_more.id: lambda judged, pages, _: judged(*pages) if len(pages) == 2 else [],
    rules.adjacent_windows_add_up.id: lambda judged, pages, _: judged(*pages) if len(pages) == 3 else [],
    rules.unknown_instance_refused.id: lambda judged, _, responses: judged(responses[0]) if responses else [],
    rules.empty_instance_empty.id: lambda judged, pages, _: judged(pages[0]) if pages else [],
}
