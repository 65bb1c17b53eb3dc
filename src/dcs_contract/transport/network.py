"""How the harness reaches a target: through which proxy, trusting which certificates, as which client.

    network = Network(proxy=None, tls_verify=True, env=env)   # checks everything, or ConfigError
    transport = DeadlineTransport(network)                    # wire.py: routes each request

Everything is read from the arguments and from ``env`` (the environment, passed in): never
from ``os.environ`` itself, so that a test gives the environment it means. Only the variables
named here are kept of it:

- HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, each also lowercase (which wins, as with
  urllib and httpx): see :meth:`Network.proxy_for`;
- SSL_CERT_FILE, SSL_CERT_DIR and REQUESTS_CA_BUNDLE: CA certificates to trust instead of
  certifi's bundle, see :meth:`Network.ssl_context`.

:func:`refusal` tells, from a failed attempt's exception, whether a TLS handshake or a proxy
refused it: those are answers, never retried, and the message says what to change.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import InitVar, dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote

import certifi
import httpx

from dcs_contract.errors import ConfigError, ProxyRejected, TlsRejected

__all__ = ["CA_VARIABLES", "PROXY_VARIABLES", "Network", "proxy_refused", "proxy_secrets_in", "refusal"]

# Scheme-specific first: a request's own scheme wins over ALL_PROXY.
_PROXY_SCHEMES = ("http", "https", "all")
PROXY_VARIABLES = tuple(
    name for scheme in (*_PROXY_SCHEMES, "no") for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
)
# Each one that is set is loaded, in this order; none set: certifi's bundle.
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FLAGS = {
    "proxy": "--proxy",
    "tls_verify": "--tls-verify",
    "client_cert": "--request-cert",
    "client_key": "--request-cert-key",
}
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BRACKETED_RE = re.compile(r"\[([^\]]+)\](?::(\d+))?")


def _masked(value: str) -> str:
    """``value`` with everything before its last ``@`` (its scheme aside) masked.

    The last ``@``, not the authority's: passwords are typed with raw ``/ # @`` in them.
    """
    before, at, after = value.rpartition("@")
    if not at:
        return value
    scheme = _SCHEME_RE.match(before)
    return f"{scheme[0] if scheme else ''}***@{after}"


@dataclass(frozen=True)
class _ProxySetting:
    """A checked proxy URL, and where it was given (a flag or a variable)."""

    source: str
    given: str
    url: httpx.URL

    @property
    def shown(self) -> str:
        return _masked(str(self.url))


def _credentials(given: str) -> list[str]:
    """The secrets of a proxy URL as written: user-info and password, raw and decoded, and their Basic credential."""
    rest = given.partition("://")[2] if "://" in given else given
    written, at, _ = rest.rpartition("@")
    if not at:
        return []
    user, _, password = unquote(written).partition(":")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return [written, written.partition(":")[2], unquote(written), password, token]


def proxy_secrets_in(env: Mapping[str, str]) -> list[str]:
    """The credentials of ``env``'s proxy variables, unchecked: a message about a bad setting must not show them."""
    found: list[str] = []
    for name in PROXY_VARIABLES:
        for secret in _credentials(env.get(name, "").strip()):
            if secret and secret not in found:
                found.append(secret)
    return found


def _parse_proxy(value: str, source: str) -> _ProxySetting:
    """``value`` as a proxy URL, or a ConfigError naming ``source`` that never repeats a password."""
    given = value.strip()
    shown = f"{source}={_masked(given)!r}"
    if not given:
        raise ConfigError(f"{shown} is empty: give a proxy URL such as http://proxy.example.com:3128")
    # httpx's rule for the environment's proxies: a bare host:port is an http proxy.
    text = given if "://" in given else f"http://{given}"
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme.startswith("socks"):
        raise ConfigError(
            f"{shown} is a SOCKS proxy, which dcs-contract does not support: use an HTTP proxy "
            "(http://host:port), which tunnels https with CONNECT"
        )
    if scheme not in ("http", "https"):
        raise ConfigError(f"{shown} is not an http:// or https:// proxy URL, such as http://proxy.example.com:3128")
    # The user-info is encoded here, so that a password with a raw / # ? @ in it stays in the
    # user-info instead of ending the authority early: up to the last @, as it is masked.
    userinfo, at, hostpart = rest.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        userinfo = quote(user, safe="%") + colon + quote(password, safe="%")
        rest = f"{userinfo}@{hostpart}"
    hostport = hostpart.split("/", 1)[0]
    _, bracket, after = hostport.rpartition("]")
    _, colon, port = (after if bracket else hostport).partition(":")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"{shown} has port {port!r}, but a port must be 1..65535")
    try:
        url = httpx.URL(f"{scheme}://{rest}")
        host = url.host  # decoded from IDNA here: an xn-- label that does not decode raises
    except (httpx.InvalidURL, ValueError):
        # httpx's own message may quote a piece of the password: it is not repeated.
        raise ConfigError(f"{shown} is not a valid proxy URL, such as http://user:password@proxy:3128") from None
    if not host:
        raise ConfigError(f"{shown} names no host, as in http://proxy.example.com:3128")
    return _ProxySetting(source, given, url)


@dataclass(frozen=True)
class _Bypass:
    """One NO_PROXY entry, as curl reads it."""

    scheme: str | None = None
    domain: str | None = None
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def matches(self, url: httpx.URL) -> bool:
        if self.scheme is not None and self.scheme != url.scheme:
            return False
        if self.port is not None and self.port != (url.port or _DEFAULT_PORTS.get(url.scheme)):
            return False
        host = url.host.rstrip(".").lower()
        if self.domain is not None:
            return host == self.domain or host.endswith(f".{self.domain}")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name is never resolved to be compared with an address, as curl does
        if self.network is not None:
            return address in self.network
        return address == self.address


def _parse_bypass(entry: str, source: str) -> _Bypass | None:
    """One NO_PROXY entry; None for one that matches every host (``*``)."""
    text, scheme = entry, None
    if "://" in text:  # httpx's own form, http://host: only that scheme goes direct
        scheme, _, text = text.partition("://")
        scheme = scheme.lower()
        scheme = None if scheme == "all" else scheme
        text = text.rstrip("/")
    if text == "*":
        return _Bypass(scheme=scheme) if scheme else None
    bad = ConfigError(f"{source}: {entry!r} is not a host, domain, IP address or CIDR range")
    if "/" in text:
        try:
            return _Bypass(scheme=scheme, network=ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise bad from None
    port: int | None = None
    bracketed = _BRACKETED_RE.fullmatch(text)
    if bracketed:
        text, port_text = bracketed[1], bracketed[2]
        port = int(port_text) if port_text else None
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        if not (port_text.isascii() and port_text.isdigit()):
            raise bad
        port = int(port_text)
    try:
        return _Bypass(scheme=scheme, address=ipaddress.ip_address(text), port=port)
    except ValueError:
        pass
    if ":" in text:
        raise bad
    # curl: a leading dot is ignored (.example.com also matches example.com); "*." as well.
    domain = text.removeprefix("*").strip(".").lower()
    if not domain or "*" in domain:
        raise bad
    return _Bypass(scheme=scheme, domain=domain, port=port)


class _EncryptedKey(Exception):
    """The client key is encrypted: its passphrase was asked for."""


def _ask_no_passphrase() -> bytes:
    # Without a callback OpenSSL asks for a key's passphrase on the terminal: a CI run would hang.
    raise _EncryptedKey


def _load_client_cert(context: ssl.SSLContext, cert: Path, key: Path, names: Mapping[str, str]) -> None:
    both = f"{names['client_cert']}={str(cert)!r} with {names['client_key']}={str(key)!r}"
    try:
        context.load_cert_chain(cert, key, password=_ask_no_passphrase)
    except _EncryptedKey:
        raise ConfigError(
            f"{names['client_key']}={str(key)!r} is protected by a passphrase, which dcs-contract cannot ask "
            "for: give the key decrypted (openssl pkey -in KEY -out PLAIN_KEY)"
        ) from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(f"{both}: the key does not belong to the certificate") from None
        raise ConfigError(f"{both}: not a PEM certificate and its key ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{both}: cannot read them ({exc})") from None


@dataclass(frozen=True, repr=False)
class Network:
    """How the harness reaches a target: checked whole when it is made, or a ConfigError.

    ``proxy``: a proxy URL (``--proxy``), http:// or https://, user-info allowed; it wins over
    the environment's proxies. ``tls_verify``: True, the default trust store (certifi's bundle,
    or the CA variables of ``env``); False, no verification; a Path, a CA bundle file or a
    directory of CA certificates prepared with ``openssl rehash``. ``client_cert`` and
    ``client_key``: a client certificate and its key (PEM, no passphrase), for mutual TLS.
    ``env``: the environment; only the proxy and CA variables are kept. ``labels`` names a
    setting in messages when it came from elsewhere than its flag, e.g.
    ``{"proxy": "proxy in dcs-contract.toml"}``.

    Never shown whole: ``repr`` and :meth:`describe` mask the proxies' user-info, and
    :meth:`secrets` lists what the scrubber must remove from every output.
    """

    proxy: str | None = None
    tls_verify: bool | Path = True
    client_cert: Path | None = None
    client_key: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    labels: InitVar[Mapping[str, str] | None] = None
    _explicit: _ProxySetting | None = field(init=False, default=None, repr=False, compare=False, hash=False)
    _env_proxies: dict[str, _ProxySetting] = field(
        init=False, default_factory=dict, repr=False, compare=False, hash=False
    )
    _bypass: tuple[_Bypass | None, ...] = field(init=False, default=(), repr=False, compare=False, hash=False)
    _no_proxy: tuple[str, str] | None = field(init=False, default=None, repr=False, compare=False, hash=False)
    _context: list[ssl.SSLContext] = field(init=False, default_factory=list, repr=False, compare=False, hash=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False, compare=False, hash=False)

    def __post_init__(self, labels: Mapping[str, str] | None) -> None:
        names = {**_FLAGS, **(labels or {})}
        kept = {name: value for name, value in self.env.items() if name in PROXY_VARIABLES or name in CA_VARIABLES}
        object.__setattr__(self, "env", MappingProxyType(kept))
        if self.proxy is not None:
            object.__setattr__(self, "_explicit", _parse_proxy(self.proxy, names["proxy"]))
        else:
            # Read only when used: a proxy given by flag makes the environment's irrelevant.
            proxies = {}
            for scheme in _PROXY_SCHEMES:
                found = self._variable(scheme)
                if found is not None:
                    proxies[scheme] = _parse_proxy(found[1], found[0])
            object.__setattr__(self, "_env_proxies", proxies)
        no_proxy = self._variable("no")
        if no_proxy is not None:
            name, value = no_proxy
            entries = (entry.strip() for entry in value.split(","))
            object.__setattr__(self, "_bypass", tuple(_parse_bypass(entry, name) for entry in entries if entry))
            object.__setattr__(self, "_no_proxy", no_proxy)
        self._check_tls(names)

    def _variable(self, scheme: str) -> tuple[str, str] | None:
        """The variable ``<scheme>_proxy`` in effect, as (name, value), or None.

        As urllib's getproxies: the lowercase one wins whenever it is set, and set empty it
        unsets the uppercase one.
        """
        lower, upper = f"{scheme}_proxy", f"{scheme.upper()}_PROXY"
        if lower in self.env:
            return (lower, self.env[lower]) if self.env[lower].strip() else None
        if self.env.get(upper, "").strip():
            return upper, self.env[upper]
        return None

    @classmethod
    def direct(cls, env: Mapping[str, str] | None = None) -> Network:
        """No proxy, whatever the environment says (the embedded mock is on loopback); TLS as ``env`` says."""
        return cls(env={name: value for name, value in (env or {}).items() if name in CA_VARIABLES})

    @staticmethod
    def parse_tls_verify(value: str | bool, setting: str = "--tls-verify") -> bool | Path:
        """A ``--tls-verify`` value: true/false (yes/no, on/off, 1/0), else the path of a CA bundle or directory."""
        # The settings table reads every switch; imported here, as the table imports the transport.
        from dcs_contract.settings.table import parse_switch

        if isinstance(value, bool):
            return value
        try:
            return parse_switch(value)
        except ValueError:
            raise ConfigError(f"{setting}={value!r} is empty: give true, false, or the path of a CA bundle") from None

    def __repr__(self) -> str:
        return f"Network({self.describe()!r})"

    # -- proxies --------------------------------------------------------------------------------

    def proxy_for(self, url: httpx.URL | str) -> httpx.Proxy | None:
        """The proxy a request to ``url`` goes through, or None to go direct.

        As httpx and curl read the environment: the variable of the request's scheme
        (HTTPS_PROXY for https) wins over ALL_PROXY; lowercase wins over uppercase. The
        explicit ``proxy`` wins over them all and is used for every scheme. NO_PROXY applies
        to it as to the environment's, so that one setting says which hosts go direct:
        a comma-separated list of ``*`` (every host), domains (``example.com`` and
        ``.example.com`` alike match example.com and its subdomains, as with curl; httpx
        leaves out example.com itself for the dotted form), ``host:port``, IP addresses
        (``[::1]:8080`` with a port) and CIDR ranges (``10.0.0.0/8``); a name is never
        resolved to be compared with an address.
        """
        url = httpx.URL(url)
        if url.scheme not in _DEFAULT_PORTS:
            return None
        setting = self._explicit
        if setting is None:
            setting = self._env_proxies.get(url.scheme) or self._env_proxies.get("all")
        if setting is None or self._bypassed(url):
            return None
        # The proxy's own TLS, for an https:// proxy, is verified as the target's is.
        context = self.ssl_context() if setting.url.scheme == "https" else None
        return httpx.Proxy(setting.url, ssl_context=context)

    def _bypassed(self, url: httpx.URL) -> bool:
        return any(rule is None or rule.matches(url) for rule in self._bypass)

    def secrets(self) -> list[str]:
        """Every proxy password, user-info and Proxy-Authorization credential, from the flag and the environment.

        The environment's proxies count even when the flag's is used instead: they are still
        in the environment, for an error message or a child process to show.
        """
        given = [] if self.proxy is None else [self.proxy.strip()]
        given += [variable[1].strip() for variable in map(self._variable, _PROXY_SCHEMES) if variable is not None]
        found: list[str] = []
        for secret in (secret for value in given for secret in _credentials(value)):
            if secret and secret not in found:
                found.append(secret)
        return found

    # -- TLS ------------------------------------------------------------------------------------

    def _ca_locations(self) -> list[tuple[str, Path]]:
        """Where the CA certificates come from, each with the flag or variable that named it."""
        if self.tls_verify is False:
            return []
        if self.tls_verify is not True:
            return [(_FLAGS["tls_verify"], Path(self.tls_verify))]
        locations: list[tuple[str, Path]] = []
        for name in CA_VARIABLES:
            value = self.env.get(name, "").strip()
            if not value:
                continue
            # OpenSSL reads SSL_CERT_DIR as a list of directories, as PATH is.
            paths = value.split(os.pathsep) if name == "SSL_CERT_DIR" else [value]
            locations += [(name, Path(path).expanduser()) for path in paths if path]
        return locations

    def _check_tls(self, names: Mapping[str, str]) -> None:
        if self.tls_verify is not True and self.tls_verify is not False and not isinstance(self.tls_verify, Path):
            raise ConfigError(f"{names['tls_verify']}={self.tls_verify!r}: give true, false, or a path")
        for name, path in self._ca_locations():
            label = names["tls_verify"] if name == _FLAGS["tls_verify"] else name
            if not path.exists():
                raise ConfigError(f"{label}={str(path)!r} does not exist: give a CA bundle file or a directory of CAs")
        cert, key = self.client_cert, self.client_key
        if key is not None and cert is None:
            raise ConfigError(f"{names['client_key']}={str(key)!r} is given without {names['client_cert']}")
        if cert is not None and key is None:
            raise ConfigError(
                f"{names['client_cert']}={str(cert)!r} is given without {names['client_key']} "
                "(give the same file to both when it holds the key too)"
            )
        for setting, given in (("client_cert", cert), ("client_key", key)):
            if given is not None and not given.is_file():
                raise ConfigError(f"{names[setting]}={str(given)!r} is not a file")
        if self.tls_verify is not True or self._ca_locations() or cert is not None:
            # Anything more than the default is loaded now: a bad file is a ConfigError before
            # the run, not a failed request. Kept: it is the context the run uses.
            self._context.append(self._build_context(names))

    def _build_context(self, names: Mapping[str, str]) -> ssl.SSLContext:
        # Not ssl.create_default_context(): with no CA file it reads the process's own
        # SSL_CERT_FILE through OpenSSL, and it honours SSLKEYLOGFILE; here ``env`` alone says.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.tls_verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            locations = self._ca_locations() or [("certifi", Path(certifi.where()))]
            for name, path in locations:
                label = names["tls_verify"] if name == _FLAGS["tls_verify"] else name
                try:
                    if path.is_dir():
                        context.load_verify_locations(capath=path)
                    else:
                        context.load_verify_locations(cafile=path)
                except (ssl.SSLError, OSError) as exc:
                    raise ConfigError(f"{label}={str(path)!r} holds no usable PEM CA certificate: {exc}") from None
        if self.client_cert is not None and self.client_key is not None:
            _load_client_cert(context, self.client_cert, self.client_key, names)
        return context

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings of every connection (to the target, and to an https:// proxy); built once."""
        with self._lock:
            if not self._context:
                # Anything more than the default trust was loaded when checked: this is the default.
                self._context.append(_default_context())
            return self._context[0]

    def describe(self) -> dict[str, Any]:
        """What a report keeps of these settings: plain values, no password, no key."""
        proxy_env = {setting.source: setting.shown for setting in self._env_proxies.values()}
        if self._no_proxy is not None:
            proxy_env[self._no_proxy[0]] = self._no_proxy[1]
        verify = self.tls_verify if isinstance(self.tls_verify, bool) else str(self.tls_verify)
        ca_env = {name: self.env[name] for name in CA_VARIABLES if self.tls_verify is True and self.env.get(name)}
        return {
            "proxy": None if self._explicit is None else self._explicit.shown,
            "proxy_env": proxy_env,
            "tls_verify": verify,
            "ca_env": ca_env,
            "client_cert": None if self.client_cert is None else str(self.client_cert),
        }


@cache
def _default_context() -> ssl.SSLContext:
    """The TLS settings of a Network with none of its own: certifi's CAs, loaded once per process.

    Loading the bundle takes about 16 ms, and a process makes a transport per run (a test
    session, hundreds). Shared by those Networks: nothing changes it after this but httpcore,
    which sets its ALPN at each connect, to the same http/1.1 while HTTP/2 stays off.
    """
    return Network.direct()._build_context(_FLAGS)


# -- why an attempt failed ---------------------------------------------------------------------

# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code gives them.
_UNTRUSTED = frozenset({2, 18, 19, 20, 21, 27})  # no issuer found, self-signed, untrusted
_EXPIRED = frozenset({9, 10})  # not yet valid, expired
_WRONG_HOST = frozenset({62, 63, 64})  # host name, e-mail, IP address mismatch
# ssl.SSLError reasons (the alert the server sent, or the client's own failure).
_CLIENT_CERT_ALERTS = ("CERTIFICATE_REQUIRED", "PEER_DID_NOT_RETURN_A_CERTIFICATE")
_CLIENT_CERT_REFUSED = ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN", "UNSUPPORTED_CERTIFICATE")
_NOT_TLS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE")
# An end of stream mid-TLS tells nothing of why: the connection may have dropped. Retried.
_NOT_A_REFUSAL = (
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ssl.SSLSyscallError,
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
)
_CA_FIX = "pass the CA that issued it with --tls-verify PATH, or in SSL_CERT_FILE or REQUESTS_CA_BUNDLE"
_CLIENT_CERT_FIX = "give a client certificate the server trusts with --request-cert and --request-cert-key"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _tls_failure(error: ssl.SSLError, host: str) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        code, detail = error.verify_code, error.verify_message or error.reason or str(error)
        if code in _UNTRUSTED:
            return f"the TLS certificate of {host} has an untrusted issuer ({detail}): {_CA_FIX}"
        if code in _WRONG_HOST:
            return (
                f"the TLS certificate of {host} is for a wrong host name ({detail}): "
                "use in --base-url the host name the certificate names"
            )
        if code in _EXPIRED:
            return (
                f"the TLS certificate of {host} has expired or is not yet valid ({detail}): "
                "check this machine's clock, or have the certificate renewed"
            )
        return f"the TLS certificate of {host} was rejected ({detail}): {_CA_FIX}"
    reason = error.reason or ""
    if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
        return f"the server {host} asked for a client certificate (mutual TLS) and got none: {_CLIENT_CERT_FIX}"
    if any(alert in reason for alert in _CLIENT_CERT_REFUSED) and "ALERT" in reason:
        return f"the server {host} refused the client certificate ({reason}): {_CLIENT_CERT_FIX}"
    if any(part in reason for part in _NOT_TLS):
        return f"{host} does not speak TLS on that port ({reason}): should the base URL be http://?"
    return (
        f"the TLS handshake with {host} failed ({reason or error}): if the server requires a client "
        f"certificate, {_CLIENT_CERT_FIX}"
    )


def refusal(exc: BaseException, *, host: str) -> TlsRejected | ProxyRejected | None:
    """The refusal a failed attempt's exception holds, or None when it is a failure worth retrying.

    A certificate or TLS handshake failure (anywhere in the exception's chain: httpx wraps
    httpcore's, which wraps the ssl module's) is the server's answer, as is a proxy's 407 or
    403 to CONNECT: the same attempt would fail the same way. Under TLS 1.3 a server's
    ``certificate required`` alert comes after the handshake, at the first read: it is found
    there too.
    """
    for error in _chain(exc):
        if isinstance(error, ssl.SSLError) and not isinstance(error, _NOT_A_REFUSAL):
            return TlsRejected(_tls_failure(error, host))
        if isinstance(error, httpx.ProxyError):
            status = str(error).split(" ", 1)[0]
            if status in ("407", "403"):
                return ProxyRejected(proxy_refused(int(status), host, str(error)))
    return None


def proxy_refused(status: int, host: str, detail: str) -> str:
    """What to say of a proxy's 407 (credentials) or 403 (policy) to a request for ``host``."""
    if status == 407:
        return (
            f"the proxy refused the request to {host} ({detail}): it wants credentials; give them as "
            "http://USER:PASSWORD@PROXY:PORT in --proxy, or in HTTPS_PROXY/HTTP_PROXY"
        )
    return f"the proxy refused to connect to {host} ({detail}): ask its administrators to allow it, or set NO_PROXY"
