"""The official Huawei Cloud SDK (huaweicloudsdkdcs) as the client, against the mock on loopback.

The SDK is what the endpoint's clients run: if it cannot sign for, page through or read the
mock, the mock (and so the spec it serves) is not the endpoint those clients know.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdcs.v2 import DcsClient, ListBackupRecordsRequest

from dcs_contract.contract.formats import parse_dcs_timestamp, parse_record_time
from dcs_contract.contract.spec import Spec
from dcs_contract.mock import MockServer, MockState, create_app
from tests.harness.conftest import Serve


@pytest.fixture(scope="module")
def served(spec: Spec) -> Iterator[tuple[MockServer, MockState]]:
    state = MockState.default(spec, records=137)
    with MockServer(create_app(state)) as server:
        yield server, state


def _client(server: MockServer, state: MockState, *, secret_key: str | None = None) -> DcsClient:
    credentials = BasicCredentials(
        state.credentials.access_key, secret_key or state.credentials.secret_key, state.project_id
    )
    return DcsClient.new_builder().with_credentials(credentials).with_endpoints([server.base_url]).build()


def _records(state: MockState) -> list[dict[str, Any]]:
    return state.service.records[state.instance_id]


def test_the_sdk_pages_through_every_record_and_reads_every_field(served: tuple[MockServer, MockState]) -> None:
    server, state = served
    client = _client(server, state)
    seen: list[Any] = []
    offset, total = 0, None
    while total is None or offset < total:
        response = client.list_backup_records(
            ListBackupRecordsRequest(instance_id=state.instance_id, offset=offset, limit=40)
        )
        total = response.total_num
        seen += response.backup_record_response
        offset += 40
    assert total == len(_records(state)) == len(seen)
    for record, raw in zip(seen, _records(state), strict=True):
        # Every field of the spec, deserialized by the SDK's own model, as the service sent it.
        assert {name: getattr(record, name) for name in record.attribute_map} == {
            name: raw.get(name) for name in record.attribute_map
        }


def test_the_sdk_reads_a_time_window(served: tuple[MockServer, MockState]) -> None:
    server, state = served
    begin, end = "20230601000000", "20231231235959"
    response = _client(server, state).list_backup_records(
        ListBackupRecordsRequest(instance_id=state.instance_id, begin_time=begin, end_time=end, limit=1000)
    )
    window = (parse_dcs_timestamp(begin), parse_dcs_timestamp(end))
    expected = [
        r["backup_id"]
        for r in _records(state)
        if window[0] <= parse_record_time(r["created_at"]).replace(microsecond=0) <= window[1]
    ]
    assert expected, "the dataset has records in this window"
    assert [r.backup_id for r in response.backup_record_response] == expected
    assert response.total_num == len(expected)


@pytest.mark.parametrize(
    ("request_fields", "error_code"),
    [
        ({"limit": 1001}, "111400063"),
        ({"offset": -1}, "111400063"),
        ({"begin_time": "20230231000000"}, "111400063"),
        ({"begin_time": "20240101000001", "end_time": "20240101000000"}, "DCS.4025"),
    ],
)
def test_a_400_surfaces_as_the_sdks_exception_with_the_mocks_code(
    served: tuple[MockServer, MockState], request_fields: dict[str, Any], error_code: str
) -> None:
    server, state = served
    with pytest.raises(ClientRequestException) as raised:
        _client(server, state).list_backup_records(
            ListBackupRecordsRequest(instance_id=state.instance_id, **request_fields)
        )
    assert (raised.value.status_code, raised.value.error_code) == (400, error_code)


def test_the_mock_accepts_the_sdks_signatures_and_refuses_a_wrong_key(serve: Serve) -> None:
    with serve(records=3) as (server, state):
        response = _client(server, state).list_backup_records(ListBackupRecordsRequest(instance_id=state.instance_id))
        assert response.total_num == 3
        with pytest.raises(ClientRequestException) as raised:
            _client(server, state, secret_key="not-the-key").list_backup_records(
                ListBackupRecordsRequest(instance_id=state.instance_id)
            )
    assert (raised.value.status_code, raised.value.error_code) == (401, "APIGW.0301")
    assert [(entry.with_credentials, entry.status) for entry in state.requests()] == [(True, 200), (True, 401)]


def test_an_instance_without_backups_is_not_an_error_for_the_sdk(serve: Serve) -> None:
    with serve() as (server, state):
        assert state.empty_instance_id is not None
        response = _client(server, state).list_backup_records(
            ListBackupRecordsRequest(instance_id=state.empty_instance_id)
        )
    assert response.status_code == 204
    assert not response.backup_record_response
