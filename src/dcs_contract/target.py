"""Target configuration: where the run goes, as whom, and how gently.

Every setting comes from the environment and can be overridden by a flag; with neither a
base URL nor a region the target is the embedded mock. Errors name the variable or flag
to fix.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import httpx

from dcs_contract.errors import ConfigError
from dcs_contract.signing import AkSkAuth, TokenAuth

__all__ = ["Credentials", "RunSettings", "Target", "redact_key"]

_REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")


def redact_key(value: str) -> str:
    """Enough of a key for a person to tell which one was used, and no more."""
    return value[:4] + "…" if len(value) > 8 else "…"


@dataclass(frozen=True)
class Credentials:
    """AK/SK or an IAM token. Its repr and description never show a secret."""

    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    origin: str = "CLOUD_SDK_AK/CLOUD_SDK_SK"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        ak, sk = env.get("CLOUD_SDK_AK") or None, env.get("CLOUD_SDK_SK") or None
        if (ak is None) != (sk is None):
            missing = "CLOUD_SDK_SK" if sk is None else "CLOUD_SDK_AK"
            raise ConfigError(f"{missing} is not set: AK/SK signing needs both CLOUD_SDK_AK and CLOUD_SDK_SK")
        return cls(access_key=ak, secret_key=sk, token=env.get("DCS_AUTH_TOKEN") or None)

    @property
    def present(self) -> bool:
        return self.token is not None or self.access_key is not None

    def secrets(self) -> list[str]:
        """The values that must never appear in any output."""
        return [value for value in (self.access_key, self.secret_key, self.token) if value]

    def auth(self, project_id: str) -> httpx.Auth | None:
        # AK/SK wins over a token: it is what the official samples use.
        if self.access_key is not None and self.secret_key is not None:
            return AkSkAuth(self.access_key, self.secret_key, project_id=project_id)
        if self.token is not None:
            return TokenAuth(self.token)
        return None

    def describe(self) -> str:
        if self.access_key is not None:
            return f"AK/SK from {self.origin} (AK {redact_key(self.access_key)})"
        if self.token is not None:
            return "an IAM token from DCS_AUTH_TOKEN"
        return "no credentials"


@dataclass(frozen=True)
class Target:
    """The endpoint under test. ``base_url=None`` means the embedded mock."""

    base_url: str | None
    project_id: str | None
    instance_id: str | None
    empty_instance_id: str | None = None
    credentials: Credentials = field(default_factory=Credentials)

    @property
    def is_mock(self) -> bool:
        return self.base_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **flags: str | None) -> Target:
        """Read DCS_* and CLOUD_SDK_* from ``env``; a flag given (not None) wins over its variable."""

        def setting(name: str, variable: str) -> str | None:
            value = flags.get(name)
            return value if value is not None else (env.get(variable) or None)

        base_url, region = setting("base_url", "DCS_BASE_URL"), setting("region", "DCS_REGION")
        if base_url is None and region is not None:
            if not _REGION_RE.match(region):
                raise ConfigError(f"DCS_REGION/--region={region!r} is not a region id such as ap-southeast-1")
            base_url = f"https://dcs.{region}.myhuaweicloud.com"
        if base_url is not None:
            url = httpx.URL(base_url)
            if url.scheme not in ("http", "https") or not url.host:
                raise ConfigError(f"DCS_BASE_URL/--base-url={base_url!r} is not an http(s) URL")
            base_url = base_url.rstrip("/")
        target = cls(
            base_url=base_url,
            project_id=setting("project_id", "DCS_PROJECT_ID"),
            instance_id=setting("instance_id", "DCS_INSTANCE_ID"),
            empty_instance_id=setting("empty_instance_id", "DCS_EMPTY_INSTANCE_ID"),
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
            raise ConfigError("no credentials for a live target: set CLOUD_SDK_AK and CLOUD_SDK_SK, or DCS_AUTH_TOKEN")

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
        )

    def describe(self) -> dict[str, Any]:
        """The target for reports: no secret, and no more of a key than :func:`redact_key` shows."""
        return {
            "base_url": self.base_url,
            "project_id": self.project_id,
            "instance_id": self.instance_id,
            "empty_instance_id": self.empty_instance_id,
            "credentials": self.credentials.describe(),
        }


@dataclass(frozen=True)
class RunSettings:
    """How a run behaves. ``for_target`` picks the defaults: gentle on a live target."""

    max_examples: int = 200
    seed: int | None = None
    max_requests: int = 5000
    rate_limit: float | None = None
    timeout: float = 10.0
    retries: int = 4
    record_traffic: bool = False
    # Shrinking a semantic finding costs requests: on by default against the mock only.
    shrink: bool = True

    # A shared staging account: ~400 requests at 2 per second is under 4 minutes of gentle load.
    LIVE_DEFAULTS: ClassVar[dict[str, Any]] = {
        "max_examples": 100,
        "max_requests": 600,
        "rate_limit": 2.0,
        "timeout": 15.0,
        "shrink": False,
    }

    @classmethod
    def for_target(cls, target: Target, **overrides: Any) -> RunSettings:
        values: dict[str, Any] = {} if target.is_mock else dict(cls.LIVE_DEFAULTS)
        values.update({key: value for key, value in overrides.items() if value is not None})
        # A run always has a seed, so that its report says how to replay it.
        values.setdefault("seed", random.randrange(2**32))
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.max_examples < 1:
            raise ConfigError(f"--max-examples={self.max_examples!r}, but it must be at least 1")
        if self.max_requests < 1:
            raise ConfigError(f"--max-requests={self.max_requests!r}, but it must be at least 1")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ConfigError(f"--rate-limit={self.rate_limit!r}, but it must be a positive number of requests/s")
        if not self.timeout > 0:
            raise ConfigError(f"--timeout={self.timeout!r}, but it must be a positive number of seconds")
