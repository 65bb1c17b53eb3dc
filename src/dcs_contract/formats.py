"""The spec's custom string format ``dcs-timestamp``: a UTC time as ``yyyyMMddHHmmss``.

The spec's pattern holds the shape and field ranges; this module adds what a regular
expression cannot: calendar validity (20230231000000 is not a time). The mock validates
with :func:`is_dcs_timestamp`, the strategies generate values that pass it, and the
semantic checks compare record times with :func:`parse_dcs_timestamp`.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["FORMAT_NAME", "format_dcs_timestamp", "is_dcs_timestamp", "parse_dcs_timestamp", "parse_record_time"]

FORMAT_NAME = "dcs-timestamp"
_LAYOUT = "%Y%m%d%H%M%S"


def parse_dcs_timestamp(value: str) -> datetime:
    """``"20170718235959"`` -> an aware UTC datetime. Raises ValueError for anything else."""
    # strptime alone accepts "2017718235959" (a 1-digit month), so the length is checked first.
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        raise ValueError(f"{value!r} is not yyyyMMddHHmmss")
    return datetime.strptime(value, _LAYOUT).replace(tzinfo=UTC)


def is_dcs_timestamp(value: object) -> bool:
    """True for a string that is a real calendar time as ``yyyyMMddHHmmss``."""
    if not isinstance(value, str):
        return True  # formats only constrain strings (JSON Schema); the type is checked elsewhere
    try:
        parse_dcs_timestamp(value)
    except ValueError:
        return False
    return True


def format_dcs_timestamp(moment: datetime) -> str:
    """An aware datetime -> ``yyyyMMddHHmmss`` in UTC."""
    return moment.astimezone(UTC).strftime(_LAYOUT)


def parse_record_time(value: str) -> datetime:
    """A record time such as ``2019-05-10T08:31:16.166Z`` -> an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
