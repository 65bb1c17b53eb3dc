"""AK/SK signing: the public test vector, the official SDK's signer, and the mock's verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.transport.signing import AkSkAuth, TokenAuth, canonical_request, sign, verify

DATE = "20060102T150405Z"
_odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from("+&=%/?# ~*'!()"),
    max_size=12,
)


def test_public_test_vector() -> None:
    """huaweicloud-sdk-go-v3 core/auth/signer/signer_test.go."""
    canonical = canonical_request(
        method="GET",
        path="/path",
        query=[("limit", "1")],
        headers={"x-sdk-date": DATE},
        signed_headers=["x-sdk-date"],
        body=b"",
    )
    assert sign("SecretKey", canonical, DATE) == "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"


def _signed(auth: httpx.Auth, request: httpx.Request) -> httpx.Request:
    flow = auth.sync_auth_flow(request)
    return next(flow)


def _official_authorization(request: httpx.Request, pairs: list[tuple[str, str]]) -> str:
    sdk_request = SdkRequest(
        method="GET",
        schema="https",
        host=request.url.host,
        resource_path=request.url.path,
        query_params=list(pairs),
        header_params={"X-Sdk-Date": DATE, "Host": request.headers["Host"], "X-Project-Id": "p1"},
        body="",
    )
    credentials = SimpleNamespace(ak="AK0001", sk="SK-secret")
    signed = Signer(credentials).sign(sdk_request)
    return str(signed.header_params["Authorization"])


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(st.tuples(_odd_text.filter(bool), _odd_text), max_size=5),
    instance=st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36),
)
def test_agrees_with_the_official_signer(pairs: list[tuple[str, str]], instance: str) -> None:
    url = f"https://dcs.ap-southeast-1.myhuaweicloud.com/v2/p1/instances/{instance}/backups"
    request = httpx.Request("GET", url, params=pairs, headers={"X-Sdk-Date": DATE})
    ours = _signed(AkSkAuth("AK0001", "SK-secret", project_id="p1"), request).headers["Authorization"]
    assert ours == _official_authorization(request, pairs)


def _headers(request: httpx.Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _verify(request: httpx.Request, now: datetime | None = None, secret: str = "SK-secret") -> str | None:
    return verify(
        method=request.method,
        path=request.url.path,
        query=request.url.params.multi_items(),
        headers=_headers(request),
        body=request.content,
        secrets={"AK0001": secret},
        now=now,
    ).error_code


def test_the_verifier_accepts_a_fresh_signature_and_refuses_tampering() -> None:
    request = _signed(AkSkAuth("AK0001", "SK-secret", project_id="p1"), httpx.Request("GET", "http://h/v2/p/x?a=1"))
    assert _verify(request) is None
    assert _verify(request, secret="another") == "APIGW.0301"
    tampered = httpx.Request("GET", "http://h/v2/p/x?a=2", headers=request.headers)
    assert _verify(tampered) == "APIGW.0301"


def test_the_verifier_refuses_clock_skew_over_15_minutes() -> None:
    request = _signed(AkSkAuth("AK0001", "SK-secret"), httpx.Request("GET", "http://h/x"))
    signed_at = datetime.strptime(request.headers["X-Sdk-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert _verify(request, now=signed_at + timedelta(minutes=14)) is None
    assert _verify(request, now=signed_at + timedelta(minutes=16)) == "APIGW.0303"


def test_host_must_be_signed() -> None:
    request = httpx.Request("GET", "http://h/x", headers={"X-Sdk-Date": DATE})
    request.headers["Authorization"] = "SDK-HMAC-SHA256 Access=AK0001, SignedHeaders=x-sdk-date, Signature=00"
    assert _verify(request, now=datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)) == "APIGW.0301"


@pytest.mark.parametrize("auth", [AkSkAuth("AK-VISIBLE", "SK-VISIBLE"), TokenAuth("TOKEN-VISIBLE")])
def test_auth_objects_never_show_their_secrets(auth: httpx.Auth) -> None:
    assert "VISIBLE" not in repr(auth)


def test_token_auth_sets_x_auth_token() -> None:
    request = _signed(TokenAuth("tok"), httpx.Request("GET", "http://h/x"))
    assert request.headers["X-Auth-Token"] == "tok"
    assert "Authorization" not in request.headers
