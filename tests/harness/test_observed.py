"""What a run remembers of the values a target sent: counted per JSON value, bounded, never raising."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.contract.spec import Spec
from dcs_contract.engine.run import RunLog
from dcs_contract.results.observed import Observations


def _error(code: str) -> httpx.Response:
    body = json.dumps({"error_code": code, "error_msg": "no such instance"})
    return httpx.Response(404, content=body.encode(), headers={"content-type": "application/json"})


def _page(*statuses: Any) -> httpx.Response:
    records = [{"status": status} for status in statuses]
    body = json.dumps({"total_num": len(records), "backup_record_response": records})
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def test_each_json_value_is_counted_apart_even_when_python_calls_them_equal(spec: Spec) -> None:
    log = RunLog(spec)
    log.observe(_page("succeed", 1, 1.0, True, "succeed", {"a": [1]}, {"a": [1]}, None, 1))
    assert log.observed.observations().enum_values["status"] == {
        '"succeed"': 2,
        "1": 2,
        "1.0": 1,
        "true": 1,
        '{"a":[1]}': 2,
        "null": 1,
    }


def test_a_page_of_scalars_only_is_counted_apart_too(spec: Spec) -> None:
    """The page a service sends, no object among the values: counted in one pass, each JSON value apart."""
    log = RunLog(spec)
    log.observe(_page("succeed", 1, 1.0, True, "succeed", None, 1, False, 0))
    assert log.observed.observations().enum_values["status"] == {
        '"succeed"': 2,
        "1": 2,
        "1.0": 1,
        "true": 1,
        "null": 1,
        "false": 1,
        "0": 1,
    }


def test_past_the_first_values_the_others_are_counted_together(spec: Spec) -> None:
    log = RunLog(spec)
    log.observe(_page(*(f"invented-{n}" for n in range(60)), "invented-0"))
    seen = log.observed.observations().enum_values["status"]
    assert len(seen) == 51 and seen['"invented-0"'] == 2
    assert seen["(other values)"] == 10
    assert sum(seen.values()) == 61


def test_a_reports_observations_read_back_write_the_same_bytes(spec: Spec) -> None:
    log = RunLog(spec)
    # An error first: its code comes before the records' kinds, as the answers came.
    log.observe(_error("DCS.4001"))
    log.observe(_page("succeed", "failed"))
    log.observe_status(500)
    observed = log.observed.observations()
    written = json.dumps(observed.to_json())
    kinds = list(json.loads(written))
    assert kinds[:2] == ["http_status", "error_body.error_code"] and kinds[-1] == "record_field"
    assert observed.http_status == {"404": 1, "200": 1, "500": 1}
    assert observed.error_codes == {'"DCS.4001"': 1}
    assert observed.record_fields is not None and observed.record_fields["status"] == 2
    # An enum no record had is kept, empty: the run wrote it so.
    assert {"status": {'"succeed"': 1, '"failed"': 1}}.items() <= observed.enum_values.items()
    assert {} in observed.enum_values.values()
    again = Observations.from_json(json.loads(written))
    assert again == observed
    assert json.dumps(again.to_json()) == written


def test_a_report_from_before_record_fields_were_counted_reads_as_not_counting_them() -> None:
    older = Observations.from_json({"http_status": {"200": 1}, "status": {}})
    assert older.record_fields is None
    assert older.to_json() == {"http_status": {"200": 1}, "status": {}}
    assert Observations.from_json({"record_field": {}}).record_fields == {}


_LEAF = st.none() | st.booleans() | st.integers(min_value=-2, max_value=2**70) | st.floats() | st.text(max_size=8)
_KEY = st.sampled_from(["http_status", "error_body.error_code", "record_field", "status"]) | st.text(max_size=8)
# Anything JSON can say, and what Python alone can (non-text keys, tuples), biased to the right shape.
_HOSTILE = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(_KEY | st.integers() | st.none(), inner, max_size=4)
        | st.dictionaries(_KEY, st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3), max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_HOSTILE)
def test_hostile_observations_are_read_without_raising(untrusted: object) -> None:
    observed = Observations.from_json(untrusted)
    written = observed.to_json()
    # What is kept is what report.json's schema allows: maps of texts to non-negative integers.
    for kind, counts in written.items():
        assert isinstance(kind, str)
        assert all(isinstance(v, str) and type(c) is int and c >= 0 for v, c in counts.items())
    assert Observations.from_json(written) == observed
    assert json.dumps(Observations.from_json(written).to_json()) == json.dumps(written)
