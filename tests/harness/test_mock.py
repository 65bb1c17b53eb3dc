"""The embedded mock does what the contract says, for valid and invalid queries."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.mock import FaultPlan, MockServer, MockState, ServiceAnswer, create_app, generate_records
from dcs_contract.mock.service import ServiceCall
from dcs_contract.transport.signing import AkSkAuth, Credentials, TokenAuth


@pytest.fixture(scope="module")
def state(spec: Spec) -> MockState:
    return MockState.default(spec, records=137)


@pytest.fixture(scope="module")
def client(state: MockState) -> Iterator[TestClient]:
    with TestClient(create_app(state), base_url="http://mock.test") as test_client:
        creds = state.credentials
        test_client.auth = AkSkAuth(creds.access_key, creds.secret_key, project_id=state.project_id)
        yield test_client


def _path(state: MockState, instance: str | None = None) -> str:
    return f"/v2/{state.project_id}/instances/{instance or state.instance_id}/backups"


def _get(client: TestClient, state: MockState, **query: Any) -> httpx.Response:
    return client.get(_path(state), params=query)


def test_the_first_page_has_the_default_limit_and_the_total(client: TestClient, state: MockState) -> None:
    body = _get(client, state).json()
    assert body["total_num"] == 137
    assert len(body["backup_record_response"]) == 10


def test_pages_are_disjoint_and_cover_every_record(client: TestClient, state: MockState) -> None:
    seen: list[str] = []
    for offset in range(0, 137, 25):
        body = _get(client, state, offset=offset, limit=25).json()
        assert body["total_num"] == 137
        seen += [r["backup_id"] for r in body["backup_record_response"]]
    assert len(seen) == len(set(seen)) == 137


def test_an_offset_past_the_end_is_an_empty_page(client: TestClient, state: MockState) -> None:
    response = _get(client, state, offset=137)
    assert response.status_code == 200
    assert response.json() == {"total_num": 137, "backup_record_response": []}


def test_the_window_is_inclusive_at_second_resolution(client: TestClient, state: MockState) -> None:
    # The data holds a backup created at 2024-02-29T23:59:59.999Z.
    body = _get(client, state, begin_time="20240229235959", end_time="20240229235959").json()
    assert [r["created_at"] for r in body["backup_record_response"]] == ["2024-02-29T23:59:59.999Z"]
    assert _get(client, state, begin_time="20240301000000", end_time="20240301000000").status_code == 204


def test_every_record_in_a_window_was_created_inside_it(client: TestClient, state: MockState) -> None:
    body = _get(client, state, begin_time="20230601000000", end_time="20230630235959", limit=1000).json()
    assert body["total_num"] == len(body["backup_record_response"]) > 0
    assert all("2023-06-01" <= r["created_at"][:10] <= "2023-06-30" for r in body["backup_record_response"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("limit", "1.5"),
        ("limit", ""),
        ("offset", "-1"),
        ("offset", "2147483648"),
        ("offset", " 1"),
        ("begin_time", "20230231000000"),
        ("begin_time", "2023023100000"),
        ("begin_time", "2023-02-01000000"),
        ("end_time", "20231301000000"),
        ("end_time", "\uff12\uff10\uff12\uff13\uff10\uff11\uff10\uff11\uff10\uff10\uff10\uff10\uff10\uff10"),
    ],
)
def test_an_invalid_parameter_is_a_400_that_names_it(
    client: TestClient, state: MockState, spec: Spec, name: str, value: str
) -> None:
    response = _get(client, state, **{name: value})
    assert response.status_code == 400
    body = response.json()
    assert spec.validator(spec.component("ErrorBody")).is_valid(body)
    assert body == {"error_msg": f"Invalid {name} parameter.", "error_code": "111400063", "error_ext_msg": None}


def test_a_repeated_parameter_is_refused(client: TestClient, state: MockState) -> None:
    assert client.get(_path(state), params=[("limit", "1"), ("limit", "2")]).status_code == 400


def test_a_reversed_window_is_refused(client: TestClient, state: MockState) -> None:
    response = _get(client, state, begin_time="20240101000001", end_time="20240101000000")
    assert response.status_code == 400
    assert response.json()["error_code"] == "DCS.4025"


def test_unknown_parameters_are_ignored(client: TestClient, state: MockState) -> None:
    assert _get(client, state, beginTime="x").status_code == 200


def test_an_instance_without_backups_answers_204_without_body(client: TestClient, state: MockState) -> None:
    response = client.get(_path(state, state.empty_instance_id))
    assert response.status_code == 204
    assert response.content == b""


def test_an_unknown_instance_is_a_400(client: TestClient, state: MockState) -> None:
    response = client.get(_path(state, "no-such-instance"))
    assert response.status_code == 400
    assert response.json()["error_msg"] == "Invalid instance_id parameter."


def test_no_credentials_no_backups(state: MockState) -> None:
    with TestClient(create_app(state), base_url="http://mock.test") as anonymous:
        response = anonymous.get(_path(state))
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"


def test_a_token_is_accepted_and_a_wrong_one_refused(state: MockState) -> None:
    with TestClient(create_app(state), base_url="http://mock.test") as plain:
        plain.auth = TokenAuth(state.credentials.token)
        assert plain.get(_path(state)).status_code == 200
        plain.auth = TokenAuth("wrong")
        assert plain.get(_path(state)).status_code == 401


def test_a_wrong_secret_key_is_refused(state: MockState) -> None:
    with TestClient(create_app(state), base_url="http://mock.test") as wrong:
        wrong.auth = AkSkAuth(state.credentials.access_key, "not-the-secret")
        assert wrong.get(_path(state)).status_code == 401


def test_other_methods_are_refused_and_logged(client: TestClient, state: MockState) -> None:
    before = len(state.requests())
    response = client.request("DELETE", _path(state))
    assert response.status_code == 405
    assert state.requests()[before].method == "DELETE"


def test_the_data_covers_the_contract(spec: Spec) -> None:
    records = generate_records(spec, instance_id="i", count=137, seed=7)
    for field_name in spec.enum_fields:
        assert {r[field_name] for r in records if field_name in r} >= set(spec.enum_values(field_name)), field_name
    assert any(r["size"] > 2**32 for r in records)
    assert any(r.get("period", "missing") is None for r in records)
    assert any("period" not in r for r in records)
    assert any(not r["remark"].isascii() for r in records)
    for record in records:
        assert (record.get("error_code") is not None) == (record["status"] == "failed")
    assert records == generate_records(spec, instance_id="i", count=137, seed=7)
    assert records != generate_records(spec, instance_id="i", count=137, seed=8)


def test_every_record_matches_the_spec(spec: Spec) -> None:
    validator = spec.validator(spec.component("BackupRecordResponse"))
    for record in generate_records(spec, instance_id="i", count=300, seed=1):
        assert list(validator.iter_errors(record)) == []


def test_progress_reaches_the_edge_below_100_and_never_passes_100(spec: Spec) -> None:
    """99.99 is in the data, where a pattern that admits 100.01..100.99 is off by one."""
    valid = spec.validator(spec.record_fields["progress"]).is_valid
    progress = {r["progress"] for r in generate_records(spec, instance_id="i", count=137, seed=7)}
    assert {"0.00", "99.99", "100.00"} <= progress
    assert all(valid(value) and float(value) <= 100 for value in progress)


def test_the_progress_past_100_switch_serves_what_the_spec_refuses(spec: Spec) -> None:
    valid = spec.validator(spec.record_fields["progress"]).is_valid
    records = _drifted(spec, "progress-over-hundred", limit=1000).json()["backup_record_response"]
    over = {r["progress"] for r in records if r["status"] == "backuping"}
    assert over == {"100.50"} and not valid("100.50")


def test_the_walk_switches_break_only_what_a_client_walks_into(spec: Spec) -> None:
    first = _drifted(spec, "later-pages-empty", limit=10).json()
    later = _drifted(spec, "later-pages-empty", limit=10, offset=10).json()
    assert (first["total_num"], len(first["backup_record_response"])) == (137, 10)
    assert (later["total_num"], later["backup_record_response"]) == (137, [])
    totals = [_drifted(spec, "total-counts-from-offset", offset=n).json()["total_num"] for n in (0, 10, 130)]
    assert totals == [137, 127, 7]


def test_it_serves_on_a_real_loopback_socket(state: MockState) -> None:
    creds = state.credentials
    with MockServer(create_app(state)) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        auth = AkSkAuth(creds.access_key, creds.secret_key, project_id=state.project_id)
        response = httpx.get(server.base_url + _path(state), auth=auth, params={"limit": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()["backup_record_response"]) == 1


def test_a_websocket_upgrade_is_answered_as_a_plain_request(state: MockState) -> None:
    """The mock speaks HTTP only (uvicorn's ws="none"): an upgrade is a GET like any, logged and answered."""
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    with MockServer(create_app(state)) as server:
        before = len(state.requests())
        response = httpx.get(server.base_url + _path(state), headers=upgrade)
    assert response.status_code == 401, "the gateway's answer to a request without credentials"
    assert response.json()["error_code"] == "APIGW.0301"
    assert [entry.status for entry in state.requests()[before:]] == [401]


def test_a_test_can_serve_bodies_of_its_own_making(spec: Spec) -> None:
    """MockState.served: any bytes under any content type, for the gateway's 401 as for the service's answers."""
    state = MockState.default(spec, records=5)
    seen: list[tuple[str, int]] = []

    def served(call: ServiceCall, answer: ServiceAnswer) -> ServiceAnswer:
        seen.append((call.instance_id, answer.status))
        return ServiceAnswer(answer.status if answer.status == 401 else 200, raw=b"\xff not json", content_type=None)

    state.served = served
    with TestClient(create_app(state), base_url="http://mock.test") as client:
        anonymous = client.get(_path(state))
        client.auth = AkSkAuth(state.credentials.access_key, state.credentials.secret_key, project_id=state.project_id)
        empty = client.get(_path(state, state.empty_instance_id))
        elsewhere = client.get("/v2/other/path")
    assert (anonymous.status_code, anonymous.content) == (401, b"\xff not json")
    assert (empty.status_code, empty.content) == (200, b"\xff not json")
    assert "content-type" not in empty.headers
    assert seen == [(state.instance_id, 401), (state.empty_instance_id, 204)]
    assert elsewhere.status_code == 404, "only the backups path is served by the test"


def _with_limit(spec: Spec, *, maximum: int, default: int) -> Spec:
    """``spec`` with other bounds for limit: what reads them from the spec follows."""
    document = copy.deepcopy(spec.document)
    [limit] = [p for p in document["paths"][OPERATION_PATH]["get"]["parameters"] if p["name"] == "limit"]
    limit["schema"] |= {"maximum": maximum, "default": default}
    return Spec(document=document, path=spec.path)


def _drifted(spec: Spec, drift: str, **query: Any) -> httpx.Response:
    state = MockState.default(spec, drifts=(drift,))
    with TestClient(create_app(state), base_url="http://mock.test") as client:
        client.auth = TokenAuth(state.credentials.token)
        return client.get(_path(state), params=query)


def test_drift_switches_read_the_limits_bounds_and_default_from_the_spec(spec: Spec) -> None:
    narrow = _with_limit(spec, maximum=50, default=5)
    clamped = _drifted(narrow, "limit-over-max-clamped", limit=51)
    assert clamped.status_code == 200 and len(clamped.json()["backup_record_response"]) == 50
    assert _drifted(narrow, "server-error-at-max-limit", limit=50).status_code == 500
    assert _drifted(narrow, "server-error-at-max-limit", limit=1000).status_code == 400, "over this spec's maximum"
    assert len(_drifted(narrow, "limit-ignored", limit=20).json()["backup_record_response"]) == 5
    repeated = _drifted(narrow, "past-end-repeats-last-page", offset=137).json()
    assert repeated["backup_record_response"] and len(repeated["backup_record_response"]) == 5


def test_a_count_in_other_digits_is_not_read_as_a_limit(spec: Spec) -> None:
    """str.isdigit() passes "²", which int() refuses: the switch leaves it to the service's 400."""
    assert _drifted(spec, "limit-over-max-clamped", limit="²").status_code == 400
    assert _drifted(spec, "one-based-offset", offset="²").status_code == 400


def test_the_fault_schedule_is_said_from_the_plan() -> None:
    assert FaultPlan().describe() == (
        "every 7th answer a 429 with Retry-After: 1, every 9th answer a 503, every 11th answer 1.5 s late"
    )
    assert FaultPlan(throttle_every=2, unavailable_every=0, slow_every=3, slow_seconds=0.25).describe() == (
        "every 2nd answer a 429 with Retry-After: 1, every 3rd answer 0.25 s late"
    )
    assert FaultPlan(throttle_every=0, unavailable_every=0, slow_every=0).describe() == "no faults"


def test_the_gateway_accepts_the_credentials_it_is_given_and_generates_the_rest(spec: Spec) -> None:
    given = Credentials(access_key="AK" * 10, secret_key="SK" * 15)
    state = MockState.default(spec, credentials=given, records=3)
    assert (state.credentials.access_key, state.credentials.secret_key) == (given.access_key, given.secret_key)
    assert state.credentials.token.startswith("MIIT"), "a token of its own"
    with TestClient(create_app(state), base_url="http://mock.test") as client:
        # A header is bytes: one that is not ASCII is refused, not a crash of the comparison.
        assert client.get(_path(state), headers={"X-Auth-Token": "jeton-refusé".encode("latin-1")}).status_code == 401
        client.auth = AkSkAuth(given.access_key, given.secret_key, project_id=state.project_id)
        assert client.get(_path(state)).status_code == 200
        client.auth = TokenAuth(state.credentials.token)
        assert client.get(_path(state)).status_code == 200


def test_a_gateway_without_a_token_accepts_no_token(spec: Spec) -> None:
    state = MockState.default(spec, records=3)
    state.credentials = Credentials(state.credentials.access_key, state.credentials.secret_key)
    with TestClient(create_app(state), base_url="http://mock.test") as client:
        assert client.get(_path(state), headers={"X-Auth-Token": ""}).status_code == 401
