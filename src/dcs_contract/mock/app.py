"""The embedded mock as an ASGI app: the API gateway's auth in front of the backups service.

One catch-all route, so that every request that reaches the server, whatever its method or
path, is logged: the safety tests read that log to prove what a run sent.

    app = create_app(MockState.default(spec))
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.mock.data import DEFAULT_RECORD_COUNT, generate_records
from dcs_contract.mock.drift import Drift, Handler, drifts_named
from dcs_contract.mock.faults import FaultPlan
from dcs_contract.mock.service import BackupService, ServiceAnswer, ServiceCall, error_body, gateway_error
from dcs_contract.redaction import SENSITIVE_HEADERS
from dcs_contract.transport.signing import Credentials, verify

__all__ = ["LoggedRequest", "MockState", "Served", "create_app"]

_PREFIX, _, _SUFFIX = OPERATION_PATH.partition("/{project_id}/instances/{instance_id}")

# A test's own answers: called with each GET on the backups path and the answer the mock
# would give (the gateway's 401 included); what it returns is sent instead, raw bytes as they are.
Served = Callable[[ServiceCall, ServiceAnswer], ServiceAnswer]


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it; no header values, so no credential, are kept."""

    method: str
    path: str
    query: str
    status: int
    at: float
    with_credentials: bool


@dataclass
class MockState:
    """Everything the mock serves: ids, records, accepted credentials, and its request log."""

    service: BackupService
    # What answers a call past the gateway: the service, or the service wrapped in drift switches.
    handler: Handler
    credentials: Credentials
    empty_instance_id: str | None = None
    drifts: tuple[Drift, ...] = ()
    faults: FaultPlan | None = None
    # Set by a test to serve bodies of its own making (the harness's fuzz self-test).
    served: Served | None = None
    log: list[LoggedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def default(
        cls,
        spec: Spec,
        *,
        project_id: str | None = None,
        instance_id: str | None = None,
        credentials: Credentials | None = None,
        records: int = DEFAULT_RECORD_COUNT,
        seed: int = 20240409,
        drifts: tuple[str, ...] = (),
        faults: FaultPlan | None = None,
        drift_every: int = 1,
    ) -> MockState:
        """A project with one instance holding ``records`` backups and one instance with none.

        The gateway accepts ``credentials``, with what they lack (an AK/SK pair, a token) generated.
        ``drift_every``: the switches that wrap the service drift on every n-th call only, as a
        flaky deployment behind a load balancer does; the other calls are faithful.
        """
        rng = random.Random(seed)
        project_id = project_id or uuid.UUID(int=rng.getrandbits(128), version=4).hex
        instance_id = instance_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        empty_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rows = {
            instance_id: generate_records(spec, instance_id=instance_id, count=records, seed=seed),
            empty_id: [],
        }
        switches = drifts_named(drifts)
        service_options: dict[str, Any] = {}
        for drift in switches:
            rows = drift.data(rows) if drift.data else rows
            service_options.update(drift.service)
        service = BackupService(spec, project_id=project_id, records=rows, **service_options)
        handler: Handler = service
        for drift in switches:
            handler = drift.wrap(handler, spec) if drift.wrap else handler
        if drift_every > 1 and handler is not service:
            handler = _every(drift_every, drifting=handler, faithful=service)
        return cls(
            service=service,
            handler=handler,
            credentials=Credentials.generate() if credentials is None else credentials.completed(),
            empty_instance_id=empty_id,
            drifts=switches,
            faults=faults,
        )

    @property
    def project_id(self) -> str:
        return self.service.project_id

    @property
    def instance_id(self) -> str:
        return next(iter(self.service.records))

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self.log)


def _authenticate(
    state: MockState, request: Request, pairs: list[tuple[str, str]], body: bytes
) -> ServiceAnswer | None:
    """None when the request carries a valid token or signature, else the gateway's 401."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    if "x-auth-token" in headers:
        if state.credentials.accepts_token(headers["x-auth-token"]):
            return None
        return gateway_error(401, "APIGW.0301", "Incorrect IAM authentication information: token rejected.")
    check = verify(
        method=request.method,
        path=request.url.path,
        query=pairs,
        headers=headers,
        body=body,
        secrets=state.credentials.signing_keys(),
    )
    if check.ok:
        return None
    return gateway_error(
        401, check.error_code or "APIGW.0301", f"Incorrect IAM authentication information: {check.reason}."
    )


def _anonymous(request: Request) -> bool:
    return not any(name in request.headers for name in SENSITIVE_HEADERS)


def _route(path: str) -> tuple[str, str] | None:
    """(project_id, instance_id) when ``path`` is the backups path, else None."""
    if not (path.startswith(_PREFIX + "/") and path.endswith(_SUFFIX)):
        return None
    parts = path[len(_PREFIX) + 1 : len(path) - len(_SUFFIX)].split("/")
    if len(parts) != 3 or parts[1] != "instances" or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def _respond(answer: ServiceAnswer) -> Response:
    if answer.raw is not None or answer.content_type != "application/json":
        content = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        return Response(content, answer.status, dict(answer.headers), media_type=answer.content_type)
    if answer.body is None:
        return Response(status_code=answer.status, headers=dict(answer.headers))
    return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))


def create_app(state: MockState) -> Starlette:
    """The mock's ASGI app over ``state``."""

    async def handle(request: Request) -> Response:
        arrived = time.monotonic()
        body = await request.body()
        fault, delay = state.faults.next() if state.faults else (None, 0.0)
        if delay:
            await asyncio.sleep(delay)
        answer = fault or _answer(state, request, body)
        state.record(
            LoggedRequest(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                status=answer.status,
                at=arrived,
                with_credentials=not _anonymous(request),
            )
        )
        return _respond(answer)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", handle, methods=methods)])
    app.state.mock = state
    return app


def _every(n: int, *, drifting: Handler, faithful: Handler) -> Handler:
    """A handler that drifts on the n-th, 2n-th, ... call, and is faithful on the others."""
    calls = itertools.count(1)
    lock = threading.Lock()

    def call(request: ServiceCall) -> ServiceAnswer:
        with lock:
            number = next(calls)
        return drifting(request) if number % n == 0 else faithful(request)

    return call


def _answer(state: MockState, request: Request, body: bytes) -> ServiceAnswer:
    ids = _route(request.url.path)
    if ids is None:
        return ServiceAnswer(404, error_body("APIGW.0101", "The API does not exist or has not been published."))
    if request.method != "GET":
        return ServiceAnswer(405, error_body("APIGW.0102", f"{request.method} is not allowed here."), {"Allow": "GET"})
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    call = ServiceCall(*ids, pairs)
    refused = _authenticate(state, request, pairs, body)
    if refused is not None and not (_anonymous(request) and any(d.serves_anonymous for d in state.drifts)):
        answer = refused
    else:
        answer = state.handler(call)
    return state.served(call, answer) if state.served is not None else answer
