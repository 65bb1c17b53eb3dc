"""The endpoint's behaviour, as the contract states it, free of HTTP.

Whether a query is valid is :class:`~dcs_contract.contract.query.QueryRule`'s to say, the rule
check-har judges recordings by; paging and the time window follow contract-facts.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcs_contract.contract.formats import parse_dcs_timestamp, parse_record_time
from dcs_contract.contract.query import WINDOW, FaultKind, InvalidQuery, QueryRule
from dcs_contract.contract.spec import Spec

__all__ = ["BackupService", "ServiceAnswer", "ServiceCall", "error_body", "gateway_error"]

INVALID_PARAMETER = "111400063"  # DCS: "Invalid {0} parameter"
REVERSED_WINDOW = "DCS.4025"  # DCS: "The end time must be after the start time"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error_msg": message, "error_code": code, "error_ext_msg": None}


@dataclass(frozen=True)
class ServiceCall:
    """One call to the service, as the gateway passes it on."""

    project_id: str
    instance_id: str
    pairs: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ServiceAnswer:
    """Status and JSON body; ``raw`` bytes, when set, are sent instead of the body, as they are.

    ``content_type`` None sends no Content-Type header at all, as a broken gateway might.
    """

    status: int
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str | None = "application/json"


def gateway_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> ServiceAnswer:
    """An answer of the API gateway itself: its body has a request_id and no error_ext_msg."""
    body = {"error_msg": message, "error_code": code, "request_id": uuid.uuid4().hex}
    return ServiceAnswer(status, body, headers or {})


def _invalid(name: str) -> ServiceAnswer:
    return ServiceAnswer(400, error_body(INVALID_PARAMETER, f"Invalid {name} parameter."))


class BackupService:
    """Answers ``GET .../backups`` for one project and a set of instances."""

    def __init__(
        self,
        spec: Spec,
        *,
        project_id: str,
        records: Mapping[str, Sequence[dict[str, Any]]],
        window_field: str = "created_at",
    ) -> None:
        self.spec = spec
        self.project_id = project_id
        self.records = {instance: list(rows) for instance, rows in records.items()}
        # Each record's time in the window's field, parsed once: the window compares at second resolution.
        self._created = {
            instance: [parse_record_time(r[window_field]).replace(microsecond=0) for r in rows]
            for instance, rows in self.records.items()
        }
        self.query_rule = QueryRule.of(spec)

    def __call__(self, call: ServiceCall) -> ServiceAnswer:
        return self.list_backups(call.project_id, call.instance_id, call.pairs)

    def list_backups(self, project_id: str, instance_id: str, pairs: Sequence[tuple[str, str]]) -> ServiceAnswer:
        query = self.query_rule.read(pairs)
        # A bad parameter is refused before the ids are looked at; a reversed window (the only
        # fault when it is the first: the rule lists it last) after, with its own code.
        if isinstance(query, InvalidQuery) and query.first.kind is not FaultKind.REVERSED_WINDOW:
            return _invalid(query.first.parameter)
        if project_id != self.project_id:
            return _invalid("project_id")
        if instance_id not in self.records:
            return _invalid("instance_id")
        if isinstance(query, InvalidQuery):
            return ServiceAnswer(400, error_body(REVERSED_WINDOW, "The end time must be after the start time."))
        begin_time, end_time = (query.text(name) for name in WINDOW)
        begin = parse_dcs_timestamp(begin_time) if begin_time is not None else None
        end = parse_dcs_timestamp(end_time) if end_time is not None else None
        # The window is inclusive at both ends, at second resolution (contract-facts.md).
        matching = [
            record
            for record, created in zip(self.records[instance_id], self._created[instance_id], strict=True)
            if (begin is None or created >= begin) and (end is None or created <= end)
        ]
        if not matching:
            return ServiceAnswer(204)
        offset, limit = query.integer("offset"), query.integer("limit")
        page = matching[offset : offset + limit]
        return ServiceAnswer(200, {"total_num": len(matching), "backup_record_response": page})
