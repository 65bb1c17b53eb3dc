"""Proof that the harness catches drift: ``dcs-contract run`` against the mock with each switch on.

Every switch must fail the run (exit 1) with a finding that names the field or parameter at
fault, and the consumers it breaks (or that no known consumer relies on it); the faithful mock
must pass over many datasets, so that the findings are not noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import NO_KNOWN_CONSUMER
from dcs_contract.contract.invariants import INVARIANTS
from dcs_contract.contract.spec import Spec
from dcs_contract.contract.wire import WIRE_RULES
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.suite import embedded_mock, guarded, run_contract
from dcs_contract.mock import MockState
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import build_client

# switch -> (category, location, check) of a finding the run must report.
CAUGHT_AS = {
    "extra-field": ("schema", "/backup_record_response/*/backup_region", "response_schema_conformance"),
    "missing-backup-id": ("schema", "/backup_record_response/*/backup_id", "response_schema_conformance"),
    "period-as-object": ("type", "/backup_record_response/*/period", "response_schema_conformance"),
    "size-as-string": ("type", "/backup_record_response/*/size", "response_schema_conformance"),
    "restore-flag-boolean": ("type", "/backup_record_response/*/is_support_restore", "response_schema_conformance"),
    "format-upper-case": ("enum", "/backup_record_response/*/backup_format", "response_schema_conformance"),
    "status-past-tense": ("enum", "/backup_record_response/*/status", "response_schema_conformance"),
    "empty-as-null": ("type", "/backup_record_response", "response_schema_conformance"),
    "error-code-on-success": ("schema", "/backup_record_response/*/error_code", "error-code-iff-failed"),
    "failed-without-error-code": ("schema", "/backup_record_response/*/error_code", "error-code-iff-failed"),
    "updated-before-created": ("schema", "/backup_record_response/*/updated_at", "updated-not-before-created"),
    "progress-short-on-success": ("schema", "/backup_record_response/*/progress", "progress-complete-when-succeeded"),
    "progress-over-hundred": ("schema", "/backup_record_response/*/progress", "response_schema_conformance"),
    "negative-offset-accepted": ("status", "offset", "invalid_input_rejected"),
    "limit-over-max-clamped": ("status", "limit", "invalid_input_rejected"),
    "reversed-window-accepted": ("status", "begin_time", "invalid_input_rejected"),
    "bad-time-ignored": ("status", "begin_time", "invalid_input_rejected"),
    "server-error-at-max-limit": ("status", "limit", "not_a_server_error"),
    "unknown-instance-404": ("status", "instance_id", "unknown-instance-refused"),
    "unknown-instance-empty": ("status", "instance_id", "unknown-instance-refused"),
    "error-body-renamed": ("error-body", "/error_msg", "response_schema_conformance"),
    "error-as-text": ("content-type", "Content-Type", "content_type_conformance"),
    "json-as-html": ("content-type", "Content-Type", "content_type_conformance"),
    "truncated-body": ("transport", "body", "response_schema_conformance"),
    "offset-ignored": ("paging", "offset", "pages-partition"),
    "one-based-offset": ("paging", "offset", "pages-partition"),
    "limit-ignored": ("paging", "/backup_record_response", "page-size"),
    "total-is-page-size": ("paging", "/total_num", "total-independent-of-paging"),
    "past-end-repeats-last-page": ("paging", "offset", "past-end-empty"),
    "total-counts-from-offset": ("paging", "/total_num", "total-stable-through-walk"),
    "later-pages-empty": ("paging", "offset", "no-empty-page-before-total"),
    "other-instance-leaks": ("paging", "/backup_record_response/*/instance_id", "record-of-path-instance"),
    "empty-instance-not-empty": ("paging", "instance_id", "empty-instance-empty"),
    "window-ignored": ("window", "/backup_record_response/*/created_at", "window-contains"),
    "window-end-exclusive": ("window", "begin_time,end_time", "adjacent-windows-add-up"),
    "window-on-updated-at": ("window", "begin_time,end_time", "window-complete"),
    "window-in-local-time": ("window", "begin_time,end_time", "window-complete"),
    "one-second-window-unbounded": ("window", "begin_time,end_time", "narrower-window-not-more"),
    "served-without-credentials": ("auth", "Authorization", "unauthenticated_refused"),
    "body-with-bom": ("wire", "body", "no-bom"),
    "body-in-gb18030": ("wire", "body", "utf-8"),
    "charset-gb18030": ("wire", "Content-Type", "charset-utf-8"),
    "lone-surrogate-in-remark": ("wire", "/backup_record_response/*/remark", "no-lone-surrogate"),
    "size-as-nan": ("wire", "/backup_record_response/*/size", "no-non-finite"),
    "status-key-twice": ("wire", "/backup_record_response/*/status", "no-duplicate-key"),
    "data-after-body": ("wire", "body", "no-trailing-data"),
    "total-with-fraction": ("wire", "/total_num", "integer-written-as-integer"),
    "size-past-int64": ("wire", "/backup_record_response/*/size", "integer-within-format"),
    "period-nested-deep": ("wire", "body", "depth-within-decoders"),
    "size-of-1001-digits": ("wire", "/backup_record_response/*/size", "number-length-within-decoders"),
}

# Switches that more than one invariant catches: (switch, another check that must fire).
ALSO_CAUGHT = [
    ("window-ignored", "window-complete"),
    ("one-second-window-unbounded", "adjacent-windows-add-up"),
    ("one-second-window-unbounded", "window-contains"),
    ("offset-ignored", "past-end-empty"),
    ("total-is-page-size", "page-size"),
    ("total-counts-from-offset", "total-independent-of-paging"),
    ("later-pages-empty", "pages-partition"),
]

# What some switches break, by consumer id (x-consumers): the way consumers page, and what
# their parsers forgive. The others must name their consumers too, or say that none relies on it.
EVERY_CONSUMER = {"terraform-data-source", "terraform-resource", "sdk-go", "sdk-python", "sdk-java", "cloudmux"}
BREAKS = {
    # The Terraform data source loops forever on an early empty page, stops early on a moving total.
    "later-pages-empty": {"terraform-data-source", "terraform-resource", "cloudmux"},
    "total-counts-from-offset": {"terraform-data-source", "terraform-resource", "cloudmux"},
    # The SDKs' enums keep an unknown status: parsing holds, every switch on it breaks.
    "status-past-tense": EVERY_CONSUMER,
    # A type each reads differently: a typed schema field, a strict model, int() of the string.
    "size-as-string": EVERY_CONSUMER,
    # Every SDK field is optional; Terraform and cloudmux show the backup with an empty id.
    "missing-backup-id": {"terraform-data-source", "terraform-resource", "cloudmux"},
    "truncated-body": EVERY_CONSUMER,
    # Every consumer ignores fields it does not know, and reads an absent array as empty.
    "extra-field": set(),
    "empty-as-null": set(),
    "served-without-credentials": set(),
    # On the wire, each decoder as its code reads (x-consumers' decoder): Go's refuse a byte order
    # mark, OkHttp and simplejson skip it; only the Python SDK reads past the value; ...
    "body-with-bom": {"terraform-data-source", "terraform-resource", "sdk-go", "cloudmux"},
    "body-in-gb18030": EVERY_CONSUMER,
    # ... the Python and Java SDKs decode the charset named, the Go consumers ignore it; ...
    "charset-gb18030": {"terraform-data-source", "terraform-resource", "sdk-go", "cloudmux"},
    "lone-surrogate-in-remark": EVERY_CONSUMER,
    "size-as-nan": EVERY_CONSUMER,
    "status-key-twice": EVERY_CONSUMER,
    "data-after-body": {"sdk-python"},
    # ... only jsoniter refuses 57.0; the others read a whole number right, and cut a fraction; ...
    "total-with-fraction": {"sdk-go"},
    "size-past-int64": {"terraform-data-source", "terraform-resource", "sdk-go", "sdk-java", "cloudmux"},
    # ... Jackson and simplejson stop at 1000 levels, Go's decoders at 10000; Jackson at 1000 digits.
    "period-nested-deep": {"sdk-python", "sdk-java"},
    "size-of-1001-digits": {"terraform-data-source", "terraform-resource", "sdk-java", "cloudmux"},
}


def _run(tmp_path: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", "--report-dir", str(tmp_path), *flags], env={})
    return code, json.loads((tmp_path / "report.json").read_text())


Runs = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """``runs(*flags)``: the exit code and report of ``dcs-contract run *flags``, run once per module.

    For the tests that read different findings of the same (seeded) run.
    """
    done: dict[tuple[str, ...], tuple[int, dict[str, Any]]] = {}

    def run(*flags: str) -> tuple[int, dict[str, Any]]:
        if flags not in done:
            done[flags] = _run(tmp_path_factory.mktemp("run"), *flags)
        return done[flags]

    return run


def test_every_switch_has_a_test_and_every_kind_of_drift_has_a_switch() -> None:
    assert set(CAUGHT_AS) == set(DRIFTS)
    assert len(DRIFTS) >= 20
    kinds = {drift.category for drift in DRIFTS.values()}
    assert kinds >= {
        "schema",
        "enum",
        "type",
        "status",
        "error-body",
        "content-type",
        "paging",
        "window",
        "auth",
        "wire",
    }
    assert "transport" in kinds


def test_every_wire_rule_has_a_switch_that_catches_it() -> None:
    caught = {check for category, _, check in CAUGHT_AS.values() if category == "wire"}
    assert caught == set(WIRE_RULES)
    assert {name for name, drift in DRIFTS.items() if drift.category == "wire"} <= set(BREAKS)


def test_every_invariant_of_the_spec_is_checked_and_caught_by_a_switch(spec: Spec) -> None:
    assert set(INVARIANTS) == set(spec.invariants)
    caught = {check for _, _, check in CAUGHT_AS.values()} | {check for _, check in ALSO_CAUGHT}
    assert set(spec.invariants) <= caught


# The promise: with the budget a small quota allows, every switch is still caught.
SMALL_BUDGET = 40


@pytest.mark.slow
@pytest.mark.parametrize("switch", sorted(DRIFTS))
def test_every_switch_is_caught_within_40_requests_and_names_the_field_or_parameter(
    switch: str, tmp_path: Path, spec: Spec
) -> None:
    code, report = _run(tmp_path, "--mock-drift", switch, "--max-requests", str(SMALL_BUDGET), "--seed", "1")
    found = {(f["category"], f["location"], f["check"]): f for f in report["findings"]}
    assert code == 1, f"{switch} was not caught within {SMALL_BUDGET} requests"
    assert CAUGHT_AS[switch] in found, set(found)
    assert report["requests"]["total"] <= SMALL_BUDGET
    assert 1 <= found[CAUGHT_AS[switch]]["first_seen"] <= report["requests"]["total"]
    consumers = found[CAUGHT_AS[switch]]["consumers"]
    names = {consumer.name: consumer.id for consumer in Consumers.of(spec).consumers}
    named = {names[entry["consumer"]] for entry in consumers if entry["consumer"] != NO_KNOWN_CONSUMER}
    nobody = [{"consumer": NO_KNOWN_CONSUMER, "how": ""}]
    assert consumers == nobody or (named and len(named) == len(consumers)), consumers
    if switch in BREAKS:
        assert named == BREAKS[switch], consumers


@pytest.mark.slow
@pytest.mark.parametrize(("switch", "check"), ALSO_CAUGHT)
def test_semantic_invariants_catch_more_than_one_drift(switch: str, check: str, runs: Runs) -> None:
    _, report = runs("--mock-drift", switch, "--max-examples", "30", "--seed", "1")
    assert check in {f["check"] for f in report["findings"]}


@pytest.mark.slow
def test_a_semantic_finding_carries_only_the_requests_that_show_it(runs: Runs) -> None:
    _, report = runs("--mock-drift", "total-is-page-size", "--max-examples", "30", "--seed", "1")
    finding = next(f for f in report["findings"] if f["check"] == "total-independent-of-paging")
    assert len(finding["requests"]) == 2, "the two pages whose totals differ, nothing else"
    assert all(r["curl"].startswith('curl -sS -X GET -H "X-Auth-Token: $DCS_AUTH_TOKEN" ') for r in finding["requests"])
    assert "total_num" in finding["message"]


# (data seed, records): empty, one, around the default limit and the largest page, and 2,500.
SWEEP = [
    (1, 0),
    (2, 1),
    (3, 2),
    (4, 9),
    (5, 10),
    (6, 11),
    (7, 17),
    (8, 64),
    (9, 137),
    (10, 250),
    (11, 333),
    (12, 500),
    (13, 999),
    (14, 1000),
    (15, 1001),
    (16, 1234),
    (17, 1500),
    (18, 2000),
    (19, 2047),
    (20, 2500),
]


class Datasets:
    """The embedded mock of one dataset at a time, kept serving for the runs of each budget on it.

    The tests of a dataset's budgets come in a row: its mock starts once, not once per budget.
    """

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._key: tuple[int, int] | None = None
        self._serving = ExitStack()
        self._served: tuple[Target, MockState] | None = None

    def serve(self, *, records: int, seed: int) -> tuple[Target, MockState]:
        if self._served is None or self._key != (records, seed):
            self.close()
            mock = embedded_mock(self._spec, Target.from_env({}), records=records, seed=seed)
            self._served, self._key = self._serving.enter_context(mock), (records, seed)
        return self._served

    def close(self) -> None:
        self._serving.close()
        self._served = None


@pytest.fixture(scope="module")
def datasets(spec: Spec) -> Iterator[Datasets]:
    served = Datasets(spec)
    yield served
    served.close()


@pytest.mark.slow
@pytest.mark.parametrize("budget", [40, 120, 600])
@pytest.mark.parametrize(("seed", "records"), SWEEP, ids=[f"seed{s}-{n}records" for s, n in SWEEP])
def test_the_faithful_mock_conforms_over_many_datasets_under_any_budget(
    seed: int, records: int, budget: int, spec: Spec, datasets: Datasets
) -> None:
    """A small budget is a plan, not a guillotine: the run ends on its verdict, within the budget at the mock."""
    target = Target.from_env({})
    # The live defaults (100 examples, no shrinking), the budget aside: what a team's staging run does.
    settings = RunSettings.for_target(target, **{**RunSettings.LIVE_DEFAULTS, "rate_limit": None}, seed=seed)
    settings = replace(settings, max_requests=budget)
    mock_target, state = datasets.serve(records=records, seed=seed)
    before = len(state.requests())
    report = run_contract(spec, mock_target, settings)
    # What the mock saw of this run: the runs of the dataset's other budgets came before it.
    seen = state.requests()[before:]
    assert (report.verdict, report.findings, report.error, report.stopped) == ("conforms", (), None, None)
    assert len(seen) <= budget
    assert len(seen) == report.requests.total
    if budget == 600:
        assert report.skipped == {}
        assert report.cases["time-windows"] > 0 and report.cases["page-walk"] > 0


def test_a_semantic_finding_is_shrunk_to_a_simpler_request_sequence(spec: Spec) -> None:
    """Explored alone (no probe), the seed shows the drift through a windowed query; shrinking drops the window."""
    target = Target.from_env({})
    shown: dict[bool, list[str]] = {}
    for shrink in (False, True):
        settings = replace(RunSettings.for_target(target, max_examples=30, seed=2), shrink=shrink)
        with embedded_mock(spec, target, drifts=("total-is-page-size",)) as (mock, _state):
            assert mock.base_url is not None and mock.project_id is not None
            auth = mock.credentials.auth(mock.project_id)
            with build_client(mock.base_url, auth=auth, guard=guarded(settings), timeout=10) as client:
                run = ContractRun(spec, mock, settings, client, RunLog(spec))
                PROPERTIES["paging-total"].run_exploration(run, settings.max_requests)
        finding = next(f for f in run.log.findings if f.check == "total-independent-of-paging")
        shown[shrink] = [request.url for request in finding.requests]
    assert len(shown[True]) == 2
    assert not any("begin_time" in url for url in shown[True]), shown[True]
    assert sum(map(len, shown[True])) < sum(map(len, shown[False])), shown


def test_a_dataset_larger_than_the_largest_page_is_walked_at_the_largest_limit(spec: Spec) -> None:
    target = Target.from_env({})
    settings = RunSettings.for_target(target, max_examples=30, seed=1)
    with embedded_mock(spec, target, records=2500) as (mock_target, state):
        report = run_contract(spec, mock_target, settings, properties=["page-walk"])
    assert report.verdict == "conforms"
    sent = [entry.query for entry in state.requests()]
    assert "limit=1000&offset=1000" in sent, "the unfiltered walk goes past the first page of 1000"
    assert not [query for query in sent if "limit=" in query and int(query.split("limit=")[1].split("&")[0]) > 1000]
