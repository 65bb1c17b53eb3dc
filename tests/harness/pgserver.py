"""A real PostgreSQL on loopback for the history's tests: Debian's ``postgresql``, started by the tests.

    with Postgres.start() as server:                 # initdb into a fresh folder, pg_ctl start
        url = server.database("nightly")             # a new, empty database: its URL, password included

The binaries are Debian's, in /usr/lib/postgresql/<version>/bin (not on PATH), installed by
.ci/run. The server refuses to run as root: as root (CI), initdb and postgres run as the
``postgres`` user, through ``runuser``, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.harness.netlab import free_port

# The superuser's password: the URLs carry it, and no output may show it.
PASSWORD = "pg-Secret-4f9c2e81"
_USER = "postgres"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or the folder of an initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class Postgres:
    """A running server: its folder, its port, and how to make databases on it."""

    folder: Path
    port: int
    bin: Path
    as_user: list[str]

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[Postgres]:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
        # Not under pytest's tmp folders: as root they are private to root, and the server runs as postgres.
        folder = Path(tempfile.mkdtemp(prefix="dcs-contract-pg-"))
        as_user: list[str] = []
        if os.getuid() == 0:
            entry = pwd.getpwnam(_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            as_user = ["runuser", "-u", _USER, "--"]
        server = cls(folder, free_port(), bin_dir, as_user)
        try:
            server._run("sh", "-c", f"printf '%s' '{PASSWORD}' > {folder}/pwfile")
            server._run(
                str(bin_dir / "initdb"),
                "-D", str(folder / "data"),
                "-U", _USER,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                f"--pwfile={folder}/pwfile",
                "--no-sync",
            )  # fmt: skip
            options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            # -w: pg_ctl waits until the server accepts connections.
            server._run(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(folder / "data"),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            )
            yield server
        finally:
            with contextlib.suppress(Exception):
                server._run(str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "-w", "stop")
            shutil.rmtree(folder, ignore_errors=True)

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self.as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """A new, empty database named ``name``: its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, url: str, query: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(query, parameters or None)
            return list(cursor.fetchall()) if cursor.description else []
