"""Huawei Cloud API gateway auth: AK/SK signing (``SDK-HMAC-SHA256``) and IAM tokens.

Both are ``httpx.Auth`` classes, so a request is signed in exactly one place, its
``auth_flow``, and the client needs no wrapping::

    client = httpx.Client(auth=AkSkAuth(ak, sk, project_id=project_id))

:class:`Credentials` is the one holder of an AK/SK pair and a token, on both sides: the
client reads them from the environment and signs with them, the mock's gateway generates
them and accepts them. The environment variables that hold them are named here.

The canonical form follows the official SDK's signer (huaweicloudsdkcore
``signer/signer.py``); the embedded mock verifies with :func:`verify` built on the same
functions, so every default run exercises this code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from secrets import token_hex, token_urlsafe
from urllib.parse import quote, unquote

import httpx

from dcs_contract.errors import ConfigError

__all__ = [
    "AK_VARIABLE",
    "ALGORITHM",
    "CREDENTIALS_HINT",
    "SK_VARIABLE",
    "TOKEN_VARIABLE",
    "AkSkAuth",
    "Credentials",
    "SignatureCheck",
    "TokenAuth",
    "canonical_request",
    "redact_key",
    "sign",
    "verify",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_LAYOUT = "%Y%m%dT%H%M%SZ"
# The gateway refuses a signature whose date is further than this from its clock (APIGW.0303).
MAX_CLOCK_SKEW = timedelta(minutes=15)
_AUTH_RE = re.compile(
    rf"^{ALGORITHM} Access=(?P<access>[^,]+), SignedHeaders=(?P<headers>[^,]+), Signature=(?P<signature>[0-9a-f]+)$"
)


def _escape(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment escaped, with the trailing ``/`` the gateway's canonical form requires."""
    uri = "/".join(_escape(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_escape(key)}={_escape(value)}" for key, value in sorted(pairs))


def canonical_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    """The six lines that are hashed and signed. ``headers`` must be keyed in lower case."""
    header_lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_lines,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def sign(secret_key: str, canonical: str, sdk_date: str) -> str:
    """The hex HMAC-SHA256 signature of a canonical request at ``sdk_date`` (20060102T150405Z)."""
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def _query_pairs(url: httpx.URL) -> list[tuple[str, str]]:
    return list(url.params.multi_items())


class AkSkAuth(httpx.Auth):
    """Signs each request with AK/SK, as the official SDKs do.

    Signs ``host``, ``x-sdk-date`` and ``x-project-id`` (and ``content-type`` when set),
    never the transport's own headers, which a proxy may rewrite.
    """

    requires_request_body = True  # the body's hash is part of the signature

    def __init__(self, access_key: str, secret_key: str, *, project_id: str | None = None) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._project_id = project_id

    def __repr__(self) -> str:  # never show the keys, even in a traceback
        return "AkSkAuth(access_key=***, secret_key=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if DATE_HEADER not in request.headers:
            request.headers[DATE_HEADER] = datetime.now(UTC).strftime(DATE_LAYOUT)
        if self._project_id is not None:
            request.headers["X-Project-Id"] = self._project_id
        wanted = {"host", "x-sdk-date", "x-project-id", "content-type"}
        headers = {name.lower(): value for name, value in request.headers.items() if name.lower() in wanted}
        signed = sorted(headers)
        canonical = canonical_request(
            method=request.method,
            path=request.url.path,
            query=_query_pairs(request.url),
            headers=headers,
            signed_headers=signed,
            body=request.content,
        )
        signature = sign(self._secret_key, canonical, request.headers[DATE_HEADER])
        request.headers["Authorization"] = (
            f"{ALGORITHM} Access={self._access_key}, SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
        yield request


class TokenAuth(httpx.Auth):
    """Sends an IAM token as ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token
        yield request


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict of :func:`verify`: ``error_code`` is None when the signature holds."""

    error_code: str | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.error_code is None


def verify(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    now: datetime | None = None,
) -> SignatureCheck:
    """Check a request's AK/SK signature as the gateway does. ``headers`` keyed in lower case."""
    match = _AUTH_RE.match(headers.get("authorization", ""))
    if match is None:
        return SignatureCheck("APIGW.0301", f"no {ALGORITHM} Authorization header")
    secret = secrets.get(match["access"])
    if secret is None:
        return SignatureCheck("APIGW.0301", "unknown access key")
    signed = match["headers"].split(";")
    if "x-sdk-date" not in signed or "host" not in signed or any(name not in headers for name in signed):
        return SignatureCheck("APIGW.0301", "host and x-sdk-date must be signed and present")
    try:
        signed_at = datetime.strptime(headers["x-sdk-date"], DATE_LAYOUT).replace(tzinfo=UTC)
    except ValueError:
        return SignatureCheck("APIGW.0301", f"{DATE_HEADER} is not {DATE_LAYOUT}")
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_CLOCK_SKEW:
        skew = f"{MAX_CLOCK_SKEW.total_seconds() / 60:g} minutes"
        return SignatureCheck("APIGW.0303", f"the request time differs from the gateway's by over {skew}")
    canonical = canonical_request(
        method=method, path=path, query=query, headers=headers, signed_headers=signed, body=body
    )
    expected = sign(secret, canonical, headers["x-sdk-date"])
    if not hmac.compare_digest(expected, match["signature"]):
        return SignatureCheck("APIGW.0301", "signature mismatch")
    return SignatureCheck(None, "signature verified")


# As in the official SDK samples, and DCS_AUTH_TOKEN for an IAM token.
AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE = "CLOUD_SDK_AK", "CLOUD_SDK_SK", "DCS_AUTH_TOKEN"
CREDENTIALS_HINT = f"set {AK_VARIABLE} and {SK_VARIABLE}, or {TOKEN_VARIABLE}"


def _check_credential(variable: str, value: str) -> None:
    """A ConfigError unless ``value`` can go into a header as it is: printable ASCII, no space.

    The AK goes into ``Authorization``, the SK into the signature's HMAC and the token into
    ``X-Auth-Token``: anything else fails only when the first request is signed or sent, and
    a refused header is retried against the budget. The message names the variable and what
    is wrong with it, never the value: it is a secret.
    """
    if value != value.strip():
        problem = "starts or ends with whitespace (a line break copied with it?)"
    elif not value.isascii():
        problem = "holds a character that is not ASCII"
    elif not all("!" <= char <= "~" for char in value):
        problem = "holds a space or a control character"
    else:
        return
    raise ConfigError(
        f"{variable} {problem}: a credential is sent in an HTTP header, as printable ASCII without spaces; "
        "check the value in your secret store (it is not shown here)"
    )


def redact_key(value: str) -> str:
    """Enough of a key for a person to tell which one was used, and no more."""
    return value[:4] + "…" if len(value) > 8 else "…"


@dataclass(frozen=True)
class Credentials:
    """An AK/SK pair, an IAM token, or both; an empty value is one not given.

    Empty rather than None, as in the environment, where a variable set to "" (an unset CI
    variable) is not given either. Its repr and :meth:`describe` never show a secret.
    """

    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    origin: str = f"{AK_VARIABLE}/{SK_VARIABLE}"  # where the AK/SK came from, for describe()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """The credentials ``env`` gives; a ConfigError when it gives half an AK/SK pair."""
        ak, sk, token = (env.get(name, "") for name in (AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE))
        if bool(ak) != bool(sk):
            missing = AK_VARIABLE if sk else SK_VARIABLE
            raise ConfigError(f"{missing} is not set: AK/SK signing needs both {AK_VARIABLE} and {SK_VARIABLE}")
        for name, value in ((AK_VARIABLE, ak), (SK_VARIABLE, sk), (TOKEN_VARIABLE, token)):
            if value:
                _check_credential(name, value)
        return cls(access_key=ak, secret_key=sk, token=token)

    @staticmethod
    def secrets_in(env: Mapping[str, str]) -> list[str]:
        """The credential variables' values, unchecked: a message about a bad setting must not repeat them either."""
        return [value for value in (env.get(name, "") for name in (AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE)) if value]

    @classmethod
    def generate(cls, origin: str = "the embedded mock") -> Credentials:
        """A fresh AK/SK pair and token, shaped like Huawei Cloud's, for the mock's gateway to accept."""
        return cls(
            access_key=token_hex(10).upper(),
            secret_key=token_urlsafe(30),
            token="MIIT" + token_urlsafe(48),
            origin=origin,
        )

    def completed(self) -> Credentials:
        """These credentials, with a generated AK/SK pair or token for what was not given."""
        generated = Credentials.generate()
        pair = self if self.access_key and self.secret_key else generated
        return Credentials(pair.access_key, pair.secret_key, self.token or generated.token, pair.origin)

    @property
    def present(self) -> bool:
        return bool(self.token or self.access_key)

    def secrets(self) -> list[str]:
        """The values that must never appear in any output."""
        return [value for value in (self.access_key, self.secret_key, self.token) if value]

    def auth(self, project_id: str) -> httpx.Auth | None:
        # AK/SK wins over a token: it is what the official samples use.
        if self.access_key and self.secret_key:
            return AkSkAuth(self.access_key, self.secret_key, project_id=project_id)
        if self.token:
            return TokenAuth(self.token)
        return None

    def describe(self) -> str:
        if self.access_key:
            return f"AK/SK from {self.origin} (AK {redact_key(self.access_key)})"
        if self.token:
            return f"an IAM token from {TOKEN_VARIABLE}"
        return "no credentials"

    # -- as the gateway checks them ----------------------------------------------------------
    def accepts_token(self, token: str) -> bool:
        """Whether ``token`` is this one, in constant time; as bytes: compare_digest refuses non-ASCII text."""
        return bool(self.token) and hmac.compare_digest(token.encode(), self.token.encode())

    def signing_keys(self) -> dict[str, str]:
        """The secret key by access key, for :func:`verify`; none without a whole pair."""
        return {self.access_key: self.secret_key} if self.access_key and self.secret_key else {}
