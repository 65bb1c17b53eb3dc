"""Reaching a target through a proxy, and over TLS with the CA, host name and client certificate it takes.

The proxy is Debian's tinyproxy and the TLS server the mock under uvicorn, with certificates
from trustme: real parts on loopback, started and stopped by each test (``netlab.py``). What
the proxy logged is the proof of what went through it.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from dcs_contract.contract.spec import Spec
from dcs_contract.engine.suite import guarded
from dcs_contract.errors import ConfigError, ProxyRejected, TlsRejected, Unreachable
from dcs_contract.mock import MockServer, MockState
from dcs_contract.redaction import Scrubber
from dcs_contract.settings.target import RunSettings
from dcs_contract.transport.deadline import DeadlineTransport
from dcs_contract.transport.guard import GuardedTransport, UnsafeMethod, build_client
from dcs_contract.transport.network import Network
from tests.harness.conftest import Serve
from tests.harness.hostile import Behaviour, HostileServer, dripping, processing_forever
from tests.harness.leaks import assert_no_leak
from tests.harness.netlab import TINYPROXY, Pki, Seen, Tinyproxy, free_port, serve_tls

# In CI (.ci/run installs it) a missing tinyproxy fails the tests instead of skipping them.
needs_tinyproxy = pytest.mark.skipif(
    not Path(TINYPROXY).exists() and not os.environ.get("CI"), reason="Debian's tinyproxy is not installed"
)


# -- proxy_for: which proxy a URL goes through ----------------------------------------------------

P, Q, F = "http://p.test:3128", "http://q.test:3128", "http://flag.test:8080"
PROXY_CASES: list[tuple[str, dict[str, str], str, str | None]] = [
    ("https variable, https URL", {"HTTPS_PROXY": P}, "https://dcs.test/", P),
    ("https variable, http URL", {"HTTPS_PROXY": P}, "http://dcs.test/", None),
    ("http variable, http URL", {"HTTP_PROXY": P}, "http://dcs.test/", P),
    ("http variable, https URL", {"HTTP_PROXY": P}, "https://dcs.test/", None),
    ("lowercase wins", {"https_proxy": Q, "HTTPS_PROXY": P}, "https://dcs.test/", Q),
    ("lowercase set empty unsets", {"https_proxy": "", "HTTPS_PROXY": P}, "https://dcs.test/", None),
    ("ALL_PROXY, https", {"ALL_PROXY": P}, "https://dcs.test/", P),
    ("ALL_PROXY, http", {"all_proxy": P}, "http://dcs.test/", P),
    ("scheme wins over ALL_PROXY", {"ALL_PROXY": P, "HTTPS_PROXY": Q}, "https://dcs.test/", Q),
    ("ALL_PROXY for the other scheme", {"ALL_PROXY": P, "HTTPS_PROXY": Q}, "http://dcs.test/", P),
    ("host:port is an http proxy", {"HTTPS_PROXY": "p.test:3128"}, "https://dcs.test/", P),
    ("NO_PROXY domain", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test"}, "https://dcs.test/", None),
    ("NO_PROXY subdomain", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test"}, "https://api.dcs.test/", None),
    ("NO_PROXY is no suffix", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test"}, "https://otherdcs.test/", P),
    ("NO_PROXY leading dot, itself", {"HTTPS_PROXY": P, "NO_PROXY": ".dcs.test"}, "https://dcs.test/", None),
    ("NO_PROXY leading dot, sub", {"HTTPS_PROXY": P, "NO_PROXY": ".dcs.test"}, "https://a.b.dcs.test/", None),
    ("NO_PROXY *.domain", {"HTTPS_PROXY": P, "NO_PROXY": "*.dcs.test"}, "https://a.dcs.test/", None),
    ("NO_PROXY any case", {"HTTPS_PROXY": P, "NO_PROXY": "DCS.Test"}, "https://dcs.TEST/", None),
    ("NO_PROXY list", {"HTTPS_PROXY": P, "NO_PROXY": "localhost, dcs.test ,x"}, "https://dcs.test/", None),
    ("NO_PROXY port", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test:8443"}, "https://dcs.test:8443/", None),
    ("NO_PROXY other port", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test:8443"}, "https://dcs.test/", P),
    ("NO_PROXY default port", {"HTTPS_PROXY": P, "NO_PROXY": "dcs.test:443"}, "https://dcs.test/", None),
    ("NO_PROXY IP", {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3"}, "https://10.1.2.3/", None),
    ("NO_PROXY other IP", {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3"}, "https://10.1.2.4/", P),
    ("NO_PROXY CIDR", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, "https://10.200.0.1/", None),
    ("NO_PROXY CIDR, outside", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, "https://11.0.0.1/", P),
    ("NO_PROXY CIDR, a name", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, "https://ten.test/", P),
    ("NO_PROXY IPv6", {"HTTPS_PROXY": P, "NO_PROXY": "::1"}, "https://[::1]:8443/", None),
    ("NO_PROXY IPv6 port", {"HTTPS_PROXY": P, "NO_PROXY": "[::1]:8443"}, "https://[::1]:8443/", None),
    ("NO_PROXY IPv6 CIDR", {"HTTPS_PROXY": P, "NO_PROXY": "fd00::/8"}, "https://[fd12::1]/", None),
    ("NO_PROXY *", {"HTTPS_PROXY": P, "NO_PROXY": "*"}, "https://dcs.test/", None),
    ("no_proxy wins", {"HTTPS_PROXY": P, "no_proxy": "a.test", "NO_PROXY": "dcs.test"}, "https://dcs.test/", P),
    (
        "NO_PROXY with a scheme",
        {"HTTPS_PROXY": P, "ALL_PROXY": P, "NO_PROXY": "http://dcs.test"},
        "http://dcs.test/",
        None,
    ),
    ("NO_PROXY with another scheme", {"ALL_PROXY": P, "NO_PROXY": "http://dcs.test"}, "https://dcs.test/", P),
]


@pytest.mark.parametrize(
    ("env", "url", "expected"), [case[1:] for case in PROXY_CASES], ids=[c[0] for c in PROXY_CASES]
)
def test_the_environment_says_which_proxy(env: dict[str, str], url: str, expected: str | None) -> None:
    proxy = Network(env=env).proxy_for(url)
    assert (None if proxy is None else str(proxy.url)) == expected


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"HTTPS_PROXY": P, "HTTP_PROXY": P, "ALL_PROXY": P}, "https://dcs.test/", F),
        ({}, "http://dcs.test/", F),
        ({"HTTPS_PROXY": "socks5://unused.test:1080"}, "https://dcs.test/", F),
        ({"HTTPS_PROXY": P, "NO_PROXY": "dcs.test"}, "https://dcs.test/", None),
        ({"no_proxy": "*"}, "https://dcs.test/", None),
    ],
    ids=["wins-over-env", "every-scheme", "env-not-read", "no-proxy-applies", "no-proxy-star"],
)
def test_the_proxy_flag_wins_over_the_environment_but_not_over_no_proxy(
    env: dict[str, str], url: str, expected: str | None
) -> None:
    proxy = Network(proxy=F, env=env).proxy_for(url)
    assert (None if proxy is None else str(proxy.url)) == expected


def test_a_proxy_with_credentials_authenticates_with_them_and_direct_ignores_the_environment() -> None:
    proxy = Network(proxy="http://alice:p%40ss/word@flag.test:8080").proxy_for("https://dcs.test/")
    assert proxy is not None
    assert (str(proxy.url), proxy.auth) == (F, ("alice", "p@ss/word"))
    assert Network.direct({"HTTPS_PROXY": P, "ALL_PROXY": P}).proxy_for("https://dcs.test/") is None


# -- ConfigError: names the flag or variable, repeats the value, never a password ----------------

PASSWORD = "s3cret-Proxy-pw"


def _encrypted_key(pki: Pki, path: Path) -> Path:
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"proxy": f"socks5://u:{PASSWORD}@p.test:1080"},
            r"--proxy='socks5://\*\*\*@p.test:1080' is a SOCKS proxy.*HTTP",
        ),
        ({"proxy": "ftp://p.test"}, r"--proxy='ftp://p.test' is not an http:// or https://"),
        ({"proxy": f"http://u:{PASSWORD}@p.test:99999"}, r"--proxy='http://\*\*\*@p.test:99999' has port '99999'"),
        ({"proxy": f"http://u:{PASSWORD}@p.test:0"}, r"has port '0', but a port must be 1..65535"),
        ({"proxy": f"http://u:{PASSWORD}@:3128"}, r"--proxy='http://\*\*\*@:3128' names no host"),
        ({"proxy": f"http://u:{PASSWORD}@p.test:31x"}, r"has port '31x'"),
        ({"proxy": f"http://u:{PASSWORD}@xn--:3128"}, r"--proxy='http://\*\*\*@xn--:3128' is not a valid proxy URL"),
        ({"proxy": "  "}, r"--proxy='' is empty"),
        (
            {"env": {"HTTPS_PROXY": f"socks5h://u:{PASSWORD}@p.test:1"}},
            r"HTTPS_PROXY='socks5h://\*\*\*@p.test:1'.*SOCKS",
        ),
        ({"env": {"all_proxy": f"u:{PASSWORD}@p.test:0"}}, r"all_proxy='\*\*\*@p.test:0' has port '0'"),
        ({"env": {"NO_PROXY": "localhost,10.0.0.0/33"}}, r"NO_PROXY: '10.0.0.0/33' is not a host"),
        ({"tls_verify": Path("/nonexistent/ca.pem")}, r"--tls-verify='/nonexistent/ca.pem' does not exist"),
        ({"env": {"SSL_CERT_FILE": "/nonexistent/ca.pem"}}, r"SSL_CERT_FILE='/nonexistent/ca.pem' does not exist"),
        ({"env": {"SSL_CERT_DIR": "/nonexistent/certs"}}, r"SSL_CERT_DIR='/nonexistent/certs' does not exist"),
        ({"env": {"REQUESTS_CA_BUNDLE": "/nonexistent/b.pem"}}, r"REQUESTS_CA_BUNDLE='/nonexistent/b.pem' does not"),
        ({"proxy": "socks5://p.test:1", "labels": {"proxy": "proxy in dcs.toml"}}, r"^proxy in dcs.toml='socks5:"),
    ],
    ids=[
        "socks",
        "scheme",
        "port-too-big",
        "port-0",
        "no-host",
        "port-not-a-number",
        "idna",
        "empty",
        "env-socks",
        "env-lowercase-port",
        "no-proxy-cidr",
        "ca-path",
        "ssl-cert-file",
        "ssl-cert-dir",
        "requests-ca-bundle",
        "label",
    ],
)
def test_a_bad_setting_is_a_config_error_that_names_it(settings: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        Network(**settings)
    assert PASSWORD not in str(caught.value)


def test_a_bad_tls_file_is_a_config_error_that_names_it(pki: Pki, tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    other = Pki.make(tmp_path / "other")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tls_verify": not_pem}, r"--tls-verify='.*not.pem' holds no usable PEM CA certificate"),
        ({"env": {"REQUESTS_CA_BUNDLE": str(not_pem)}}, r"REQUESTS_CA_BUNDLE='.*not.pem' holds no usable PEM"),
        ({"client_key": pki.client_key}, r"--request-cert-key='.*client.key' is given without --request-cert$"),
        ({"client_cert": pki.client_cert}, r"--request-cert='.*client.pem' is given without --request-cert-key"),
        ({"client_cert": tmp_path / "none.pem", "client_key": pki.client_key}, r"--request-cert='.*none.pem' is not a"),
        ({"client_cert": pki.client_cert, "client_key": other.client_key}, r"the key does not belong to the cert"),
        ({"client_cert": not_pem, "client_key": not_pem}, r"--request-cert='.*not.pem' with .*: not a PEM certificate"),
        (
            {"client_cert": pki.client_cert, "client_key": _encrypted_key(pki, tmp_path / "enc.key")},
            r"--request-cert-key='.*enc.key' is protected by a passphrase.*decrypted",
        ),
    ]
    for settings, expected in cases:
        with pytest.raises(ConfigError, match=expected):
            Network(**settings)


@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "1", "on", True])
def test_tls_verify_true(value: str | bool) -> None:
    assert Network.parse_tls_verify(value) is True


@pytest.mark.parametrize("value", ["false", "No", "0", "off", False])
def test_tls_verify_false(value: str | bool) -> None:
    assert Network.parse_tls_verify(value) is False


def test_tls_verify_path() -> None:
    assert Network.parse_tls_verify(" /etc/ca.pem ") == Path("/etc/ca.pem")
    with pytest.raises(ConfigError, match="--tls-verify='' is empty"):
        Network.parse_tls_verify("")


# -- secrets() and describe() ---------------------------------------------------------------------


def test_every_proxy_password_is_a_secret_and_none_is_described() -> None:
    env = {
        "HTTPS_PROXY": "http://bob:env-https-secret@envproxy.test:8080",
        "http_proxy": "carol:env-http-secret@envproxy.test:8081",
        "NO_PROXY": "localhost",
        "SSL_CERT_FILE": "/nonexistent-but-unused",  # not read: tls_verify is a flag's False
        "CLOUD_SDK_SK": "not-a-network-variable",
    }
    flagged = Network(proxy="http://alice:fl%40g/secret@flag.test:3128", tls_verify=False, env=env)
    secrets = flagged.secrets()
    token = base64.b64encode(b"alice:fl@g/secret").decode()
    for secret in ("fl%40g/secret", "fl@g/secret", "alice:fl%40g/secret", token, "env-https-secret", "env-http-secret"):
        assert secret in secrets
    assert "CLOUD_SDK_SK" not in flagged.env
    assert flagged.describe() == {
        "proxy": "http://***@flag.test:3128",
        "proxy_env": {"NO_PROXY": "localhost"},
        "tls_verify": False,
        "ca_env": {},
        "client_cert": None,
    }
    from_env = Network(env={name: value for name, value in env.items() if name != "SSL_CERT_FILE"})
    assert from_env.describe()["proxy_env"] == {
        "HTTPS_PROXY": "http://***@envproxy.test:8080",
        "http_proxy": "http://***@envproxy.test:8081",
        "NO_PROXY": "localhost",
    }
    assert set(from_env.secrets()) >= {"env-https-secret", "bob:env-https-secret", "env-http-secret"}
    shown = {
        "describe": json.dumps([flagged.describe(), from_env.describe()]),
        "repr": repr(flagged) + repr(from_env),
        "scrubbed": Scrubber(flagged.secrets()).text(
            f"via {flagged.proxy} and {env['HTTPS_PROXY']}: Proxy-Authorization: Basic {token}"
        ),
    }
    assert_no_leak(shown, ["fl@g/secret", "fl%40g/secret", "env-https-secret", "env-http-secret", token])


def test_describe_names_the_ca_and_the_client_certificate(pki: Pki) -> None:
    network = Network(client_cert=pki.client_cert, client_key=pki.client_key, env={"SSL_CERT_FILE": str(pki.ca_file)})
    assert network.describe() == {
        "proxy": None,
        "proxy_env": {},
        "tls_verify": True,
        "ca_env": {"SSL_CERT_FILE": str(pki.ca_file)},
        "client_cert": str(pki.client_cert),
    }
    assert network.ssl_context() is network.ssl_context()


# -- through a real proxy -------------------------------------------------------------------------


def _guard(network: Network, *, retries: int = 4, deadline: float = 5.0) -> tuple[GuardedTransport, list[float]]:
    sleeps: list[float] = []
    guard = GuardedTransport(
        DeadlineTransport(network),
        max_requests=10,
        rate_limit=None,
        retries=retries,
        deadline=deadline,
        sleep=sleeps.append,
    )
    return guard, sleeps


def _backups(state: MockState) -> str:
    return f"/v2/{state.project_id}/instances/{state.instance_id}/backups"


def _get(server: MockServer, state: MockState, guard: GuardedTransport) -> httpx.Response:
    with build_client(server.base_url, auth=state.credentials.auth(state.project_id), guard=guard, timeout=5) as client:
        return client.get(_backups(state), params={"limit": "1"})


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path) as started:
        yield started


@needs_tinyproxy
def test_an_http_target_is_forwarded_by_the_proxy_of_http_proxy(serve: Serve, proxy: Tinyproxy) -> None:
    """Through suite.guarded, as a run sends: the proxy sees the absolute URL of a plain GET."""
    network = Network(env={"HTTP_PROXY": proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9"})
    settings = RunSettings(max_requests=5, retries=0, timeout=5.0, network=network)
    with serve() as (server, state):
        guard = guarded(settings)
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()
        assert [(r.method, r.path) for r in state.log] == [("GET", _backups(state))]
        assert proxy.requests() == [Seen("GET", f"{server.base_url}{_backups(state)}?limit=1")]


@needs_tinyproxy
def test_an_https_target_is_tunnelled_with_connect(spec: Spec, pki: Pki, tmp_path: Path) -> None:
    with serve_tls(spec, pki) as (server, state), Tinyproxy(tmp_path, connect_ports=[server.port]) as proxy:
        guard, _ = _guard(Network(proxy=proxy.url, tls_verify=pki.ca_file, env={"HTTPS_PROXY": "http://127.0.0.1:9"}))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()
        assert proxy.requests() == [Seen("CONNECT", f"127.0.0.1:{server.port}")]
        assert len(state.log) == 1


@needs_tinyproxy
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_proxy_that_wants_credentials_refuses_at_once_then_takes_them(
    scheme: str, spec: Spec, serve: Serve, pki: Pki, tmp_path: Path
) -> None:
    secret = "tiny-proxy-pass"
    serving = serve() if scheme == "http" else serve_tls(spec, pki)
    with serving as (server, state):
        auth = Tinyproxy(tmp_path, connect_ports=[server.port], basic_auth=("tinyuser", secret))
        with auth as proxy:
            guard, sleeps = _guard(Network(proxy=proxy.url, tls_verify=pki.ca_file))
            with pytest.raises(ProxyRejected, match=r"proxy refused the request to 127.0.0.1 .*407.*--proxy") as caught:
                _get(server, state, guard)
            assert (guard.stats.attempts, sleeps) == (1, []), "a 407 is not retried"
            assert secret not in str(caught.value)
            guard, _ = _guard(Network(proxy=f"http://tinyuser:{secret}@127.0.0.1:{proxy.port}", tls_verify=pki.ca_file))
            assert _get(server, state, guard).status_code == 200
            guard.shutdown()
            method = "GET" if scheme == "http" else "CONNECT"
            assert [r.method for r in proxy.requests()] == [method, method]
        assert len(state.log) == 1, "only the request with credentials reached the target"


@needs_tinyproxy
def test_a_proxy_that_will_not_tunnel_to_the_port_refuses_at_once(spec: Spec, pki: Pki, tmp_path: Path) -> None:
    with serve_tls(spec, pki) as (server, state), Tinyproxy(tmp_path, connect_ports=[443]) as proxy:
        guard, sleeps = _guard(Network(proxy=proxy.url, tls_verify=pki.ca_file))
        with pytest.raises(ProxyRejected, match=r"proxy refused to connect to 127.0.0.1 \(403 .*NO_PROXY"):
            _get(server, state, guard)
        assert (guard.stats.attempts, sleeps) == (1, [])
        assert proxy.requests() == [Seen("CONNECT", f"127.0.0.1:{server.port}")]
        assert state.log == []


@needs_tinyproxy
@pytest.mark.parametrize(
    "network",
    [
        lambda url: Network(env={"HTTP_PROXY": url, "NO_PROXY": "localhost,127.0.0.1"}),
        lambda url: Network(env={"all_proxy": url, "no_proxy": "127.0.0.0/8"}),
        lambda url: Network(proxy=url, env={"NO_PROXY": "*"}),
    ],
    ids=["env-ip", "env-cidr", "flag-star"],
)
def test_no_proxy_sends_a_host_direct(network: Any, serve: Serve, proxy: Tinyproxy) -> None:
    with serve() as (server, state):
        guard, _ = _guard(network(proxy.url))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()
        assert len(state.log) == 1
    assert proxy.requests() == []
    assert "Connect (file descriptor" not in proxy.log.read_text(), "not even a connection reached the proxy"


@needs_tinyproxy
@pytest.mark.parametrize("behaviour", [processing_forever, dripping], ids=["102-forever", "one-byte-a-second"])
def test_the_deadline_and_the_get_rule_hold_through_the_proxy(behaviour: Behaviour, proxy: Tinyproxy) -> None:
    """httpx's own timeout is far off: only the deadline, on the proxy's sockets too, ends the exchange."""
    with HostileServer(behaviour, lifetime=10) as target:
        guard, _ = _guard(Network(proxy=proxy.url), retries=0, deadline=1.0)
        with build_client(target.base_url, auth=None, guard=guard, timeout=30.0) as client:
            with pytest.raises(UnsafeMethod):
                client.post("/v2/p/instances/i/backups")
            started = time.monotonic()
            with pytest.raises(Unreachable, match="did not answer"):
                client.get("/v2/p/instances/i/backups")
            elapsed = time.monotonic() - started
        assert [(r.method, r.path) for r in target.requests()] == [("GET", "/v2/p/instances/i/backups")]
    assert 1.0 <= elapsed < 2.5, elapsed
    assert [r.method for r in proxy.requests()] == ["GET"]


# -- TLS ------------------------------------------------------------------------------------------


def _tls_refused(network: Network, server: MockServer, state: MockState, expected: str) -> TlsRejected:
    guard, sleeps = _guard(network)
    with pytest.raises(TlsRejected, match=expected) as caught:
        _get(server, state, guard)
    assert (guard.stats.attempts, guard.stats.retries, sleeps) == (1, 0, []), "a TLS failure is not retried"
    assert len(guard.stats.exchanges) == 1
    assert state.log == [], "the request never reached the app"
    guard.shutdown()
    return caught.value


def test_an_untrusted_certificate_is_refused_at_once_and_says_how_to_trust_it(spec: Spec, pki: Pki) -> None:
    with serve_tls(spec, pki) as (server, state):
        _tls_refused(Network(), server, state, r"certificate of 127.0.0.1 has an untrusted issuer .*--tls-verify PATH")
        # The environment's proxies do not matter: a TLS verdict is the target's.
        _tls_refused(Network.direct({"HTTPS_PROXY": "http://127.0.0.1:9"}), server, state, "SSL_CERT_FILE")


@pytest.mark.parametrize(
    "how", ["tls-verify-file", "tls-verify-dir", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"]
)
def test_the_ca_is_trusted_from_the_flag_or_any_variable(how: str, spec: Spec, pki: Pki, tmp_path: Path) -> None:
    ca_dir = pki.ca_dir(tmp_path / "certs") if how in ("tls-verify-dir", "SSL_CERT_DIR") else None
    if how in ("tls-verify-dir", "SSL_CERT_DIR") and ca_dir is None:
        pytest.skip("openssl is not installed: no subject hash to name the CA in a directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    choices: dict[str, dict[str, Any]] = {
        "tls-verify-file": {"tls_verify": pki.ca_file},
        "tls-verify-dir": {"tls_verify": ca_dir},
        "SSL_CERT_FILE": {"env": {"SSL_CERT_FILE": str(pki.ca_file)}},
        # A list of directories, as OpenSSL reads it.
        "SSL_CERT_DIR": {"env": {"SSL_CERT_DIR": f"{empty}{os.pathsep}{ca_dir}"}},
        "REQUESTS_CA_BUNDLE": {"env": {"REQUESTS_CA_BUNDLE": str(pki.ca_file)}},
    }
    with serve_tls(spec, pki) as (server, state):
        guard, _ = _guard(Network(**choices[how]))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()


def test_every_ca_variable_set_is_loaded(spec: Spec, pki: Pki, tmp_path: Path) -> None:
    other = Pki.make(tmp_path / "other")
    env = {"SSL_CERT_FILE": str(other.ca_file), "REQUESTS_CA_BUNDLE": str(pki.ca_file)}
    with serve_tls(spec, pki) as (server, state):
        guard, _ = _guard(Network(env=env))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()


def test_networks_without_tls_settings_share_certifis_trust_and_the_others_have_their_own(pki: Pki) -> None:
    """certifi's bundle is loaded once per process; a CA of its own or no verification makes a Network's own."""
    default = Network().ssl_context()
    assert Network(env={"HTTPS_PROXY": "http://127.0.0.1:1"}).ssl_context() is default
    assert default.verify_mode == ssl.CERT_REQUIRED and default.check_hostname
    assert default.cert_store_stats()["x509_ca"] > 100, "certifi's CAs"
    own = [Network(tls_verify=pki.ca_file), Network(env={"SSL_CERT_FILE": str(pki.ca_file)}), Network(tls_verify=False)]
    contexts = [network.ssl_context() for network in own]
    assert len({id(context) for context in [default, *contexts]}) == 4
    assert [context.cert_store_stats()["x509_ca"] for context in contexts[:2]] == [1, 1]
    assert contexts[2].verify_mode == ssl.CERT_NONE and default.verify_mode == ssl.CERT_REQUIRED


def test_a_certificate_for_another_host_name_is_refused(spec: Spec, tmp_path: Path) -> None:
    pki = Pki.make(tmp_path, names=("dcs.other.test",))
    with serve_tls(spec, pki) as (server, state):
        refused = _tls_refused(
            Network(tls_verify=pki.ca_file), server, state, r"certificate of 127.0.0.1 is for a wrong host name"
        )
        assert "--base-url" in str(refused)


def test_an_expired_certificate_is_refused(spec: Spec, tmp_path: Path) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    pki = Pki.make(tmp_path, not_before=past - datetime.timedelta(days=30), not_after=past)
    with serve_tls(spec, pki) as (server, state):
        _tls_refused(Network(tls_verify=pki.ca_file), server, state, r"127.0.0.1 has expired or is not yet valid")


def test_verification_off_accepts_any_certificate(spec: Spec, tmp_path: Path) -> None:
    pki = Pki.make(tmp_path, names=("dcs.other.test",))
    with serve_tls(spec, pki) as (server, state):
        guard, _ = _guard(Network(tls_verify=False))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()


def test_mutual_tls_takes_the_client_certificate_and_refuses_without_it(spec: Spec, pki: Pki) -> None:
    with serve_tls(spec, pki, client_certs=True) as (server, state):
        refused = _tls_refused(
            Network(tls_verify=pki.ca_file), server, state, r"127.0.0.1 asked for a client certificate"
        )
        assert "--request-cert and --request-cert-key" in str(refused)
        with_cert = Network(tls_verify=pki.ca_file, client_cert=pki.client_cert, client_key=pki.client_key)
        guard, _ = _guard(with_cert)
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()


def test_a_client_certificate_the_server_does_not_trust_is_refused(spec: Spec, pki: Pki, tmp_path: Path) -> None:
    stranger = Pki.make(tmp_path / "stranger")
    with serve_tls(spec, pki, client_certs=True) as (server, state):
        network = Network(tls_verify=pki.ca_file, client_cert=stranger.client_cert, client_key=stranger.client_key)
        _tls_refused(network, server, state, r"server 127.0.0.1 refused the client certificate .*--request-cert")


def test_https_to_a_plain_http_port_is_refused_at_once(serve: Serve) -> None:
    with serve() as (server, state):
        https_url = server.base_url.replace("http://", "https://")
        guard, sleeps = _guard(Network())
        client = build_client(https_url, auth=None, guard=guard, timeout=5)
        with client, pytest.raises(TlsRejected, match=r"127.0.0.1 does not speak TLS on that port .*http://"):
            client.get(_backups(state))
        assert (guard.stats.attempts, sleeps) == (1, [])


def test_a_connection_error_that_is_not_tls_is_still_retried() -> None:
    guard, sleeps = _guard(Network(), retries=2)
    client = build_client(f"https://127.0.0.1:{free_port()}", auth=None, guard=guard, timeout=5)
    with client, pytest.raises(Unreachable, match="did not answer after 3 attempts"):
        client.get("/v2/p/instances/i/backups")
    assert (guard.stats.attempts, len(sleeps)) == (3, 2)


@needs_tinyproxy
def test_an_https_target_through_the_proxy_is_verified_with_the_ca(spec: Spec, pki: Pki, tmp_path: Path) -> None:
    """The CA decides through the tunnel as it does direct: the proxy does not vouch for the target."""
    with serve_tls(spec, pki) as (server, state), Tinyproxy(tmp_path, connect_ports=[server.port]) as proxy:
        _tls_refused(Network(env={"HTTPS_PROXY": proxy.url}), server, state, "untrusted issuer")
        guard, _ = _guard(Network(env={"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(pki.ca_file)}))
        assert _get(server, state, guard).status_code == 200
        guard.shutdown()
        assert proxy.requests() == [Seen("CONNECT", f"127.0.0.1:{server.port}")] * 2
