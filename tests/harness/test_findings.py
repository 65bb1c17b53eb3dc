"""Findings a baseline cannot over-accept, and responses that cannot crash a run.

Most tests here hand the run a response of their making through an in-process transport
(``httpx.MockTransport``): the run checks it as it checks any target's answer. The others
serve hostile bodies from the embedded mock on loopback and run the suite end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis import Response as CheckedResponse

from dcs_contract.contract import checks
from dcs_contract.contract import invariants as rules
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import NO_KNOWN_CONSUMER, NOBODY, ConsumerImpact, Finding, RequestInfo
from dcs_contract.contract.formats import dcs_timestamp_format, is_dcs_timestamp, parse_record_time, record_time_form
from dcs_contract.contract.invariants import Invariants, Page, Walk
from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.engine.operation import Operation
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.run import CHECKED_BY, ContractRun, RunLog
from dcs_contract.engine.suite import run_contract
from dcs_contract.errors import ResponseTooLarge
from dcs_contract.mock import MockServer, MockState, ServiceAnswer, create_app, generate_records
from dcs_contract.mock.service import ServiceCall
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import write_reports
from dcs_contract.settings.target import Credentials, RunSettings, Target
from dcs_contract.transport.guard import GuardedTransport

Handler = Callable[[httpx.Request], httpx.Response]
RECORDS = "/backup_record_response/*"
DEEP = 100_000


def _records(spec: Spec, count: int = 3) -> list[dict[str, Any]]:
    """Valid records of instance "i", as the mock makes them from the spec."""
    return generate_records(spec, instance_id="i", count=count, seed=5)


def _page(*records: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {"total_num": len(records) if total is None else total, "backup_record_response": list(records)}


def _answering(body: Any, status: int = 200, content_type: str = "application/json") -> Handler:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: httpx.Response(status, content=content, headers={"Content-Type": content_type})


@pytest.fixture
def fake_run(spec: Spec) -> Iterator[Callable[[Handler], ContractRun]]:
    """A run whose target is ``handler``, called in process for each request through the guarded transport."""
    clients: list[httpx.Client] = []

    def make(handler: Handler) -> ContractRun:
        guard = GuardedTransport(httpx.MockTransport(handler), max_requests=100, rate_limit=None, retries=0)
        client = httpx.Client(base_url="http://dcs.test", transport=guard)
        clients.append(client)
        target = Target(base_url="http://dcs.test", project_id="p", instance_id="i")
        return ContractRun(spec, target, RunSettings(max_examples=3, seed=1), client, RunLog(spec))

    yield make
    for client in clients:
        client.close()


def _findings(run: ContractRun, **query: str) -> list[Finding]:
    """The findings of one page request."""
    run.page("test", dict(query))
    return list(run.log.findings)


def _at(findings: list[Finding], location: str) -> list[Finding]:
    return [finding for finding in findings if finding.location == location]


# -- one finding per field -----------------------------------------------------------


def test_each_unknown_field_is_its_own_finding_in_every_record(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    first, second, third = _records(spec)
    body = _page({**first, "backup_region": "cn-north-4", "zone": "az1"}, second, {**third, "tags": []})
    run = fake_run(_answering(body))
    findings = _findings(run)
    unknown = {f.location: f for f in findings if f.expected == "no property beyond those in the spec"}
    # The third record's field would hide behind the first's: schemathesis reports one failure per place in the schema.
    assert set(unknown) == {f"{RECORDS}/backup_region", f"{RECORDS}/zone", f"{RECORDS}/tags"}
    assert len({f.fingerprint for f in unknown.values()}) == 3
    assert {f.category for f in unknown.values()} == {"schema"}
    assert unknown[f"{RECORDS}/backup_region"].actual == '"cn-north-4"'


def test_a_field_named_with_control_characters_is_shown_with_them_as_escapes(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    """A raw ESC would colour a terminal and a NUL makes junit.xml invalid; a zero-width space, or an
    ESC in a terminal, would hide what it separates (a secret in pieces, to the eye whole)."""
    first, second, _ = _records(spec)
    body = _page({**first, "ab\x1b[mcd": 1, "\x00x": 2}, {**second, "ef\u200bgh": 3, "n/a~": 4})
    findings = _findings(fake_run(_answering(body)))
    unknown = {f.location: f for f in findings if f.expected == "no property beyond those in the spec"}
    assert set(unknown) == {
        f"{RECORDS}/ab\\x1b[mcd",
        f"{RECORDS}/\\x00x",
        f"{RECORDS}/ef\\u200bgh",
        f"{RECORDS}/n~1a~0",
    }
    assert unknown[f"{RECORDS}/ab\\x1b[mcd"].message.startswith("ab\\x1b[mcd is not a property")
    assert not any(char in f.location + f.message for f in findings for char in "\x1b\x00\u200b")


def test_each_missing_field_is_its_own_finding(spec: Spec, fake_run: Callable[[Handler], ContractRun]) -> None:
    first, second, _ = _records(spec)
    del first["backup_name"], first["instance_id"]
    del second["status"]
    body = _page(first, second)
    findings = _findings(fake_run(_answering(body)))
    missing = {f.location for f in findings if f.actual == "missing"}
    assert missing == {f"{RECORDS}/backup_name", f"{RECORDS}/instance_id", f"{RECORDS}/status"}


def test_an_enum_finding_is_fingerprinted_with_its_value(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    first, second, third = _records(spec)
    body = _page({**first, "status": "restoring"}, {**second, "status": "archived"}, {**third, "status": "restoring"})
    findings = _at(_findings(fake_run(_answering(body))), f"{RECORDS}/status")
    assert {(f.category, f.detail, f.actual) for f in findings} == {
        ("enum", '"restoring"', '"restoring"'),
        ("enum", '"archived"', '"archived"'),
    }
    # A baseline that accepts "restoring" does not accept "archived".
    assert len({f.fingerprint for f in findings}) == 2


def test_a_type_finding_names_the_json_type_seen(spec: Spec, fake_run: Callable[[Handler], ContractRun]) -> None:
    first, second, _ = _records(spec)
    body = _page({**first, "size": "880232"}, {**second, "size": True})
    findings = _at(_findings(fake_run(_answering(body))), f"{RECORDS}/size")
    seen = {f.detail: f for f in findings}
    assert set(seen) == {"string", "boolean"}
    assert seen["string"].actual == 'string "880232"'
    assert seen["boolean"].actual == "boolean true"
    assert {f.category for f in findings} == {"type"}
    assert seen["string"].fingerprint != seen["boolean"].fingerprint


def test_an_object_where_a_string_is_expected_does_not_break_the_invariants(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    """Unhashable backup_id and error_code values: the invariants leave those records out."""
    first, second, third = _records(spec)
    body = _page({**first, "backup_id": {"id": 1}}, {**second, "error_code": ["x"], "status": []}, third)
    run = fake_run(_answering(body))
    findings = _findings(run)
    assert {f"{RECORDS}/backup_id", f"{RECORDS}/error_code", f"{RECORDS}/status"} <= {f.location for f in findings}
    walk = [page for page in [run.page("test", {})] if page is not None]
    assert run.invariants.judge(rules.pages_partition, Walk(tuple(walk), complete=True)) == []
    assert run.log.evaluated["pages-partition"] == 1


def test_integers_past_their_openapi_format_are_findings(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    """int32 and int64, which schemathesis's validator does not know: the SDK's models overflow past them."""
    first, second, _ = _records(spec)
    body = _page({**first, "size": 2**63}, {**second, "size": 2**64}, total=2**31)
    findings = _findings(fake_run(_answering(body)))
    beyond = {f.location: f for f in findings if f.expected.startswith("format")}
    assert set(beyond) == {"/total_num", f"{RECORDS}/size"}
    assert beyond["/total_num"].expected == 'format "int32" as in the spec'
    assert beyond["/total_num"].actual == str(2**31)
    # The Go and Java SDKs' models overflow there; Terraform and cloudmux read the number.
    ids = {consumer.name: consumer.id for consumer in Consumers.of(spec).consumers}
    broken = {ids[impact.consumer] for impact in Consumers.of(spec).affected(beyond["/total_num"])}
    assert broken == {"sdk-go", "sdk-java"}


# -- record times --------------------------------------------------------------------


def test_a_record_time_without_a_zone_is_left_out_of_the_invariants(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    """The Terraform docs' form: read as a time, it would be compared with aware ones and crash."""
    records = [
        {**r, "created_at": "2026-11-19 00:49:22", "updated_at": "2000-01-01T00:00:00.000Z"} for r in _records(spec)
    ]
    body = _page(*records)
    run = fake_run(_answering(body))
    findings = _findings(run, begin_time="20261119000000", end_time="20261119235959")
    assert _at(findings, f"{RECORDS}/created_at"), "the schema finding names the field"
    assert not {"updated-not-before-created", "window-contains"} & {f.check for f in findings}
    assert run.log.evaluated["updated-not-before-created"] == run.log.evaluated["window-contains"] == 0
    _, not_evaluated = run.log.coverage()
    assert "time zone" in not_evaluated["updated-not-before-created"]
    assert "time zone" in not_evaluated["window-contains"]


def test_a_record_time_with_an_offset_is_the_instant_it_names(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    """08:00+08:00 is midnight UTC: an update at 00:30Z comes after it, not before, as the clocks alone say."""
    first, second, _ = _records(spec)
    later = {**first, "created_at": "2024-01-01T08:00:00.000+08:00", "updated_at": "2024-01-01T00:30:00.000Z"}
    earlier = {**second, "created_at": "2024-01-01T08:00:00.000+08:00", "updated_at": "2023-12-31T23:00:00.000Z"}
    body = _page(later, earlier)
    run = fake_run(_answering(body))
    findings = _findings(run)
    assert _at(findings, f"{RECORDS}/created_at"), "the offset is still drift from the spec's form"
    broken = [f for f in findings if f.check == "updated-not-before-created"]
    assert len(broken) == 1 and earlier["backup_id"] in broken[0].actual and later["backup_id"] not in broken[0].actual


@pytest.mark.parametrize(
    ("value", "form"),
    [
        ("2026-11-19 00:49:22", "looks like `YYYY-MM-DD hh:mm:ss` without a zone"),
        ("2024-01-01T08:00:00.000+08:00", "carries offset +08:00 instead of Z"),
        ("2024-01-01T08:00:00Z", "looks like `YYYY-MM-DDThh:mm:ssZ`: no milliseconds"),
        ("2024-01-01T08:00:00.123456Z", "6 fractional digits instead of 3"),
        ("20240101080000", "the query's form"),
        ("1704096000", "epoch seconds"),
    ],
)
def test_a_record_time_in_another_form_is_reported_with_the_form_it_has(
    spec: Spec, fake_run: Callable[[Handler], ContractRun], value: str, form: str
) -> None:
    """The sources disagree on the form (the spec's x-alternatives): the finding says which one came."""
    first, second, _ = _records(spec)
    run = fake_run(_answering(_page({**first, "created_at": value}, second)))
    findings = _at(_findings(run), f"{RECORDS}/created_at")
    assert [(f.category, f.actual.startswith(json.dumps(value))) for f in findings] == [("schema", True)]
    assert form in findings[0].actual and form in findings[0].message
    assert findings[0].detail == "", "the form is said, not fingerprinted: a baseline entry keeps matching"
    # cloudmux parses the time with a reader of a fixed list of forms: the one consumer a form breaks.
    assert [impact.consumer for impact in Consumers.of(spec).affected(findings[0])] == [
        consumer.name for consumer in Consumers.of(spec).consumers if consumer.id == "cloudmux"
    ]


def test_the_form_of_a_time_is_named_whatever_the_value() -> None:
    assert record_time_form("2024-01-01") == "looks like a date, `YYYY-MM-DD`, without a time"
    assert record_time_form("2023-02-31T00:00:00.000Z").endswith("but is not a real calendar time")
    for odd in ("", "soon", "\uff12\uff10\uff12\uff14-01-01", "9" * 40, None, 5, {"at": 1}):
        assert isinstance(record_time_form(odd), str)


def test_record_times_are_read_strictly() -> None:
    assert parse_record_time("2024-01-01T08:00:00.000+08:00") == parse_record_time("2024-01-01T00:00:00.000Z")
    for unreadable in ("2026-11-19 00:49:22", "2026-11-19", "0001-01-01T00:00:00+01:00", 5, None, ["x"]):
        with pytest.raises(ValueError):
            parse_record_time(unreadable)


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()), st.text(max_size=60))
)
def test_a_record_second_read_twice_reads_the_same_whatever_its_length(value: str) -> None:
    """Remembered up to the length of a time, read afresh past it: the same second, or None, either way."""
    try:
        expected: datetime | None = parse_record_time(value).replace(microsecond=0)
    except ValueError:
        expected = None
    assert rules.record_second(value) == expected == rules.record_second(value)


def test_a_record_time_longer_than_those_remembered_is_still_read() -> None:
    long = "2019-05-10T08:31:16.123456789012345678901+00:00"  # 47 characters: read afresh each time
    assert rules.record_second(long) == parse_record_time(long).replace(microsecond=0) == rules.record_second(long)
    assert rules.record_second(long + "x") is None


def test_the_timestamp_predicate_is_strict_and_the_schema_format_is_not() -> None:
    assert not is_dcs_timestamp(5)
    assert not is_dcs_timestamp(None)
    assert is_dcs_timestamp("20240229235959")
    # JSON Schema's rule: a format constrains strings only; the type keyword judges the rest.
    assert dcs_timestamp_format(5)
    assert not dcs_timestamp_format("20230231000000")


# -- walking the pages ---------------------------------------------------------------


def _walked(offset: int, total: int, entries: int, status: int = 200) -> Page:
    """A page of a walk at ``offset`` that says ``total_num`` ``total`` and lists ``entries`` records."""
    url = f"http://dcs.test/v2/p/instances/i/backups?limit=10&offset={offset}"
    records = tuple({"backup_id": f"b{offset + n}"} for n in range(entries))
    return Page(status, total, entries, records, 10, offset, None, None, "i", RequestInfo(method="GET", url=url), "")


@pytest.mark.parametrize(
    ("walk", "broken"),
    [
        ([_walked(0, 25, 10), _walked(10, 25, 10), _walked(20, 25, 5)], None),
        ([_walked(0, 25, 10), _walked(10, 24, 10)], "24 at offset 10"),
        ([_walked(0, 25, 10), _walked(10, 25, 10), _walked(20, 26, 5)], "26 at offset 20"),
        # A 204 has no total_num to compare; its emptiness is the other rule's.
        ([_walked(0, 25, 10), _walked(10, 0, 0, status=204)], None),
    ],
)
def test_total_num_holds_still_through_a_walk(spec: Spec, walk: list[Page], broken: str | None) -> None:
    findings = Invariants(spec).judge(rules.total_stable_through_walk, Walk(tuple(walk), complete=False))
    assert [f.actual for f in findings] == ([broken] if broken else [])
    assert all(f.location == "/total_num" and len(f.requests) == 2 for f in findings)


@pytest.mark.parametrize(
    ("walk", "broken"),
    [
        ([_walked(0, 25, 10), _walked(10, 25, 10), _walked(20, 25, 5)], None),
        ([_walked(0, 25, 10), _walked(10, 25, 0)], "records at offset 10, below total_num 25"),
        ([_walked(0, 25, 10), _walked(10, 0, 0, status=204)], "records at offset 10, below total_num 25"),
        ([_walked(0, 3, 0)], "records at offset 0, below total_num 3"),
        # At the end the page is empty by right: past-end-empty judges what comes there.
        ([_walked(0, 10, 10), _walked(10, 10, 0)], None),
        # Held to the total the client last read: once it falls (total-stable's finding), this is the end.
        ([_walked(0, 25, 10), _walked(10, 10, 10), _walked(20, 10, 0)], None),
    ],
)
def test_no_page_before_the_total_is_empty(spec: Spec, walk: list[Page], broken: str | None) -> None:
    findings = Invariants(spec).judge(rules.no_empty_page_before_total, Walk(tuple(walk), complete=False))
    assert [f.expected for f in findings] == ([broken] if broken else [])
    assert all(f.location == "offset" and f.requests[-1].url.endswith(f"offset={walk[-1].offset}") for f in findings)


# -- what a finding breaks ------------------------------------------------------------


def test_a_finding_carries_its_consumers_through_report_json_but_not_in_its_fingerprint() -> None:
    finding = Finding(
        check="no-empty-page-before-total",
        category="paging",
        title="t",
        message="m",
        location="offset",
        expected="e",
        actual="a",
        consumers=(
            ConsumerImpact("Terraform data source x", "loops forever"),
            ConsumerImpact("cloudmux", "stops early"),
        ),
    )
    written = json.loads(json.dumps(finding.as_dict()))
    assert written["consumers"] == [
        {"consumer": "Terraform data source x", "how": "loops forever"},
        {"consumer": "cloudmux", "how": "stops early"},
    ]
    assert Finding.from_dict(written).consumers == finding.consumers
    # A report written before consumers were typed gave each as one text: read whole, never split.
    legacy = Finding.from_dict({**written, "consumers": ["cloudmux: stops early"]})
    assert legacy.consumers == (ConsumerImpact("cloudmux: stops early"),)
    assert Finding.from_dict(written) == finding
    assert finding.fingerprint == replace(finding, consumers=()).fingerprint
    assert finding.consumer_names == ("Terraform data source x", "cloudmux")
    assert replace(finding, consumers=(NOBODY,)).consumer_names == (NO_KNOWN_CONSUMER,)
    assert Finding.from_dict({k: v for k, v in written.items() if k != "consumers"}).consumers == ()
    impact = ConsumerImpact("x", "a secret-value-1234 here")
    scrubbed = replace(finding, consumers=(impact,)).scrubbed(Scrubber(["secret-value-1234"]))
    assert "secret-value-1234" not in str(scrubbed.consumers[0])


# -- bodies nothing can read ---------------------------------------------------------


def test_a_value_nested_deeper_than_schemathesis_validates_is_still_named(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    first, *_ = _records(spec)
    content = json.dumps(_page({**first, "period": "PERIOD"})).encode().replace(b'"PERIOD"', b"[" * 300 + b"]" * 300)
    run = fake_run(_answering(content))
    findings = _findings(run)
    assert [(f.category, f.detail) for f in _at(findings, f"{RECORDS}/period")] == [("type", "array")]


def test_json_nested_100000_deep_on_a_200_is_a_finding_not_a_crash(fake_run: Callable[[Handler], ContractRun]) -> None:
    run = fake_run(_answering(b"[" * DEEP + b"]" * DEEP))
    assert run.page("test", {}) is None
    assert [(f.category, f.actual) for f in _at(list(run.log.findings), "body")] == [
        ("schema", "JSON nested too deep to read"),
        ("wire", "nested 10001 deep, the deepest at byte 10000"),  # past every decoder's limit, read no deeper
    ]


def test_json_nested_100000_deep_on_the_probe_s_401_is_a_finding_not_a_crash(
    fake_run: Callable[[Handler], ContractRun],
) -> None:
    run = fake_run(_answering(b"[" * DEEP + b"]" * DEEP, 401))
    PROPERTIES["auth-probe"](run)
    assert [(f.category, f.location, f.actual) for f in run.log.findings] == [
        ("error-body", "body", "JSON nested too deep to read"),
        ("wire", "body", "nested 10001 deep, the deepest at byte 10000"),
    ]


def _serving(spec: Spec, served: Callable[[ServiceCall, ServiceAnswer], ServiceAnswer]) -> MockState:
    state = MockState.default(spec, records=20)
    state.served = served
    return state


def test_deep_bodies_on_a_200_and_on_the_probe_s_401_end_in_a_report(spec: Spec, tmp_path: Path) -> None:
    deep = b"[" * DEEP + b"]" * DEEP
    # Every answer, the probe's 401 included; a 204 carries no body, so it becomes a 200.
    state = _serving(spec, lambda call, answer: ServiceAnswer(401 if answer.status == 401 else 200, raw=deep))
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, max_examples=2, seed=3), shrink=False)
    with MockServer(create_app(state)) as server:
        live = Target(server.base_url, state.project_id, state.instance_id, credentials=_credentials(state))
        report = run_contract(spec, live, settings, properties=["auth-probe", "schema-positive", "paging-total"])
    write_reports(report, tmp_path, scrubber=Scrubber())
    assert (report.error, report.crash) == (None, None)
    unreadable = {(f.category, f.status) for f in report.findings if f.location == "body"}
    assert {("schema", 200), ("error-body", 401)} <= unreadable
    assert report.skipped["paging-total"].startswith("the unfiltered listing was not a readable page")
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "violations"


def test_naive_record_times_from_a_target_end_in_a_report(spec: Spec, tmp_path: Path) -> None:
    """The crash the issue saw: created_at as the Terraform docs write it, through every semantic property."""

    def naive(call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status != 200 or answer.body is None:
            return answer
        records = [
            {**r, "created_at": r["created_at"][:19].replace("T", " ")} for r in answer.body["backup_record_response"]
        ]
        return replace(answer, body={**answer.body, "backup_record_response": records})

    state = _serving(spec, naive)
    settings = replace(RunSettings.for_target(Target.from_env({}), max_examples=5, seed=3), shrink=False)
    with MockServer(create_app(state)) as server:
        live = Target(server.base_url, state.project_id, state.instance_id, credentials=_credentials(state))
        report = run_contract(spec, live, settings, properties=["schema-positive", "page-walk", "time-windows"])
    write_reports(report, tmp_path, scrubber=Scrubber())
    assert (report.error, report.crash) == (None, None)
    assert {(f.check, f.location) for f in report.findings} == {
        ("response_schema_conformance", f"{RECORDS}/created_at")
    }, "the records are still walked and windowed; only the time that names no instant is left out"
    assert report.cases["time-windows"] > 0


def _credentials(state: MockState) -> Credentials:
    creds = state.credentials
    return Credentials(access_key=creds.access_key, secret_key=creds.secret_key, origin="the test's mock")


# -- a body over the cap -------------------------------------------------------------


def _too_large(status: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise ResponseTooLarge("too large", request=request, status_code=status, limit=1024)

    return handler


def test_a_body_over_the_cap_is_a_finding_and_the_property_goes_on(
    fake_run: Callable[[Handler], ContractRun],
) -> None:
    run = fake_run(_too_large(200))
    PROPERTIES["schema-positive"](run)
    # The survey (its probe), then the 3 drawn cases: each a finding, none a crash.
    assert run.log.cases == {"schema-positive": 4}
    [finding] = list(run.log.findings)
    assert run.log.findings.occurrences[finding.fingerprint] == 4
    assert (finding.category, finding.location, finding.expected, finding.actual, finding.status) == (
        "transport",
        "body",
        "a body of at most 1024 bytes",
        "over 1024 bytes",
        200,
    )
    assert finding.requests[0].url.startswith("http://dcs.test/v2/p/instances/")


def test_a_body_over_the_cap_on_the_auth_probe_still_judges_its_status(
    fake_run: Callable[[Handler], ContractRun],
) -> None:
    run = fake_run(_too_large(200))
    PROPERTIES["auth-probe"](run)
    assert {(f.category, f.location, f.actual) for f in run.log.findings} == {
        ("transport", "body", "over 1024 bytes"),
        ("auth", "Authorization", "200"),
    }
    refused = fake_run(_too_large(401))
    PROPERTIES["auth-probe"](refused)
    assert {(f.category, f.location) for f in refused.log.findings} == {("transport", "body")}


# -- what ran ------------------------------------------------------------------------


def test_coverage_says_what_ran_and_why_the_rest_did_not(
    spec: Spec, fake_run: Callable[[Handler], ContractRun]
) -> None:
    body = _page(*_records(spec))
    run = fake_run(_answering(body))
    PROPERTIES["empty-instance"](run)
    run.page("x", {})
    evaluated, not_evaluated = run.log.coverage()
    assert evaluated["response_schema_conformance"] == 1
    assert evaluated["page-size"] == 1
    assert set(evaluated) | set(not_evaluated) == {*checks.CHECK_NAMES, *spec.invariants}
    assert not set(evaluated) & set(not_evaluated)
    assert (
        not_evaluated["empty-instance-empty"]
        == "empty-instance skipped: no empty instance configured (DCS_EMPTY_INSTANCE_ID)"
    )
    assert not_evaluated["pages-partition"] == "page-walk did not run"
    assert not_evaluated["window-contains"] == "no page was read for a time window"


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_a_property_evaluates_only_what_it_declares(name: str, spec: Spec) -> None:
    """CHECKED_BY is what coverage reasons from: it must hold for what each property really does."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, max_examples=3, seed=1), shrink=False)
    state = MockState.default(spec, records=30)
    with MockServer(create_app(state)) as server:
        live = Target(
            server.base_url, state.project_id, state.instance_id, state.empty_instance_id, _credentials(state)
        )
        client = httpx.Client(base_url=server.base_url, auth=live.credentials.auth(state.project_id))
        with client:
            run = ContractRun(spec, live, settings, client, RunLog(spec))
            PROPERTIES[name](run)
    evaluated, _ = run.log.coverage()
    assert evaluated, f"{name} evaluated nothing"
    assert set(evaluated) <= set(CHECKED_BY[name])


# -- the response as schemathesis's checks read it -------------------------------------------

SPEC = load_spec()
_PATH = {"project_id": "p", "instance_id": "i"}
_bodies = st.one_of(
    st.lists(st.sampled_from(_records(SPEC)), max_size=3).map(lambda records: json.dumps(_page(*records))),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    ).map(json.dumps),
).map(str.encode) | st.binary(max_size=40)
_cases = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]).flatmap(
    lambda mode: Operation.of(SPEC).cases(mode, path_parameters=_PATH)
)


@dataclass
class _Answer:
    """What the target answers next: set by each example."""

    status: int = 200
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A stream, as a socket gives: the client times the exchange when it is read to the end.
        return httpx.Response(self.status, stream=httpx.ByteStream(self.content), headers=self.headers)


@dataclass
class _AnsweredRun:
    """A run whose target answers what the example sets, through the run's own guarded client."""

    run: ContractRun
    answer: _Answer

    def __repr__(self) -> str:  # hypothesis shows it with a failing example: not the whole spec
        return "answered_run"


@pytest.fixture(scope="module")
def answered_run() -> Iterator[_AnsweredRun]:
    answer = _Answer()
    guard = GuardedTransport(httpx.MockTransport(answer), max_requests=100_000, rate_limit=None, retries=0)
    with httpx.Client(base_url="http://dcs.test", transport=guard) as client:
        target = Target(base_url="http://dcs.test", project_id="p", instance_id="i")
        yield _AnsweredRun(ContractRun(SPEC, target, RunSettings(max_examples=1, seed=1), client, RunLog(SPEC)), answer)


def _failures(case: Case[Any], response: httpx.Response | CheckedResponse) -> list[tuple[str, str]]:
    """What schemathesis's response checks say of ``response``: each failure's kind and message."""
    try:
        case.validate_response(response, checks=list(checks.RESPONSE_CHECKS))
    except BaseExceptionGroup as group:
        return sorted((type(failure).__name__, str(failure)) for failure in group.exceptions)
    except Exception as exc:
        return [(type(exc).__name__, str(exc))]
    return []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Not 401 or 403: the guard ends a run on those before any check reads them.
    status=st.sampled_from([200, 204, 400, 404, 500]),
    content=_bodies,
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/html", ""]),
    case=_cases,
)
def test_the_checks_read_the_request_as_sent_and_judge_as_with_schemathesis_s_own_conversion(
    answered_run: _AnsweredRun, status: int, content: bytes, content_type: str, case: Case[Any]
) -> None:
    """``checked_response`` replaces schemathesis's ``Response.from_any``, which prepares the sent
    request again: its request is the one the run sent, and every check comes to the same outcome,
    with the same message."""
    run, answer = answered_run.run, answered_run.answer
    answer.status, answer.content = status, content
    answer.headers = {"Content-Type": content_type} if content_type else {}
    response = run.send("test", case)
    assert isinstance(response, httpx.Response)
    checked = checks.checked_response(response)
    sent = response.request
    assert (checked.request.method, checked.request.url, checked.request.body) == ("GET", str(sent.url), None)
    assert dict(checked.request.headers) == dict(sent.headers)
    assert (checked.status_code, checked.content) == (status, content)
    assert _failures(case, checked) == _failures(case, response)


def test_a_response_no_check_can_read_is_a_finding_of_each_check(spec: Spec) -> None:
    """Built by hand, never sent: it has no ``elapsed``, and the checks' conversion raises. ``validate`` does not."""
    request = httpx.Request("GET", "http://dcs.test/v2/p/instances/i/backups")
    response = httpx.Response(200, content=b"{}", request=request)
    case = Operation.of(spec).case(path_parameters=_PATH, query={})
    found = checks.validate(spec, case, response, checks.ERROR_BODY_CHECKS)
    assert sorted(finding.check for finding in found) == sorted(checks.check_names(checks.ERROR_BODY_CHECKS))
