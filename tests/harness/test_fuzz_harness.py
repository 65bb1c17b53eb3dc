"""The harness fuzzed: whatever body a target sends, a run ends in a report that names what is wrong.

One embedded mock serves, for the whole module, the bodies hypothesis hands it
(``MockState.served``). Each body is one small run of the suite (``run_contract``, a couple
of properties, one example each) written to reports, as ``dcs-contract run`` would:

- a valid page of the mock's data with ONE field replaced by a value the spec refuses (other
  time formats, offsets, nulls, numbers as strings, objects, lone surrogates, deep nesting):
  a finding must name that field;
- arbitrary JSON, as the whole body of every answer, the probe's 401 included;
- bytes that are not JSON, under several content types.

No exception may escape a run (``run_contract`` turns one into the report's ``crash``), and
every run must write its three reports. Together the
three tests serve more than 500 bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dcs_contract.contract.spec import load_spec
from dcs_contract.engine.suite import run_contract
from dcs_contract.mock import MockServer, MockState, ServiceAnswer, create_app
from dcs_contract.mock.service import ServiceCall
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RunReport, write_reports
from dcs_contract.settings.target import Credentials, RunSettings, Target
from dcs_contract.transport.guard import GuardedTransport

# Hundreds of small runs, tens of seconds in all: -m 'not slow' leaves them out of a quick loop.
pytestmark = pytest.mark.slow
SPEC = load_spec()
Served = Callable[[ServiceCall, ServiceAnswer], ServiceAnswer]
# Nested this deep, JSON is beyond any reader of this Python (its recursion limit is 1000):
# only the body as a whole can be named. Up to a few hundred levels, the field must be.
_READABLE_DEPTH = 300
_UNREADABLE_DEPTHS = (2_000, 100_000)
_PLACEHOLDER = "\x00replaced\x00"
FUZZ = settings(
    deadline=None,
    database=None,
    # Each example is a whole run, which uses hypothesis itself.
    suppress_health_check=[HealthCheck.nested_given, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# Statuses a target may answer with that the transport hands on at once (no retry).
_STATUSES = st.sampled_from([200, 200, 400, 500])


# -- the target ------------------------------------------------------------------------


@dataclass
class Harness:
    """The mock, the body it serves now, and a run against it."""

    state: MockState
    target: Target
    inner: httpx.BaseTransport
    reports: Path
    runs: int = 0

    def run(self, served: Served, properties: list[str], seed: int) -> RunReport:
        self.state.served = served
        # A guard per run (its own small budget) over one connection pool for the module.
        guard = GuardedTransport(self.inner, max_requests=40, rate_limit=None, retries=0, shared=True, deadline=10.0)
        run_settings = RunSettings.for_target(Target.from_env({}), max_examples=1, seed=seed)
        report = run_contract(
            SPEC, self.target, replace(run_settings, shrink=False), properties=properties, guard=guard
        )
        # run_contract reports a bug of the harness as a crash instead of raising it: that is the escape.
        assert report.crash is None, report.crash
        written = write_reports(report, self.reports, scrubber=Scrubber())
        assert [path.name for path in written] == ["report.json", "report.md", "junit.xml"]
        assert all(path.stat().st_size > 0 for path in written)
        assert json.loads((self.reports / "report.json").read_text(encoding="utf-8"))["verdict"] == report.verdict
        self.runs += 1
        return report


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    state = MockState.default(SPEC, records=12)
    creds = state.credentials
    credentials = Credentials(access_key=creds.access_key, secret_key=creds.secret_key, origin="the fuzzed mock")
    inner = httpx.HTTPTransport()
    with MockServer(create_app(state)) as server:
        target = Target(server.base_url, state.project_id, state.instance_id, credentials=credentials)
        yield Harness(state, target, inner, tmp_path_factory.mktemp("fuzz-reports"))
    inner.close()


# -- values ----------------------------------------------------------------------------

_strings = st.text(max_size=12) | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | _strings
json_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3), max_leaves=6
)
# What a drifted target sends where the spec wants its forms.
odd_values = st.sampled_from(
    [
        "2026-11-19 00:49:22",  # the Terraform provider docs' created_at: no zone
        "2026-11-19T00:49:22",
        "2026-11-19T08:49:22+08:00",
        "2026-11-19T00:49:22.000+00:00",
        "2026-02-31T00:00:00.000Z",
        "0001-01-01T00:00:00.000+01:00",
        "9999-12-31T23:59:59.999-01:00",
        "20261119004922",
        "1563262896000",
        "880232",
        "100",
        "1e3",
        "-1",
        "NaN",
        "null",
        "true",
        "TRUE ",
        "",
        None,
        {},
        [],
        {"id": "x"},
        ["succeed"],
        True,
        -1,
        2**64,
        0.5,
        float("inf"),
    ]
)


@dataclass(frozen=True)
class Raw:
    """A JSON value as raw text: deep nesting is built as text, as no encoder can write it.

    ``readable``: whether a reader can get to the value at all. Nested thousands deep, or
    an integer of more digits than Python converts, it makes the whole body unreadable.
    """

    text: str
    readable: bool = True

    @classmethod
    def of(cls, value: Any) -> Raw:
        return cls(json.dumps(value))


def _nested(depth: int, opener: str) -> Raw:
    text = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "null" + "}" * depth
    return Raw(text, readable=depth <= _READABLE_DEPTH)


deep_values = st.builds(
    _nested, st.integers(1, _READABLE_DEPTH) | st.sampled_from(_UNREADABLE_DEPTHS), st.sampled_from("[{")
)
# 5,000 digits: JSON, but past the 4,300 that Python's int() converts.
_HUGE_INTEGER = Raw("9" * 5_000, readable=False)


def refused_by(schema: dict[str, Any]) -> st.SearchStrategy[Raw]:
    """Values the spec's schema for a field refuses: the replaced field must be a deviation."""
    valid = SPEC.validator(schema).is_valid
    return (
        (json_values | odd_values).filter(lambda value: not valid(value)).map(Raw.of)
        | deep_values
        | st.just(_HUGE_INTEGER)
    )


# -- one field replaced ------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """``name`` of the page (``in_record`` False) or of its ``index``-th record, replaced by ``value``."""

    name: str
    in_record: bool
    index: int
    value: Raw

    @property
    def pointer(self) -> str:
        return f"/backup_record_response/*/{self.name}" if self.in_record else f"/{self.name}"

    def named_by(self, location: str) -> bool:
        """A finding at ``location`` names the field (or a part of it), or the body when no reader gets to it."""
        if not self.value.readable:
            return location == "body"
        return location == self.pointer or location.startswith(self.pointer + "/")

    def __call__(self, call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status != 200 or answer.body is None:
            return answer
        body = dict(answer.body)
        if self.in_record:
            records = list(body["backup_record_response"])
            if not records:
                return answer
            index = self.index % len(records)
            records[index] = {**records[index], self.name: _PLACEHOLDER}
            body["backup_record_response"] = records
        else:
            body[self.name] = _PLACEHOLDER
        raw = json.dumps(body).replace(json.dumps(_PLACEHOLDER), self.value.text, 1)
        return replace(answer, body=None, raw=raw.encode())


_PAGE_FIELDS = {
    name: SPEC.resolve(schema) for name, schema in SPEC.component("ListBackupRecordsBody")["properties"].items()
}
replacements = st.one_of(
    *(
        st.builds(Replacement, st.just(name), st.just(False), st.just(0), refused_by(s))
        for name, s in _PAGE_FIELDS.items()
    ),
    *(
        st.builds(Replacement, st.just(name), st.just(True), st.integers(0, 11), refused_by(s))
        for name, s in SPEC.record_fields.items()
    ),
)


# What the issue saw, and the values most likely to break a reader, tried on every run.
_SEEN = [
    Replacement("created_at", True, 0, Raw.of("2026-11-19 00:49:22")),
    Replacement("updated_at", True, 3, Raw.of("2026-11-19T08:49:22+08:00")),
    Replacement("created_at", True, 1, Raw.of("0001-01-01T00:00:00.000+01:00")),
    Replacement("backup_id", True, 2, Raw.of({"id": "x"})),
    Replacement("error_code", True, 4, Raw.of(["dcs.08.0001"])),
    Replacement("status", True, 0, Raw.of("\udc80")),
    Replacement("remark", True, 0, Raw.of(float("nan"))),
    Replacement("period", True, 0, _nested(_READABLE_DEPTH, "{")),
    Replacement("total_num", False, 0, Raw.of(2**64)),
    Replacement("total_num", False, 0, _HUGE_INTEGER),
    Replacement("backup_record_response", False, 0, _nested(100_000, "[")),
]


def test_a_replaced_field_is_named_in_a_finding(harness: Harness) -> None:
    @settings(FUZZ, max_examples=260)
    @given(replacement=replacements, seed=st.integers(0, 2**16))
    def named(replacement: Replacement, seed: int) -> None:
        report = harness.run(replacement, ["schema-positive", "paging-total"], seed)
        assert report.error is None, report.error
        assert any(replacement.named_by(f.location) for f in report.findings), (
            replacement,
            sorted({f.location for f in report.findings}),
        )

    for seen in _SEEN:
        named = example(replacement=seen, seed=1)(named)
    before = harness.runs
    named()
    assert harness.runs - before >= 260 + len(_SEEN)


# -- whole bodies ------------------------------------------------------------------------


def _whole(status: int, content: bytes, content_type: str | None) -> Served:
    """Every answer replaced: the probe's 401 stays a 401, anything else gets ``status``."""

    def served(call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        return ServiceAnswer(401 if answer.status == 401 else status, raw=content, content_type=content_type)

    return served


def _refused_by_the_spec(status: int, content: bytes) -> bool:
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return True
    schema = SPEC.response_schema(status)
    return schema is None or not SPEC.validator(schema).is_valid(value)


whole_json = (json_values.map(Raw.of) | deep_values).map(lambda raw: raw.text.encode())


def test_arbitrary_json_ends_in_a_report(harness: Harness) -> None:
    @settings(FUZZ, max_examples=140)
    @given(content=whole_json, status=_STATUSES, seed=st.integers(0, 2**16))
    def reported(content: bytes, status: int, seed: int) -> None:
        report = harness.run(_whole(status, content, "application/json"), ["auth-probe", "schema-positive"], seed)
        if _refused_by_the_spec(status, content) or status >= 500:
            assert report.findings, "a body the spec refuses went unnoticed"

    before = harness.runs
    reported()
    assert harness.runs - before >= 140


not_json = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [b"{", b'{"total_num": 1, "backup_record_response": [', b"\xff\xfe{\x00}\x00", b"<html>502</html>"]
    ),
    st.text(max_size=50).map(lambda text: text.encode("utf-16")),
).filter(lambda content: _not_json(content))
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-16",
        "application/json; charset=x-no-such-charset",
        "text/html; charset=utf-8",
        "text/plain",
        None,
    ]
)


def _not_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return True
    return False


def test_bytes_that_are_not_json_end_in_a_report(harness: Harness) -> None:
    @settings(FUZZ, max_examples=120)
    @given(content=not_json, content_type=content_types, status=_STATUSES, seed=st.integers(0, 2**16))
    def reported(content: bytes, content_type: str | None, status: int, seed: int) -> None:
        report = harness.run(_whole(status, content, content_type), ["auth-probe", "schema-positive"], seed)
        assert report.findings, "a body that is not JSON went unnoticed"

    before = harness.runs
    reported()
    assert harness.runs - before >= 120
