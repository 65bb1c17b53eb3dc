"""The run history: every run's report, read back by ``history``, ``diff`` and the docs' timeline.

A nightly job appends each run; later commands read it::

    with History.open(Path("history.sqlite")) as history:  # or "postgresql://ci@db/contract"
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
does not make it go away. The layouts and their upgrades are in ``layout.py``; the two
stores in ``sqlite.py`` and ``postgres.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from referencing.exceptions import Unresolvable

from dcs_contract.contract.spec import Spec
from dcs_contract.results.coverage import unseen
from dcs_contract.results.history import rows
from dcs_contract.results.history.database import Database
from dcs_contract.results.history.layout import prepare
from dcs_contract.results.history.model import (
    FingerprintHistory,
    HistoryError,
    LatencyPoint,
    NoPreviousRun,
    RunSummary,
    Target,
)
from dcs_contract.results.history.postgres import PostgresDatabase, is_url
from dcs_contract.results.history.sqlite import TIMEOUT, SQLiteDatabase
from dcs_contract.results.observed import Observations, is_count
from dcs_contract.results.report import RunReport

__all__ = ["History"]

_DIGITS = re.compile(r"[0-9]+")
# The largest id either database has: a larger id names no run.
_MAX_ID = 2**63 - 1
# Each target's label in a matched query of targets: NULL is a target's missing part.
_TARGET = "base_url IS ? AND instance_id IS ?"


class History:
    """A run history. Open it with :meth:`open` (also a context manager); close it when done."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # The history as a reader is shown it: a path, or a URL without its password.
        self.location = database.location
        self._where = database.where

    @property
    def path(self) -> Path | None:
        """The file of an SQLite history; None for a database server's."""
        return self.database.path if isinstance(self.database, SQLiteDatabase) else None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, location: Path | str, *, create: bool = True, timeout: float = TIMEOUT) -> History:
        """The history at ``location``: an SQLite file, or a ``postgresql://`` URL; upgraded when older.

        An SQLite file is created when missing (with ``create``); a PostgreSQL database must
        exist, and its empty schema is made a history. Refused with a :class:`HistoryError`,
        the store left as it is: one that is not a history, a history newer than this harness
        reads, a server that refuses the connection. ``timeout``: how long to wait, in
        seconds, for another process writing it.
        """
        if is_url(location):
            database: Database = PostgresDatabase.open(str(location), timeout=timeout)
        else:
            database = SQLiteDatabase.open(Path(location), create=create, timeout=timeout)
        history = cls(database)
        try:
            if isinstance(database, PostgresDatabase) and not create:
                with database.failing("be read"):
                    if database.version() == 0:
                        raise HistoryError(f"{database.where} holds no history: a run given --history adds one")
            prepare(database)
        except BaseException:
            database.close()
            raise
        return history

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def append(self, report: RunReport) -> int:
        """Append one run; returns its run id.

        ``report`` must already be scrubbed of secrets (``RunReport.scrubbed``, as the report
        files are): the history keeps what it is given, for years. The run is written in one
        transaction, so a writer killed half-way leaves the history as it was before.
        """
        try:
            stored = rows.RunRows.of(report)
        except (TypeError, ValueError, RecursionError) as exc:
            raise HistoryError(
                f"{self._where}: this run cannot be stored, its report does not serialise as JSON ({_reason(exc)}); "
                "the history is unchanged: report this as a bug in dcs-contract"
            ) from exc
        database = self.database
        with database.transaction("have this run appended"):
            if stored.spec is not None:
                database.execute(
                    "INSERT INTO specs (sha256, document) VALUES (?, ?) ON CONFLICT DO NOTHING", stored.spec
                )
            run_id = database.insert_id(
                "INSERT INTO runs (started, finished, base_url, instance_id, target, spec_sha256, seed, verdict, "
                "complete, requests_total, requests, report, harness_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                stored.run,
            )
            rows.insert_findings(database, run_id, stored.findings)
            rows.insert_observed(database, run_id, stored.observed)
            rows.insert_latency(database, run_id, stored.latency)
        return run_id

    # -- reading ---------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        """Every target of the history, in the order each first appeared."""
        with self.database.reading("have its targets listed"):
            return self._targets()

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
        database = self.database
        with database.reading("have its runs listed"):
            if last is None:
                found = database.execute(f"SELECT {columns} FROM runs ORDER BY id").fetchall()
            else:
                found = database.execute(
                    f"SELECT * FROM (SELECT {columns} FROM runs ORDER BY id DESC LIMIT ?) AS newest ORDER BY id",
                    (last,),
                ).fetchall()
            # Per target, the latest complete run so far and what it saw: the base of the next comparison.
            bases: dict[Target, tuple[int, frozenset[str]] | None] = {}
            summaries = []
            for row in found:
                run_id, started, finished, base_url, instance_id, verdict, complete, total, seed, version, sha = row
                started, finished, verdict = (
                    self._text(run_id, f"runs.{column}", value)
                    for column, value in (("started", started), ("finished", finished), ("verdict", verdict))
                )
                base_url, instance_id, version, sha = (
                    self._optional_text(run_id, f"runs.{column}", value)
                    for column, value in (
                        ("base_url", base_url),
                        ("instance_id", instance_id),
                        ("harness_version", version),
                        ("spec_sha256", sha),
                    )
                )
                if not is_count(complete) or complete > 1:
                    raise self._damaged(run_id, f"runs.complete holds {_held(complete)}, not 0 or 1")
                if not is_count(total):
                    raise self._damaged(run_id, f"runs.requests_total holds {_held(total)}, not a count of requests")
                target = (base_url, instance_id)
                if target not in bases:
                    before = self._complete_before(target, run_id)
                    bases[target] = None if before is None else (before, self._fingerprints(before))
                base = bases[target]
                counts = dict(
                    database.execute(
                        "SELECT accepted, COUNT(*) FROM findings WHERE run_id = ? GROUP BY accepted", (run_id,)
                    ).fetchall()
                )
                seen = self._fingerprints(run_id)
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
        database = self.database
        with database.reading("have its fingerprints listed"):
            for base_url, instance_id in self._targets():
                window = self._window((base_url, instance_id), last)
                in_window: dict[str, set[int]] = {}
                for run_id in window:
                    for fingerprint in self._fingerprints(run_id):
                        in_window.setdefault(fingerprint, set()).add(run_id)
                found = database.execute(
                    """WITH seen AS (
                        SELECT f.fingerprint, MIN(f.run_id) AS first_run, MAX(f.run_id) AS last_run
                        FROM findings f JOIN runs r ON r.id = f.run_id
                        WHERE r.base_url IS ? AND r.instance_id IS ?
                        GROUP BY f.fingerprint
                    )
                    SELECT seen.fingerprint, seen.first_run, fr.started, seen.last_run, lr.started,
                           lf.check_name, lf.category, lf.location, lf.title
                    FROM seen
                    JOIN runs fr ON fr.id = seen.first_run
                    JOIN runs lr ON lr.id = seen.last_run
                    JOIN findings lf ON lf.run_id = seen.last_run AND lf.position = (
                        SELECT MIN(position) FROM findings
                        WHERE run_id = seen.last_run AND fingerprint = seen.fingerprint
                    )
                    ORDER BY seen.first_run, seen.fingerprint""",
                    (base_url, instance_id),
                ).fetchall()
                for row in found:
                    fingerprint, first, first_started, last_run, last_started = row[:5]
                    first_started = self._text(first, "runs.started", first_started)
                    last_started = self._text(last_run, "runs.started", last_started)
                    fingerprint, check, category, location, title = (
                        self._text(last_run, f"findings.{column}", value)
                        for column, value in zip(
                            ("fingerprint", "check_name", "category", "location", "title"),
                            (fingerprint, *row[5:]),
                            strict=True,
                        )
                    )
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

    def latency(self, target: Target, *, last: int) -> list[LatencyPoint]:
        """The latency of the target's last ``last`` runs, oldest first (:class:`LatencyPoint`).

        Read as a report's latency is stored (``rows.latency_rows``): a value that is not a
        finite number of seconds is None, a count of requests that is not one counts none.
        """
        _check_count("last", last)
        with self.database.reading("have its latency read"):
            found = self.database.execute(
                "SELECT r.id, r.started, l.requests, l.total_p50, l.total_p95, l.total_max "
                "FROM (SELECT id, started FROM runs WHERE " + _TARGET + " ORDER BY id DESC LIMIT ?) AS r "
                "JOIN latency l ON l.run_id = r.id ORDER BY r.id, l.property",
                (*target, last),
            ).fetchall()
            by_run: dict[int, tuple[str, list[tuple[int, float | None, float | None, float | None]]]] = {}
            for run, started, requests, p50, p95, top in found:
                run_id = int(run)
                if run_id not in by_run:
                    by_run[run_id] = (self._text(run_id, "runs.started", started), [])
                count = requests if is_count(requests) else 0
                by_run[run_id][1].append((count, rows.seconds(p50), rows.seconds(p95), rows.seconds(top)))
        return [
            LatencyPoint(
                run=run_id,
                started=started,
                requests=sum(count for count, *_ in properties),
                p50=_weighted([(count, p50) for count, p50, _, _ in properties]),
                p95=_weighted([(count, p95) for count, _, p95, _ in properties]),
                max=max((top for *_, top in properties if top is not None), default=None),
            )
            for run_id, (started, properties) in by_run.items()
        ]

    def observed(self, target: Target) -> Observations:
        """What the target's runs observed, all of them together."""
        observed: dict[object, dict[object, object]] = {}
        database = self.database
        with database.reading("have what its runs observed read"):
            found = database.execute(
                "SELECT o.kind, o.value, SUM(o.count) FROM observed o JOIN runs r ON r.id = o.run_id "
                "WHERE r.base_url IS ? AND r.instance_id IS ? GROUP BY o.kind, o.value ORDER BY o.kind, o.value",
                target,
            ).fetchall()
            for kind, value, count in found:
                if not is_count(count) and isinstance(kind, str) and isinstance(value, str):
                    # A count that is not one (hand-edited) leaves the sum of the others, as if
                    # that run had not observed the value (Observations.from_json drops it).
                    count = sum(
                        each
                        for (each,) in database.execute(
                            "SELECT o.count FROM observed o JOIN runs r ON r.id = o.run_id "
                            "WHERE r.base_url IS ? AND r.instance_id IS ? AND o.kind = ? AND o.value = ?",
                            (*target, kind, value),
                        )
                        if is_count(each)
                    )
                observed.setdefault(kind, {})[value] = count
        # What is not text, or not a count, is dropped: read as hostile input.
        return Observations.from_json(observed)

    def spec(self, target: Target) -> Spec | None:
        """The spec the target's newest run was judged by; None when no run of it kept one (or it is damaged).

        Damaged: its document is not JSON, or not a spec this harness reads (what the coverage reads of it).
        """
        with self.database.reading("have a spec read"):
            row = self.database.execute(
                "SELECT s.document FROM runs r JOIN specs s ON s.sha256 = r.spec_sha256 "
                "WHERE r.base_url IS ? AND r.instance_id IS ? ORDER BY r.id DESC LIMIT 1",
                target,
            ).fetchone()
        if row is None:
            return None
        try:
            document = json.loads(row[0])
            if not isinstance(document, dict):
                return None
            spec = Spec(document, Path(f"the spec of {self.location}"))
            # Read once as its readers read it, with every kind observed: a part it lacks fails here.
            unseen(spec, Observations(record_fields={}))
        except (LookupError, TypeError, AttributeError, ValueError, RecursionError, Unresolvable):
            return None
        return spec

    def resolve(self, ref: str) -> int:
        """The run id a user means: a decimal id, ``last`` (the newest run) or ``previous``.

        ``previous`` is the run the newest is compared with (:class:`RunSummary`): the latest
        complete run of the newest run's target before it. A run cut short or untestable is
        skipped, since what it did not see says nothing.
        """
        text = ref.strip().lower()
        database = self.database
        with database.reading("be searched for a run"):
            newest = database.execute("SELECT id, base_url, instance_id FROM runs ORDER BY id DESC LIMIT 1").fetchone()
            if newest is None:
                raise NoPreviousRun(f"{self._where} has no runs yet: a run given --history {self.location!r} adds one")
            if _DIGITS.fullmatch(text):
                run_id = int(text)
                if run_id > _MAX_ID or not database.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    raise HistoryError(
                        f"{self._where} has no run {text} (its newest is {newest[0]}): dcs-contract history lists them"
                    )
                return run_id
            if text == "last":
                return int(newest[0])
            if text == "previous":
                before = self._complete_before((newest[1], newest[2]), newest[0])
                if before is None:
                    raise NoPreviousRun(
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
        database = self.database
        with database.reading(f"have run {run_id} read"):
            row = (
                database.execute("SELECT report FROM runs WHERE id = ?", (run_id,)).fetchone()
                if 0 <= run_id <= _MAX_ID
                else None
            )
            if row is None:
                raise HistoryError(f"{self._where} has no run {run_id}: dcs-contract history lists them")
            damaged = f"{self._where}: run {run_id} is damaged"
            try:
                data = json.loads(row[0])
                spec = data.get("spec")
                document = None
                if spec is not None:
                    stored = database.execute(
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

    # -- within a transaction --------------------------------------------------------------

    def _targets(self) -> list[Target]:
        targets: list[Target] = []
        for first, base_url, instance_id in self.database.execute(
            "SELECT MIN(id), base_url, instance_id FROM runs GROUP BY base_url, instance_id ORDER BY MIN(id)"
        ):
            run_id = int(first)
            targets.append(
                (
                    self._optional_text(run_id, "runs.base_url", base_url),
                    self._optional_text(run_id, "runs.instance_id", instance_id),
                )
            )
        return targets

    # -- what a row holds ------------------------------------------------------------------

    def _damaged(self, run_id: int, what: str) -> HistoryError:
        """A run whose row holds what no run writes, as :meth:`report` names a damaged run."""
        return HistoryError(f"{self._where}: run {run_id} is damaged: {what}")

    def _text(self, run_id: int, column: str, value: object) -> str:
        if isinstance(value, str):
            return value
        raise self._damaged(run_id, f"{column} holds {_held(value)}, not text")

    def _optional_text(self, run_id: int, column: str, value: object) -> str | None:
        return None if value is None else self._text(run_id, column, value)

    def _complete_before(self, target: Target, run_id: int) -> int | None:
        row = self.database.execute(
            "SELECT id FROM runs WHERE " + _TARGET + " AND complete = 1 AND id < ? ORDER BY id DESC LIMIT 1",
            (*target, run_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def _window(self, target: Target, last: int) -> list[int]:
        """The target's latest ``last`` complete runs, oldest first."""
        return [
            run_id
            for (run_id,) in self.database.execute(
                "SELECT id FROM runs WHERE " + _TARGET + " AND complete = 1 ORDER BY id DESC LIMIT ?",
                (*target, last),
            )
        ][::-1]

    def _fingerprints(self, run_id: int) -> frozenset[str]:
        """What a run saw: the fingerprints of its findings and of those its baseline accepted."""
        return frozenset(
            fingerprint
            for (fingerprint,) in self.database.execute("SELECT fingerprint FROM findings WHERE run_id = ?", (run_id,))
        )


def _intermittent(present: Sequence[bool]) -> bool:
    """Seen, then absent, then seen again, in runs oldest first (see :class:`FingerprintHistory`)."""
    first = next((index for index, seen in enumerate(present) if seen), None)
    if first is None:
        return False
    after = present[first:]
    gap = next((index for index, seen in enumerate(after) if not seen), None)
    return gap is not None and any(after[gap:])


def _weighted(values: Sequence[tuple[int, float | None]]) -> float | None:
    """A percentile over a run's properties, each weighted by the requests it sent (Nones left out)."""
    known = [(count, value) for count, value in values if value is not None]
    weight = sum(count for count, _ in known)
    return sum(count * value for count, value in known) / weight if weight else None


def _held(value: object) -> str:
    """What a column holds, as a message names it (never the value: it may be large)."""
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary data"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HistoryError(f"{name}={value!r}, but it must be a whole number of runs, 1 or more")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"
