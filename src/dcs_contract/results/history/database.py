"""The store a history is kept in: what the queries need of SQLite and of PostgreSQL alike.

Queries are written once, in SQLite's spelling (``?`` parameters, ``IS ?`` for a comparison
that matches NULL); a backend translates them if it must. Every method raises HistoryError,
naming the history and what to do, for what the database refuses.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["APPLICATION", "Cursor", "Database"]

# What the meta table says of a history this module wrote: another application's "meta" is not ours.
APPLICATION = "dcs-contract history"


class Cursor(Protocol):
    """The rows of a query, as both drivers give them: tuples."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(abc.ABC):
    """One open connection to a history's store."""

    # The history as messages name it, with no password: "--history='nightly.sqlite'".
    where: str
    # The history as a reader is shown it (a path, or a URL without its password).
    location: str

    @abc.abstractmethod
    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor: ...

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def insert_id(self, sql: str, parameters: Sequence[Any]) -> int:
        """Run an INSERT of one row into a table with an id; its id."""

    @abc.abstractmethod
    def transaction(self, doing: str) -> AbstractContextManager[None]:
        """A write: it holds the history's write lock throughout, so writers queue, and commits all or nothing."""

    @abc.abstractmethod
    def reading(self, doing: str) -> AbstractContextManager[None]:
        """A read: one snapshot, so that what several queries read belongs to one state of the history."""

    @abc.abstractmethod
    def failing(self, doing: str) -> AbstractContextManager[None]:
        """The driver's errors as HistoryErrors that name the history and what to do."""

    @abc.abstractmethod
    def version(self) -> int:
        """The layout version; 0 for an empty store. Reads only: a refused store is left as it is."""

    @abc.abstractmethod
    def set_version(self, version: int) -> None:
        """Record the layout version, inside the transaction that made it."""

    @abc.abstractmethod
    def dialect(self, sql: str) -> str:
        """A statement of the layouts (``{id}`` for the id column's type) in this database's spelling."""

    @abc.abstractmethod
    def close(self) -> None: ...
