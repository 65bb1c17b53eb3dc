"""``dcs-contract run`` and ``replay`` from a CI network: through a real forward proxy, trusting an
internal CA, with mutual TLS; a certificate it cannot trust is exit 3 at once, naming the fix.

The parts are real and on loopback: Debian's tinyproxy, and the mock served over TLS with
certificates made by trustme (``tests/harness/netlab.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.spec import Spec
from tests.harness.conftest import Serve, live_env
from tests.harness.leaks import assert_no_leak
from tests.harness.netlab import TINYPROXY, Pki, Seen, Tinyproxy, serve_tls

needs_tinyproxy = pytest.mark.skipif(
    not Path(TINYPROXY).exists() and not os.environ.get("CI"), reason="Debian's tinyproxy is not installed"
)
QUICK = ["--max-examples", "3", "--seed", "4", "--rate-limit", "1000", "--no-confirm"]
# Long enough to be scrubbed as a secret, and unlike anything else an output holds.
USER, PASSWORD = "ci-runner", "proxy-Pa55word-of-the-ci-network"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


def _outputs(reports: Path, captured: pytest.CaptureResult[str]) -> dict[str, str]:
    return {"stdout": captured.out, "stderr": captured.err} | {p.name: p.read_text() for p in reports.iterdir()}


@pytest.mark.slow
@needs_tinyproxy
def test_a_run_through_a_proxy_that_needs_credentials_conforms_and_the_proxy_saw_every_request(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "proxy").mkdir()
    with (
        Tinyproxy(tmp_path / "proxy", basic_auth=(USER, PASSWORD)) as proxy,
        serve() as (server, state),
    ):
        proxy_url = f"http://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}"
        env = live_env(server, state)
        argv = ["run", "--report-dir", str(tmp_path / "r"), "--record", "--proxy", proxy_url, *QUICK]
        code = main(argv, env=env)
        seen = proxy.requests()
        served, base_url = state.requests(), server.base_url
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert code == 0, captured.out
    # Every request of the run went through the proxy, and reached the target.
    # (An attempt whose connection the proxy dropped, under load, is retried: it reached neither.)
    dropped = report["requests"]["by_status"].get("error", 0)
    assert len(seen) == len(served) == report["requests"]["total"] - dropped > 20
    assert {entry.method for entry in seen} == {"GET"} and all(e.target.startswith(base_url) for e in seen)
    assert report["settings"]["network"]["proxy"] == f"http://***@127.0.0.1:{proxy.port}"
    outputs = _outputs(tmp_path / "r", captured)
    assert "traffic.har" in outputs
    assert_no_leak(outputs, [PASSWORD, f"{USER}:{PASSWORD}", *state.credentials.secrets()])


@pytest.mark.slow
@needs_tinyproxy
def test_an_https_target_behind_an_internal_ca_through_https_proxy_conforms(
    spec: Spec, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CI runner's own settings: HTTPS_PROXY with credentials, the CA in REQUESTS_CA_BUNDLE."""
    (tmp_path / "proxy").mkdir()
    with serve_tls(spec, pki) as (server, state):
        with Tinyproxy(tmp_path / "proxy", connect_ports=[server.port], basic_auth=(USER, PASSWORD)) as proxy:
            env = {
                **live_env(server, state),
                "HTTPS_PROXY": f"http://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}",
                "REQUESTS_CA_BUNDLE": str(pki.ca_file),
            }
            assert server.base_url.startswith("https://")
            code = main(["run", "--report-dir", str(tmp_path / "r"), *QUICK], env=env)
            seen = proxy.requests()
        served, port = state.requests(), server.port
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert code == 0, captured.out
    # An https target is tunnelled: the proxy sees CONNECT, the target every request.
    assert seen and set(seen) == {Seen("CONNECT", f"127.0.0.1:{port}")}
    assert len(served) == report["requests"]["total"] > 20
    network = report["settings"]["network"]
    assert network["tls_verify"] is True and network["ca_env"] == {"REQUESTS_CA_BUNDLE": str(pki.ca_file)}
    assert_no_leak(_outputs(tmp_path / "r", captured), [PASSWORD, *state.credentials.secrets()])


def test_an_untrusted_certificate_is_exit_3_at_once_naming_the_fix(
    spec: Spec, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_tls(spec, pki) as (server, state):
        code = main(["run", "--report-dir", str(tmp_path / "r"), *QUICK], env=live_env(server, state))
        served = state.requests()
        # The CA given by flag: the same target is then tested, and conforms.
        trusted = main(
            ["run", "--report-dir", str(tmp_path / "t"), "--tls-verify", str(pki.ca_file), *QUICK],
            env=live_env(server, state),
        )
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    # The handshake failed: the target served nothing, and the attempt was not retried.
    assert code == 3 and served == [] and report["requests"]["total"] == 1
    first = captured.out.strip().splitlines()[0]
    assert first.startswith("dcs-contract: UNTESTABLE: ") and "untrusted" in first and "127.0.0.1" in first
    assert "--tls-verify" in first
    assert trusted == 0


def test_verification_off_is_warned_and_written_in_the_report(
    spec: Spec, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_tls(spec, pki) as (server, state):
        code = main(
            ["run", "-q", "--report-dir", str(tmp_path), "--tls-verify", "false", *QUICK], env=live_env(server, state)
        )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.count("warning: TLS verification is off") == 1
    assert json.loads((tmp_path / "report.json").read_text())["settings"]["network"]["tls_verify"] is False


def test_mutual_tls_with_the_client_certificate_of_the_configuration_file(
    spec: Spec, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcs-contract.toml").write_text(
        f'tls_verify = "{pki.ca_file}"\nrequest_cert = "{pki.client_cert}"\nrequest_cert_key = "{pki.client_key}"\n'
    )
    with serve_tls(spec, pki, client_certs=True) as (server, state):
        env = live_env(server, state)
        accepted = main(["run", "--report-dir", "with", *QUICK], env=env)
        refused = main(["run", "--report-dir", "without", "--config", "none.toml", *QUICK], env=env)
    captured = capsys.readouterr()
    assert accepted == 0
    assert json.loads((tmp_path / "with" / "report.json").read_text())["settings"]["network"]["client_cert"] == str(
        pki.client_cert
    )
    assert refused == 2 and "none.toml" in captured.err  # a missing configuration file is a usage error
    (tmp_path / "other.toml").write_text(f'tls_verify = "{pki.ca_file}"\n')
    with serve_tls(spec, pki, client_certs=True) as (server, state):
        refused = main(
            ["run", "--report-dir", "without", "--config", "other.toml", *QUICK], env=live_env(server, state)
        )
    assert refused == 3
    assert "--request-cert" in capsys.readouterr().out.splitlines()[1]


def test_network_flags_are_refused_for_the_embedded_mock_and_bad_ones_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--proxy", "http://127.0.0.1:9"], env={}) == 2
    assert "--proxy applies to a live target only" in capsys.readouterr().err
    env = {"DCS_BASE_URL": "https://dcs.example.com", "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i"}
    env |= {"DCS_AUTH_TOKEN": "token-of-the-test-0000000000000000"}
    assert main(["run", "--proxy", f"socks5://{USER}:{PASSWORD}@127.0.0.1:1080"], env=env) == 2
    err = capsys.readouterr().err
    assert "SOCKS" in err and "--proxy" in err and PASSWORD not in err
    assert main(["run", "--tls-verify", str(tmp_path / "missing.pem")], env=env) == 2
    assert "--tls-verify" in capsys.readouterr().err
    assert main(["run"], env={**env, "HTTPS_PROXY": f"ftp://{USER}:{PASSWORD}@proxy:21"}) == 2
    err = capsys.readouterr().err
    assert "HTTPS_PROXY" in err and PASSWORD not in err
