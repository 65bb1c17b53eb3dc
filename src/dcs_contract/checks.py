"""What is checked on each response, and how a schemathesis failure becomes a Finding.

The per-response checks are schemathesis's own, chosen by name: only those that look at
the response in hand. Checks that send requests of their own (``unsupported_method`` sends
POST, which creates a backup on the real service; ``ignored_auth`` re-sends without
credentials) are never enabled: every request of a run goes through the guarded client.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from schemathesis import Case
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup, MalformedJson, ServerError
from schemathesis.openapi.checks import (
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
)
from schemathesis.specs.openapi import checks as openapi_checks

from dcs_contract.report import Finding, RequestInfo, excerpt

__all__ = [
    "ERROR_BODY_CHECKS",
    "ERROR_RESPONSE_CHECKS",
    "RESPONSE_CHECKS",
    "CheckFunction",
    "findings_from",
    "invalid_input_accepted",
    "unauthenticated_not_refused",
    "validate",
]

RESPONSE_CHECKS: tuple[CheckFunction, ...] = (
    # A 5xx is a failure even though the spec documents 500: the service broke on the query.
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.positive_data_acceptance,
)
_UNEXPECTED_RE = re.compile(r"'([^']+)' (?:was|were) unexpected|'([^']+)'(?:, '[^']+')* were unexpected")
# For a request that is known to be invalid: status, content type and the error body's schema.
ERROR_RESPONSE_CHECKS: tuple[CheckFunction, ...] = (
    # A 5xx is a failure even though the spec documents 500: the service broke on the query.
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
)
# When the status itself is judged elsewhere (an invariant that names the parameter at fault).
ERROR_BODY_CHECKS: tuple[CheckFunction, ...] = (
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
)
_MUTATED_RE = re.compile(r"at /properties/([A-Za-z_]+)")
_KEYWORD_CATEGORY = {"enum": "enum", "const": "enum", "type": "type"}


def validate(
    case: Case[Any], response: httpx.Response, selected: tuple[CheckFunction, ...] = RESPONSE_CHECKS
) -> list[Finding]:
    """Run the response checks; every failure becomes a Finding (none: an empty list)."""
    try:
        case.validate_response(response, checks=list(selected))
    except FailureGroup as group:
        return [findings_from(failure, case, response) for failure in group.exceptions]
    except Failure as failure:
        return [findings_from(failure, case, response)]
    return []


def invalid_input_accepted(parameter: str, response: httpx.Response) -> Finding:
    """A query invalid in exactly ``parameter`` was not answered 400."""
    return Finding(
        check="invalid_input_rejected",
        category="status",
        title="Invalid parameter not rejected",
        message=f"{parameter}={response.request.url.params.get(parameter)!r} was answered {response.status_code}",
        location=parameter,
        expected="400 with a DCS error body",
        actual=str(response.status_code),
        requests=(RequestInfo.from_request(response.request),),
        status=response.status_code,
        response_excerpt=excerpt(response),
    )


def unauthenticated_not_refused(response: httpx.Response) -> Finding:
    """A request with no credential at all was not answered 401."""
    served = response.is_success
    return Finding(
        check="unauthenticated_refused",
        category="auth",
        title="Served without credentials" if served else "Unauthenticated request not refused with 401",
        message=(
            "a request with no Authorization and no X-Auth-Token header was answered "
            f"{response.status_code}" + (": the tenant's backups are readable by anyone" if served else "")
        ),
        location="Authorization",
        expected="401 from the gateway",
        actual=str(response.status_code),
        requests=(RequestInfo.from_request(response.request),),
        status=response.status_code,
        response_excerpt=excerpt(response),
    )


def _pointer(parts: list[str | int]) -> str:
    # Array indexes become "*": the same field of any record is the same drift.
    escaped = ["*" if isinstance(p, int) else str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(escaped) if escaped else ""


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def _schema_finding(failure: JsonSchemaError, response: httpx.Response) -> tuple[str, str, str, str]:
    keyword = str(failure.schema_path[-1]) if failure.schema_path else "schema"
    category = "error-body" if response.status_code >= 400 else _KEYWORD_CATEGORY.get(keyword, "schema")
    location = _pointer(list(failure.instance_path))
    actual = _compact(failure.instance)
    if keyword == "additionalProperties":
        names = sorted(name for pair in _UNEXPECTED_RE.findall(failure.message) for name in pair if name)
        location = f"{location}/{names[0]}" if names else location
        return category, location, "no property beyond those in the spec", f"unexpected {', '.join(names)}"
    if keyword == "required":
        missing = re.findall(r"""["']([^"']+)["'] is a required property""", failure.message)
        location = f"{location}/{missing[0]}" if missing else location
        return category, location, "a required property", "missing"
    return category, location or "/", f"{keyword} as in the spec", actual


def _negated_parameter(case: Case[Any]) -> str:
    """The parameter(s) a negative case broke, as schemathesis recorded the mutation."""
    data = case.meta.phase.data if case.meta is not None else None
    parameter = getattr(data, "parameter", None)
    if parameter:
        return str(parameter)
    named = sorted(set(_MUTATED_RE.findall(getattr(data, "description", None) or "")))
    return ",".join(named) or ",".join(sorted(case.query or {})) or "query"


def findings_from(failure: Failure, case: Case[Any], response: httpx.Response) -> Finding:
    """One schemathesis failure as a Finding that names the field or parameter at fault."""
    check = next(iter(getattr(failure, "checks", ()) or ()), type(failure).__name__)
    status = response.status_code
    location: str
    if isinstance(failure, JsonSchemaError):
        category, location, expected, actual = _schema_finding(failure, response)
    elif isinstance(failure, UndefinedStatusCode):
        category, location = "status", "status"
        expected, actual = f"one of {', '.join(failure.defined_status_codes)}", str(status)
    elif isinstance(failure, (UndefinedContentType, MissingContentType, MalformedMediaType)):
        category, location = "content-type", "Content-Type"
        expected, actual = "application/json", response.headers.get("content-type", "(none)")
    elif isinstance(failure, AcceptedNegativeData):
        category, location = "status", _negated_parameter(case)
        expected, actual = "400 for an invalid value", str(status)
    elif isinstance(failure, RejectedPositiveData):
        category, location = "status", ",".join(sorted(case.query or {})) or "query"
        expected, actual = "2xx for a valid query", str(status)
    elif isinstance(failure, MalformedJson):
        # The body declared JSON but does not parse: cut short or corrupted on the way.
        category, location, expected, actual = "transport", "body", "a complete JSON body", "malformed JSON"
    elif isinstance(failure, ServerError):
        category, location = "status", ",".join(sorted(case.query or {})) or "query"
        expected, actual = "no 5xx for a valid query", str(status)
    else:
        category, location, expected, actual = "schema", failure.title, "as in the spec", failure.title
    return Finding(
        check=str(check),
        category=category,
        title=failure.title,
        message=failure.message,
        location=location,
        expected=expected,
        actual=actual,
        requests=(RequestInfo.from_request(response.request),),
        status=status,
        response_excerpt=excerpt(response),
    )
