"""The contract suite's engine: properties run by hypothesis against a target.

Each property is a small function registered by name. It draws cases, sends them through
the run's one guarded client, and records findings instead of stopping at the first: a
drift report lists every distinct violation, each with the shortest reproduction seen.

The pytest face of the suite is ``tests/contract/``; ``dcs-contract run`` drives the same
properties and writes the reports.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from schemathesis import Case, GenerationMode

from dcs_contract import checks
from dcs_contract.errors import TargetUnavailable
from dcs_contract.formats import FORMAT_NAME
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.report import Finding, FindingLog, RunReport
from dcs_contract.spec import OPERATION_PATH, Spec
from dcs_contract.strategies import edge_invalid_queries, invalid_queries, order_window, query_times
from dcs_contract.target import Credentials, RunSettings, Target
from dcs_contract.transport import EXPECT_REFUSAL, GuardedTransport, build_client

__all__ = ["PROPERTIES", "ContractRun", "ProgressCallback", "contract_property", "embedded_mock", "run_contract"]

ProgressCallback = Callable[[str, int, int], None]
Property = Callable[["ContractRun"], None]
PROPERTIES: dict[str, Property] = {}

# Schemathesis configuration, in one place: no security headers (auth is the client's),
# no unknown query parameters (the service ignores them, so they prove nothing).
_SCHEMATHESIS_CONFIG = {"generation": {"allow-extra-parameters": False, "with-security-parameters": False}}


def contract_property(name: str) -> Callable[[Property], Property]:
    """Register a property of the contract suite under ``name``."""

    def register(function: Property) -> Property:
        PROPERTIES[name] = function
        return function

    return register


@dataclass
class ContractRun:
    """One run of the suite against one target, with its client, findings and counters."""

    spec: Spec
    target: Target
    settings: RunSettings
    client: httpx.Client
    progress: ProgressCallback | None = None
    findings: FindingLog = field(default_factory=FindingLog)
    cases: Counter[str] = field(default_factory=Counter)
    observed: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        schemathesis.openapi.format(FORMAT_NAME, query_times(self.spec))
        config = schemathesis.Config.from_dict(_SCHEMATHESIS_CONFIG)
        schema = schemathesis.openapi.from_dict(self.spec.for_generation(), config=config)
        self.operation = schema[OPERATION_PATH]["GET"]

    @property
    def path_parameters(self) -> dict[str, str]:
        assert self.target.project_id is not None and self.target.instance_id is not None
        return {"project_id": self.target.project_id, "instance_id": self.target.instance_id}

    @property
    def transport(self) -> GuardedTransport:
        transport = self.client._transport
        assert isinstance(transport, GuardedTransport)
        return transport

    def cases_of(self, mode: GenerationMode) -> Any:
        """Schemathesis cases pinned to the target's project and instance; valid windows in positive mode."""
        strategy = self.operation.as_strategy(generation_mode=mode, path_parameters=self.path_parameters)
        return strategy.map(order_window) if mode.is_positive else strategy

    def hypothesis(self, test: Callable[..., None]) -> Callable[..., None]:
        """Apply the run's hypothesis settings: no shrinking (findings keep the shortest case seen)."""
        configured = hypothesis_settings(
            max_examples=self.settings.max_examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )(test)
        if self.settings.seed is not None:
            configured = hypothesis_seed(self.settings.seed)(configured)
        return configured

    def send(self, case: Case[Any]) -> httpx.Response:
        """Send a case through the guarded client. Only its path and query are taken from it."""
        return self.client.get(case.formatted_path, params=_wire_params(case.query or {}))

    def observe(self, response: httpx.Response) -> None:
        """Remember the status codes and enum values seen, for the coverage table of the docs."""
        self.observed.setdefault("http_status", Counter())[str(response.status_code)] += 1
        if response.status_code != 200:
            return
        try:
            records = response.json().get("backup_record_response") or []
        except (ValueError, AttributeError):
            return
        for field_name in self.spec.enum_fields:
            seen = self.observed.setdefault(field_name, Counter())
            for record in records if isinstance(records, list) else []:
                if isinstance(record, dict) and field_name in record:
                    seen[json.dumps(record[field_name])] += 1

    def exchange(
        self, property_name: str, case: Case[Any], selected: tuple[checks.CheckFunction, ...] = checks.RESPONSE_CHECKS
    ) -> httpx.Response:
        """One case of a property: counted, sent, observed, and its response checked."""
        response = self.send(case)
        # Counted once answered: a case the transport refused to send was not tested.
        self.count(property_name)
        self.observe(response)
        self.add(checks.validate(case, response, selected))
        return response

    def count(self, property_name: str, total: int | None = None) -> None:
        self.cases[property_name] += 1
        if self.progress is not None:
            self.progress(property_name, self.cases[property_name], total or self.settings.max_examples)

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


def _conformance(run: ContractRun, mode: GenerationMode, name: str) -> None:
    @run.hypothesis
    @given(case=run.cases_of(mode))
    def conforms(case: Case[Any]) -> None:
        run.exchange(name, case)

    conforms()


@contract_property("auth-probe")
def auth_probe(run: ContractRun) -> None:
    """One request without any credential is refused with 401 and the gateway's error body.

    It sends no credential at all, never a wrong signature: a bad signature with the user's
    AK counts towards the AK's lock-out.
    """
    run.count("auth-probe", total=1)
    case = run.operation.Case(path_parameters=run.path_parameters, query={"limit": 1})
    response = run.client.get(case.formatted_path, params={"limit": "1"}, auth=None, extensions={EXPECT_REFUSAL: True})
    run.observe(response)
    if response.status_code == 401:
        run.add(checks.validate(case, response, checks.ERROR_RESPONSE_CHECKS))
    else:
        run.add([checks.unauthenticated_not_refused(response)])


@contract_property("schema-positive")
def schema_positive(run: ContractRun) -> None:
    """Valid queries are answered 200 or 204, with bodies, content types and statuses as specified."""
    _conformance(run, GenerationMode.POSITIVE, "schema-positive")


@contract_property("schema-negative")
def schema_negative(run: ContractRun) -> None:
    """Invalid queries are rejected with a documented 4xx and a conforming error body."""
    _conformance(run, GenerationMode.NEGATIVE, "schema-negative")


@contract_property("negative-inputs")
def negative_inputs(run: ContractRun) -> None:
    """A query valid but for one parameter is answered 400 with a conforming error body.

    Schemathesis's negative mode breaks several parameters at once, so a service that
    ignores one bad parameter can hide behind another; here exactly one is wrong.
    """

    def rejected(fault: tuple[str, dict[str, str]]) -> None:
        name, query = fault
        case = run.operation.Case(path_parameters=run.path_parameters, query=query)
        response = run.exchange("negative-inputs", case, checks.ERROR_RESPONSE_CHECKS)
        if response.status_code != 400:
            run.add([checks.invalid_input_accepted(name, response)])

    test = given(fault=invalid_queries(run.spec))(rejected)
    for fault in edge_invalid_queries(run.spec):
        test = example(fault=fault)(test)
    run.hypothesis(test)()


@contextmanager
def embedded_mock(spec: Spec, target: Target, **mock_options: Any) -> Iterator[tuple[Target, MockState]]:
    """Serve the embedded mock on loopback and point ``target`` at it."""
    state = MockState.default(spec, **mock_options)
    with MockServer(create_app(state)) as server:
        creds = state.credentials
        credentials = Credentials(access_key=creds.access_key, secret_key=creds.secret_key, origin="the embedded mock")
        yield (
            target.with_mock(
                server.base_url, state.project_id, state.instance_id, state.empty_instance_id, credentials
            ),
            state,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_contract(
    spec: Spec,
    target: Target,
    settings: RunSettings,
    *,
    properties: list[str] | None = None,
    progress: ProgressCallback | None = None,
    inner_transport: httpx.BaseTransport | None = None,
) -> RunReport:
    """Run the suite's properties against a live (already resolved) target; never raises for the target's faults."""
    assert target.base_url is not None, "resolve the embedded mock first (embedded_mock)"
    assert target.project_id is not None
    started = _now()
    client = build_client(
        target.base_url,
        auth=target.credentials.auth(target.project_id),
        max_requests=settings.max_requests,
        rate_limit=settings.rate_limit,
        timeout=settings.timeout,
        retries=settings.retries,
        record=settings.record_traffic,
        inner=inner_transport,
    )
    run = ContractRun(spec, target, settings, client, progress)
    error: str | None = None
    with client:
        for name in properties or list(PROPERTIES):
            try:
                PROPERTIES[name](run)
            except TargetUnavailable as exc:
                error = str(exc)
                break
    stats = run.transport.stats
    return RunReport(
        target=target.describe(),
        started=started,
        finished=_now(),
        seed=settings.seed,
        cases=dict(run.cases),
        requests={"total": stats.attempts, "retries": stats.retries, "by_status": dict(stats.by_status)},
        findings=list(run.findings),
        occurrences=dict(run.findings.occurrences),
        error=error,
        observed={key: dict(counter) for key, counter in run.observed.items()},
        traffic=list(stats.exchanges),
    )
