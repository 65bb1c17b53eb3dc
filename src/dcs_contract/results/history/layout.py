"""The history's layouts, version by version, and the upgrades between them: one schema, both backends.

Version 1 is the first layout; version 2 adds the harness version of each run and the values
each run observed; version 3 adds each run's latency percentiles. A store of an older version
is upgraded when opened, in one transaction. The statements are SQLite's spelling; ``{id}``
is the type of an id column, which differs (the backend's ``dialect`` says it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dcs_contract.results.history import rows
from dcs_contract.results.history.database import APPLICATION, Database
from dcs_contract.results.history.model import HistoryError
from dcs_contract.version import harness_version

__all__ = [
    "LAYOUT_V1",
    "LAYOUT_V2",
    "LAYOUT_V3",
    "SCHEMA_VERSION",
    "TABLES",
    "UPGRADES",
    "Refusal",
    "create",
    "listed",
    "prepare",
]

SCHEMA_VERSION = 3
# Runs read per batch while upgrading: an old history is never loaded whole.
_BATCH = 200

# Version 1: runs without the harness version, and no observed values. ``seed`` is text, as a
# seed is up to 2**64 - 1 and an SQLite integer stops at 2**63 - 1. ``complete``: neither cut
# short nor crashed. ``report`` is the report's as_dict() JSON without the spec document, kept
# once per hash in ``specs``. A finding is stored by its position in the report (its
# fingerprint is indexed, not unique: a hand-edited report may repeat one).
LAYOUT_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE specs (sha256 TEXT PRIMARY KEY, document TEXT NOT NULL)",
    """CREATE TABLE runs (
        id {id},
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        base_url TEXT,
        instance_id TEXT,
        target TEXT NOT NULL,
        spec_sha256 TEXT REFERENCES specs (sha256),
        seed TEXT,
        verdict TEXT NOT NULL,
        complete INTEGER NOT NULL,
        requests_total INTEGER NOT NULL,
        requests TEXT NOT NULL,
        report TEXT NOT NULL
    )""",
    "CREATE INDEX runs_by_target ON runs (base_url, instance_id, id)",
    """CREATE TABLE findings (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        category TEXT NOT NULL,
        location TEXT NOT NULL,
        title TEXT NOT NULL,
        occurrences INTEGER NOT NULL,
        finding TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    )""",
    "CREATE INDEX findings_by_fingerprint ON findings (fingerprint)",
)
# Version 2: each run's harness version, and what it observed (kind -> value -> count).
LAYOUT_V2 = (
    "ALTER TABLE runs ADD COLUMN harness_version TEXT",
    """CREATE TABLE observed (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (run_id, kind, value)
    )""",
)
# Version 3: each run's latency per property, in seconds (time to the headers, to the last byte).
LAYOUT_V3 = (
    """CREATE TABLE latency (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        property TEXT NOT NULL,
        requests INTEGER NOT NULL,
        headers_p50 DOUBLE PRECISION,
        headers_p95 DOUBLE PRECISION,
        headers_max DOUBLE PRECISION,
        total_p50 DOUBLE PRECISION,
        total_p95 DOUBLE PRECISION,
        total_max DOUBLE PRECISION,
        PRIMARY KEY (run_id, property)
    )""",
)
# The tables of each version: a store with any other is not a history.
TABLES = {
    1: {"meta", "specs", "runs", "findings"},
    2: {"meta", "specs", "runs", "findings", "observed"},
    3: {"meta", "specs", "runs", "findings", "observed", "latency"},
}


def prepare(database: Database, *, upto: int = SCHEMA_VERSION) -> None:
    """Check the store is a history this harness reads, then create or upgrade it to ``upto`` if need be."""
    with database.failing("be read"):
        version = database.version()
    if version >= upto:
        return
    # Checked again inside the transaction: another process may have created or upgraded the
    # store since, and only one of them may do it.
    with database.transaction("be created or upgraded"):
        version = database.version()
        if version == 0:
            create(database)
            version = 1
        for older in range(version, upto):
            UPGRADES[older](database)
            database.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(older + 1),))
            database.set_version(older + 1)


def create(database: Database) -> None:
    """The first layout, in the open transaction."""
    for statement in LAYOUT_V1:
        database.execute(database.dialect(statement))
    database.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("application", APPLICATION), ("schema_version", "1"), ("created_by", f"dcs-contract {harness_version()}")],
    )
    database.set_version(1)


def _each_report(database: Database, handle: Callable[[int, str], None]) -> None:
    """``handle(run_id, report JSON)`` for every run, a batch at a time: an old history is never loaded whole."""
    after = 0
    while batch := database.execute(
        "SELECT id, report FROM runs WHERE id > ? ORDER BY id LIMIT ?", (after, _BATCH)
    ).fetchall():
        for run_id, text in batch:
            after = int(run_id)
            handle(after, text)


def _upgrade_v1(database: Database) -> None:
    """Version 1 to 2: add the harness version and the observed values, read from each run's report.

    A run whose report cannot be read keeps neither: :meth:`History.report` says it is damaged.
    """
    for statement in LAYOUT_V2:
        database.execute(database.dialect(statement))

    def upgrade(run_id: int, text: str) -> None:
        try:
            data = json.loads(text)
            version = data.get("harness_version")
            observed = rows.observed_rows(data)
        except (ValueError, TypeError, AttributeError, RecursionError):
            return
        database.execute(
            "UPDATE runs SET harness_version = ? WHERE id = ?",
            (version if isinstance(version, str) else None, run_id),
        )
        rows.insert_observed(database, run_id, observed)

    _each_report(database, upgrade)


def _upgrade_v2(database: Database) -> None:
    """Version 2 to 3: add the latency table, filled from the reports that carry latency."""
    for statement in LAYOUT_V3:
        database.execute(database.dialect(statement))

    def upgrade(run_id: int, text: str) -> None:
        try:
            data = json.loads(text)
            latency = rows.latency_rows(data) if isinstance(data, dict) else []
        except (ValueError, TypeError, AttributeError, RecursionError):
            return
        rows.insert_latency(database, run_id, latency)

    _each_report(database, upgrade)


UPGRADES: dict[int, Callable[[Database], None]] = {1: _upgrade_v1, 2: _upgrade_v2}


_DIGITS = re.compile(r"[0-9]+")


def listed(names: Iterable[str]) -> str:
    """Table names as a message lists them: the first five, and how many more."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:5]) + (f" and {len(ordered) - 5} more" if len(ordered) > 5 else "")
    return f"table{'s' if len(ordered) != 1 else ''} {shown}" if ordered else "no tables"


@dataclass(frozen=True)
class Refusal:
    """A store that is not (or no longer) a history this version reads, refused in its backend's words.

    The decisions (which meta makes a history, which versions are read, which tables each
    has) are the same for SQLite and PostgreSQL and are made here; the backends give the
    words: ``what`` the store is ("an SQLite database"), ``other`` (where to point
    ``--history`` instead), ``instead`` (for a newer history) and ``damaged`` (what to do).
    """

    where: str
    what: str
    other: str
    instead: str
    damaged: str = ""

    def meta_version(self, objects: set[str], meta: Mapping[str, Any] | None) -> tuple[int, str]:
        """(the version the meta table states, as it is written): refused when not a history, or a newer one."""
        if "meta" not in objects:
            raise HistoryError(
                f"{self.where} is {self.what} but not a dcs-contract history (it has {listed(objects)}): {self.other}"
            )
        if meta is None or meta.get("application") != APPLICATION:
            raise HistoryError(
                f"{self.where} is {self.what} but not a dcs-contract history (its meta table is not "
                f"one dcs-contract wrote): {self.other}"
            )
        written = str(meta.get("schema_version"))
        version = int(written) if _DIGITS.fullmatch(written) else -1
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.where} is a history of version {version}, written by a newer dcs-contract "
                f"({meta.get('created_by', 'unknown')}); this one reads versions up to {SCHEMA_VERSION}: "
                f"upgrade dcs-contract, or give --history {self.instead}"
            )
        return version, written

    def tables(self, version: int, written: str, objects: set[str]) -> int:
        """``version``, once the store holds exactly the tables of its layout."""
        advice = f"; {self.damaged}" if self.damaged else ""
        expected = TABLES.get(version)
        if expected is None:
            raise HistoryError(
                f"{self.where} is a damaged dcs-contract history: its meta table says version {written!r}{advice}"
            )
        if objects - expected:
            raise HistoryError(
                f"{self.where} is not a dcs-contract history of version {version}: it also has "
                f"{listed(objects - expected)}; {self.other}"
            )
        if expected - objects:
            raise HistoryError(
                f"{self.where} is a damaged dcs-contract history: it lacks {listed(expected - objects)}{advice}"
            )
        return version
