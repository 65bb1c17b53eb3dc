"""The contract suite's engine: one run against one target, with its client, findings and counters.

A property (``properties.py``) draws cases with hypothesis and hands each to the run: the run
sends it through the one guarded client, checks the response against the spec, reads it as a
page for the semantic invariants, and records findings instead of stopping at the first, so
that a drift report lists every distinct violation with the shortest reproduction seen.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Flaky
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode

from dcs_contract import checks
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.formats import FORMAT_NAME, json_text, read_json
from dcs_contract.invariants import Invariants, Page
from dcs_contract.report import Finding, FindingLog
from dcs_contract.spec import OPERATION_PATH, Spec
from dcs_contract.strategies import order_window, query_times
from dcs_contract.target import RunSettings, Target

__all__ = ["CHECKED_BY", "ContractRun", "ProgressCallback"]

# (property, cases done, cases expected or None when a property's request count is not known ahead)
ProgressCallback = Callable[[str, int, int | None], None]

# Calls one shrink may make (each a few requests): enough to drop what does not matter.
_SHRINK_CALLS = 40
# Schemathesis configuration, in one place: no security headers (auth is the client's),
# no unknown query parameters (the service ignores them, so they prove nothing), and no
# truncated output: a finding keeps its texts whole until the report's scrubber has seen them.
_SCHEMATHESIS_CONFIG = {
    "generation": {"allow-extra-parameters": False, "with-security-parameters": False},
    "output": {"truncation": {"enabled": False}},
}
# Property name -> the response checks and invariants it can evaluate; the properties
# register themselves here, so that a run can say why a check never ran.
CHECKED_BY: dict[str, tuple[str, ...]] = {}


class _Reproduced(Exception):
    """The finding being shrunk showed again: hypothesis should look for a simpler draw."""


@dataclass
class ContractRun:
    """One run of the suite against one target."""

    spec: Spec
    target: Target
    settings: RunSettings
    client: httpx.Client
    progress: ProgressCallback | None = None
    findings: FindingLog = field(default_factory=FindingLog)
    cases: Counter[str] = field(default_factory=Counter)
    observed: dict[str, Counter[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    # Response check name or invariant id -> how often it judged a response or a page.
    evaluated: Counter[str] = field(default_factory=Counter)
    # The properties begun, in order.
    begun: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        schemathesis.openapi.format(FORMAT_NAME, query_times(self.spec))
        config = schemathesis.Config.from_dict(_SCHEMATHESIS_CONFIG)
        schema = schemathesis.openapi.from_dict(self.spec.for_generation(), config=config)
        self.operation = schema[OPERATION_PATH]["GET"]
        self.invariants = Invariants(self.spec, self.evaluated)
        self._survey: tuple[Page | None] | None = None

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
    def cases_of(self, mode: GenerationMode) -> Any:
        """Schemathesis cases pinned to the target's project and instance; valid windows in positive mode."""
        strategy = self.operation.as_strategy(generation_mode=mode, path_parameters=self.path_parameters)
        return strategy.map(order_window) if mode.is_positive else strategy

    def hypothesis(
        self, test: Callable[..., None], *, max_examples: int | None = None, shrink: bool = False
    ) -> Callable[..., None]:
        """Apply the run's hypothesis settings. No shrinking unless asked: see :meth:`semantic`."""
        phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]
        configured = hypothesis_settings(
            max_examples=max_examples or self.settings.max_examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )(test)
        if self.settings.seed is not None:
            configured = hypothesis_seed(self.settings.seed)(configured)
        return configured

    def semantic(self, body: Callable[..., None], **strategies: SearchStrategy[Any]) -> None:
        """Run a semantic property: explore, then shrink each new finding to its smallest example.

        Exploring records every violation without stopping. Shrinking then asks hypothesis for
        the simplest draw that still shows one finding; the finding log keeps the shortest
        reproduction, so the report carries the smallest request sequence seen. Each shrink
        is capped in calls, and off on a live target unless asked (``RunSettings.shrink``).
        """
        known = set(self.findings.fingerprints)
        self.hypothesis(given(**strategies)(body), max_examples=self.semantic_examples)()
        if not self.settings.shrink:
            return
        for fingerprint in sorted(set(self.findings.fingerprints) - known):
            self._shrink(fingerprint, body, strategies)

    def _shrink(self, fingerprint: str, body: Callable[..., None], strategies: dict[str, SearchStrategy[Any]]) -> None:
        calls = 0

        def reproduces(**drawn: Any) -> None:
            nonlocal calls
            if calls >= _SHRINK_CALLS:
                return  # spent: every further draw "passes" without a request, so shrinking ends
            calls += 1
            before = self.findings.occurrences[fingerprint]
            body(**drawn)
            if self.findings.occurrences[fingerprint] > before:
                raise _Reproduced(fingerprint)

        test = self.hypothesis(given(**strategies)(reproduces), max_examples=self.semantic_examples, shrink=True)
        # Flaky: the cap ended the final replay of the shrunk example; the log has it already.
        with suppress(_Reproduced, Flaky):
            test()

    # -- one exchange ----------------------------------------------------------------------
    def case(self, query: dict[str, str], *, instance_id: str | None = None) -> Case[Any]:
        path = {**self.path_parameters, **({"instance_id": instance_id} if instance_id else {})}
        return self.operation.Case(path_parameters=path, query=query)

    def answer(self, property_name: str, case: Case[Any], **options: Any) -> httpx.Response | ResponseTooLarge:
        """Send a case through the guarded client, and count it once answered.

        Only its path and query are taken from the case; ``options`` go to the client. A
        body over the cap is answered too: it is a finding, returned so that the caller
        still knows the status, and the property goes on.
        """
        params = _wire_params(case.query or {})
        try:
            response = self.client.get(case.formatted_path, params=params, **options)
        except ResponseTooLarge as exc:
            self.count(property_name)
            self.observed.setdefault("http_status", Counter())[str(exc.status_code)] += 1
            self.add([checks.body_too_large(exc)])
            return exc
        # Counted once answered: a case the transport refused to send was not tested.
        self.count(property_name)
        self.observe(response)
        return response

    def get(self, property_name: str, case: Case[Any]) -> httpx.Response | None:
        """:meth:`answer`, with None for a body over the cap: there is no response to check."""
        response = self.answer(property_name, case)
        return response if isinstance(response, httpx.Response) else None

    def check(
        self, case: Case[Any], response: httpx.Response, selected: tuple[checks.CheckFunction, ...]
    ) -> list[Finding]:
        """The response checks on one response, counted as evaluated."""
        self.evaluated.update(checks.check_names(selected))
        return checks.validate(self.spec, case, response, selected)

    def exchange(
        self, property_name: str, case: Case[Any], selected: tuple[checks.CheckFunction, ...] = checks.RESPONSE_CHECKS
    ) -> httpx.Response | None:
        """One case of a property: sent, counted, observed, and its response checked (None: see :meth:`get`)."""
        response = self.get(property_name, case)
        if response is not None:
            self.add(self.check(case, response, selected))
        return response

    def page(self, property_name: str, query: dict[str, str], *, instance_id: str | None = None) -> Page | None:
        """A valid query, exchanged, and its answer read as a page whose own invariants are checked."""
        case = self.case(query, instance_id=instance_id)
        return self.read_page(case, self.exchange(property_name, case))

    def read_page(self, case: Case[Any], response: httpx.Response | None) -> Page | None:
        if response is None:
            return None
        page = Page.read(response, self.spec.defaults, str(case.path_parameters["instance_id"]))
        if page is not None:
            self.add(self.invariants.of_page(page))
        return page

    def survey(self, property_name: str) -> Page | None:
        """The unfiltered listing at the largest page size, fetched once per run.

        Semantic properties draw windows around the times it shows and compare against it.
        """
        if self._survey is None:
            largest = str(self.spec.query_parameters["limit"]["maximum"])
            self._survey = (self.page(property_name, {"limit": largest}),)
        return self._survey[0]

    # -- bookkeeping -----------------------------------------------------------------------
    def observe(self, response: httpx.Response) -> None:
        """Remember the status codes and enum values seen, for the coverage table of the docs."""
        self.observed.setdefault("http_status", Counter())[str(response.status_code)] += 1
        if response.status_code != 200:
            return
        body = read_json(response)
        records = body.value.get("backup_record_response") if isinstance(body.value, dict) else None
        for field_name in self.spec.enum_fields:
            seen = self.observed.setdefault(field_name, Counter())
            for record in records if isinstance(records, list) else []:
                if isinstance(record, dict) and field_name in record:
                    seen[json_text(record[field_name])] += 1

    def count(self, property_name: str) -> None:
        self.cases[property_name] += 1
        if self.progress is not None:
            self.progress(property_name, self.cases[property_name], self.expected.get(property_name))

    def skip(self, property_name: str, reason: str) -> None:
        self.skipped[property_name] = reason

    def begin(self, property_name: str) -> None:
        """A property starts: what it evaluates (``CHECKED_BY``) is now expected to run."""
        self.begun.append(property_name)

    def coverage(self) -> tuple[dict[str, int], dict[str, str]]:
        """(evaluations by response check and invariant id, and why each of the others never ran).

        Covers every response check the harness has and every invariant of the spec, so that
        a summary can list what ran and what did not, read from this run.
        """
        names = [*checks.CHECK_NAMES, *self.spec.invariants]
        evaluated = {name: self.evaluated[name] for name in names if self.evaluated[name]}
        return evaluated, {name: self._not_evaluated(name) for name in names if name not in evaluated}

    def _not_evaluated(self, name: str) -> str:
        # An invariant that was asked knows best why it judged nothing (no readable record).
        if name in self.invariants.unjudged:
            return self.invariants.unjudged[name]
        owners = [prop for prop, evaluates in CHECKED_BY.items() if name in evaluates]
        ran = [prop for prop in owners if prop in self.begun]
        if not owners:
            return "no property of the suite evaluates it"
        if not ran:
            return f"not run: {', '.join(owners)} did not run"
        if all(prop in self.skipped for prop in ran):
            return "; ".join(f"{prop} skipped: {self.skipped[prop]}" for prop in ran)
        return f"no response reached it in {', '.join(ran)}"

    def add(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.findings.add(finding)


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
