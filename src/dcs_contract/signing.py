"""Huawei Cloud API gateway auth: AK/SK signing (``SDK-HMAC-SHA256``) and IAM tokens.

Both are ``httpx.Auth`` classes, so a request is signed in exactly one place, its
``auth_flow``, and the client needs no wrapping::

    client = httpx.Client(auth=AkSkAuth(ak, sk, project_id=project_id))

The canonical form follows the official SDK's signer (huaweicloudsdkcore
``signer/signer.py``); the embedded mock verifies with :func:`verify` built on the same
functions, so every default run exercises this code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import httpx

__all__ = [
    "ALGORITHM",
    "AkSkAuth",
    "SignatureCheck",
    "TokenAuth",
    "canonical_request",
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
        return SignatureCheck("APIGW.0303", "the request time differs from the gateway's by over 15 minutes")
    canonical = canonical_request(
        method=method, path=path, query=query, headers=headers, signed_headers=signed, body=body
    )
    expected = sign(secret, canonical, headers["x-sdk-date"])
    if not hmac.compare_digest(expected, match["signature"]):
        return SignatureCheck("APIGW.0301", "signature mismatch")
    return SignatureCheck(None, "signature verified")
