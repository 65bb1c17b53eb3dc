"""The one table of settings: each setting of a run is defined here once.

From :data:`OPTIONS` come the command line's flags (``cli/flags.py``), the configuration
file's keys and their JSON Schema (``config.KEYS``, ``config_schema.build_schema``), the bounds every
value is checked against (:data:`BOUNDS`, :meth:`Bound.check`), the run's defaults for the
embedded mock and for a live target (``RunSettings``), the pytest plugin's options
(:func:`plugin_options`) and the README's table (:func:`markdown_table`). Adding a setting is
one entry here, and the code that reads it.

    OPTIONS["max_requests"].check(0)    # ConfigError("--max-requests=0, but it must be 1..1000000 requests")
    OPTIONS["max_requests"].describe()  # its --help: what it does, its defaults and its range
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dcs_contract.errors import ConfigError

__all__ = [
    "BOUNDS",
    "CONVERTERS",
    "OPTIONS",
    "Bound",
    "Group",
    "Kind",
    "Option",
    "live_defaults",
    "markdown_table",
    "parse_store",
    "parse_switch",
    "plugin_options",
]

# A page of the largest limit (1000 records) is under 1 MiB: 8 MiB leaves room, and bounds memory.
DEFAULT_MAX_BODY = 8 * 1024 * 1024

# "switch": true, false or a path (record = true is REPORT_DIR/traffic.har; tls_verify = "ca.pem").
# "names": a flag given once per name (--mock-drift A --mock-drift B).
# "store": a path, or a postgresql:// URL, which is kept as it is (a URL is no file path).
Kind = Literal["string", "integer", "number", "boolean", "path", "switch", "names", "store"]

KIND_TEXT: dict[Kind, str] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "path": "a path (a string)",
    "switch": "true, false or a path",
    "names": "a list of names",
    "store": "a path, or a postgresql:// URL",
}


class Group(enum.Enum):
    """The groups of ``--help``, in the order they are shown."""

    TARGET = "target (each flag wins over its environment variable)"
    NETWORK = "network (a live target only; each flag wins over its environment variable)"
    RUN = "the run"
    OUTPUTS = "reports, recording and known drift"
    MOCK = "the embedded mock (only when no target is configured)"


@dataclass(frozen=True)
class Bound:
    """The range a numeric setting must lie in, and how to say it."""

    low: float
    high: float
    rule: str
    low_open: bool = False

    def check(self, setting: str, value: float) -> None:
        """A ConfigError naming ``setting`` (the flag or key, as the user gave it) unless ``value`` is in range."""
        above = value > self.low if self.low_open else value >= self.low
        # nan compares false both ways, and inf overflows what uses it (1 / rate); an int is
        # always finite, and math.isfinite would overflow on a large one.
        finite = isinstance(value, int) or math.isfinite(value)
        if not (finite and above and value <= self.high):
            raise ConfigError(f"{setting}={value!r}, but it must be {self.rule}", setting=setting)


def _word(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Option:
    """One setting: its type, what it does, its flag and key, its bounds and its defaults.

    ``default`` is the run's default (the embedded mock's) and ``live_default`` a live
    target's where it differs; ``built_in`` what the configuration resolves to when nothing
    gives the setting (None: the harness decides, from the target). ``commands``: the
    ``dcs-contract`` commands that take the flag. ``in_file``: a key of the configuration
    file. ``plugin``: an option of the pytest plugin, ``--dcs-NAME``.
    """

    name: str
    kind: Kind
    help: str
    group: Group
    commands: frozenset[str] = frozenset({"run"})
    variable: str | None = None
    bound: Bound | None = None
    default: Any = None
    live_default: Any = None
    built_in: Any = None
    built_in_note: str | None = None
    metavar: str | None = None
    in_file: bool = True
    plugin: bool = False
    negatable: bool = False
    # A short form of ``help`` for ``--help``, where the schema's sentence is too long.
    flag_help: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def built_in_text(self) -> str:
        """What applies when nothing gives the setting, in words: ``mock 200, live 100``."""
        if self.built_in_note is not None:
            return self.built_in_note
        if self.live_default is not None:
            return f"mock {_word(self.default)}, live {_word(self.live_default)}"
        if self.default is not None:
            return _word(self.default)
        return "not set"

    def describe(self, default: str | None = None, suffix: str = "") -> str:
        """``--help``'s text: what it does (and ``suffix``), its variable, its default and its range.

        ``default``: another command's default, where it applies its own.
        """
        text = (self.flag_help or self.help).rstrip(".") + suffix
        text = text[:1].lower() + text[1:]
        if self.variable:
            text += f" [{self.variable}]"
        default = default or self.built_in_text
        extras = [f"default: {default}"] if default != "not set" else []
        if self.bound is not None:
            extras.append(self.bound.rule)
        return text + (f" ({'; '.join(extras)})" if extras else "")

    def check(self, value: Any, setting: str | None = None) -> None:
        """A ConfigError unless ``value`` is within the bound; ``setting`` names where it was given (the flag)."""
        if self.bound is not None and value is not None:
            self.bound.check(setting or self.flag, value)


def _options(*options: Option) -> dict[str, Option]:
    return {option.name: option for option in options}


_TARGETED = frozenset({"run", "replay"})
# The embedded mock's switches: a run's and a replay's mock, and the mock served on its own.
_MOCKED = frozenset({"run", "replay", "mock"})
_SEED = Bound(0, 2**64 - 1, "0..18446744073709551615")
_RECORDS = Bound(0, 100_000, "0..100000 records")
_SECONDS = Bound(0, 3600, "more than 0 and at most 3600 seconds", low_open=True)

# The one table. The defaults are the run's: gentle on a shared staging account (~400
# requests at 2 per second is under 4 minutes of load), brisk against the embedded mock.
OPTIONS: dict[str, Option] = _options(
    Option(
        "base_url",
        "string",
        "The target's base URL, such as https://dcs.ap-southeast-3.myhuaweicloud.com. "
        "With neither base_url nor region, the target is the embedded mock.",
        Group.TARGET,
        _TARGETED,
        variable="DCS_BASE_URL",
        built_in_note="not set: the embedded mock, unless region is set",
        flag_help="the target's base URL",
        metavar="URL",
        plugin=True,
    ),
    Option(
        "region",
        "string",
        "A region id such as ap-southeast-3: the base URL is https://dcs.{region}.myhuaweicloud.com. "
        "base_url and region go together: the first level that gives either gives both.",
        Group.TARGET,
        _TARGETED,
        variable="DCS_REGION",
        flag_help="builds https://dcs.{region}.myhuaweicloud.com",
        plugin=True,
    ),
    Option(
        "project_id",
        "string",
        "The project id; required for a live target.",
        Group.TARGET,
        _TARGETED,
        variable="DCS_PROJECT_ID",
        metavar="ID",
        plugin=True,
    ),
    Option(
        "instance_id",
        "string",
        "An instance whose backups are read; required for a live target.",
        Group.TARGET,
        _TARGETED,
        variable="DCS_INSTANCE_ID",
        metavar="ID",
        plugin=True,
    ),
    Option(
        "empty_instance_id",
        "string",
        "An instance with no backups.",
        Group.TARGET,
        frozenset({"run", "replay", "check-har"}),
        variable="DCS_EMPTY_INSTANCE_ID",
        metavar="ID",
    ),
    Option(
        "proxy",
        "string",
        "A forward proxy to the target, http://[user:password@]host:port: it wins over HTTPS_PROXY, "
        "HTTP_PROXY and ALL_PROXY, and NO_PROXY still applies. The only setting that may hold a password, "
        "best read from the environment (${PROXY_PASSWORD}); it is scrubbed from every output.",
        Group.NETWORK,
        _TARGETED,
        built_in_note="HTTPS_PROXY, HTTP_PROXY or ALL_PROXY of the environment, if set",
        flag_help="a forward proxy, http://[user:password@]host:port; CONNECT for an https target; "
        "wins over HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, and NO_PROXY still applies",
        metavar="URL",
    ),
    Option(
        "tls_verify",
        "switch",
        "Check the target's TLS certificate: true, false (a warning, and written in the report), "
        "or the path of a CA bundle file or directory to trust instead of the default ones.",
        Group.NETWORK,
        _TARGETED,
        built_in_note="true: SSL_CERT_FILE, SSL_CERT_DIR and REQUESTS_CA_BUNDLE if set, else certifi's bundle",
        flag_help="check the target's certificate: a CA bundle file or directory to trust, true, or false "
        "(warned, and written in the report)",
        metavar="PATH|true|false",
    ),
    Option(
        "request_cert",
        "path",
        "A client certificate (PEM) for mutual TLS.",
        Group.NETWORK,
        _TARGETED,
        metavar="FILE",
    ),
    Option(
        "request_cert_key",
        "path",
        "The client certificate's private key (PEM, not encrypted), when not in the certificate's file.",
        Group.NETWORK,
        _TARGETED,
        metavar="FILE",
    ),
    Option(
        "max_requests",
        "integer",
        "Hard cap on requests, retries included.",
        Group.RUN,
        _TARGETED,
        bound=Bound(1, 1_000_000, "1..1000000 requests"),
        default=5000,
        live_default=600,
        metavar="N",
        plugin=True,
    ),
    Option(
        "max_examples",
        "integer",
        "Cases per property.",
        Group.RUN,
        bound=Bound(1, 100_000, "1..100000 cases per property"),
        default=200,
        live_default=100,
        metavar="N",
        plugin=True,
    ),
    Option(
        "rate_limit",
        "number",
        "Requests per second.",
        Group.RUN,
        _TARGETED,
        bound=Bound(0.01, 1000, "0.01..1000 requests per second"),
        default=None,
        live_default=2.0,
        built_in_note="mock none, live 2",
        metavar="PER_SECOND",
        plugin=True,
    ),
    Option(
        "timeout",
        "number",
        "Seconds for each whole exchange: connect, headers and body.",
        Group.RUN,
        _TARGETED,
        bound=Bound(0, 3600, "more than 0 and at most 3600 seconds", low_open=True),
        default=10.0,
        live_default=15.0,
        metavar="SECONDS",
    ),
    Option(
        "max_body",
        "integer",
        "Cap on a response body, decompressed, in bytes.",
        Group.RUN,
        frozenset({"run", "check-har"}),
        bound=Bound(64 * 1024, 1024**3, "65536..1073741824 bytes (64 KiB..1 GiB)"),
        default=DEFAULT_MAX_BODY,
        built_in_note=f"{DEFAULT_MAX_BODY}, 8 MiB",
        metavar="BYTES",
    ),
    Option(
        "seed",
        "integer",
        "The seed of a run, to replay it: the seed its report shows.",
        Group.RUN,
        bound=_SEED,
        built_in_note="random, shown in the report",
        metavar="SEED",
        plugin=True,
    ),
    Option(
        "shrink",
        "boolean",
        "Shrink each semantic finding to its simplest requests (costs requests).",
        Group.RUN,
        default=True,
        live_default=False,
        negatable=True,
    ),
    Option(
        "fail_fast",
        "boolean",
        "Stop at the first finding that no baseline accepts (a CI queue's red build, sooner).",
        Group.RUN,
        default=False,
    ),
    Option(
        "confirm",
        "boolean",
        "Send each new finding's requests once more before exiting 1, and label it reproduced or not "
        "(within the budget).",
        Group.RUN,
        default=True,
        negatable=True,
    ),
    Option(
        "draw_ahead",
        "boolean",
        "Draw the cases of schema-negative and negative-inputs in a helper process while the run sends: faster "
        "where a second core is free, for about 100 MB more memory. Off: every case is drawn in the run's "
        "process, and a seed draws other cases than with it on.",
        Group.RUN,
        default=True,
        negatable=True,
        flag_help="draw the negative cases in a helper process while the run sends (about 100 MB more)",
    ),
    Option(
        "fail_on",
        "string",
        "The least severity that fails the run (exit 1): breaking (a known consumer breaks), contract (the "
        "contract breaks), or info (also what is only observed, such as a degraded answer).",
        Group.RUN,
        default="contract",
        flag_help="the least severity that fails the run: breaking, contract or info",
        metavar="SEVERITY",
    ),
    Option(
        "checks",
        "string",
        "Only these checks and invariants, comma-separated, by name (as st run's --checks); an unknown name "
        "lists the known ones.",
        Group.RUN,
        built_in_note="all",
        metavar="NAMES",
    ),
    Option(
        "exclude_checks",
        "string",
        "Checks and invariants not to report, comma-separated, by name.",
        Group.RUN,
        built_in_note="none",
        metavar="NAMES",
    ),
    Option(
        "max_response_time",
        "number",
        "An answer slower than this, to its last byte, is a latency finding.",
        Group.RUN,
        bound=_SECONDS,
        built_in_note="none",
        metavar="SECONDS",
    ),
    Option(
        "degraded_response_time",
        "number",
        "An answer slower than this, to its last byte, makes the run degraded: shown, and no failure.",
        Group.RUN,
        bound=_SECONDS,
        built_in_note="none",
        metavar="SECONDS",
    ),
    Option(
        "report_dir",
        "path",
        "Where reports go.",
        Group.OUTPUTS,
        frozenset({"run", "check-har", "sdk-check"}),
        built_in=Path("dcs-contract-report"),
        built_in_note="dcs-contract-report",
        metavar="DIR",
        plugin=True,
    ),
    Option(
        "baseline",
        "path",
        "Accepted findings: reported, but they do not fail the run.",
        Group.OUTPUTS,
        frozenset({"run", "check-har", "sdk-check"}),
        built_in_note="none",
        metavar="FILE",
    ),
    Option(
        "baseline_update",
        "boolean",
        "Write this run's findings into the --baseline file.",
        Group.OUTPUTS,
        in_file=False,
    ),
    Option(
        "history",
        "store",
        "The run history, which a run appends to and diff, history and docs read: an SQLite file (created if "
        "missing), or a postgresql:// URL, one database for every job of a matrix.",
        Group.OUTPUTS,
        frozenset({"run", "docs", "diff", "history"}),
        built_in_note="none",
        metavar="FILE",
    ),
    Option(
        "record",
        "switch",
        "Write the traffic, redacted, as a HAR file: true for REPORT_DIR/traffic.har, a path for that file, "
        "false for none.",
        Group.OUTPUTS,
        built_in_note="off",
        metavar="FILE",
    ),
    Option(
        "metrics_file",
        "path",
        "Write the run's Prometheus metrics to this file, atomically, for the node exporter's textfile collector.",
        Group.OUTPUTS,
        built_in_note="none",
        metavar="FILE",
    ),
    Option(
        "pushgateway",
        "string",
        "Push the run's Prometheus metrics to this Pushgateway, grouped by target and instance.",
        Group.OUTPUTS,
        built_in_note="none",
        metavar="URL",
    ),
    Option(
        "private_ids",
        "boolean",
        "The instance id is private: metrics label the instance by a hash of its id, never the id.",
        Group.OUTPUTS,
        default=False,
    ),
    Option(
        "spec",
        "path",
        "Another spec file.",
        Group.RUN,
        frozenset({"run", "replay", "check-har", "sdk-check", "docs", "annotate"}),
        built_in_note="the packaged spec",
        metavar="FILE",
        plugin=True,
    ),
    Option(
        "mock_drift",
        "names",
        "Break the contract on purpose, for self-tests: a drift switch of the embedded mock (repeatable).",
        Group.MOCK,
        _MOCKED,
        in_file=False,
        metavar="NAME",
        plugin=True,
    ),
    Option(
        "mock_drift_every",
        "integer",
        "The drift switches drift on every N-th answer only, as a flaky deployment does.",
        Group.MOCK,
        _MOCKED,
        bound=Bound(1, 1000, "1..1000 answers"),
        in_file=False,
        metavar="N",
    ),
    Option(
        "mock_faults",
        "boolean",
        "Behave like a busy gateway.",
        Group.MOCK,
        _MOCKED,
        in_file=False,
    ),
    Option(
        "mock_records",
        "integer",
        "Backups of the embedded mock's instance.",
        Group.MOCK,
        _MOCKED,
        bound=_RECORDS,
        in_file=False,
        metavar="N",
    ),
    Option(
        "mock_data_seed",
        "integer",
        "The seed of the embedded mock's generated records.",
        Group.MOCK,
        _MOCKED,
        bound=_SEED,
        in_file=False,
        metavar="SEED",
    ),
)

# Numeric ranges by setting, and those of values that are not settings of a run (the mock command's).
BOUNDS: dict[str, Bound] = {
    **{name: option.bound for name, option in OPTIONS.items() if option.bound is not None},
    "port": Bound(0, 65535, "0..65535 (0: any free port)"),
    "records": _RECORDS,
}


def live_defaults() -> dict[str, Any]:
    """What a live target gets instead of the run's defaults."""
    return {name: option.live_default for name, option in OPTIONS.items() if option.live_default is not None}


def parse_switch(text: str) -> bool | Path:
    """``true``/``false`` (yes/no, on/off, 1/0; any case) as themselves, anything else as a path.

    The one reading of a switch (``--record``, ``--tls-verify`` and their keys); ValueError when empty.
    """
    word = text.strip()
    if word.lower() in ("true", "yes", "on", "1"):
        return True
    if word.lower() in ("false", "no", "off", "0"):
        return False
    if not word:
        raise ValueError("empty")
    return Path(word).expanduser()


def parse_store(text: str) -> Path | str:
    """A ``postgresql://`` (or ``postgres://``) URL as it is, anything else as a path; ValueError when empty."""
    word = text.strip()
    if not word:
        raise ValueError("empty")
    return word if word.lower().startswith(("postgresql://", "postgres://")) else Path(word).expanduser()


# What each kind of setting is read as from a command line: a converter of its text.
CONVERTERS: dict[Kind, Callable[[str], Any] | None] = {
    "string": None,
    "integer": int,
    "number": float,
    "path": Path,
    "switch": parse_switch,
    "store": parse_store,
    "names": None,
    "boolean": None,
}


def plugin_options() -> Iterator[tuple[str, dict[str, Any]]]:
    """The pytest plugin's options: (``--dcs-NAME``, ``addoption``'s keywords, dest ``dcs_NAME``)."""
    for option in OPTIONS.values():
        if not option.plugin:
            continue
        keywords: dict[str, Any] = {"dest": f"dcs_{option.name}", "default": None, "help": option.describe()}
        if option.kind == "names":
            keywords |= {"action": "append", "default": []}
        elif option.kind != "string":
            keywords["type"] = CONVERTERS[option.kind]
        if option.metavar:
            keywords["metavar"] = option.metavar
        yield f"--dcs-{option.flag[2:]}", keywords


def markdown_table() -> str:
    """The settings as the README's configuration guide shows them: key, flag, variable, default, what."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| key | flag | variable | default | what |", "|---|---|---|---|---|"]
    for option in OPTIONS.values():
        key = f"`{option.name}`" if option.in_file else "(flag only)"
        variable = f"`{option.variable}`" if option.variable else ""
        bound = f" ({option.bound.rule})" if option.bound is not None else ""
        lines.append(
            f"| {key} | `{option.flag}` | {variable} | {cell(option.built_in_text)} | {cell(option.help)}{bound} |"
        )
    return "\n".join(lines) + "\n"
