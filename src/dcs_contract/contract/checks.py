"""What is checked on each response, and how a schemathesis failure becomes findings.

The per-response checks are schemathesis's own, chosen by name: only those that look at
the response in hand. Checks that send requests of their own (``unsupported_method`` sends
POST, which creates a backup on the real service; ``ignored_auth`` re-sends without
credentials) are never enabled: every request of a run goes through the guarded client.

A schema failure becomes one finding per deviation, so that a baseline accepts exactly what
it lists: one per unknown field, one per missing field, one per unknown enum value and one
per JSON type seen where the spec wants another. Schemathesis reports one failure per place
in the schema (the second record's new field is folded into the first's), and one per
object for all its unknown fields, so each failure is widened here from its typed fields
(keyword, instance path) over every value of the body at that path, against the spec's own
schema there. Nothing is read from message text.

:func:`validate` never raises: a body no check can read is a finding too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import httpx
import requests
from requests.structures import CaseInsensitiveDict
from schemathesis import Case
from schemathesis import Response as CheckedResponse
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup, MalformedJson, ServerError
from schemathesis.openapi.checks import (
    ContentDeserializationError,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
)
from schemathesis.specs.openapi import checks as openapi_checks

from dcs_contract.contract.findings import MORE_FINDINGS, Finding, RequestInfo, excerpt
from dcs_contract.contract.formats import JsonBody, json_text, json_type, json_types, read_json, record_time_form
from dcs_contract.contract.json_scan import INTEGER_FORMATS, pointer_token, visible
from dcs_contract.contract.spec import Spec
from dcs_contract.errors import ResponseTooLarge

__all__ = [
    "BODY_WITHIN_CAP",
    "CHECK_NAMES",
    "ERROR_BODY_CHECKS",
    "ERROR_RESPONSE_CHECKS",
    "INVALID_INPUT_REJECTED",
    "RESPONSE_CHECKS",
    "UNAUTHENTICATED_REFUSED",
    "CheckFunction",
    "anonymous_request_findings",
    "body_too_large",
    "check_names",
    "checked_response",
    "findings_from",
    "invalid_input_accepted",
    "invalid_input_findings",
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
# The harness's own checks, beside schemathesis's.
INVALID_INPUT_REJECTED = "invalid_input_rejected"
UNAUTHENTICATED_REFUSED = "unauthenticated_refused"
BODY_WITHIN_CAP = "body_within_cap"
_KEYWORD_CATEGORY = {"enum": "enum", "const": "enum", "type": "type"}
_SCHEMA_CHECK = openapi_checks.response_schema_conformance.__name__
_SCHEMA_TITLE = "Response violates schema"
# A field of one of these formats is a time, and these keywords judge the form it is written in.
_TIME_FORMATS = {"date-time"}
_FORM_KEYWORDS = {"pattern", "format"}
# One response with thousands of deviations (a record of 80,000 unknown keys) is reported by
# its first ones: each finding costs memory, and the rest say nothing the first do not.
MAX_FINDINGS_PER_RESPONSE = 50
_UNREADABLE_TITLE = "Response body not readable"


def check_names(selected: Iterable[CheckFunction]) -> tuple[str, ...]:
    """The names checks go by in findings and in the run's coverage."""
    return tuple(check.__name__ for check in selected)


# Every response check a run can evaluate, by name: schemathesis's and the harness's own.
CHECK_NAMES: tuple[str, ...] = (
    *check_names(dict.fromkeys((*RESPONSE_CHECKS, *ERROR_RESPONSE_CHECKS, *ERROR_BODY_CHECKS))),
    INVALID_INPUT_REJECTED,
    UNAUTHENTICATED_REFUSED,
)


def validate(
    spec: Spec, case: Case[Any], response: httpx.Response, selected: Sequence[CheckFunction] = RESPONSE_CHECKS
) -> list[Finding]:
    """Run the response checks; every deviation becomes a Finding (none: an empty list). Never raises."""
    found: dict[str, Finding] = {}
    for check, outcome in _outcomes(case, response, selected):
        if isinstance(outcome, Failure):
            findings = findings_from(spec, outcome, case, response)
        else:
            findings = [_unreadable(check, response, f"{type(outcome).__name__}: {outcome}")]
        for finding in findings:
            found.setdefault(finding.fingerprint, finding)
    if _SCHEMA_CHECK in check_names(selected):
        for finding in _integer_format_findings(spec, response):
            found.setdefault(finding.fingerprint, finding)
    kept = list(found.values())
    if len(kept) <= MAX_FINDINGS_PER_RESPONSE:
        return kept
    return [*kept[:MAX_FINDINGS_PER_RESPONSE], _more(response)]


def _more(response: httpx.Response) -> Finding:
    return Finding.about(
        response,
        check=MORE_FINDINGS,
        category=_category(response),
        title="More deviations in one response than a report keeps",
        message=f"This response shows more deviations than the first {MAX_FINDINGS_PER_RESPONSE} reported.",
        location="body",
        expected=f"at most {MAX_FINDINGS_PER_RESPONSE} deviations reported per response",
        actual=f"more than {MAX_FINDINGS_PER_RESPONSE}",
    )


def checked_response(response: httpx.Response) -> CheckedResponse:
    """The response as schemathesis's checks read it, with the request as it was sent.

    Schemathesis's own conversion (``Response.from_any``) prepares the request again with
    requests, parsing its URL, IDNA and all, for a request sent already: a twentieth of a
    run's main thread (py-spy). It also passes the URL's query again as parameters, so that
    its request holds the query twice. The checks read the request's method, URL, headers
    and body: here they are what was sent, once. Raises what httpx raises for a response
    that was not read (its ``elapsed``), as ``from_any`` does.
    """
    sent = requests.PreparedRequest()
    sent.method = response.request.method
    sent.url = str(response.request.url)
    sent.headers = CaseInsensitiveDict(response.request.headers)
    sent.body = response.request.content or None
    return CheckedResponse(
        status_code=response.status_code,
        headers={key: [value] for key, value in response.headers.items()},
        content=response.content,
        request=sent,
        elapsed=response.elapsed.total_seconds(),
        message=response.reason_phrase,
        encoding=response.encoding,
        http_version=response.http_version,
        verify=True,
    )


def _outcomes(
    case: Case[Any], response: httpx.Response, selected: Sequence[CheckFunction]
) -> list[tuple[str, Failure | Exception]]:
    """Each failure with the check that raised it; an exception where a check could not read the response."""
    try:
        checked = checked_response(response)
    except Exception as exc:  # a response no check can read: each check says so
        return [(check.__name__, exc) for check in selected]
    return _checked(case, checked, selected)


def _checked(
    case: Case[Any], response: CheckedResponse, selected: Sequence[CheckFunction]
) -> list[tuple[str, Failure | Exception]]:
    try:
        case.validate_response(response, checks=list(selected))
    except FailureGroup as group:
        return [(_check_of(failure), failure) for failure in _flat(group)]
    except Failure as failure:
        return [(_check_of(failure), failure)]
    except Exception as exc:  # schemathesis choked on the body (rendering a value nested too deep, ...)
        if len(selected) == 1:
            return [(selected[0].__name__, exc)]
        # One check at a time, so that the others still judge the response.
        return [outcome for check in selected for outcome in _checked(case, response, (check,))]
    return []


def _flat(group: BaseExceptionGroup[Any]) -> list[Failure]:
    failures: list[Failure] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            failures += _flat(exc)
        elif isinstance(exc, Failure):
            failures.append(exc)
    return failures


def _check_of(failure: Failure) -> str:
    return str(next(iter(getattr(failure, "checks", ()) or ()), type(failure).__name__))


def _category(response: httpx.Response, keyword: str = "") -> str:
    return "error-body" if response.status_code >= 400 else _KEYWORD_CATEGORY.get(keyword, "schema")


def invalid_input_accepted(parameter: str, response: httpx.Response) -> Finding:
    """A query invalid in exactly ``parameter`` was not answered 400."""
    return Finding.about(
        response,
        check=INVALID_INPUT_REJECTED,
        category="status",
        title="Invalid parameter not rejected",
        message=f"{parameter}={response.request.url.params.get(parameter)!r} was answered {response.status_code}",
        location=parameter,
        expected="400 with a DCS error body",
        actual=str(response.status_code),
    )


def invalid_input_findings(parameter: str, response: httpx.Response) -> list[Finding]:
    """The rule for a query invalid in exactly ``parameter``: refused with 400, or a finding."""
    return [] if response.status_code == 400 else [invalid_input_accepted(parameter, response)]


def anonymous_request_findings(request: httpx.Request, status: int, response: httpx.Response | None) -> list[Finding]:
    """The rule for a request with no credential at all: refused with 401, or a finding."""
    return [] if status == 401 else [unauthenticated_not_refused(request, status, response)]


def unauthenticated_not_refused(request: httpx.Request, status: int, response: httpx.Response | None) -> Finding:
    """A request with no credential at all was not answered 401.

    ``response`` is None when its body was over the cap: the status is known, the body is not.
    """
    served = 200 <= status < 300
    return Finding(
        check=UNAUTHENTICATED_REFUSED,
        category="auth",
        title="Served without credentials" if served else "Unauthenticated request not refused with 401",
        message=(
            "a request with no Authorization and no X-Auth-Token header was answered "
            f"{status}" + (": the tenant's backups are readable by anyone" if served else "")
        ),
        location="Authorization",
        expected="401 from the gateway",
        actual=str(status),
        requests=(RequestInfo.from_request(request),),
        status=status,
        response_excerpt=excerpt(response) if response is not None else "",
    )


def body_too_large(exc: ResponseTooLarge) -> Finding:
    """A body over the cap: the request was answered, but not with a body the harness reads."""
    return Finding(
        check=BODY_WITHIN_CAP,
        category="transport",
        title="Response body over the cap",
        message=str(exc),
        location="body",
        expected=f"a body of at most {exc.limit} bytes",
        actual=f"over {exc.limit} bytes",
        requests=(RequestInfo.from_request(exc.request),),
        status=exc.status_code,
    )


def _unreadable(check: str, response: httpx.Response, reason: str) -> Finding:
    """A body the check could not read: named as the body, since no field of it can be."""
    return Finding.about(
        response,
        check=check,
        category=_category(response),
        title=_UNREADABLE_TITLE,
        message=f"{check} could not read the body of this {response.status_code}: {reason}",
        location="body",
        expected="a JSON body the harness can read",
        actual=reason,
    )


def _message(failure: Failure) -> str:
    try:
        return failure.message
    except Exception as exc:  # rendering the message reads the body too: it may be what is broken
        return f"{failure.title} ({type(exc).__name__} while describing it)"


# -- schema deviations ---------------------------------------------------------------

# A path into the body; None stands for any index of an array: the same field of any record
# is the same drift.
_Pattern = tuple[str | None, ...]


class _Violation(NamedTuple):
    """What a validator reports: its keyword, the instance path, and the value at that path."""

    keyword: str
    path: Sequence[str | int]
    instance: Any


class _Deviation(NamedTuple):
    """One deviation, as specific as a baseline entry must be."""

    location: str
    expected: str
    actual: str
    detail: str
    message: str


def _pointer(pattern: _Pattern) -> str:
    # The body's names as the wire scan shows them: a raw ESC or NUL from a target would reach
    # a terminal, make junit.xml invalid, or hide what it separates.
    return "".join("/*" if part is None else "/" + pointer_token(part) for part in pattern)


def _schema_at(spec: Spec, status: int, pattern: _Pattern) -> dict[str, Any] | None:
    """The spec's schema for the values at ``pattern`` in a body of ``status``; None where it has none."""
    if status not in spec.status_codes:
        return None
    top = spec.response_schema(status)
    node: dict[str, Any] | None = spec.resolve(top) if top is not None else None
    for part in pattern:
        if node is None:
            return None
        child = node.get("items") if part is None else node.get("properties", {}).get(part)
        node = spec.resolve(child) if isinstance(child, dict) else None
    return node


def _values_at(body: JsonBody, pattern: _Pattern) -> list[Any]:
    """Every value of the body at ``pattern``: the deviation may repeat in other records."""
    if not body.readable:
        return []
    values = [body.value]
    for part in pattern:
        if part is None:
            values = [item for value in values if isinstance(value, list) for item in value]
        else:
            values = [value[part] for value in values if isinstance(value, dict) and part in value]
    return values


def _same_json(value: Any, allowed: Any) -> bool:
    # JSON equality: true is not 1, while 1 and 1.0 are the same number.
    return bool(json_types(value) & json_types(allowed)) and value == allowed


def _deviations(
    keyword: str, schema: dict[str, Any] | None, where: str, values: list[Any], instance: Any
) -> list[_Deviation]:
    """The deviations one failure stands for, each as specific as a baseline entry must be."""
    objects = [value for value in values if isinstance(value, dict)]
    shown = where or "/"
    found: list[_Deviation] = []
    if schema is not None and keyword == "additionalProperties" and schema.get("additionalProperties") is False:
        known = schema.get("properties", {})
        # Each unknown name once, with its first value; past the per-response cap, more names
        # are not worth describing one by one.
        first: dict[str, Any] = {}
        for record in objects:
            for name, value in record.items():
                if name not in known:
                    first.setdefault(name, value)
        unknown = itertools.islice(first.items(), MAX_FINDINGS_PER_RESPONSE + 1)
        found = [
            _Deviation(
                f"{where}/{pointer_token(name)}",
                "no property beyond those in the spec",
                json_text(value),
                "",
                f"{visible(name)} is not a property of the spec's schema at {shown}",
            )
            for name, value in unknown
        ]
    elif schema is not None and keyword == "required":
        found = [
            _Deviation(
                f"{where}/{pointer_token(name)}",
                "a required property",
                "missing",
                "",
                f"{name} is required at {shown} and missing",
            )
            for record in objects
            for name in schema.get("required", [])
            if name not in record
        ]
    elif schema is not None and keyword in ("enum", "const") and keyword in schema:
        allowed = schema["enum"] if keyword == "enum" else [schema["const"]]
        found = [
            _Deviation(
                shown,
                f"one of {json_text(allowed)}",
                json_text(value),
                json_text(value),
                f"{json_text(value)} at {shown} is not one of {json_text(allowed)}",
            )
            for value in values
            if not any(_same_json(value, candidate) for candidate in allowed)
        ]
    elif schema is not None and keyword == "type" and "type" in schema:
        declared = schema["type"]
        types = [declared] if isinstance(declared, str) else list(declared)
        found = [
            _Deviation(
                shown,
                " or ".join(types),
                f"{json_type(value)} {json_text(value)}",
                json_type(value),
                f"{shown} is a JSON {json_type(value)}, where the spec says {' or '.join(types)}",
            )
            for value in values
            if not json_types(value) & set(types)
        ]
    if found:
        return found
    # Any other keyword, or a failure the spec's schema does not explain: the value as reported.
    constraint = f" {json_text(schema[keyword])}" if schema is not None and keyword in schema else ""
    actual, message = json_text(instance), f"{json_text(instance)} at {shown} breaks {keyword}{constraint}"
    if schema is not None and schema.get("format") in _TIME_FORMATS and keyword in _FORM_KEYWORDS:
        # The sources disagree on a record time's form (the spec's x-alternatives): say which one came.
        form = record_time_form(instance)
        actual, message = f"{actual}, which {form}", f"{message}: it {form}"
    return [_Deviation(shown, f"{keyword}{constraint} as in the spec", actual, "", message)]


def _schema_findings(spec: Spec, check: str, response: httpx.Response, violations: list[_Violation]) -> list[Finding]:
    body = read_json(response)
    findings: list[Finding] = []
    for keyword, path, instance in violations:
        pattern: _Pattern = tuple(None if isinstance(part, int) else str(part) for part in path)
        where = _pointer(pattern)
        values = _values_at(body, pattern) or [instance]
        schema = _schema_at(spec, response.status_code, pattern)
        for deviation in _deviations(keyword, schema, where, values, instance):
            findings.append(
                Finding.about(
                    response,
                    check=check,
                    category=_category(response, keyword),
                    title=_SCHEMA_TITLE,
                    message=f"{deviation.message}\n\n"
                    f"Validated against the response schema for status {response.status_code}.",
                    location=deviation.location,
                    expected=deviation.expected,
                    actual=deviation.actual,
                    detail=deviation.detail,
                )
            )
    return findings


def _integer_format_findings(spec: Spec, response: httpx.Response) -> list[Finding]:
    """OpenAPI's integer formats, which schemathesis's validator does not know and so never checks.

    A size past int64 or a total_num past int32 breaks the official SDK's models.
    """
    status = response.status_code
    body = read_json(response)
    if status not in spec.status_codes or not body.readable:
        return []
    violations: list[_Violation] = []
    for integer_field in spec.integer_fields.get(status, ()):
        pattern, (low, high) = integer_field.path, INTEGER_FORMATS[integer_field.format]
        beyond = (
            value
            for value in _values_at(body, pattern)
            if "integer" in json_types(value) and not isinstance(value, bool) and not low <= value <= high
        )
        # One finding per field, as for any keyword but those a baseline must tell apart by value.
        for value in itertools.islice(beyond, 1):
            violations.append(_Violation("format", [0 if part is None else part for part in pattern], value))
    return _schema_findings(spec, _SCHEMA_CHECK, response, violations)


def _spec_violations(spec: Spec, status: int, value: Any) -> list[_Violation] | None:
    """The body against the spec's own validator; None when it cannot judge it either."""
    schema = spec.response_schema(status) if status in spec.status_codes else None
    if schema is None:
        return None
    try:
        return [
            _Violation(str(error.validator), list(error.absolute_path), error.instance)
            for error in spec.validator(schema).iter_errors(value)
        ]
    except RecursionError:
        return None


def _undecoded(spec: Spec, check: str, failure: Failure, response: httpx.Response) -> list[Finding]:
    """Schemathesis could not take the body as JSON: cut short, not JSON, or deeper than it recurses."""
    body = read_json(response)
    if body.readable:
        # Valid JSON that schemathesis's validator refuses (it stops a few hundred levels
        # deep): the spec's own validator still names the field at fault.
        violations = _spec_violations(spec, response.status_code, body.value)
        if violations is not None:
            return _schema_findings(spec, check, response, violations)
        return [_unreadable(check, response, "a JSON value nested too deep to validate")]
    if isinstance(failure, MalformedJson):
        # The body declared JSON but does not parse: cut short or corrupted on the way.
        return [
            Finding.about(
                response,
                check=check,
                category="transport",
                title=failure.title,
                message=_message(failure),
                location="body",
                expected="a complete JSON body",
                actual="malformed JSON",
            )
        ]
    return [_unreadable(check, response, body.error or "not JSON")]


def _schema_failure(
    spec: Spec, check: str, failure: Failure, case: Case[Any], response: httpx.Response
) -> list[Finding]:
    assert isinstance(failure, JsonSchemaError)
    keyword = str(failure.schema_path[-1]) if failure.schema_path else "schema"
    return _schema_findings(spec, check, response, [_Violation(keyword, list(failure.instance_path), failure.instance)])


class _Fault(NamedTuple):
    """What a failure other than a schema one says: the category, where, and expected against actual."""

    category: str
    location: str
    expected: str
    actual: str


def _simple(describe: Callable[[Failure, Case[Any], httpx.Response], _Fault]) -> _Handler:
    """A handler for a failure that is one finding, described by ``describe``."""

    def handle(spec: Spec, check: str, failure: Failure, case: Case[Any], response: httpx.Response) -> list[Finding]:
        fault = describe(failure, case, response)
        return [
            Finding.about(
                response,
                check=check,
                category=fault.category,
                title=failure.title,
                message=_message(failure),
                location=fault.location,
                expected=fault.expected,
                actual=fault.actual,
            )
        ]

    return handle


def _queried(case: Case[Any]) -> str:
    return ",".join(sorted(case.query or {})) or "query"


def _undefined_status(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    assert isinstance(failure, UndefinedStatusCode)
    return _Fault("status", "status", f"one of {', '.join(failure.defined_status_codes)}", str(response.status_code))


def _content_type(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    return _Fault("content-type", "Content-Type", "application/json", response.headers.get("content-type", "(none)"))


def _accepted_negative(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    return _Fault("status", _negated_parameter(case), "400 for an invalid value", str(response.status_code))


def _rejected_positive(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    return _Fault("status", _queried(case), "2xx for a valid query", str(response.status_code))


def _server_error(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    return _Fault("status", _queried(case), "no 5xx for a valid query", str(response.status_code))


def _other(failure: Failure, case: Case[Any], response: httpx.Response) -> _Fault:
    return _Fault("schema", failure.title, "as in the spec", failure.title)


_Handler = Callable[[Spec, str, Failure, Case[Any], httpx.Response], list[Finding]]
# Each kind of schemathesis failure, by its type, and how it becomes findings: its typed
# fields are read, never its message.
_BY_FAILURE: dict[type[Failure], _Handler] = {
    JsonSchemaError: _schema_failure,
    MalformedJson: lambda spec, check, failure, case, response: _undecoded(spec, check, failure, response),
    ContentDeserializationError: lambda spec, check, failure, case, response: _undecoded(
        spec, check, failure, response
    ),
    UndefinedStatusCode: _simple(_undefined_status),
    UndefinedContentType: _simple(_content_type),
    MissingContentType: _simple(_content_type),
    MalformedMediaType: _simple(_content_type),
    AcceptedNegativeData: _simple(_accepted_negative),
    RejectedPositiveData: _simple(_rejected_positive),
    ServerError: _simple(_server_error),
}


def findings_from(spec: Spec, failure: Failure, case: Case[Any], response: httpx.Response) -> list[Finding]:
    """One schemathesis failure as findings that name the field or parameter at fault."""
    handler = next((h for kind, h in _BY_FAILURE.items() if isinstance(failure, kind)), _simple(_other))
    return handler(spec, _check_of(failure), failure, case, response)


def _negated_parameter(case: Case[Any]) -> str:
    """The parameter(s) a negative case broke, as schemathesis recorded the mutation."""
    if case.meta is None:
        return _queried(case)
    data = case.meta.phase.data
    if data.parameter:
        return data.parameter
    mutated = sorted({str(mutation.parameter) for mutation in data.mutations if mutation.parameter})
    return ",".join(mutated) or _queried(case)
