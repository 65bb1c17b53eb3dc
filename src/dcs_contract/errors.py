"""The harness's one exception hierarchy.

    DcsContractError
    ├── SpecError              the spec cannot be loaded or is not valid OpenAPI
    ├── ConfigError            a setting or flag is wrong; says which one   (exit 2)
    ├── ResponseTooLarge       a body over --max-body (decompressed): a finding, not a crash
    └── TargetUnavailable      the target could not be tested             (exit 3)
        ├── Unreachable        connection errors that retries did not absorb
        ├── TlsRejected        a certificate or TLS handshake failure: never retried
        ├── ProxyRejected      the proxy refused (407 credentials, 403 to CONNECT): never retried
        ├── AuthRejected       401/403: never retried, five bad signatures lock the AK
        ├── StillThrottled     429/502/503/504 after every retry
        └── BudgetExhausted    --max-requests reached before the run finished

    RunStopped (a BaseException) SIGTERM or SIGINT: stop sending, report what was found

Contract violations are not exceptions: they are findings (``report.Finding``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AuthRejected",
    "BudgetExhausted",
    "ConfigError",
    "DcsContractError",
    "ProxyRejected",
    "ResponseTooLarge",
    "RunStopped",
    "SpecError",
    "StillThrottled",
    "TargetUnavailable",
    "TlsRejected",
    "Unreachable",
]


class DcsContractError(Exception):
    """Base of every error the harness raises on purpose."""


class SpecError(DcsContractError):
    """The spec file is missing, unreadable or not valid OpenAPI 3.1."""


class ConfigError(DcsContractError):
    """A configuration value is wrong. The message names the variable or flag to fix.

    ``setting``: that flag, key or variable as the message names it (``--max-requests``), when
    one setting is at fault: what a caller adds context to (where the value was set).
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class ResponseTooLarge(DcsContractError):
    """The response body, decompressed, is over the cap. It was not read past the cap.

    The engine turns it into a finding (category ``transport``, location ``body``): the
    request was answered, so the target is testable, but not with a body this large.
    """

    def __init__(self, message: str, *, request: httpx.Request, status_code: int, limit: int) -> None:
        super().__init__(message)
        self.request = request
        self.status_code = status_code
        self.limit = limit


class TargetUnavailable(DcsContractError):
    """The target could not be tested; nothing is known about its conformance."""


class Unreachable(TargetUnavailable):
    """The target did not answer (connection refused, DNS, timeouts) after the retries."""


class TlsRejected(TargetUnavailable):
    """The TLS handshake failed: an untrusted or wrong certificate, or a client certificate missing or refused.

    Never retried: the server answered, and would answer the same. The message names the
    failure, the host, and the flag or variable that fixes it.
    """


class ProxyRejected(TargetUnavailable):
    """The proxy refused the request (407: credentials; 403 to CONNECT: its policy). Never retried."""


class AuthRejected(TargetUnavailable):
    """The target refused the credentials (401/403). Never retried."""

    def __init__(self, message: str, *, status_code: int, error_code: str | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code


class StillThrottled(TargetUnavailable):
    """The target kept answering 429/502/503/504 after every retry."""


class BudgetExhausted(TargetUnavailable):
    """The request budget (--max-requests) is spent; no further request is sent."""


class RunStopped(BaseException):
    """A signal stopped the run: stop sending, and report what was found so far.

    A BaseException, as KeyboardInterrupt is: hypothesis catches every Exception a test
    raises, and would take this one for a failing example instead of stopping.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
