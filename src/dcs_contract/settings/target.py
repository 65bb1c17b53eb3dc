"""Target configuration: where the run goes, as whom, and how gently.

Every setting comes from the environment and can be overridden by a flag; with neither a
base URL nor a region the target is the embedded mock. Every value is checked here, before
anything is sent or written: one validator per kind of value (:func:`check_url`,
:func:`check_id`, :class:`Bound`, :func:`check_output_dir`, :func:`check_output_file`), used
by ``dcs-contract run`` and ``dcs-contract mock`` alike. A bad value is a :class:`ConfigError`
that names the variable or flag and repeats the value (never a credential in it).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from dcs_contract.contract.severity import SEVERITIES
from dcs_contract.errors import ConfigError
from dcs_contract.results.report import TargetInfo
from dcs_contract.settings.table import BOUNDS, OPTIONS, Bound, live_defaults
from dcs_contract.transport.network import Network
from dcs_contract.transport.signing import CREDENTIALS_HINT, Credentials

__all__ = [
    "BOUNDS",
    "Bound",
    "Credentials",
    "RunSettings",
    "Target",
    "check_id",
    "check_output_dir",
    "check_output_file",
    "check_region",
    "check_url",
]

_REGION_RE = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")
# An id is one path segment of /v2/{project_id}/instances/{instance_id}/backups. Only URL
# unreserved characters: nothing that could leave the segment (/ ? #), be decoded into
# something else on the way (%), or split the request line (whitespace, control characters).
_ID_RE = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_ID_RULE = "1 to 128 letters, digits, '-', '_', '.' or '~', and not '.' or '..'"


def _is_printable(text: str) -> bool:
    return all(char.isprintable() and not char.isspace() for char in text)


# The schemes check_url accepts, with what may follow them: kept in the masked URL, as they show no secret.
_SCHEME_RE = re.compile(r"https?:/{0,2}", re.IGNORECASE)


def _without_userinfo(url: str) -> str | None:
    """``url`` with what precedes its last ``@`` masked (its scheme aside), or None when it has no ``@``.

    Any ``@`` counts, not only one in the authority as RFC 3986 reads it: passwords are typed
    with raw ``/ ? # @`` in them (``http://u:pa#ss@host`` has its authority end before the
    password does), and ``https:u:pass@host`` has no authority at all. Even a password with an
    ``@`` lies before the last one: what follows it (host, port, path) is shown.
    """
    before, at, after = url.rpartition("@")
    if not at:
        return None
    scheme = _SCHEME_RE.match(before)
    return f"{scheme[0] if scheme else ''}***@{after}"


def check_id(value: str, setting: str) -> str:
    """``value`` if it is safe as one path segment, else a ConfigError naming ``setting``."""
    if not _ID_RE.fullmatch(value) or value in (".", ".."):
        raise ConfigError(f"{setting}={value!r}, but an id must be {_ID_RULE}", setting=setting)
    return value


def check_region(value: str, setting: str = "DCS_REGION/--region") -> str:
    if not _REGION_RE.fullmatch(value):
        raise ConfigError(f"{setting}={value!r} is not a region id such as ap-southeast-1", setting=setting)
    return value


def check_url(value: str, setting: str = "DCS_BASE_URL/--base-url") -> str:
    """``value`` without a trailing slash if it is a usable base URL, else a ConfigError naming ``setting``.

    Credentials in the URL are refused, not used: they would be sent to every request (and as
    ``Authorization: Basic`` by the unauthenticated probe) and shown wherever the URL is.
    """
    # First, so that no later message repeats the URL with its password.
    masked = _without_userinfo(value)
    if masked is not None:
        raise ConfigError(
            f"{setting}={masked!r} carries a user name or password (it holds an @): credentials never go in the URL; "
            f"{CREDENTIALS_HINT} instead"
        )
    if not _is_printable(value):
        raise ConfigError(f"{setting}={value!r} holds whitespace or control characters", setting=setting)
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ConfigError(f"{setting}={value!r} is not a URL: {exc}", setting=setting) from None
    hostport = parts.netloc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{setting}={value!r} is not an http(s) URL with a host, such as https://dcs.example.com", setting=setting
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(f"{setting}={value!r} has a query or fragment: give the base URL only", setting=setting)
    # The port as written: urlsplit's own check differs between Python releases, and a port of
    # 65536 + P must not quietly become P further down.
    _, bracket, after = hostport.rpartition("]")
    _, colon, port = (after if bracket else hostport).partition(":")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"{setting}={value!r} has port {port!r}, but a port must be 1..65535", setting=setting)
    try:
        httpx.URL(value).host  # noqa: B018  decoded from IDNA here: an xn-- label that does not decode raises
    except (httpx.InvalidURL, ValueError) as exc:
        raise ConfigError(f"{setting}={value!r} is not a valid URL: {exc}", setting=setting) from None
    return value.rstrip("/")


# The settings of RunSettings a user gives, each by the flag of the same name.
_DESCRIBED = (
    "max_examples",
    "max_requests",
    "rate_limit",
    "timeout",
    "retries",
    "max_body",
    "shrink",
    "fail_fast",
    "confirm",
    "draw_ahead",
    "fail_on",
    "checks",
    "exclude_checks",
    "max_response_time",
    "degraded_response_time",
)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_dir(path: Path, setting: str) -> None:
    """A ConfigError unless ``path`` is, or can be made, a writable directory.

    ``setting`` names where the path comes from, with its value: ``--report-dir='out'``.
    Nothing is created: the nearest existing ancestor must be a directory we may write into.
    """
    try:
        existing = _nearest_existing(path)
        if not existing.is_dir():
            reason = "it is not a directory"
        elif not os.access(existing, os.W_OK | os.X_OK):
            reason = "permission denied"
        else:
            return
    except (OSError, ValueError) as exc:
        existing, reason = path, str(exc)
    raise ConfigError(f"{setting}: cannot write {existing}: {reason}", setting=setting)


def check_output_file(path: Path, setting: str) -> None:
    """A ConfigError unless ``path`` is a file that can be (over)written; ``setting`` as for check_output_dir."""
    try:
        if path.is_dir():
            raise ConfigError(f"{setting}: cannot write {path}: it is a directory", setting=setting)
        if path.exists():
            if not os.access(path, os.W_OK):
                raise ConfigError(f"{setting}: cannot write {path}: permission denied", setting=setting)
            return
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{setting}: cannot write {path}: {exc}", setting=setting) from None
    check_output_dir(path.parent, setting)


@dataclass(frozen=True)
class Target:
    """The endpoint under test. ``base_url=None`` means the embedded mock."""

    base_url: str | None
    project_id: str | None
    instance_id: str | None
    empty_instance_id: str | None = None
    credentials: Credentials = field(default_factory=Credentials)
    # Pointed at the embedded mock this run serves itself (``with_mock``): reports say so.
    embedded: bool = False

    @property
    def is_mock(self) -> bool:
        return self.base_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **flags: str | None) -> Target:
        """Read DCS_* and the credentials from ``env``; a flag given (not None) wins over its variable."""

        def setting(name: str, variable: str) -> str | None:
            value = flags.get(name)
            if value == "":
                # Likely a CI variable that is not set: silently falling back (to the embedded mock,
                # for --base-url) would make a job green that tested nothing.
                raise ConfigError(f"--{name.replace('_', '-')}='' is empty: give a value, or leave the flag out")
            return value if value is not None else (env.get(variable) or None)

        def identifier(name: str, variable: str) -> str | None:
            value = setting(name, variable)
            return None if value is None else check_id(value, f"{variable}/--{name.replace('_', '-')}")

        base_url, region = setting("base_url", "DCS_BASE_URL"), setting("region", "DCS_REGION")
        if region is not None:
            check_region(region)
        if base_url is None and region is not None:
            base_url = f"https://dcs.{region}.myhuaweicloud.com"
        if base_url is not None:
            base_url = check_url(base_url)
        target = cls(
            base_url=base_url,
            project_id=identifier("project_id", "DCS_PROJECT_ID"),
            instance_id=identifier("instance_id", "DCS_INSTANCE_ID"),
            empty_instance_id=identifier("empty_instance_id", "DCS_EMPTY_INSTANCE_ID"),
            credentials=Credentials.from_env(env),
        )
        if not target.is_mock:
            target.require_live_settings()
        return target

    def require_live_settings(self) -> None:
        if not self.project_id:
            raise ConfigError("DCS_PROJECT_ID/--project-id is required for a live target")
        if not self.instance_id:
            raise ConfigError("DCS_INSTANCE_ID/--instance-id is required for a live target")
        if not self.credentials.present:
            raise ConfigError(f"no credentials for a live target: {CREDENTIALS_HINT}")

    def with_mock(
        self, base_url: str, project_id: str, instance_id: str, empty_instance_id: str | None, credentials: Credentials
    ) -> Target:
        """This target pointed at a running embedded mock."""
        return replace(
            self,
            base_url=base_url,
            project_id=project_id,
            instance_id=instance_id,
            empty_instance_id=empty_instance_id,
            credentials=credentials,
            embedded=True,
        )

    def describe(self) -> TargetInfo:
        """The target for reports: no secret, and no more of a key than :func:`.signing.redact_key` shows."""
        return TargetInfo(
            base_url=self.base_url,
            project_id=self.project_id,
            instance_id=self.instance_id,
            empty_instance_id=self.empty_instance_id,
            credentials=self.credentials.describe(),
            embedded_mock=self.embedded,
        )


@dataclass(frozen=True)
class RunSettings:
    """How a run behaves. ``for_target`` picks the defaults: gentle on a live target."""

    # The defaults are the settings table's (settings/table.py), which says why each is what it is.
    max_examples: int = OPTIONS["max_examples"].default
    seed: int | None = None
    max_requests: int = OPTIONS["max_requests"].default
    rate_limit: float | None = OPTIONS["rate_limit"].default
    timeout: float = OPTIONS["timeout"].default
    retries: int = 4
    max_body: int = OPTIONS["max_body"].default
    record_traffic: bool = False
    shrink: bool = OPTIONS["shrink"].default
    fail_fast: bool = OPTIONS["fail_fast"].default
    confirm: bool = OPTIONS["confirm"].default
    draw_ahead: bool = OPTIONS["draw_ahead"].default
    # The least severity that fails the run (contract.severity.SEVERITIES).
    fail_on: str = OPTIONS["fail_on"].default
    # Comma-separated names of checks and invariants, checked against the spec by engine.selection.
    checks: str | None = None
    exclude_checks: str | None = None
    # The latency SLO's tiers, in seconds to the last byte (engine.latency.Slo).
    max_response_time: float | None = None
    degraded_response_time: float | None = None
    # How the target is reached: proxy, TLS trust, client certificate. The embedded mock: directly.
    network: Network = field(default_factory=Network.direct)

    LIVE_DEFAULTS: ClassVar[dict[str, Any]] = live_defaults()

    @classmethod
    def for_target(cls, target: Target, **overrides: Any) -> RunSettings:
        values: dict[str, Any] = {} if target.is_mock else dict(cls.LIVE_DEFAULTS)
        values.update({key: value for key, value in overrides.items() if value is not None})
        # A run always has a seed, so that its report says how to replay it.
        values.setdefault("seed", random.randrange(2**32))
        settings = cls(**values)
        settings.validate()
        return settings

    def described(self) -> dict[str, Any]:
        """The settings as a report and a history keep them: plain values, nothing secret among them."""
        return {**{name: getattr(self, name) for name in _DESCRIBED}, "network": self.network.describe()}

    def validate(self) -> None:
        """Every numeric setting within its bound; the error names the flag that sets it."""
        for name in (
            "max_examples",
            "max_requests",
            "rate_limit",
            "timeout",
            "max_body",
            "seed",
            "max_response_time",
            "degraded_response_time",
        ):
            OPTIONS[name].check(getattr(self, name))
        if self.fail_on not in SEVERITIES:
            raise ConfigError(
                f"--fail-on={self.fail_on!r}, but it must be one of {', '.join(SEVERITIES)}", setting="--fail-on"
            )
        slowest, degraded = self.max_response_time, self.degraded_response_time
        if slowest is not None and degraded is not None and degraded >= slowest:
            raise ConfigError(
                f"--degraded-response-time={degraded!r}, but it must be below --max-response-time={slowest!r}: "
                "a degraded answer is one that is slow, not yet failing",
                setting="--degraded-response-time",
            )
