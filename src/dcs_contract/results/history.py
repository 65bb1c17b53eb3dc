"""Run history: every run's report in one SQLite file, read back by ``history``, ``diff`` and the docs' timeline.

A nightly job appends each run; later commands read the file::

    with History.open(Path("history.sqlite")) as history:
        run_id = history.append(report)  # one transaction: the whole run, or nothing
        for run in history.runs(last=10):  # oldest first
            print(run.id, run.verdict, f"+{run.new} -{run.resolved}")
        before = history.report(history.resolve("previous"))

The order of the history is the order runs were appended (run ids increase); a backfill
appends the oldest report first. A *target* is its base URL and instance id: runs are
compared only with runs of the same target. A run is *complete* when it was neither cut
short nor crashed (no ``error``, no ``crash``): what an incomplete run did not see, it may
not have tested, so it is never the run another is compared with, and it resolves nothing.
What a run *saw* is its findings and the findings its baseline accepted: accepting drift
does not make it go away.

The file is versioned (``PRAGMA user_version`` and the ``meta`` table). Version 1 is the
first layout (:data:`_LAYOUT_V1`); version 2 adds the harness version of each run and the
values each run observed. An older file is upgraded when opened, in one transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.formats import printable
from dcs_contract.errors import ConfigError
from dcs_contract.results.report import RunReport, harness_version

__all__ = ["SCHEMA_VERSION", "FingerprintHistory", "History", "HistoryError", "RunSummary"]

SCHEMA_VERSION = 2
# What the meta table says of a file this module wrote: another application's "meta" is not ours.
APPLICATION = "dcs-contract history"
# How long a writer waits for another to finish: a nightly append takes milliseconds, so this
# is only reached when a process holds the file open in a transaction and hangs.
TIMEOUT = 30.0
# Runs read per batch while upgrading: an old history is never loaded whole.
_BATCH = 200

# Version 1, the first layout: runs without the harness version, and no observed values.
# ``seed`` is text, as a seed is up to 2**64 - 1 and an SQLite integer stops at 2**63 - 1.
# ``complete``: neither cut short nor crashed. ``report`` is the report's as_dict() JSON without
# the spec document, kept once per hash in ``specs``. A finding is stored by its position in the
# report (its fingerprint is indexed, not unique: a hand-edited report may repeat one).
_LAYOUT_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE specs (sha256 TEXT PRIMARY KEY, document TEXT NOT NULL)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
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
_LAYOUT_V2 = (
    "ALTER TABLE runs ADD COLUMN harness_version TEXT",
    """CREATE TABLE observed (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (run_id, kind, value)
    )""",
)
# The tables of each version: a file with any other is not a history.
_TABLES = {1: {"meta", "specs", "runs", "findings"}, 2: {"meta", "specs", "runs", "findings", "observed"}}

_DIGITS = re.compile(r"[0-9]+")
# The largest rowid SQLite has: a larger id names no run.
_MAX_ID = 2**63 - 1


class HistoryError(ConfigError):
    """The --history file cannot be used as it is: the message names the file and what to do."""


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """One run as ``dcs-contract history`` lists it.

    ``findings`` are the run's new findings (those that decide its verdict), ``accepted`` those
    its baseline accepted. ``new`` and ``resolved`` count the fingerprints it saw (both kinds)
    that ``previous`` did not, and those ``previous`` saw that it did not; ``previous`` is the
    latest complete run of the same target before it (None for its first: then every
    fingerprint is new). An incomplete run resolves nothing.
    """

    id: int
    started: str
    finished: str
    base_url: str | None
    instance_id: str | None
    verdict: str
    complete: bool
    requests: int
    findings: int
    accepted: int
    new: int
    resolved: int
    previous: int | None
    seed: int | None
    harness_version: str | None
    spec_sha256: str | None


@dataclass(frozen=True, kw_only=True)
class FingerprintHistory:
    """One fingerprint's life at one target.

    ``first_run``/``last_run`` (with their ``started``) are the first and last runs that saw it,
    of any run of the target. ``window`` is the number of the target's latest complete runs
    looked at (``last``, or fewer when it has fewer), ``seen`` how many of them saw it.
    ``intermittent``: within the window, oldest first, some run after its first sighting did
    not see it and a later run saw it again (seen, absent, seen). A finding that appeared and
    stays, or that was fixed and stays fixed, is not intermittent. ``check``, ``category``,
    ``location`` and ``title`` are those of its last sighting.
    """

    fingerprint: str
    base_url: str | None
    instance_id: str | None
    check: str
    category: str
    location: str
    title: str
    first_run: int
    first_started: str
    last_run: int
    last_started: str
    seen: int
    window: int
    intermittent: bool


Target = tuple[str | None, str | None]


class History:
    """A run history file. Open it with :meth:`open` (also a context manager); close it when done."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection
        self._where = _where(path)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = True, timeout: float = TIMEOUT) -> History:
        """The history in ``path``: created when missing (with ``create``), upgraded when older.

        Refused with a :class:`HistoryError`, the file left as it is: a file that is not
        SQLite, an SQLite file that is not a history, a history newer than this harness reads.
        ``timeout``: how long to wait, in seconds, for another process writing the file.
        """
        path = Path(path)
        where = _where(path)
        if path.is_dir():
            raise HistoryError(f"{where} is a folder: give --history a file, such as {str(path / 'history.sqlite')!r}")
        if not path.exists():
            if not create:
                raise HistoryError(f"{where} does not exist: a run given --history {str(path)!r} creates it")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"{where} cannot be created: {exc.strerror or exc}") from None
        try:
            # isolation_level=None: this module says where each transaction begins and ends. The
            # journal is SQLite's default rollback journal, not WAL: a CI caches or uploads the
            # history as one file, and WAL keeps the latest runs in a -wal file beside it until a
            # checkpoint. Writers queue on BEGIN IMMEDIATE and the timeout either way.
            connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(f"{where} cannot be opened: {exc}") from None
        history = cls(path, connection)
        try:
            history._prepare()
        except BaseException:
            connection.close()
            raise
        return history

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _prepare(self) -> None:
        """Check the file is a history this harness reads, then create or upgrade it if need be."""
        with self._failing("be read as SQLite"):
            self._connection.execute("PRAGMA foreign_keys = ON")
            version = self._version()
        if version == SCHEMA_VERSION:
            return
        # Checked again inside the transaction: another process may have created or upgraded
        # the file since, and only one of them may do it.
        with self._transaction("be created or upgraded"):
            version = self._version()
            if version == 0:
                for statement in _LAYOUT_V1:
                    self._connection.execute(statement)
                self._connection.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("application", APPLICATION), ("schema_version", "1"), ("created_by", _harness())],
                )
                version = 1
            for older in range(version, SCHEMA_VERSION):
                _UPGRADES[older](self._connection)
                self._connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(older + 1),))
                self._connection.execute(f"PRAGMA user_version = {older + 1}")

    def _version(self) -> int:
        """The file's layout version; 0 for an empty file. Reads only: a refused file is left as it is."""
        connection = self._connection
        try:
            user_version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise HistoryError(
                f"{self._where} is not a dcs-contract history: it is not an SQLite database ({exc}); "
                "give --history a new file name, and dcs-contract creates it"
            ) from None
        objects = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master "
                "WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
            )
        }
        if not objects and user_version == 0:
            return 0
        other = "give --history a file of its own (a new name, and dcs-contract creates it)"
        if "meta" not in objects:
            raise HistoryError(
                f"{self._where} is an SQLite database but not a dcs-contract history "
                f"(it has {_listed(objects)}): {other}"
            )
        try:
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            meta = {}
        if meta.get("application") != APPLICATION:
            raise HistoryError(
                f"{self._where} is an SQLite database but not a dcs-contract history (its meta table is not "
                f"one dcs-contract wrote): {other}"
            )
        written = str(meta.get("schema_version"))
        version = int(written) if _DIGITS.fullmatch(written) else -1
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{self._where} is a history of version {version}, written by a newer dcs-contract "
                f"({meta.get('created_by', 'unknown')}); this one reads versions up to {SCHEMA_VERSION}: "
                "upgrade dcs-contract, or give --history another file"
            )
        damaged = f"restore {str(self.path)!r} from a copy, or give --history a new file"
        if version < 1 or version != user_version:
            raise HistoryError(
                f"{self._where} is a damaged dcs-contract history: its meta table says version {written!r}, "
                f"its header {user_version}; {damaged}"
            )
        expected = _TABLES[version]
        if objects - expected:
            raise HistoryError(
                f"{self._where} is not a dcs-contract history of version {version}: it also has "
                f"{_listed(objects - expected)}; {other}"
            )
        if expected - objects:
            raise HistoryError(
                f"{self._where} is a damaged dcs-contract history: it lacks {_listed(expected - objects)}; {damaged}"
            )
        return version

    # -- writing ---------------------------------------------------------------------------

    def append(self, report: RunReport) -> int:
        """Append one run; returns its run id.

        ``report`` must already be scrubbed of secrets (``RunReport.scrubbed``, as the report
        files are): the history keeps what it is given, for years. The run is written in one
        transaction, so a writer killed half-way leaves the history as it was before.
        """
        # Everything is serialised before the transaction begins: the file stays locked for
        # the inserts alone, and a report that cannot be stored never starts one.
        try:
            data = report.as_dict()
            if report.spec is not None:
                data["spec"] = {"sha256": report.spec.sha256}
            spec = (report.spec.sha256, _json(report.spec.document)) if report.spec is not None else None
            run = (
                _text(report.started),
                _text(report.finished),
                _text_or_none(report.target.base_url),
                _text_or_none(report.target.instance_id),
                _json(report.target.as_dict()),
                report.spec.sha256 if report.spec is not None else None,
                None if report.seed is None else str(report.seed),
                report.verdict,
                int(report.error is None and report.crash is None),
                report.requests.total,
                _json(report.requests.as_dict()),
                _json(data),
                _text_or_none(report.harness_version),
            )
            findings = [
                (
                    position,
                    finding.fingerprint,
                    int(accepted),
                    _text(finding.check),
                    _text(finding.category),
                    _text(finding.location),
                    _text(finding.title),
                    report.occurrences.get(finding.fingerprint, 1),
                    _json(finding.as_dict()),
                )
                for position, (finding, accepted) in enumerate(_seen(report))
            ]
            observed = [
                (_text(kind), _text(value), count)
                for kind, counts in report.observed.items()
                for value, count in counts.items()
            ]
        except (TypeError, ValueError, RecursionError) as exc:
            raise HistoryError(
                f"{self._where}: this run cannot be stored, its report does not serialise as JSON ({_reason(exc)}); "
                "the history is unchanged: report this as a bug in dcs-contract"
            ) from exc
        with self._transaction("have this run appended") as connection:
            if spec is not None:
                connection.execute("INSERT INTO specs (sha256, document) VALUES (?, ?) ON CONFLICT DO NOTHING", spec)
            cursor = connection.execute(
                "INSERT INTO runs (started, finished, base_url, instance_id, target, spec_sha256, seed, verdict, "
                "complete, requests_total, requests, report, harness_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run,
            )
            run_id = cursor.lastrowid
            assert run_id is not None  # an INSERT into a rowid table always sets it
            _insert_findings(connection, run_id, findings)
            _insert_observed(connection, run_id, observed)
        return run_id

    # -- reading ---------------------------------------------------------------------------

    def runs(self, *, last: int | None = None) -> list[RunSummary]:
        """The runs, oldest first; with ``last``, only the newest ``last`` of them (still oldest first).

        Reads the runs listed, and for each target the one complete run before them it is
        compared with: never the whole history.
        """
        if last is not None:
            _check_count("last", last)
        columns = (
            "id, started, finished, base_url, instance_id, verdict, complete, requests_total, seed, "
            "harness_version, spec_sha256"
        )
        with self._reading("have its runs listed") as connection:
            if last is None:
                rows = connection.execute(f"SELECT {columns} FROM runs ORDER BY id").fetchall()
            else:
                rows = connection.execute(
                    f"SELECT * FROM (SELECT {columns} FROM runs ORDER BY id DESC LIMIT ?) ORDER BY id", (last,)
                ).fetchall()
            # Per target, the latest complete run so far and what it saw: the base of the next comparison.
            bases: dict[Target, tuple[int, frozenset[str]] | None] = {}
            summaries = []
            for run_id, started, finished, base_url, instance_id, verdict, complete, total, seed, version, sha in rows:
                target = (base_url, instance_id)
                if target not in bases:
                    before = self._complete_before(target, run_id)
                    bases[target] = None if before is None else (before, _fingerprints(connection, before))
                base = bases[target]
                counts = dict(
                    connection.execute(
                        "SELECT accepted, COUNT(*) FROM findings WHERE run_id = ? GROUP BY accepted", (run_id,)
                    ).fetchall()
                )
                seen = _fingerprints(connection, run_id)
                summaries.append(
                    RunSummary(
                        id=run_id,
                        started=started,
                        finished=finished,
                        base_url=base_url,
                        instance_id=instance_id,
                        verdict=verdict,
                        complete=bool(complete),
                        requests=total,
                        findings=counts.get(0, 0),
                        accepted=counts.get(1, 0),
                        new=len(seen - base[1]) if base is not None else len(seen),
                        resolved=len(base[1] - seen) if base is not None and complete else 0,
                        previous=base[0] if base is not None else None,
                        seed=int(seed) if isinstance(seed, str) and seed.isdecimal() else None,
                        harness_version=version,
                        spec_sha256=sha,
                    )
                )
                if complete:
                    bases[target] = (run_id, seen)
        return summaries

    def fingerprints(self, *, last: int = 10) -> list[FingerprintHistory]:
        """Every fingerprint seen, per target, judged over the target's ``last`` complete runs.

        Ordered by target (as first seen), then by the run that first saw the fingerprint.
        """
        _check_count("last", last)
        result: list[FingerprintHistory] = []
        with self._reading("have its fingerprints listed") as connection:
            targets = connection.execute(
                "SELECT base_url, instance_id FROM runs GROUP BY base_url, instance_id ORDER BY MIN(id)"
            ).fetchall()
            for base_url, instance_id in targets:
                window = [
                    run_id
                    for (run_id,) in connection.execute(
                        "SELECT id FROM runs WHERE base_url IS ? AND instance_id IS ? AND complete = 1 "
                        "ORDER BY id DESC LIMIT ?",
                        (base_url, instance_id, last),
                    )
                ][::-1]
                in_window: dict[str, set[int]] = {}
                for run_id in window:
                    for fingerprint in _fingerprints(connection, run_id):
                        in_window.setdefault(fingerprint, set()).add(run_id)
                rows = connection.execute(
                    """WITH seen AS (
                        SELECT f.fingerprint, MIN(f.run_id) AS first, MAX(f.run_id) AS last
                        FROM findings f JOIN runs r ON r.id = f.run_id
                        WHERE r.base_url IS ? AND r.instance_id IS ?
                        GROUP BY f.fingerprint
                    )
                    SELECT seen.fingerprint, seen.first, fr.started, seen.last, lr.started,
                           lf.check_name, lf.category, lf.location, lf.title
                    FROM seen
                    JOIN runs fr ON fr.id = seen.first
                    JOIN runs lr ON lr.id = seen.last
                    JOIN findings lf ON lf.run_id = seen.last AND lf.position = (
                        SELECT MIN(position) FROM findings WHERE run_id = seen.last AND fingerprint = seen.fingerprint
                    )
                    ORDER BY seen.first, seen.fingerprint""",
                    (base_url, instance_id),
                ).fetchall()
                for fingerprint, first, first_started, last_run, last_started, check, category, location, title in rows:
                    present = in_window.get(fingerprint, set())
                    result.append(
                        FingerprintHistory(
                            fingerprint=fingerprint,
                            base_url=base_url,
                            instance_id=instance_id,
                            check=check,
                            category=category,
                            location=location,
                            title=title,
                            first_run=first,
                            first_started=first_started,
                            last_run=last_run,
                            last_started=last_started,
                            seen=len(present),
                            window=len(window),
                            intermittent=_intermittent([run_id in present for run_id in window]),
                        )
                    )
        return result

    def resolve(self, ref: str) -> int:
        """The run id a user means: a decimal id, ``last`` (the newest run) or ``previous``.

        ``previous`` is the run the newest is compared with (:class:`RunSummary`): the latest
        complete run of the newest run's target before it. A run cut short or untestable is
        skipped, since what it did not see says nothing.
        """
        text = ref.strip().lower()
        with self._reading("be searched for a run") as connection:
            newest = connection.execute(
                "SELECT id, base_url, instance_id FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if newest is None:
                raise HistoryError(f"{self._where} has no runs yet: a run given --history {str(self.path)!r} adds one")
            if _DIGITS.fullmatch(text):
                run_id = int(text)
                if run_id > _MAX_ID or not connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    raise HistoryError(
                        f"{self._where} has no run {text} (its newest is {newest[0]}): dcs-contract history lists them"
                    )
                return run_id
            if text == "last":
                return int(newest[0])
            if text == "previous":
                before = self._complete_before((newest[1], newest[2]), newest[0])
                if before is None:
                    raise HistoryError(
                        f"{self._where} has no complete run of {newest[1] or 'the embedded mock'} before its newest "
                        f"(run {newest[0]}): there is no previous run to compare it with"
                    )
                return before
        raise HistoryError(
            f"run={ref!r} names no run of {self._where}: "
            "give a run id (dcs-contract history lists them), last or previous"
        )

    def report(self, run_id: int) -> RunReport:
        """The report of run ``run_id``, as it was appended: spec document included, ``traffic`` not kept."""
        with self._reading(f"have run {run_id} read") as connection:
            row = connection.execute("SELECT report FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise HistoryError(f"{self._where} has no run {run_id}: dcs-contract history lists them")
            damaged = f"{self._where}: run {run_id} is damaged"
            try:
                data = json.loads(row[0])
                spec = data.get("spec")
                document = None
                if spec is not None:
                    stored = connection.execute(
                        "SELECT document FROM specs WHERE sha256 = ?", (spec["sha256"],)
                    ).fetchone()
                    if stored is None:
                        raise HistoryError(
                            f"{damaged}: the spec it was run with ({spec['sha256']}) is missing from the file"
                        )
                    document = json.loads(stored[0])
            except HistoryError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
                raise HistoryError(f"{damaged}: its report is not JSON a run wrote ({_reason(exc)})") from None
        try:
            if spec is not None:
                data["spec"] = {"sha256": spec["sha256"], "document": document}
            return RunReport.from_dict(data)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise HistoryError(f"{damaged}: its report is not one dcs-contract wrote ({_reason(exc)})") from None

    # -- the connection --------------------------------------------------------------------

    def _complete_before(self, target: Target, run_id: int) -> int | None:
        row = self._connection.execute(
            "SELECT id FROM runs WHERE base_url IS ? AND instance_id IS ? AND complete = 1 AND id < ? "
            "ORDER BY id DESC LIMIT 1",
            (*target, run_id),
        ).fetchone()
        return None if row is None else int(row[0])

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write: BEGIN IMMEDIATE takes the write lock first, so two writers queue instead of
        deadlocking, and everything in it is committed together or not at all."""
        with self._failing(doing):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
                self._connection.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    self._connection.execute("ROLLBACK")
                raise

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A read: one transaction, so that what several queries read belongs to one state of the file."""
        with self._failing(doing):
            self._connection.execute("BEGIN")
            try:
                yield self._connection
            finally:
                with suppress(sqlite3.Error):
                    self._connection.execute("COMMIT")

    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """SQLite's errors as HistoryErrors that name the file and what to do."""
        try:
            yield
        except (sqlite3.Error, OverflowError) as exc:
            raise HistoryError(f"{self._where} could not {doing}: {_advice(exc, self.path)}") from exc


def _intermittent(present: Sequence[bool]) -> bool:
    """Seen, then absent, then seen again, in runs oldest first (see :class:`FingerprintHistory`)."""
    first = next((index for index, seen in enumerate(present) if seen), None)
    if first is None:
        return False
    after = present[first:]
    gap = next((index for index, seen in enumerate(after) if not seen), None)
    return gap is not None and any(after[gap:])


# -- the layouts ----------------------------------------------------------------------------


def _upgrade_v1(connection: sqlite3.Connection) -> None:
    """Version 1 to 2: add the harness version and the observed values, read from each run's report.

    A run whose report cannot be read keeps neither: :meth:`History.report` says it is damaged.
    """
    for statement in _LAYOUT_V2:
        connection.execute(statement)
    after = 0
    while batch := connection.execute(
        "SELECT id, report FROM runs WHERE id > ? ORDER BY id LIMIT ?", (after, _BATCH)
    ).fetchall():
        for run_id, text in batch:
            after = run_id
            try:
                data = json.loads(text)
                version = data.get("harness_version")
                observed = [
                    (_text(kind), _text(value), count)
                    for kind, counts in data.get("observed", {}).items()
                    for value, count in counts.items()
                ]
            except (ValueError, TypeError, AttributeError, RecursionError):
                continue
            connection.execute(
                "UPDATE runs SET harness_version = ? WHERE id = ?",
                (version if isinstance(version, str) else None, run_id),
            )
            _insert_observed(connection, run_id, observed)


_UPGRADES: dict[int, Callable[[sqlite3.Connection], None]] = {1: _upgrade_v1}


# -- rows -----------------------------------------------------------------------------------


def _insert_findings(connection: sqlite3.Connection, run_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
    connection.executemany(
        "INSERT INTO findings (run_id, position, fingerprint, accepted, check_name, category, location, title, "
        "occurrences, finding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, *row) for row in rows],
    )


def _insert_observed(connection: sqlite3.Connection, run_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
    # Two values may become one text once made writable (a lone surrogate escaped): their counts add up.
    connection.executemany(
        "INSERT INTO observed (run_id, kind, value, count) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (run_id, kind, value) DO UPDATE SET count = count + excluded.count",
        [(run_id, *row) for row in rows],
    )


def _fingerprints(connection: sqlite3.Connection, run_id: int) -> frozenset[str]:
    """What a run saw: the fingerprints of its findings and of those its baseline accepted."""
    return frozenset(
        fingerprint
        for (fingerprint,) in connection.execute("SELECT fingerprint FROM findings WHERE run_id = ?", (run_id,))
    )


def _seen(report: RunReport) -> Iterator[tuple[Finding, bool]]:
    for finding in report.findings:
        yield finding, False
    for finding in report.accepted:
        yield finding, True


def _json(value: Any) -> str:
    # ASCII: a lone surrogate (from a target's JSON) is kept as an escape SQLite can store, and read back whole.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _text(value: object) -> str:
    """A column's text: SQLite takes only valid UTF-8, so a lone surrogate becomes an escape."""
    return printable(str(value))


def _text_or_none(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _where(path: Path) -> str:
    return f"--history={str(path)!r}"


def _harness() -> str:
    return f"dcs-contract {harness_version()}"


def _listed(names: Iterable[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:5]) + (f" and {len(ordered) - 5} more" if len(ordered) > 5 else "")
    return f"table{'s' if len(ordered) != 1 else ''} {shown}" if ordered else "no tables"


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HistoryError(f"{name}={value!r}, but it must be a whole number of runs, 1 or more")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _advice(exc: BaseException, path: Path) -> str:
    """What went wrong, and what to do about it, for the errors a user can act on."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_BUSY") or "locked" in str(exc):
        return f"another process kept it locked ({exc}); wait for it to finish, or stop it"
    if name.startswith("SQLITE_FULL"):
        return "the disk is full; the history is as it was before: free some space and run again"
    if name.startswith("SQLITE_READONLY"):
        return f"it is read-only ({exc}): make {str(path)!r} and its folder writable"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return f"the file is damaged ({exc}): restore it from a copy, or give --history a new file"
    if isinstance(exc, OverflowError):
        return f"a number in it is out of SQLite's range ({exc})"
    return f"{exc}; check the file, or give --history a new file"
