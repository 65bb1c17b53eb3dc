"""The one valid-query rule: the mock answers by it, check-har judges by it, and they agree.

The rule (``contract/query.py``) was once written twice and the copies drifted: the mock
answered ``limit=10\\n`` with 200 where check-har called it a fault, and a 5000-digit offset
with 500. Here the real mock, served on loopback, answers a query, and check-har judges a
HAR holding that very exchange: the same verdict, or a finding.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.contract.query import (
    MAX_INTEGER_DIGITS,
    FaultKind,
    InvalidQuery,
    QueryRule,
    ValidQuery,
    ecma_pattern,
)
from dcs_contract.contract.spec import OPERATION_PATH, Spec, load_spec
from dcs_contract.engine.strategies import query_times
from dcs_contract.har.check import check_har
from dcs_contract.results.report import RunReport
from dcs_contract.transport.signing import TokenAuth
from tests.harness.conftest import Serve

SPEC = load_spec()
RULE = QueryRule.of(SPEC)
DEFAULTS = {"limit": 10, "offset": 0}
INVALID = "111400063"  # DCS: "Invalid {0} parameter"
# Only a query check-har judges valid gets the full response checks; an invalid one gets the
# error checks, which lack this one. So the report says how check-har classified the query.
JUDGED_VALID = "response_headers_conformance"

# -- the rule, value by value ---------------------------------------------------------------

Pairs = list[tuple[str, str]]
# (query, the values it gives) or (query, (the parameter at fault, why)).
EDGES: list[tuple[str, Pairs, dict[str, Any] | tuple[str, FaultKind]]] = [
    ("nothing", [], DEFAULTS),
    ("limit-1", [("limit", "1")], {"limit": 1, "offset": 0}),
    ("limit-1000", [("limit", "1000")], {"limit": 1000, "offset": 0}),
    ("leading-zeros", [("limit", "0010")], {"limit": 10, "offset": 0}),
    ("minus-zero-offset", [("offset", "-0")], {"limit": 10, "offset": 0}),
    ("offset-int32-max", [("offset", "2147483647")], {"limit": 10, "offset": 2147483647}),
    ("digits-at-the-cap", [("offset", "0" * (MAX_INTEGER_DIGITS - 1) + "7")], {"limit": 10, "offset": 7}),
    ("unknown-names-ignored", [("Limit", "x"), ("beginTime", "x"), ("limit ", "x")], DEFAULTS),
    (
        "one-second-window",
        [("begin_time", "20240229235959"), ("end_time", "20240229235959")],
        {
            "begin_time": "20240229235959",
            "end_time": "20240229235959",
            **DEFAULTS,
        },
    ),
    ("trailing-newline", [("limit", "10\n")], ("limit", FaultKind.NOT_INTEGER)),
    ("trailing-crlf", [("limit", "10\r\n")], ("limit", FaultKind.NOT_INTEGER)),
    ("leading-newline", [("limit", "\n10")], ("limit", FaultKind.NOT_INTEGER)),
    ("leading-space", [("offset", " 1")], ("offset", FaultKind.NOT_INTEGER)),
    ("trailing-space", [("offset", "1 ")], ("offset", FaultKind.NOT_INTEGER)),
    ("tab", [("offset", "\t1")], ("offset", FaultKind.NOT_INTEGER)),
    ("plus", [("limit", "+10")], ("limit", FaultKind.NOT_INTEGER)),
    ("underscore", [("limit", "1_0")], ("limit", FaultKind.NOT_INTEGER)),
    ("arabic-indic-digits", [("limit", "\u0661\u0660")], ("limit", FaultKind.NOT_INTEGER)),
    ("full-width-digits", [("limit", "\uff11\uff10")], ("limit", FaultKind.NOT_INTEGER)),
    ("superscript-two", [("limit", "\u00b2")], ("limit", FaultKind.NOT_INTEGER)),
    ("exponent", [("limit", "1e1")], ("limit", FaultKind.NOT_INTEGER)),
    ("hex", [("limit", "0x10")], ("limit", FaultKind.NOT_INTEGER)),
    ("decimal", [("limit", "10.0")], ("limit", FaultKind.NOT_INTEGER)),
    ("empty", [("limit", "")], ("limit", FaultKind.NOT_INTEGER)),
    ("minus-alone", [("offset", "-")], ("offset", FaultKind.NOT_INTEGER)),
    ("double-minus", [("offset", "--1")], ("offset", FaultKind.NOT_INTEGER)),
    ("nul", [("limit", "10\x00")], ("limit", FaultKind.NOT_INTEGER)),
    ("limit-0", [("limit", "0")], ("limit", FaultKind.BELOW_MINIMUM)),
    ("limit-minus-0", [("limit", "-0")], ("limit", FaultKind.BELOW_MINIMUM)),
    ("limit-1001", [("limit", "1001")], ("limit", FaultKind.ABOVE_MAXIMUM)),
    ("offset-minus-1", [("offset", "-1")], ("offset", FaultKind.BELOW_MINIMUM)),
    # Past int32 too, but the bound is the reason given: it says what the client can fix.
    ("offset-past-int32", [("offset", "2147483648")], ("offset", FaultKind.ABOVE_MAXIMUM)),
    ("digits-up-to-the-cap", [("limit", "9" * MAX_INTEGER_DIGITS)], ("limit", FaultKind.ABOVE_MAXIMUM)),
    ("one-digit-past-the-cap", [("offset", "0" * MAX_INTEGER_DIGITS + "7")], ("offset", FaultKind.TOO_MANY_DIGITS)),
    ("5000-digits", [("offset", "9" * 5000)], ("offset", FaultKind.TOO_MANY_DIGITS)),
    ("minus-5000-digits", [("offset", "-" + "9" * 5000)], ("offset", FaultKind.TOO_MANY_DIGITS)),
    ("repeated", [("limit", "1"), ("limit", "1")], ("limit", FaultKind.DUPLICATE)),
    ("31-february", [("begin_time", "20230231000000")], ("begin_time", FaultKind.FORMAT)),
    ("29-february-2023", [("end_time", "20230229000000")], ("end_time", FaultKind.FORMAT)),
    ("time-trailing-newline", [("begin_time", "20240101000000\n")], ("begin_time", FaultKind.PATTERN)),
    ("before-1970", [("begin_time", "19691231235959")], ("begin_time", FaultKind.PATTERN)),
    ("13-digits", [("end_time", "2024010100000")], ("end_time", FaultKind.PATTERN)),
    ("record-time-form", [("end_time", "2024-01-01T00:00:00Z")], ("end_time", FaultKind.PATTERN)),
    ("full-width-time", [("end_time", "\uff12\uff10\uff12\uff14" + "0101000000")], ("end_time", FaultKind.PATTERN)),
    ("empty-time", [("begin_time", "")], ("begin_time", FaultKind.PATTERN)),
    (
        "reversed-window",
        [("begin_time", "20240101000001"), ("end_time", "20240101000000")],
        ("begin_time", FaultKind.REVERSED_WINDOW),
    ),
    (
        "reversed-but-end-invalid",
        [("begin_time", "20240101000001"), ("end_time", "20240101000000\n")],
        ("end_time", FaultKind.PATTERN),
    ),
]


@pytest.mark.parametrize(("query", "expected"), [edge[1:] for edge in EDGES], ids=[edge[0] for edge in EDGES])
def test_the_rule_on_the_edges(query: Pairs, expected: dict[str, Any] | tuple[str, FaultKind]) -> None:
    read = RULE.read(query)
    if isinstance(expected, dict):
        assert isinstance(read, ValidQuery), read
        assert dict(read.values) == expected
    else:
        assert isinstance(read, InvalidQuery), read
        assert [(fault.parameter, fault.kind) for fault in read.faults] == [expected]


def test_every_fault_is_named_in_the_spec_s_order_the_window_last() -> None:
    read = RULE.read(
        [
            ("offset", "x"),
            ("limit", "0"),
            ("end_time", "20240101000000"),
            ("begin_time", "20240101000001"),
            ("end_time", "20240101000000"),
        ]
    )
    assert isinstance(read, InvalidQuery)
    assert [(f.parameter, f.kind) for f in read.faults] == [
        ("end_time", FaultKind.DUPLICATE),
        ("limit", FaultKind.BELOW_MINIMUM),
        ("offset", FaultKind.NOT_INTEGER),
    ]
    assert read.first.parameter == "end_time"
    window = RULE.read([("limit", "0"), ("begin_time", "20240101000001"), ("end_time", "20240101000000")])
    assert isinstance(window, InvalidQuery)
    assert window.parameters == ("limit", "begin_time")
    assert window.first.kind is FaultKind.BELOW_MINIMUM and window.faults[-1].kind is FaultKind.REVERSED_WINDOW


def test_a_fault_repeats_the_value_and_says_what_it_must_be() -> None:
    read = RULE.read([("limit", "1001")])
    assert isinstance(read, InvalidQuery)
    assert (read.first.value, read.first.keyword) == ("1001", "maximum")
    assert read.first.message == "limit='1001', but 1001 is greater than the maximum of 1000"
    huge = RULE.read([("offset", "9" * 5000)])
    assert isinstance(huge, InvalidQuery)
    assert huge.first.message == f"offset has 5000 digits, but an integer here has {MAX_INTEGER_DIGITS} at most"


def _variant(
    spec: Spec, *, limit: dict[str, Any] | None = None, required: bool = False, drop_from_query_time: str = ""
) -> Spec:
    """``spec`` with other keywords for limit's schema, or a keyword less in QueryTime (both ends use it)."""
    document = copy.deepcopy(spec.document)
    [parameter] = [p for p in document["paths"][OPERATION_PATH]["get"]["parameters"] if p["name"] == "limit"]
    parameter["schema"] |= limit or {}
    parameter["required"] = required
    document["components"]["schemas"]["QueryTime"].pop(drop_from_query_time, None)
    return Spec(document=document, path=spec.path)


def test_the_rule_reads_bounds_defaults_required_and_patterns_from_the_spec() -> None:
    narrow = QueryRule.of(_variant(SPEC, limit={"maximum": 50, "default": 5}))
    assert narrow.read_value("limit", "50") == 50
    over = narrow.read([("limit", "51")])
    assert isinstance(over, InvalidQuery) and over.first.kind is FaultKind.ABOVE_MAXIMUM
    assert RULE.accepts([("limit", "51")])
    defaulted = narrow.read([])
    assert isinstance(defaulted, ValidQuery) and defaulted.integer("limit") == 5

    missing = QueryRule.of(_variant(SPEC, required=True)).read([("offset", "1")])
    assert isinstance(missing, InvalidQuery)
    assert [(f.parameter, f.kind, f.value) for f in missing.faults] == [("limit", FaultKind.MISSING, None)]

    # Without the format only the pattern is left: no calendar, and its $ is the end of the text.
    shape_only = QueryRule.of(_variant(SPEC, drop_from_query_time="format"))
    assert shape_only.accepts([("begin_time", "20230231000000")])
    newline = shape_only.read([("begin_time", "20240101000000\n")])
    assert isinstance(newline, InvalidQuery) and newline.first.kind is FaultKind.PATTERN


def test_one_rule_per_spec() -> None:
    assert QueryRule.of(SPEC) is RULE
    assert QueryRule.of(_variant(SPEC)) is not RULE


def test_patterns_match_as_json_schema_means_them() -> None:
    """ECMA-262's $ is the end of the text, and its \\d is ASCII; Python's re differs in both."""
    assert ecma_pattern("^[0-9]+$").search("10\n") is None
    assert ecma_pattern("^[0-9]+$").search("10")
    assert ecma_pattern(r"^\d+$").search("\u0661") is None
    assert ecma_pattern(r"^\$[$]$").search("$$")  # an escaped $ and one in a class are characters
    assert ecma_pattern(r"^a$|^b$").search("b\n") is None


# -- the mock and check-har on the same exchange ---------------------------------------------------


def _har(response: httpx.Response) -> dict[str, Any]:
    """A browser's HAR of one exchange, as it was sent and answered."""
    text = response.text
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-01-01T00:00:00.000Z",
                    "time": 1.0,
                    "request": {
                        "method": "GET",
                        "url": str(response.request.url),
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                    },
                    "response": {
                        "status": response.status_code,
                        "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
                        "content": {"size": len(text), "mimeType": "", "text": text},
                    },
                }
            ],
        }
    }


def judged_offline(tmp_path: Path, spec: Spec, response: httpx.Response) -> RunReport:
    har = tmp_path / "exchange.har"
    har.write_text(json.dumps(_har(response)), encoding="utf-8")
    return check_har(spec, [har])


def _backups(state: Any) -> str:
    return f"/v2/{state.project_id}/instances/{state.instance_id}/backups"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("limit", "10\n"), ("offset", "9" * 5000), ("offset", "0" * MAX_INTEGER_DIGITS + "1"), ("limit", "\u0661")],
    ids=["limit-trailing-newline", "offset-of-5000-digits", "offset-one-digit-past-the-cap", "arabic-indic-limit"],
)
def test_the_mock_and_check_har_refuse_the_query_alike(
    serve: Serve, spec: Spec, tmp_path: Path, parameter: str, value: str
) -> None:
    with serve(records=25) as (server, state), httpx.Client(base_url=server.base_url) as client:
        response = client.get(_backups(state), params={parameter: value}, auth=TokenAuth(state.credentials.token))
    assert response.status_code == 400, "the mock answered a query the rule refuses"
    assert response.json() == {
        "error_msg": f"Invalid {parameter} parameter.",
        "error_code": INVALID,
        "error_ext_msg": None,
    }

    report = judged_offline(tmp_path, spec, response)
    assert report.crash is None and report.error is None
    assert list(report.findings) == []
    assert report.evaluated.get("invalid_input_rejected") == 1, "check-har did not judge the query a fault"
    assert JUDGED_VALID not in report.evaluated

    # The answer the mock once gave: check-har calls it a finding, so a disagreement cannot hide.
    accepted = httpx.Response(200, json={"total_num": 0, "backup_record_response": []}, request=response.request)
    [finding] = judged_offline(tmp_path, spec, accepted).findings
    assert (finding.check, finding.location) == ("invalid_input_rejected", parameter)


def _query_values() -> st.SearchStrategy[str]:
    """Values near every edge the rule has: integers as text, whitespace, other digits, times, long numbers."""
    wire = st.text(alphabet="0123456789-+ \n\r\t._ex\u0661\uff12\u00b2", max_size=12)
    near_bounds = st.integers(-3, 1003) | st.integers(2**31 - 3, 2**31 + 3) | st.integers(-(2**31) - 1, -(2**31) + 1)
    padded = st.tuples(st.sampled_from(["", "-", "0", "00"]), near_bounds.map(str)).map("".join)
    long_digits = st.integers(MAX_INTEGER_DIGITS - 2, MAX_INTEGER_DIGITS + 2).map(lambda n: "1" + "0" * (n - 1))
    huge = st.sampled_from(["9" * 5000, "0" * (MAX_INTEGER_DIGITS + 60) + "1", "-" + "9" * 4400])
    times = query_times(SPEC)
    good = near_bounds.map(str) | times
    # A good value with a character more at one end, as a sloppy client sends it: a space, a newline, a zero.
    affix = st.sampled_from(["\n", "\r\n", " ", "\t", "+", "0", "\u0661", "\x00"])
    spoilt = st.tuples(good, affix, st.booleans()).map(lambda t: t[0] + t[1] if t[2] else t[1] + t[0])
    return st.one_of(wire, good, good, padded, long_digits, huge, spoilt, spoilt, st.text(max_size=6))


_NAMES = st.sampled_from([*SPEC.query_parameters, "Limit", "beginTime", "x"])
# Each name once, then now and then one pair more, which may repeat a name.
_QUERIES = st.tuples(
    st.dictionaries(_NAMES, _query_values(), max_size=4), st.lists(st.tuples(_NAMES, _query_values()), max_size=1)
).map(lambda drawn: [*drawn[0].items(), *drawn[1]])


def test_the_mock_and_check_har_agree_on_any_query(serve: Serve, spec: Spec, tmp_path: Path) -> None:
    """Whatever the query, the mock answers 2xx exactly when check-har judges it valid, and 400 names its fault."""
    with serve(records=40) as (server, state), httpx.Client(base_url=server.base_url) as client:
        client.auth = TokenAuth(state.credentials.token)

        @settings(max_examples=300, deadline=None, database=None)
        @given(_QUERIES)
        def agree(pairs: Pairs) -> None:
            response = client.get(_backups(state), params=tuple(pairs))
            assert response.status_code in (200, 204, 400), response.text
            report = judged_offline(tmp_path, spec, response)
            assert report.crash is None and report.error is None
            assert list(report.findings) == [], [f.message for f in report.findings]
            assert (JUDGED_VALID in report.evaluated) == (response.status_code != 400)
            # The query as both read it off the wire, and the fault the mock's 400 names.
            read = RULE.read(list(response.request.url.params.multi_items()))
            if isinstance(read, InvalidQuery):
                if read.first.kind is FaultKind.REVERSED_WINDOW:
                    assert response.json()["error_code"] == "DCS.4025"
                else:
                    assert response.json()["error_msg"] == f"Invalid {read.first.parameter} parameter."
            else:
                assert response.status_code in (200, 204)

        agree()
