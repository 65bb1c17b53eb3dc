"""dcs-contract run: exit codes, the summary and the reports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from dcs_contract.cli import main
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.signing import AkSkAuth
from dcs_contract.spec import Spec
from tests.harness.conftest import dcs_contract_mock


def test_the_default_run_against_the_embedded_mock_conforms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--report-dir", str(tmp_path), "--seed", "7"], env={}) == 0
    out = capsys.readouterr().out
    assert "dcs-contract: CONFORMS" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "conforms"
    assert sum(report["cases"].values()) >= 300
    assert report["cases"]["schema-negative"] > 0
    assert report["requests"]["by_status"]["400"] > 0
    assert {"report.md", "junit.xml"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DCS_BASE_URL": "https://dcs.test"}, "DCS_PROJECT_ID/--project-id is required"),
        ({"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p"}, "DCS_INSTANCE_ID/--instance-id is required"),
        ({"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i"}, "no credentials"),
        ({"DCS_BASE_URL": "ftp://x"}, "is not an http(s) URL"),
        ({"DCS_REGION": "Mars 1"}, "is not a region id"),
        ({"CLOUD_SDK_AK": "ak"}, "CLOUD_SDK_SK is not set"),
    ],
)
def test_configuration_errors_exit_2_and_say_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    assert main(["run", "--report-dir", str(tmp_path)], env=env) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag",
    [["--max-examples", "0"], ["--rate-limit", "-1"], ["--timeout", "x"], ["--mock-records", "100001"]],
)
def test_bad_flags_are_usage_errors(flag: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", *flag], env={})
    assert exited.value.code == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_target_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "DCS_BASE_URL": f"http://127.0.0.1:{_free_port()}",
        "DCS_PROJECT_ID": "p",
        "DCS_INSTANCE_ID": "i",
        "DCS_AUTH_TOKEN": "token-value-123",
    }
    assert main(["run", "--report-dir", str(tmp_path), "--timeout", "1"], env=env) == 3
    out = capsys.readouterr().out
    assert "UNTESTABLE" in out and "did not answer" in out
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "untestable"


def test_a_wrong_secret_key_exits_3_after_one_signed_request(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = MockState.default(spec)
    with MockServer(create_app(state)) as server:
        env = {
            "DCS_BASE_URL": server.base_url,
            "DCS_PROJECT_ID": state.project_id,
            "DCS_INSTANCE_ID": state.instance_id,
            "CLOUD_SDK_AK": state.credentials.access_key,
            "CLOUD_SDK_SK": "a-wrong-secret-key",
        }
        assert main(["run", "--report-dir", str(tmp_path)], env=env) == 3
    # The unauthenticated probe, then one signed request: never a second bad signature.
    assert [(r.with_credentials, r.status) for r in state.requests()] == [(False, 401), (True, 401)]
    captured = capsys.readouterr()
    assert "refused the credentials: HTTP 401 APIGW.0301" in captured.out
    assert f"AK/SK from CLOUD_SDK_AK/CLOUD_SDK_SK (AK {state.credentials.access_key[:4]}…)" in captured.out
    assert "Not retried: five refused signatures" in captured.out
    assert "a-wrong-secret-key" not in captured.out + captured.err


def test_dcs_contract_mock_serves_with_what_it_prints() -> None:
    with dcs_contract_mock("--records", "12") as printed:
        auth = AkSkAuth(printed["CLOUD_SDK_AK"], printed["CLOUD_SDK_SK"], project_id=printed["DCS_PROJECT_ID"])
        path = f"/v2/{printed['DCS_PROJECT_ID']}/instances/{printed['DCS_INSTANCE_ID']}/backups"
        url = printed["DCS_BASE_URL"] + path
        assert httpx.get(url, auth=auth).json()["total_num"] == 12
        assert httpx.get(url, headers={"X-Auth-Token": printed["DCS_AUTH_TOKEN"]}).status_code == 200


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--max-examples", "1", "--report-dir", "{file}"],
        ["run", "--max-examples", "1", "--report-dir", "{dir}", "--record", "{file}/traffic.har"],
        ["docs", "--out", "{file}"],
    ],
)
def test_an_output_path_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    argv = [part.format(file=blocker, dir=tmp_path / "reports") for part in command]
    assert main(argv, env={}) == 2
    captured = capsys.readouterr()
    assert f"cannot write {blocker}" in captured.err
    assert "schema-positive" not in captured.err, "refused before the run, not after"
