"""Drift switches: named ways for the mock to break the contract, as a real service might.

The self-tests turn one on and prove the harness catches it. With none set, the mock is the
faithful service: the app does not even call into this module.

A switch rewrites the query before the service sees it, the answer after, or both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dcs_contract.mock.service import ServiceAnswer

__all__ = ["DRIFTS", "Drift", "drifts_named"]

QueryPairs = list[tuple[str, str]]


@dataclass(frozen=True)
class Drift:
    name: str
    description: str
    before: Callable[[QueryPairs], QueryPairs] | None = None
    after: Callable[[ServiceAnswer], ServiceAnswer] | None = None
    # The gateway lets a request with no credential at all through to the service.
    serves_anonymous: bool = False


DRIFTS: dict[str, Drift] = {}


def _register(drift: Drift) -> None:
    DRIFTS[drift.name] = drift


def _map_records(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[ServiceAnswer], ServiceAnswer]:
    def after(answer: ServiceAnswer) -> ServiceAnswer:
        if answer.status != 200 or answer.body is None:
            return answer
        records = [change(dict(record)) for record in answer.body["backup_record_response"]]
        return replace(answer, body={**answer.body, "backup_record_response": records})

    return after


def _clamp_negative_offset(pairs: QueryPairs) -> QueryPairs:
    return [(k, "0" if k == "offset" and v.startswith("-") else v) for k, v in pairs]


_register(
    Drift(
        "extra-field",
        "every record gains a field the spec does not know",
        after=_map_records(lambda r: {**r, "backup_region": "cn-north-4"}),
    )
)
_register(
    Drift(
        "format-upper-case",
        "backup_format comes back upper case (AOF), as on the old v1.0 page",
        after=_map_records(lambda r: {**r, "backup_format": str(r["backup_format"]).upper()}),
    )
)
_register(
    Drift(
        "negative-offset-accepted",
        "a negative offset is read as 0 and answered 200 instead of 400",
        before=_clamp_negative_offset,
    )
)

_register(
    Drift(
        "served-without-credentials",
        "the gateway serves a request that carries no credential at all",
        serves_anonymous=True,
    )
)


def drifts_named(names: tuple[str, ...] | list[str]) -> tuple[Drift, ...]:
    """The switches by name; a ValueError lists the known ones."""
    unknown = [name for name in names if name not in DRIFTS]
    if unknown:
        raise ValueError(f"unknown drift switch {', '.join(unknown)}; known: {', '.join(sorted(DRIFTS))}")
    return tuple(DRIFTS[name] for name in names)
