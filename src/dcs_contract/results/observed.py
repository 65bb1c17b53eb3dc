"""The values a run counts as it reads the target's answers (``report.observed``), typed.

Each kind maps a value, as bounded text, to how often it was seen: the status codes, the
error bodies' error codes, the record fields that came with a value, and each enum field of
a record (``status``, ``backup_type``, ...). :class:`Observations` holds them; the run counts
them in an :class:`ObservationTally` (``engine/run.py``); the diff, the coverage, the history
and the docs read the typed fields. The kind names below are report.json's keys, read and
written here only::

    observations = Observations.from_json(json.loads(text)["observed"])  # never raises
    observations.http_status.get("200", 0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["ERROR_CODES", "HTTP_STATUS", "RECORD_FIELDS", "ObservationTally", "Observations", "is_count"]


def is_count(value: object) -> bool:
    """A count as a report or a history holds one: a whole number, 0 or more (never a bool)."""
    return type(value) is int and value >= 0


# The status code of every answer.
HTTP_STATUS = "http_status"
# The error_code of every error body (the records' own error_code is an enum field, keyed by its name).
ERROR_CODES = "error_body.error_code"
# Each record field that arrived with a value: which optional fields the target ever sends.
RECORD_FIELDS = "record_field"


@dataclass(frozen=True, kw_only=True)
class Observations:
    """What a run, or a target's history, observed: each kind's values with their counts.

    ``record_fields`` is None for a report written before they were counted (issue 22), so
    that an older report does not read as one whose records had no optional field.
    """

    http_status: Mapping[str, int] = field(default_factory=dict)
    error_codes: Mapping[str, int] = field(default_factory=dict)
    record_fields: Mapping[str, int] | None = None
    # Record field name -> its values (compact JSON text) -> count.
    enum_values: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # report.json's keys in the order they came: the run writes them as answers arrive, and a
    # report read back must write the same bytes. No part of what was observed.
    order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def kinds(self) -> Iterator[tuple[str, Mapping[str, int]]]:
        """(report.json's key, the counts) of each kind present, in report.json's order."""
        present: dict[str, Mapping[str, int]] = {}
        # A kind that came empty stays: the run writes an enum field no record had as {}.
        if self.http_status or HTTP_STATUS in self.order:
            present[HTTP_STATUS] = self.http_status
        present |= self.enum_values
        if self.record_fields is not None:
            present[RECORD_FIELDS] = self.record_fields
        if self.error_codes or ERROR_CODES in self.order:
            present[ERROR_CODES] = self.error_codes
        for kind in dict.fromkeys([*self.order, *present]):
            if kind in present:
                yield kind, present[kind]

    def to_json(self) -> dict[str, dict[str, int]]:
        """As report.json's ``observed``: kind -> value -> count."""
        return {kind: dict(counts) for kind, counts in self.kinds()}

    @classmethod
    def from_json(cls, untrusted: object) -> Observations:
        """report.json's ``observed``, or a history's union of them, read as hostile input; never raises.

        What is not a map of maps of counts is dropped, as if the run had not observed it: a
        kind that is not a map, a key that is not text, a count that is not a non-negative
        integer (the report schema refuses all of these first where a report is read whole).
        """
        if not isinstance(untrusted, Mapping):
            return cls()
        kinds: dict[str, dict[str, int]] = {}
        for kind, counts in untrusted.items():
            if isinstance(kind, str) and isinstance(counts, Mapping):
                kinds[kind] = {
                    value: count for value, count in counts.items() if isinstance(value, str) and is_count(count)
                }
        return cls._of(kinds)

    @classmethod
    def _of(cls, kinds: Mapping[str, Mapping[str, int]]) -> Observations:
        reserved = (HTTP_STATUS, ERROR_CODES, RECORD_FIELDS)
        return cls(
            http_status=dict(kinds.get(HTTP_STATUS, {})),
            error_codes=dict(kinds.get(ERROR_CODES, {})),
            record_fields=dict(kinds[RECORD_FIELDS]) if RECORD_FIELDS in kinds else None,
            enum_values={kind: dict(counts) for kind, counts in kinds.items() if kind not in reserved},
            order=tuple(kinds),
        )

    def rows(self) -> list[tuple[str, str, int]]:
        """(kind, value, count) of every value, in report.json's order: as a history stores them."""
        return [(kind, value, count) for kind, counts in self.kinds() for value, count in counts.items()]


@dataclass
class ObservationTally:
    """The counts a run keeps as answers arrive; :meth:`observations` is what its report says.

    Each accessor gives the kind's counter, made the first time it is asked for: report.json
    lists the kinds in that order, and an enum field asked for stays even when no record had it.
    """

    _kinds: dict[str, Counter[str]] = field(default_factory=dict)

    def _kind(self, kind: str) -> Counter[str]:
        return self._kinds.setdefault(kind, Counter())

    def http_status(self) -> Counter[str]:
        return self._kind(HTTP_STATUS)

    def error_codes(self) -> Counter[str]:
        return self._kind(ERROR_CODES)

    def record_fields(self) -> Counter[str]:
        return self._kind(RECORD_FIELDS)

    def enum_values(self, field_name: str) -> Counter[str]:
        # A spec's enum field named as one of the kinds above would share its counter, as the
        # report's one key would: no spec of this API has one.
        return self._kind(field_name)

    def observations(self) -> Observations:
        return Observations._of(self._kinds)
