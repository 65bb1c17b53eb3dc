"""A report as the history's rows, and the texts a database can store: one place for both backends.

Everything is serialised before a transaction begins, so a report that cannot be stored
never starts one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.formats import printable
from dcs_contract.results.history.database import Database
from dcs_contract.results.observed import Observations
from dcs_contract.results.report import RunReport

__all__ = [
    "RunRows",
    "insert_findings",
    "insert_latency",
    "insert_observed",
    "latency_rows",
    "observed_rows",
    "seconds",
]

# The two timings a report gives per property, and the statistics of each, as the columns name them.
_TIMINGS = ("headers", "total")
_STATISTICS = ("p50", "p95", "max")
LATENCY_COLUMNS = tuple(f"{timing}_{statistic}" for timing in _TIMINGS for statistic in _STATISTICS)


@dataclass(frozen=True)
class RunRows:
    """One report as rows: the spec (sha256, document) if any, the run's row, its findings, observed, latency."""

    spec: tuple[str, str] | None
    run: tuple[Any, ...]
    findings: list[tuple[Any, ...]]
    observed: list[tuple[str, str, int]]
    latency: list[tuple[Any, ...]]

    @classmethod
    def of(cls, report: RunReport) -> RunRows:
        """Raises TypeError, ValueError or RecursionError when the report does not serialise."""
        data = report.as_dict()
        if report.spec is not None:
            data["spec"] = {"sha256": report.spec.sha256}
        spec = (report.spec.sha256, as_json(report.spec.document)) if report.spec is not None else None
        run = (
            text(report.started),
            text(report.finished),
            text_or_none(report.target.base_url),
            text_or_none(report.target.instance_id),
            as_json(report.target.as_dict()),
            report.spec.sha256 if report.spec is not None else None,
            None if report.seed is None else str(report.seed),
            report.verdict,
            int(report.error is None and report.crash is None),
            report.requests.total,
            as_json(report.requests.as_dict()),
            as_json(data),
            text_or_none(report.harness_version),
        )
        findings = [
            (
                position,
                finding.fingerprint,
                int(accepted),
                text(finding.check),
                text(finding.category),
                text(finding.location),
                text(finding.title),
                report.occurrences.get(finding.fingerprint, 1),
                as_json(finding.as_dict()),
            )
            for position, (finding, accepted) in enumerate(_seen(report))
        ]
        return cls(spec, run, findings, observed_rows(data), latency_rows(data))


def observed_rows(data: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """report.json's ``observed`` as (kind, value, count) rows; TypeError when it is not a map of maps.

    A stored report whose ``observed`` is not one is damaged (``layout`` keeps none of it).
    """
    observed = data.get("observed", {})
    if not isinstance(observed, Mapping) or not all(isinstance(counts, Mapping) for counts in observed.values()):
        # Named by its type only: a damaged report's value may be large.
        raise TypeError(f"observed is a {type(observed).__name__}, but it must be a map of maps of counts")
    return [(text(kind), text(value), count) for kind, value, count in Observations.from_json(observed).rows()]


def latency_rows(data: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """report.json's ``latency`` as (property, requests, headers p50, p95, max, total p50, p95, max) rows.

    Read tolerantly: absent in older reports, and a value that is not a finite number of
    seconds is kept as None rather than refusing the run.
    """
    latency = data.get("latency")
    if not isinstance(latency, Mapping):
        return []
    rows: list[tuple[Any, ...]] = []
    for name, entry in latency.items():
        if not isinstance(entry, Mapping):
            continue
        requests = entry.get("requests")
        values = [
            seconds(timing.get(statistic)) if isinstance(timing := entry.get(part), Mapping) else None
            for part in _TIMINGS
            for statistic in _STATISTICS
        ]
        count = requests if isinstance(requests, int) and not isinstance(requests, bool) and requests >= 0 else 0
        rows.append((text(name), min(count, 2**31 - 1), *values))
    return rows


def seconds(value: object) -> float | None:
    """A number of seconds as the history keeps one: finite and 0 or more; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float: no time a run measured
        return None
    return number if math.isfinite(number) and number >= 0 else None


def insert_findings(database: Database, run_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
    database.executemany(
        "INSERT INTO findings (run_id, position, fingerprint, accepted, check_name, category, location, title, "
        "occurrences, finding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, *row) for row in rows],
    )


def insert_observed(database: Database, run_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
    # Two values may become one text once made writable (a lone surrogate escaped): their counts add up.
    database.executemany(
        "INSERT INTO observed (run_id, kind, value, count) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (run_id, kind, value) DO UPDATE SET count = observed.count + excluded.count",
        [(run_id, *row) for row in rows],
    )


def insert_latency(database: Database, run_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
    # A property named twice (two names made one text) keeps its first entry.
    database.executemany(
        f"INSERT INTO latency (run_id, property, requests, {', '.join(LATENCY_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, property) DO NOTHING",
        [(run_id, *row) for row in rows],
    )


def _seen(report: RunReport) -> Iterator[tuple[Finding, bool]]:
    for finding in report.findings:
        yield finding, False
    for finding in report.accepted:
        yield finding, True


def as_json(value: Any) -> str:
    # ASCII: a lone surrogate (from a target's JSON) is kept as an escape any database can store, and read back whole.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def text(value: object) -> str:
    """A column's text: a database takes only valid UTF-8 (and PostgreSQL no NUL), so both become escapes."""
    return printable(str(value)).replace("\x00", "\\x00")


def text_or_none(value: str | None) -> str | None:
    return None if value is None else text(value)
