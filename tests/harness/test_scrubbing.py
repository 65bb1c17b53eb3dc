"""Scrub first, then cut: no secret, nor a fragment of one, reaches any output.

The unit properties drive the one scrubber with hypothesis; the end-to-end test runs
``dcs-contract run`` against a target that echoes the credential it was sent into its
bodies, at offsets that put it across every cut point of the reports.
"""

from __future__ import annotations

import html
import json
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.cli import main
from dcs_contract.redaction import MIN_FRAGMENT, Scrubber
from tests.harness.hostile import HostileServer, Received, answer
from tests.harness.leaks import leaks

SECRET_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
secrets_ = st.text(SECRET_ALPHABET, min_size=MIN_FRAGMENT, max_size=60)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, limit=st.integers(0, 200))
def test_a_secret_across_the_cut_point_leaves_no_fragment(secret: str, before: str, after: str, limit: int) -> None:
    text = before + secret + after
    cut = Scrubber([secret]).cut(text, limit)
    assert not leaks(cut, secret), (text, limit, cut)
    assert len(cut) <= max(limit, len(Scrubber([secret]).text(text))) + 1


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, start=st.integers(0, 60), size=st.integers(MIN_FRAGMENT, 60))
def test_a_fragment_cut_elsewhere_is_removed_wherever_it_stands(
    secret: str, before: str, after: str, start: int, size: int
) -> None:
    """What a third party's cut left of a secret (a target that echoes it truncated, say)."""
    start = min(start, len(secret) - MIN_FRAGMENT)
    fragment = secret[start : start + size]
    assert not leaks(Scrubber([secret]).text(before + fragment + after), secret)


@pytest.mark.parametrize(
    "spell",
    [
        lambda s: s,
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: html.escape(s),
        lambda s: quote(s, safe=""),
    ],
    ids=["raw", "json-ascii", "json", "html", "url"],
)
def test_escaped_forms_of_a_secret_are_scrubbed(spell: Callable[[str], str]) -> None:
    token = 'MIIT"tok&en<é>/+=' + "x" * 20
    text = f"before {spell(token)} after"
    assert spell(token) not in Scrubber([token]).text(text)
    assert Scrubber([token]).text(text).startswith("before ***")


@pytest.mark.parametrize("password", ["s3cret", "pa#ss", "pa?ss", "pa/ss", "pa@ss"])
def test_url_user_info_is_scrubbed_without_any_secret_known(password: str) -> None:
    text = f"see http://alice:{password}@dcs.example.com/v2 now"
    assert Scrubber().text(text) == "see http://***@dcs.example.com/v2 now"


def test_strings_in_keys_and_values_are_scrubbed() -> None:
    secret = "AKEXAMPLEKEY12345678"
    data = {f"x{secret}": [secret, {"k": f"…{secret[5:]}"}], "n": 3}
    assert not leaks(json.dumps(Scrubber([secret]).data(data)), secret)


# -- end to end ----------------------------------------------------------------------------

AK, SK = "ECHOAKEXAMPLE0000001", "echo-secret-key-example-00000000000000001"
TOKEN = 'MIIT"echo&token<' + "t" * 40 + ">end"
_RECORD = {
    "backup_id": "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
    "period": None,
    "backup_name": "backup_20190510163116",
    "instance_id": "i1",
    "size": 880232,
    "backup_type": "manual",
    "created_at": "2019-05-10T08:31:16.166Z",
    "updated_at": "2019-05-10T08:32:30.546Z",
    "progress": "100.00",
    "error_code": None,
    "remark": "001",
    "status": "succeed",
    "is_support_restore": "TRUE",
    "execution_at": "2019-05-11T08:31:16.166Z",
    "backup_format": "aof",
}


def _sent_credential(request: Received) -> str:
    if "x-auth-token" in request.headers:
        return request.headers["x-auth-token"]
    authorization = request.headers.get("authorization", "")
    return authorization.partition("Access=")[2].partition(",")[0]


def echoing(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
    """Echoes the credential it was sent, in an enum field, a key and a free field, at a moving offset.

    The offsets walk across the reports' cut points: 200 characters for ``actual``, 600 for
    the excerpt, and the whole-body position of each field.
    """
    secret = _sent_credential(request)
    if not secret:
        answer("401 Unauthorized", b'{"error_msg": "no credentials", "error_code": "APIGW.0301"}')(
            conn, request, stopped
        )
        return
    shift = sum(map(ord, request.target)) % 64
    record = {
        "remark": "r" * (540 + shift) + secret,
        **_RECORD,
        "status": "s" * (170 + shift) + secret,
        f"x{secret}": 1,
    }
    body = json.dumps({"total_num": 1, "backup_record_response": [record]}).encode()
    answer("200 OK", body)(conn, request, stopped)


@pytest.mark.parametrize("credential", ["aksk", "token"])
def test_a_target_that_echoes_the_credential_leaks_no_fragment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], credential: str
) -> None:
    env = {"DCS_PROJECT_ID": "p1", "DCS_INSTANCE_ID": "i1"}
    env |= {"CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK} if credential == "aksk" else {"DCS_AUTH_TOKEN": TOKEN}
    baseline = tmp_path / "baseline.json"
    reports = tmp_path / "reports"
    flags = ["--max-examples", "5", "--rate-limit", "200", "--record", "--report-dir", str(reports)]
    flags += ["--baseline", str(baseline), "--baseline-update"]
    with HostileServer(echoing) as server:
        code = main(["run", *flags], env={**env, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    captured = capsys.readouterr()
    assert code == 0, captured.err  # every finding is accepted into the baseline it writes
    outputs = {"stdout": captured.out, "stderr": captured.err, "baseline.json": baseline.read_text()}
    outputs |= {path.name: path.read_text() for path in reports.iterdir()}
    assert set(outputs) >= {"report.json", "report.md", "junit.xml", "traffic.har"}
    secrets = [AK, SK] if credential == "aksk" else [TOKEN]
    for secret in secrets:
        for spelling in {secret, json.dumps(secret)[1:-1], html.escape(secret)}:
            for name, text in outputs.items():
                assert not leaks(text, spelling), f"{name} holds a fragment of a secret"
    report = json.loads(outputs["report.json"])
    assert report["findings"] == [] and report["baseline"]["accepted"], "the echo is drift, and was accepted"
    assert {r.method for r in received} == {"GET"}
    assert len(received) == report["requests"]["total"]
