"""The mock's backup records: seeded, deterministic, and covering the whole contract.

Enum values come from the spec. Every value of every enum appears once the dataset has as
many records as the longest enum; beyond that, the records add sizes above 2^32, null and
omitted ``period``/``error_code``, non-ASCII remarks, several records created in the same
second, times on the edges a window query trips over (.000 and .999 milliseconds, the
last second of a month, 29 February), and backups in progress at 99.99, the last progress
below 100.00.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dcs_contract.contract.spec import Spec

__all__ = ["DEFAULT_RECORD_COUNT", "generate_records"]

# The instance's backups when none is asked for: over a hundred, so that every enum value
# shows, and prime, so that no page size divides it and the last page is a partial one.
DEFAULT_RECORD_COUNT = 137

_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
_SPAN_SECONDS = int(timedelta(days=730).total_seconds())
# Backup names carry the creation time in the console's time zone (UTC+8), as in the
# reference page's example: created 08:31:16Z, named backup_20190510163116.
_NAME_ZONE = timezone(timedelta(hours=8))
_REMARKS = ["001", "每日备份", "Sauvegarde avant la mise à jour — été", "резервная копия", "🔒 pre-upgrade", ""]
_EDGE_TIMES = [
    datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
    datetime(2023, 12, 31, 23, 59, 59, 0, tzinfo=UTC),
    datetime(2024, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
    datetime(2023, 6, 30, 12, 0, 0, 500000, tzinfo=UTC),
]


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _created_times(rng: random.Random, count: int) -> list[datetime]:
    times: list[datetime] = []
    for index in range(count):
        if index < len(_EDGE_TIMES):
            times.append(_EDGE_TIMES[index])
        elif index % 17 == 0 and times:
            # Same second as an earlier record, another millisecond: ties inside one second.
            times.append(times[-1].replace(microsecond=rng.randrange(1000) * 1000))
        else:
            offset = timedelta(seconds=rng.randrange(_SPAN_SECONDS), milliseconds=rng.randrange(1000))
            times.append(_EPOCH + offset)
    return times


# The last progress below 100.00: a pattern that admits 100.01 to 100.99 is off by one there.
_PROGRESS_EDGE = "99.99"


def _progress(index: int, status: str, rng: random.Random) -> str:
    if status == "waiting":
        return "0.00"
    if status in ("backuping", "failed"):
        # Drawn even when replaced by the edge: the records after it stay what they were.
        drawn = f"{rng.randrange(100)}.{rng.randrange(100):02d}"
        return _PROGRESS_EDGE if status == "backuping" and index % 4 == 1 else drawn
    return "100.00"


def _size(index: int, status: str, rng: random.Random) -> int:
    if status == "waiting":
        return 0
    if index % 5 == 1:
        return rng.randrange(2**32, 2**36)  # a multi-GB backup: above int32 and uint32
    return rng.randrange(1, 2**31)


def generate_records(spec: Spec, *, instance_id: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` records of one instance, newest first, the same for the same arguments."""
    rng = random.Random(f"{seed}:{instance_id}")
    statuses = spec.enum_values("status")
    types = spec.enum_values("backup_type")
    formats = spec.enum_values("backup_format")
    restorable = spec.enum_values("is_support_restore")
    error_codes = spec.enum_values("error_code")
    records = []
    for index, created in enumerate(_created_times(rng, count)):
        status = statuses[index % len(statuses)]
        backup_type = types[(index // len(statuses)) % len(types)]
        record: dict[str, Any] = {
            "backup_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "period": "00:00-01:00" if backup_type == "auto" else None,
            "backup_name": "backup_" + created.astimezone(_NAME_ZONE).strftime("%Y%m%d%H%M%S"),
            "instance_id": instance_id,
            "size": _size(index, status, rng),
            "backup_type": backup_type,
            "created_at": _time(created),
            "updated_at": _time(created + timedelta(seconds=rng.randrange(30, 900))),
            "progress": _progress(index, status, rng),
            "error_code": error_codes[(index // len(statuses)) % len(error_codes)] if status == "failed" else None,
            "remark": _REMARKS[index % len(_REMARKS)],
            "status": status,
            "is_support_restore": restorable[index % len(restorable)],
            "execution_at": _time(created),
            "backup_format": formats[(index // 2) % len(formats)],
        }
        if index % 7 == 3:
            # The service may omit period and error_code instead of sending null; a failed
            # backup always carries its error code.
            del record["period"]
            if status != "failed":
                del record["error_code"]
        records.append(record)
    # A stable order, newest first, so that pages are disjoint and cover the whole set.
    records.sort(key=lambda r: (r["created_at"], r["backup_id"]), reverse=True)
    return records
