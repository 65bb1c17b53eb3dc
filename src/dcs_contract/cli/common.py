"""What the commands share once their flags are parsed: the settings resolved from the flags and
the file, the mock's options, the outputs checked before anything is sent, scrubbed messages.

What the parser needs too (exit codes, default paths, one-line messages) is in cli/basics.py,
which imports none of this module's settings, transport or mock."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from dcs_contract.cli.basics import REPORT_FILES
from dcs_contract.cli.summary import Style, Verbosity
from dcs_contract.errors import ConfigError
from dcs_contract.mock import FaultPlan
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.redaction import Scrubber
from dcs_contract.settings import config
from dcs_contract.settings.table import OPTIONS
from dcs_contract.settings.target import check_output_dir, check_output_file
from dcs_contract.transport.network import Network, proxy_secrets_in
from dcs_contract.transport.signing import Credentials


def secrets_in(env: Mapping[str, str]) -> list[str]:
    """Every secret the environment holds: the credentials, the passwords of its proxy URLs, libpq's."""
    database = [env["PGPASSWORD"]] if env.get("PGPASSWORD") else []
    return [*Credentials.secrets_in(env), *proxy_secrets_in(env), *database]


def check_pushgateway(url: str) -> None:
    """``--pushgateway`` as ``run`` and ``config show`` both refuse it: an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed [ of an IPv6 host, say
        usable = False
    if not usable:
        raise ConfigError(
            f"--pushgateway={url!r}, but it must be an http:// or https:// URL such as http://127.0.0.1:9091",
            setting="--pushgateway",
        )


def history_secrets(history: object) -> list[str]:
    """The password of a ``--history postgresql://...`` URL, for every scrubber of the run's outputs."""
    from dcs_contract.results.history import is_url, password_of

    password = password_of(str(history)) if is_url(history) else None
    return [password] if password else []


def verbosity_of(args: argparse.Namespace) -> Verbosity:
    if getattr(args, "quiet", False):
        return Verbosity.QUIET
    return Verbosity.VERBOSE if getattr(args, "verbose", False) else Verbosity.NORMAL


def check_drifts(flag: str, names: list[str]) -> None:
    unknown = [name for name in names if name not in DRIFTS]
    if unknown:
        raise ConfigError(f"{flag}={unknown[0]!r} is not a drift switch; known: {', '.join(sorted(DRIFTS))}")


def mock_options_of(args: argparse.Namespace) -> dict[str, Any]:
    """The embedded mock's options from the --mock-* flags, each within its bound."""
    drifts = args.mock_drift or []
    check_drifts("--mock-drift", drifts)
    options: dict[str, Any] = {"drifts": tuple(drifts)}
    if args.mock_faults:
        options["faults"] = FaultPlan()
    # The mock's keyword for each flag that takes a number.
    for name, keyword in (("mock_records", "records"), ("mock_data_seed", "seed"), ("mock_drift_every", "drift_every")):
        value = getattr(args, name)
        if value is not None:
            OPTIONS[name].check(value)
            options[keyword] = value
    return options


def check_outputs(report_dir: Path, files: list[tuple[Path, str]]) -> None:
    """Every file a command will write, checked before anything is sent, and no two the same.

    ``files``: (path, the setting it comes from, with its value).
    """
    check_output_dir(report_dir, f"--report-dir={str(report_dir)!r}")
    written: dict[str, str] = {}
    for path, setting in [(report_dir / name, f"--report-dir={str(report_dir)!r}") for name in REPORT_FILES] + files:
        check_output_file(path, setting)
        key = os.path.normcase(os.path.abspath(path))
        if key in written:
            raise ConfigError(f"{setting}: {path} is written as {written[key]} too: give each output its own file")
        written[key] = f"{path.name} of {setting}"


def terminal(args: argparse.Namespace, out: TextIO, env: Mapping[str, str]) -> dict[str, Any]:
    """How much the summary says (-v, -q) and whether it is coloured (a TTY, NO_COLOR, --no-color)."""
    return {"verbosity": verbosity_of(args), "style": Style.for_stream(out, env, no_color=args.no_color)}


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave as flags (None: not given), keyed as the configuration file keys them."""
    return {key: getattr(args, key, None) for key in config.KEYS}


def resolved_args(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[argparse.Namespace, config.Resolved]:
    """``args`` with every setting resolved: flag > env > profile > file defaults > built-in."""
    resolved = config.resolve(_given(args), env, cwd=Path.cwd(), config=args.config, profile=args.profile)
    values = {key: resolved.value(key) for key in config.KEYS if hasattr(args, key)}
    if "fail_fast" in values:
        values["fail_fast"] = bool(values["fail_fast"])
    return argparse.Namespace(**{**vars(args), **values}), resolved


def with_source(exc: ConfigError, resolved: config.Resolved) -> ConfigError:
    """``exc``, saying the file and key that set the value at fault when no flag or variable did."""
    for key, setting in resolved.items():
        named = exc.setting is not None and exc.setting.split("/")[-1] == config.KEYS[key].flag
        if named and not setting.source.startswith(("flag", "env", "built-in")):
            return ConfigError(f"{exc} (set by {key} in the {setting.source})", setting=exc.setting)
    return exc


def network_for(resolved: config.Resolved, env: Mapping[str, str], *, embedded: bool) -> Network:
    """How the target is reached. The embedded mock is on loopback: directly, whatever the environment's proxies."""
    if not embedded:
        return resolved.network(env)
    given = [config.KEYS[key].flag for key in config.NETWORK_KEYS if resolved[key].source.startswith("flag")]
    if given:
        raise ConfigError(f"{given[0]} applies to a live target only: the embedded mock is served on loopback")
    return Network.direct()


def reason(exc: BaseException) -> str:
    """An exception in a few words: what failed and on which file, as an OSError gives them."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {exc}"


def say(stream: TextIO, scrubber: Scrubber, text: str) -> None:
    stream.write(scrubber.text(text) + "\n")
    stream.flush()


# The commands that read their settings from the configuration file as a run does (run, replay
# and config resolve their own); each applies its own default for a setting nothing gives.
CONFIGURED = frozenset({"docs", "diff", "history", "check-har", "sdk-check", "annotate", "mock"})


def configured(args: argparse.Namespace, env: Mapping[str, str]) -> argparse.Namespace:
    """``args`` with the file's and the environment's settings, but not a run's built-in defaults."""
    resolved_namespace, resolved = resolved_args(args, env)
    for key, setting in resolved.items():
        if setting.source == "built-in" and hasattr(args, key):
            setattr(resolved_namespace, key, getattr(args, key))
    return resolved_namespace
