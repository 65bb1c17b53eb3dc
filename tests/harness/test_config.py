"""Every configuration value is checked before anything is sent or written.

A bad value exits 2 with one line on stderr that names the variable or flag and repeats the
value (never a credential, never a raw control character), and no traceback. The target is a
mock on loopback, addressed as a live target: its request log proves that nothing was sent.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.errors import ConfigError
from dcs_contract.settings.target import BOUNDS, RunSettings, Target
from dcs_contract.transport.signing import Credentials
from tests.harness.conftest import Serve, live_env
from tests.harness.leaks import assert_no_leak

QUICK = ["--max-examples", "5", "--rate-limit", "100"]


def _refused(capsys: pytest.CaptureFixture[str], code: int) -> str:
    """The one line on stderr of a run refused as a usage error."""
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n"), captured.err
    assert "Traceback" not in captured.err
    return captured.err


# -- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/x", "is not an http(s) URL with a host"),
        ("http://", "is not an http(s) URL with a host"),
        ("127.0.0.1:8080", "is not an http(s) URL with a host"),
        ("http://127.0.0.1:abc", "has port 'abc', but a port must be 1..65535"),
        ("http://127.0.0.1:0", "has port '0', but a port must be 1..65535"),
        ("http://127.0.0.1:+80", "has port '+80'"),
        ("http://127.0.0.1:/", "has port ''"),
        ("http://[::1", "is not a URL"),
        # A label that says it is IDNA and is not: httpx decodes it only when asked for the host.
        ("http://xn--zz/", "is not a valid URL: Invalid A-label"),
        ("http://127.0.0.1/v?x=1", "has a query or fragment"),
        ("http://127.0.0.1/#top", "has a query or fragment"),
        ("http://127.0.0.1/?", "has a query or fragment"),
        ("http://127.0.0.1 /", "holds whitespace or control characters"),
        ("http://127.0.0.1\r\nX-Injected: 1", "holds whitespace or control characters"),
    ],
)
def test_a_bad_base_url_is_refused(capsys: pytest.CaptureFixture[str], url: str, message: str) -> None:
    env = {"DCS_BASE_URL": url, "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i", "DCS_AUTH_TOKEN": "t" * 20}
    err = _refused(capsys, main(["run"], env=env))
    assert f"DCS_BASE_URL/--base-url={url!r}" in err and message in err
    assert "\r" not in err


def test_a_port_past_65535_does_not_wrap_around_to_a_real_port(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """65536 + P once reached port P: here P is a mock that would have answered."""
    with serve() as (server, state):
        port = server.port + 65536
        err = _refused(capsys, main(["run", "--base-url", f"http://127.0.0.1:{port}"], env=live_env(server, state)))
        assert state.requests() == []
    assert f"has port '{port}', but a port must be 1..65535" in err


@pytest.mark.parametrize("where", ["env", "flag"])
def test_credentials_in_the_url_are_refused_and_never_shown(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    password = "pa55-w0rd-in-the-url"
    reports = tmp_path / "reports"
    with serve() as (server, state):
        url = server.base_url.replace("http://", f"http://deploy-bot:{password}@")
        env = live_env(server, state)
        argv = ["run", "--report-dir", str(reports), "--record", *QUICK]
        if where == "env":
            env["DCS_BASE_URL"] = url
        else:
            argv += ["--base-url", url]
        err = _refused(capsys, main(argv, env=env))
        assert state.requests() == [], "nothing is sent, not even the unauthenticated probe"
        assert f"'http://***@127.0.0.1:{server.port}'" in err
    assert "carries a user name or password" in err
    assert "CLOUD_SDK_AK and CLOUD_SDK_SK, or DCS_AUTH_TOKEN" in err
    assert_no_leak({"stderr": err}, [password])
    assert "deploy-bot" not in err
    assert not reports.exists(), "nothing written"


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        ("http://deploy-bot:pa#ssw0rdSecret@{host}", "pa#ssw0rdSecret", "'http://***@{host}'"),
        ("http://deploy-bot:pa?ssw0rdSecret@{host}", "pa?ssw0rdSecret", "'http://***@{host}'"),
        ("http://deploy-bot:pa/ssw0rdSecret@{host}", "pa/ssw0rdSecret", "'http://***@{host}'"),
        ("http://deploy-bot:pa@ssw0rdSecret@{host}", "pa@ssw0rdSecret", "'http://***@{host}'"),
        ("https:deploy-bot:ssw0rdSecret@{host}", "ssw0rdSecret", "'https:***@{host}'"),
        ("deploy-bot:ssw0rdSecret@{host}", "ssw0rdSecret", "'***@{host}'"),
    ],
    ids=["hash", "question-mark", "slash", "at", "no-slashes", "no-scheme"],
)
def test_any_at_sign_in_the_url_is_refused_without_what_precedes_it(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, password: str, shown: str
) -> None:
    """A raw / ? # in a password ends the URL's authority before the @ does: the @ alone decides."""
    with serve() as (server, state):
        host = f"127.0.0.1:{server.port}"
        reports = tmp_path / "reports"
        argv = ["run", "--base-url", url.format(host=host), "--report-dir", str(reports), *QUICK]
        err = _refused(capsys, main(argv, env=live_env(server, state)))
        assert state.requests() == [], "nothing is sent"
    assert f"DCS_BASE_URL/--base-url={shown.format(host=host)} carries a user name or password" in err
    assert "set CLOUD_SDK_AK and CLOUD_SDK_SK, or DCS_AUTH_TOKEN instead" in err
    assert_no_leak({"stderr": err}, [password])
    assert "deploy-bot" not in err
    assert not reports.exists(), "nothing written"


@pytest.mark.parametrize(
    "url",
    ["http://u:{pw}@127.0.0.1:8080", "http://u:{pw} x@127.0.0.1/", "http://u:{pw}@[::1", "https://{pw}@h:99999/?q"],
)
def test_a_password_in_an_otherwise_malformed_url_is_never_echoed(capsys: pytest.CaptureFixture[str], url: str) -> None:
    """Credentials are refused first, so that no other message repeats them."""
    password = "pa55-w0rd-in-the-url"
    err = _refused(capsys, main(["run", "--base-url", url.format(pw=password)], env={}))
    assert "carries a user name or password" in err
    assert_no_leak({"stderr": err}, [password])


def test_a_bad_region_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, main(["run", "--region", "eu/../x"], env={}))
    assert "DCS_REGION/--region='eu/../x' is not a region id such as ap-southeast-1" in err


def test_an_empty_flag_is_refused_rather_than_falling_back_to_the_mock(capsys: pytest.CaptureFixture[str]) -> None:
    """`--base-url "$UNSET_CI_VARIABLE"` would otherwise test the embedded mock and pass."""
    err = _refused(capsys, main(["run", "--base-url", ""], env={}))
    assert "--base-url='' is empty" in err


# -- ids ----------------------------------------------------------------------------------

BAD_IDS = ["../../x", "a/b?c", "i-1?offset=0&x=#", "../../../v1/x", "i-1\r\nX-Injected: 1", ".", "..", "a b", "%2e%2e"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    ("variable", "flag"),
    [
        ("DCS_PROJECT_ID", "--project-id"),
        ("DCS_INSTANCE_ID", "--instance-id"),
        ("DCS_EMPTY_INSTANCE_ID", "--empty-instance-id"),
    ],
)
def test_an_id_with_path_characters_sends_nothing(
    serve: Serve, capsys: pytest.CaptureFixture[str], bad: str, variable: str, flag: str
) -> None:
    with serve() as (server, state):
        env = live_env(server, state) | {variable: bad}
        err = _refused(capsys, main(["run", *QUICK], env=env))
        assert state.requests() == []
    assert f"{variable}/{flag}={bad!r}, but an id must be 1 to 128 letters, digits, '-', '_', '.' or '~'" in err
    assert "\r" not in err


def test_an_id_given_as_a_flag_is_checked_the_same_way(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as (server, state):
        err = _refused(capsys, main(["run", "--instance-id", "../../x", *QUICK], env=live_env(server, state)))
        assert state.requests() == []
    assert "DCS_INSTANCE_ID/--instance-id='../../x'" in err


@pytest.mark.parametrize("flag", ["--project-id", "--instance-id"])
@pytest.mark.parametrize("bad", ["a/b?c", "i-1\nx", ".."])
def test_the_mock_refuses_the_same_ids(capsys: pytest.CaptureFixture[str], flag: str, bad: str) -> None:
    """Checked before the mock starts: main returns instead of serving forever."""
    err = _refused(capsys, main(["mock", "--port", "0", flag, bad], env={}))
    assert f"{flag}={bad!r}, but an id must be" in err


def test_ids_as_the_services_use_them_are_accepted() -> None:
    target = Target.from_env(
        {
            "DCS_BASE_URL": "https://dcs.ap-southeast-1.myhuaweicloud.com/",
            "DCS_PROJECT_ID": "0b0c3a1e7d8f4a6b9c2d1e0f3a4b5c6d",
            "DCS_INSTANCE_ID": "5ed66239-08c1-4e21-a1ab-2684265d2ce0",
            "DCS_AUTH_TOKEN": "t",
        }
    )
    assert target.base_url == "https://dcs.ap-southeast-1.myhuaweicloud.com"


# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rate-limit", "1e-300"], "--rate-limit=1e-300, but it must be 0.01..1000 requests per second"),
        (["--rate-limit", "inf"], "--rate-limit=inf, but it must be 0.01..1000"),
        (["--rate-limit", "1001"], "--rate-limit=1001.0, but it must be 0.01..1000"),
        (["--timeout", "1e300"], "--timeout=1e+300, but it must be more than 0 and at most 3600 seconds"),
        (["--timeout", "nan"], "--timeout=nan, but it must be more than 0"),
        (["--timeout", "0"], "--timeout=0.0, but it must be more than 0"),
        (["--max-requests", "1000001"], "--max-requests=1000001, but it must be 1..1000000 requests"),
        (["--max-requests", "0"], "--max-requests=0, but it must be 1..1000000"),
        (["--max-examples", "100001"], "--max-examples=100001, but it must be 1..100000"),
        (["--max-body", "65535"], "--max-body=65535, but it must be 65536..1073741824 bytes"),
        (["--max-body", str(2**30 + 1)], f"--max-body={2**30 + 1}, but it must be 65536..1073741824"),
        (["--seed", "-1"], "--seed=-1, but it must be 0..18446744073709551615"),
        (["--seed", str(10**400)], "--seed=1000"),
        (["--mock-records", "-1"], "--mock-records=-1, but it must be 0..100000"),
        (["--mock-data-seed", "-5"], "--mock-data-seed=-5, but it must be 0.."),
    ],
)
def test_a_number_out_of_bounds_is_refused(
    serve: Serve, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    err = _refused(capsys, main(["run", *flags], env={}))
    assert message in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--port", "65536"], "--port=65536, but it must be 0..65535"), (["--mock-records", "-1"], "--mock-records=-1")],
)
def test_the_mocks_numbers_are_checked_by_the_same_bounds(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert message in _refused(capsys, main(["mock", *flags], env={}))


def test_the_bounds_themselves_are_accepted() -> None:
    target = Target.from_env({})
    for name in ("max_examples", "max_requests", "rate_limit", "max_body", "seed"):
        bound = BOUNDS[name]
        for value in (bound.low, bound.high):
            RunSettings.for_target(target, **{name: int(value) if name != "rate_limit" else value})
    RunSettings.for_target(target, timeout=3600.0)
    RunSettings.for_target(target, timeout=math.ulp(0.0))
    with pytest.raises(ConfigError, match=r"--timeout=3600\.5"):
        RunSettings.for_target(target, timeout=3600.5)


def test_the_default_body_cap_is_8_mib() -> None:
    assert RunSettings().max_body == 8 * 1024 * 1024
    assert RunSettings.for_target(Target.from_env({}), max_body=65536).max_body == 65536


# -- files the run will write ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "argv", "message"),
    [
        ("reports/report.json/", ["--report-dir", "{t}/reports"], "cannot write {t}/reports/report.json: it is a dir"),
        (
            "reports/junit.xml/",
            ["--report-dir", "{t}/reports"],
            "cannot write {t}/reports/junit.xml: it is a directory",
        ),
        ("reports", ["--report-dir", "{t}/reports/deeper"], "cannot write {t}/reports: it is not a directory"),
        ("", ["--report-dir", "{t}/r", "--record", "."], "--record='.': cannot write .: it is a directory"),
        ("", ["--report-dir", "{t}/r", "--record", "{t}"], "--record='{t}': cannot write {t}: it is a directory"),
        ("blocker", ["--report-dir", "{t}/r", "--record", "{t}/blocker/x.har"], "cannot write {t}/blocker: it is not"),
        (
            "",
            ["--report-dir", "{t}/r", "--record", "{t}/r/report.json"],
            "--record='{t}/r/report.json': {t}/r/report.json is written as report.json of --report-dir='{t}/r' too",
        ),
        (
            "b/",
            ["--report-dir", "{t}/r", "--baseline", "{t}/b", "--baseline-update"],
            "--baseline='{t}/b': cannot write {t}/b: it is a directory",
        ),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_anything_is_sent(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str, argv: list[str], message: str
) -> None:
    if layout.endswith("/"):
        (tmp_path / layout).mkdir(parents=True)
    elif layout:
        (tmp_path / layout).write_text("in the way")
    before = sorted(tmp_path.rglob("*"))
    with serve() as (server, state):
        argv = [part.format(t=tmp_path) for part in argv]
        err = _refused(capsys, main(["run", *argv, *QUICK], env=live_env(server, state)))
        assert state.requests() == []
    assert message.format(t=tmp_path) in err
    assert sorted(tmp_path.rglob("*")) == before, "no directory or file left behind"


def test_the_docs_output_is_checked_before_rendering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "site" / "index.html").mkdir(parents=True)
    err = _refused(capsys, main(["docs", "--out", str(tmp_path / "site")], env={}))
    assert f"--out='{tmp_path}/site': cannot write {tmp_path}/site/index.html: it is a directory" in err
    assert not (tmp_path / "site" / "index.md").exists()


def test_a_configured_secret_is_scrubbed_from_a_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    """A value echoed back in an error is scrubbed like every other output."""
    token = "tok-" + "s3cr3t" * 6
    env = {"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p", "DCS_AUTH_TOKEN": token}
    err = _refused(capsys, main(["run", "--instance-id", token + "/x"], env=env))
    assert "--instance-id='***/x'" in err
    assert_no_leak({"stderr": err}, [token])


# -- credentials ----------------------------------------------------------------------------

AK, SK, TOKEN = "AKIDEXAMPLE0123456789", "sk-" + "s3cr3t" * 6, "MIIT" + "t0k3n" * 8


def test_credentials_come_from_the_environment_and_never_show_in_their_repr() -> None:
    credentials = Credentials.from_env({"CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK, "DCS_AUTH_TOKEN": TOKEN})
    assert credentials.secrets() == [AK, SK, TOKEN]
    assert credentials.describe() == "AK/SK from CLOUD_SDK_AK/CLOUD_SDK_SK (AK AKID…)"
    for secret in (AK, SK, TOKEN):
        assert secret not in repr(credentials)
    assert not Credentials.from_env({"CLOUD_SDK_AK": "", "CLOUD_SDK_SK": ""}).present, "empty is not set"


def test_half_an_ak_sk_pair_is_refused_by_the_mock_as_by_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Checked before the mock starts: main returns instead of serving forever, and echoes no key."""
    err = _refused(capsys, main(["mock", "--port", "0"], env={"CLOUD_SDK_AK": AK}))
    assert "CLOUD_SDK_SK is not set" in err
    assert_no_leak({"stderr": err}, [AK])


_CREDENTIAL_PROBLEMS = [
    ("CLOUD_SDK_AK", "AKÉXAMPLE0123456789", "holds a character that is not ASCII"),
    ("CLOUD_SDK_SK", "sk-sécret-0123456789abcdefghij", "holds a character that is not ASCII"),
    ("CLOUD_SDK_AK", "AKIDEXAMPLE0123456789\n", "starts or ends with whitespace"),
    ("CLOUD_SDK_SK", " sk-s3cr3t-0123456789abcdefghij", "starts or ends with whitespace"),
    ("CLOUD_SDK_SK", "sk-s3cr3t-0123456789\tabcdefghij", "holds a space or a control character"),
    ("DCS_AUTH_TOKEN", "MIIT-t0k3n-0123456789\r\nX-Injected: 1", "holds a space or a control character"),
    ("DCS_AUTH_TOKEN", "MIIT-t0k3n-0123456789\x00abcdefgh", "holds a space or a control character"),
    ("DCS_AUTH_TOKEN", "MIIT-t0k3n-0123456789\x7fabcdefgh", "holds a space or a control character"),
    ("DCS_AUTH_TOKEN", "MIIT-tökén-0123456789abcdefgh", "holds a character that is not ASCII"),
    ("DCS_AUTH_TOKEN", "MIIT-t0k3n-0123456789abcdefgh\r\n", "starts or ends with whitespace"),
]


@pytest.mark.parametrize(("variable", "value", "problem"), _CREDENTIAL_PROBLEMS)
def test_a_credential_that_cannot_be_sent_is_refused_before_anything_is_sent(
    serve: Serve, capsys: pytest.CaptureFixture[str], variable: str, value: str, problem: str
) -> None:
    """Once a UnicodeEncodeError when signing (exit 4), or an illegal header retried 5 times (exit 3)."""
    with serve() as (server, state):
        env = live_env(server, state, token=variable == "DCS_AUTH_TOKEN") | {variable: value}
        err = _refused(capsys, main(["run", *QUICK], env=env))
        assert state.requests() == [], "nothing is sent, not even the unauthenticated probe"
    assert err.startswith(f"dcs-contract: {variable} {problem}")
    assert "a credential is sent in an HTTP header, as printable ASCII without spaces" in err
    assert_no_leak({"stderr": err}, [value, *state.credentials.secrets()])
    # The message itself names no value: main's scrubber is not what keeps it out.
    with pytest.raises(ConfigError) as raised:
        Credentials.from_env(env)
    assert_no_leak({"message": str(raised.value)}, [value])


def test_the_mock_refuses_a_credential_it_could_not_accept(capsys: pytest.CaptureFixture[str]) -> None:
    token = "MIIT-t0k3n\r\nX-Injected: 1"
    err = _refused(capsys, main(["mock", "--port", "0"], env={"DCS_AUTH_TOKEN": token}))
    assert "DCS_AUTH_TOKEN holds a space or a control character" in err
    assert_no_leak({"stderr": err}, [token])
