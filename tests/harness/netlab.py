"""Real network parts for the self-tests, on loopback: a forward proxy (Debian's tinyproxy), and TLS.

    with Tinyproxy(tmp_path, connect_ports=[443]) as proxy:     # proxy.url, proxy.requests()
        ...
    pki = Pki.make(tmp_path)                                     # a CA, a server and a client cert
    with serve_tls(spec, pki) as (server, state):                # the mock, over https
        ...

Each is started by the test that uses it, on a free port, with its files in the test's
tmp_path, and stopped when its ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from dcs_contract.contract.spec import Spec
from dcs_contract.mock import MockServer, MockState, create_app

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
_STARTUP = 10.0


def free_port() -> int:
    """A port free on 127.0.0.1 now. For servers that cannot take port 0 (tinyproxy): retry if taken."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Seen:
    """One request as the proxy logged it: CONNECT host:port, or a forwarded GET http://..."""

    method: str
    target: str


class Tinyproxy:
    """tinyproxy in the foreground (-d), listening on 127.0.0.1, logging each request to a file.

    ``connect_ports``: the ports it tunnels to with CONNECT (443 alone by default in tinyproxy's
    own configuration; with none given here, none). ``basic_auth``: the (user, password) it
    requires, answering 407 without them.
    """

    def __init__(
        self, directory: Path, *, connect_ports: Iterable[int] = (), basic_auth: tuple[str, str] | None = None
    ) -> None:
        self.directory = directory
        self.connect_ports = list(connect_ports) or [443]
        self.basic_auth = basic_auth
        self.log = directory / "tinyproxy.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 10",
            f'LogFile "{self.log}"',
            "LogLevel Info",
            "MaxClients 20",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
            *(f"ConnectPort {port}" for port in self.connect_ports),
        ]
        if self.basic_auth is not None:
            lines.append(f"BasicAuth {self.basic_auth[0]} {self.basic_auth[1]}")
        return "\n".join(lines) + "\n"

    def start(self) -> Tinyproxy:
        # tinyproxy takes no port 0: a free port is picked, and picked again if another took it.
        for _ in range(5):
            self.port = free_port()
            config = self.directory / "tinyproxy.conf"
            config.write_text(self._config())
            self.log.write_text("")
            output = (self.directory / "tinyproxy.out").open("wb")
            with output:
                process = subprocess.Popen([TINYPROXY, "-d", "-c", str(config)], stdout=output, stderr=output)
            if self._listening(process):
                self._process = process
                return self
            process.kill()
            process.wait()
        raise RuntimeError(f"tinyproxy did not start: {self.log.read_text()}")

    def _listening(self, process: subprocess.Popen[bytes]) -> bool:
        # Its log, not a probe connection: that would be logged as a client's.
        deadline = time.monotonic() + _STARTUP
        while time.monotonic() < deadline:
            if "Accepting connections" in self.log.read_text():
                return True
            if process.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def requests(self) -> list[Seen]:
        """Every request the proxy received, in order: ``Request (file descriptor N): GET http://... HTTP/1.1``."""
        seen = []
        for line in self.log.read_text().splitlines():
            _, marker, request = line.partition("): ")
            if marker and "Request (file descriptor" in line:
                method, target, *_ = request.split(" ")
                seen.append(Seen(method, target))
        return seen

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Tinyproxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Pki:
    """A CA of trustme's, a server certificate for ``names`` and a client certificate, all as PEM files."""

    ca: trustme.CA
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def make(
        cls,
        directory: Path,
        names: tuple[str, ...] = ("127.0.0.1", "localhost"),
        *,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        server = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
        client = ca.issue_cert("client@dcs-contract.test")
        pki = cls(
            ca,
            directory / "ca.pem",
            directory / "server.pem",
            directory / "server.key",
            directory / "client.pem",
            directory / "client.key",
        )
        ca.cert_pem.write_to_path(str(pki.ca_file))
        server.cert_chain_pems[0].write_to_path(str(pki.server_cert))
        for blob in server.cert_chain_pems[1:]:
            blob.write_to_path(str(pki.server_cert), append=True)
        server.private_key_pem.write_to_path(str(pki.server_key))
        client.cert_chain_pems[0].write_to_path(str(pki.client_cert))
        client.private_key_pem.write_to_path(str(pki.client_key))
        return pki

    def ca_dir(self, directory: Path) -> Path | None:
        """A directory holding the CA under its subject hash (as ``openssl rehash`` makes); None without openssl."""
        openssl = shutil.which("openssl")
        if openssl is None:
            return None
        digest = subprocess.run(
            [openssl, "x509", "-hash", "-noout", "-in", str(self.ca_file)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.ca_file, directory / f"{digest}.0")
        return directory


class _AlertingLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, whose TLS server sends the fatal alert of a failed handshake, as real servers do.

    asyncio's SSLProtocol closes the connection without flushing what OpenSSL wrote for the
    peer (CPython gh-98078, fixed upstream by flushing it first): the client of a mutual TLS
    server sees the connection end, not the ``certificate required`` alert that nginx, Go or
    any OpenSSL server sends. Here the handshake's outgoing data is flushed before the close.
    On a Python with the fix, or with other internals, this changes nothing.
    """

    def _make_ssl_transport(self, *args: Any, **kwargs: Any) -> Any:
        transport = super()._make_ssl_transport(*args, **kwargs)  # type: ignore[misc]
        protocol = getattr(transport, "_ssl_protocol", None)
        complete = getattr(protocol, "_on_handshake_complete", None)
        flush = getattr(protocol, "_process_outgoing", None)
        if complete is not None and flush is not None:

            def on_handshake_complete(exc: BaseException | None) -> None:
                if exc is not None:
                    flush()
                complete(exc)

            protocol._on_handshake_complete = on_handshake_complete  # type: ignore[union-attr]
        return transport


def alerting_loop() -> asyncio.AbstractEventLoop:
    """A loop for uvicorn (``loop="tests.harness.netlab:alerting_loop"``: a custom loop is its factory)."""
    return _AlertingLoop()


@contextmanager
def serve_tls(spec: Spec, pki: Pki, *, client_certs: bool = False) -> Iterator[tuple[MockServer, MockState]]:
    """The mock over https with ``pki``'s server certificate; asking for a client certificate if ``client_certs``."""
    state = MockState.default(spec)
    server = MockServer(
        create_app(state),
        ssl_certfile=pki.server_cert,
        ssl_keyfile=pki.server_key,
        ssl_ca_certs=pki.ca_file if client_certs else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if client_certs else ssl.CERT_NONE,
        loop=f"{__name__}:alerting_loop",
    )
    with server:
        yield server, state
