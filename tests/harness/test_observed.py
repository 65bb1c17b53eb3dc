"""What a run remembers of the values a target sent: counted per JSON value, bounded, never raising."""

from __future__ import annotations

import json
from typing import Any

import httpx

from dcs_contract.contract.spec import Spec
from dcs_contract.engine.run import RunLog


def _page(*statuses: Any) -> httpx.Response:
    records = [{"status": status} for status in statuses]
    body = json.dumps({"total_num": len(records), "backup_record_response": records})
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def test_each_json_value_is_counted_apart_even_when_python_calls_them_equal(spec: Spec) -> None:
    log = RunLog(spec)
    log.observe(_page("succeed", 1, 1.0, True, "succeed", {"a": [1]}, {"a": [1]}, None, 1))
    assert dict(log.observed["status"]) == {
        '"succeed"': 2,
        "1": 2,
        "1.0": 1,
        "true": 1,
        '{"a":[1]}': 2,
        "null": 1,
    }


def test_past_the_first_values_the_others_are_counted_together(spec: Spec) -> None:
    log = RunLog(spec)
    log.observe(_page(*(f"invented-{n}" for n in range(60)), "invented-0"))
    seen = log.observed["status"]
    assert len(seen) == 51 and seen['"invented-0"'] == 2
    assert seen["(other values)"] == 10
    assert sum(seen.values()) == 61
