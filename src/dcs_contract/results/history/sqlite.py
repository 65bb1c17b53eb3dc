"""The embedded default: a history in one SQLite file, which a CI caches or uploads as it is."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from dcs_contract.results.history.database import Cursor, Database
from dcs_contract.results.history.layout import Refusal
from dcs_contract.results.history.model import HistoryError

__all__ = ["TIMEOUT", "SQLiteDatabase"]

# How long a writer waits for another to finish: a nightly append takes milliseconds, so this
# is only reached when a process holds the file open in a transaction and hangs.
TIMEOUT = 30.0


class SQLiteDatabase(Database):
    """A history file. The version is kept twice: ``PRAGMA user_version`` and the ``meta`` table."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.connection = connection
        self.where = f"--history={str(path)!r}"
        self.location = str(path)

    @classmethod
    def open(cls, path: Path, *, create: bool, timeout: float) -> SQLiteDatabase:
        where = f"--history={str(path)!r}"
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
            # isolation_level=None: the history says where each transaction begins and ends. The
            # journal is SQLite's default rollback journal, not WAL: a CI caches or uploads the
            # history as one file, and WAL keeps the latest runs in a -wal file beside it until a
            # checkpoint. Writers queue on BEGIN IMMEDIATE and the timeout either way.
            connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(f"{where} cannot be opened: {exc}") from None
        database = cls(path, connection)
        try:
            with database.failing("be read as SQLite"):
                connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        return database

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return self.connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    def insert_id(self, sql: str, parameters: Sequence[Any]) -> int:
        run_id = self.connection.execute(sql, parameters).lastrowid
        assert run_id is not None  # an INSERT into a rowid table always sets it
        return run_id

    def dialect(self, sql: str) -> str:
        return sql.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self, doing: str) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock first, so two writers queue instead of deadlocking.
        with self.failing(doing):
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.connection.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    self.connection.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self, doing: str) -> Iterator[None]:
        with self.failing(doing):
            self.connection.execute("BEGIN")
            try:
                yield
            finally:
                with suppress(sqlite3.Error):
                    self.connection.execute("COMMIT")

    @contextmanager
    def failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OverflowError) as exc:
            raise HistoryError(f"{self.where} could not {doing}: {_advice(exc, self.path)}") from exc

    def set_version(self, version: int) -> None:
        self.connection.execute(f"PRAGMA user_version = {int(version)}")

    def version(self) -> int:
        connection = self.connection
        try:
            user_version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise HistoryError(
                f"{self.where} is not a dcs-contract history: it is not an SQLite database ({exc}); "
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
        damaged = f"restore {str(self.path)!r} from a copy, or give --history a new file"
        refusal = Refusal(
            self.where,
            what="an SQLite database",
            other="give --history a file of its own (a new name, and dcs-contract creates it)",
            instead="another file",
            damaged=damaged,
        )
        meta: dict[str, Any] | None = None
        if "meta" in objects:
            try:
                meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.DatabaseError:
                meta = {}
        version, written = refusal.meta_version(objects, meta)
        # SQLite keeps the version twice, in the meta table and in the file's header: they agree.
        if version < 1 or version != user_version:
            raise HistoryError(
                f"{self.where} is a damaged dcs-contract history: its meta table says version {written!r}, "
                f"its header {user_version}; {damaged}"
            )
        return refusal.tables(version, written, objects)


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
