"""The configuration file: defaults and one profile per target, under the flags and the environment.

The settings are read from ``dcs-contract.toml`` in the current directory (its top level is
the configuration), or from the ``[tool.dcs-contract]`` table of its ``pyproject.toml``.
When both exist, neither is guessed at: :func:`resolve` refuses, naming both, and
``--config FILE`` picks one. A file named ``pyproject.toml`` is read for its
``[tool.dcs-contract]`` table; any other file is the configuration at its top level.

Top-level keys are the defaults; a ``[profiles.NAME]`` table holds the settings of one
target, chosen with ``--profile NAME`` or ``DCS_PROFILE`` (the flag wins). Keys are the
``run`` flags' long names with underscores (:data:`KEYS`). Each setting is taken, key by
key, from the first of::

    flag  >  environment (DCS_BASE_URL ... DCS_EMPTY_INSTANCE_ID only)  >  profile  >  defaults  >  built-in

``base_url`` and ``region`` name one thing, the endpoint, so they go together: the first
level that gives either gives both (``DCS_REGION`` set replaces a profile's ``base_url``,
and a profile's ``region`` replaces the defaults' ``base_url``).

- A string may read the environment: ``${NAME}``, or ``${NAME:-default}`` when NAME is unset
  or empty (as in a shell, and as everywhere in this harness, an empty variable is not set);
  ``$$`` is a literal ``$``. An unset variable without a default is an error. A value that
  is empty, as written or once read, is an error too: leave the key out instead.
- Paths (``report_dir``, ``baseline``, ``history``, ``record``, ``spec``) are relative to
  the file's directory; the flags' stay relative to the current directory.
- ``record = true`` writes REPORT_DIR/traffic.har, as a bare ``--record`` does; a path
  writes that file; ``false`` records nothing (a profile can turn off what the defaults
  turn on).
- Credentials are read from the environment only (``CLOUD_SDK_AK``/``CLOUD_SDK_SK`` or
  ``DCS_AUTH_TOKEN``), never from the file: a key such as ``ak``, ``sk`` or ``token`` is
  refused, as a value or as a ``${...}`` reference, and so is ``${CLOUD_SDK_SK}`` in any
  other key and any value that holds a credential of the environment. A secret in the file
  would be committed, and one read from another variable would escape the scrubber, which
  knows the credential variables only.

Every mistake is a :class:`ConfigError` (exit 2) on one line that names the file, the table
and the key: an unknown key (with the closest known one), a value of the wrong type, an
unknown profile (with the known ones), a file that is not TOML (with tomllib's line and
column). Bounds (``max_requests = 0``) are left to :meth:`RunSettings.validate`, and ids and
URLs to :meth:`Target.from_env`, as for flags. The file is described by a JSON Schema
(draft 2020-12), ``config.schema.json`` in the package, built from :data:`KEYS` by
:mod:`dcs_contract.settings.config_schema`; print it with ``python -m dcs_contract.settings.config_schema``.

    resolved = resolve({"max_requests": args.max_requests}, os.environ, cwd=Path.cwd(), config=None, profile=None)
    target = resolved.target(os.environ)
    settings = RunSettings.for_target(target, **resolved.run_overrides())
    print(render(resolved, Scrubber(Credentials.secrets_in(os.environ))))
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from dcs_contract.errors import ConfigError
from dcs_contract.redaction import MIN_FRAGMENT, Scrubber
from dcs_contract.settings.table import KIND_TEXT, OPTIONS, Group, Option, parse_store
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.network import Network
from dcs_contract.transport.signing import AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE, Credentials

__all__ = [
    "CONFIG_FILE",
    "EXAMPLE",
    "KEYS",
    "NETWORK_KEYS",
    "PROFILE_VARIABLE",
    "PYPROJECT",
    "TOOL_TABLE",
    "Key",
    "Resolved",
    "Setting",
    "render",
    "resolve",
]

CONFIG_FILE = "dcs-contract.toml"
PYPROJECT = "pyproject.toml"
PROFILE_VARIABLE = "DCS_PROFILE"
TOOL_TABLE = "tool.dcs-contract"  # in pyproject.toml

# A key of the file is a setting of the one table (settings/table.py): its flag, type and bounds.
Key = Option
# The keys, in the table's order: resolve(), the error messages and the JSON Schema all read it.
KEYS: dict[str, Key] = {name: option for name, option in OPTIONS.items() if option.in_file}
# How the harness reaches a live target (network.Network): ignored for the embedded mock.
NETWORK_KEYS = tuple(name for name, key in KEYS.items() if key.group is Group.NETWORK)
_ENDPOINT = ("base_url", "region")
_TARGET_KEYS = tuple(name for name, key in KEYS.items() if key.variable)
# The keys RunSettings.for_target takes (the others name the target, its network and the outputs).
_RUN_KEYS = tuple(name for name in KEYS if name in {f.name for f in fields(RunSettings)} and name != "network")

# Keys that name a credential (compared lower-case, '-' as '_'), and the variable it belongs in.
_CREDENTIAL_KEYS = {
    **dict.fromkeys(("ak", "access_key", "access_key_id", "cloud_sdk_ak"), AK_VARIABLE),
    **dict.fromkeys(("sk", "secret_key", "secret_access_key", "cloud_sdk_sk"), SK_VARIABLE),
    **dict.fromkeys(("token", "auth_token", "x_auth_token", "dcs_auth_token"), TOKEN_VARIABLE),
}
_CREDENTIAL_VARIABLES = (AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE)

# ${NAME}, ${NAME:-default}, $$; and a ${ that is neither, to be refused.
_REFERENCE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|(?P<bad>\{))"
)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

EXAMPLE = """\
# dcs-contract.toml: the same keys go under [tool.dcs-contract] in pyproject.toml.
# The defaults come first: a key after a [profiles.NAME] header belongs to that profile.
report_dir = "reports"                # relative to this file's directory
baseline = "contract/baseline.json"
max_requests = 400
rate_limit = 1.5
timeout = 20
shrink = false

[profiles.staging-sg]                 # dcs-contract run --profile staging-sg
region = "ap-southeast-3"
project_id = "${SG_PROJECT_ID}"       # read from the environment when the profile is used
instance_id = "${SG_INSTANCE_ID}"
history = "history/staging-sg.sqlite"

[profiles.staging-bj]                 # DCS_PROFILE=staging-bj dcs-contract run
base_url = "https://dcs.cn-north-4.myhuaweicloud.com"
project_id = "${BJ_PROJECT_ID}"
instance_id = "${BJ_INSTANCE_ID:-6e3b1c52-4f0a-4d55-9d3e-1c6e4b3a2f10}"
empty_instance_id = "${BJ_EMPTY_INSTANCE_ID}"
max_requests = 200
record = true
"""


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from: ``flag --max-requests``, ``env DCS_INSTANCE_ID``, ``built-in``."""

    value: Any
    source: str


@dataclass(frozen=True)
class Resolved(Mapping[str, Setting]):
    """Every key of :data:`KEYS`, in its order, with its :class:`Setting`; and the file and profile read."""

    settings: Mapping[str, Setting]
    file: Path | None = None
    file_shown: str | None = None  # the file as messages name it: ./dcs-contract.toml
    profile: str | None = None
    profile_source: str | None = None  # flag --profile, env DCS_PROFILE
    credentials: Credentials = field(default_factory=Credentials)

    def __getitem__(self, key: str) -> Setting:
        return self.settings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def __len__(self) -> int:
        return len(self.settings)

    def value(self, key: str) -> Any:
        return self.settings[key].value

    def target_flags(self) -> dict[str, str | None]:
        """The keyword arguments of :meth:`Target.from_env`: base_url, region and the ids."""
        return {name: self.value(name) for name in _TARGET_KEYS}

    def run_overrides(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`RunSettings.for_target`; None leaves the target's default."""
        return {name: self.value(name) for name in _RUN_KEYS}

    def network(self, env: Mapping[str, str]) -> Network:
        """How a live target is reached: these settings' proxy and TLS, over the environment's.

        A setting that no flag gave is named in messages by its key and where it came from.
        """
        names = {
            "proxy": "proxy",
            "tls_verify": "tls_verify",
            "client_cert": "request_cert",
            "client_key": "request_cert_key",
        }
        labels = {
            field_name: f"{key} ({self[key].source})"
            for field_name, key in names.items()
            if self[key].value is not None and not self[key].source.startswith("flag")
        }
        verify = self.value("tls_verify")
        return Network(
            proxy=self.value("proxy"),
            tls_verify=True if verify is None else verify,
            client_cert=self.value("request_cert"),
            client_key=self.value("request_cert_key"),
            env=env,
            labels=labels,
        )

    def target(self, env: Mapping[str, str]) -> Target:
        """The target these settings name, with the credentials of ``env``.

        Not ``Target.from_env(env, **target_flags())``: from_env falls back to DCS_* for a
        flag that is None, and would bring back a DCS_BASE_URL that a --region or a profile's
        region replaced. The environment was read here already.
        """
        credentials_only = {name: value for name, value in env.items() if name in _CREDENTIAL_VARIABLES}
        return Target.from_env(credentials_only, **self.target_flags())


@dataclass(frozen=True)
class _Table:
    """The defaults or one profile, as written (checked for keys and types, not yet read from the environment)."""

    values: Mapping[str, Any]
    source: str  # for Setting.source: profile staging-sg in ./dcs-contract.toml
    where: str  # for errors: ./dcs-contract.toml [profiles.staging-sg]


@dataclass(frozen=True)
class _File:
    path: Path
    shown: str
    defaults: _Table
    profiles: dict[str, _Table]


# -- reading the file ---------------------------------------------------------------------------


def _shown_path(path: Path, cwd: Path) -> str:
    try:
        return "./" + path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _shown_value(value: Any) -> str:
    """A value in a message: one line, and not a page of it."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (datetime, date, time)):
        return "a date or time"
    return type(value).__name__


def _parse(path: Path, shown: str) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says where: "Expected '=' after a key in a key/value pair (at line 3, column 9)".
        raise ConfigError(f"{shown} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown} is not valid TOML: it is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:  # tomllib reads arrays and inline tables within arrays recursively
        raise ConfigError(f"{shown} is not a configuration: it nests arrays or tables too deep to read") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror or exc}") from None


def _pyproject_table(data: Mapping[str, Any], shown: str) -> dict[str, Any] | None:
    tool = data.get("tool")
    table = tool.get("dcs-contract") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{shown}: {TOOL_TABLE} is {_what(table)}, but it must be a table: [{TOOL_TABLE}]")
    return table


def _locate(cwd: Path, config: Path | None) -> tuple[Path, dict[str, Any], bool] | None:
    """The file to read, its configuration table, and whether it is a pyproject.toml; None without one."""
    if config is not None:
        path = cwd / config
        shown = _shown_path(path, cwd)
        if not path.exists():
            raise ConfigError(f"--config={str(config)!r}: {shown} does not exist")
        if path.is_dir():
            raise ConfigError(f"--config={str(config)!r} is a directory: give the file, such as {CONFIG_FILE}")
        data = _parse(path, shown)
        if path.name != PYPROJECT:
            return path, data, False
        table = _pyproject_table(data, shown)
        if table is None:
            raise ConfigError(f"--config={str(config)!r}: {shown} has no [{TOOL_TABLE}] table")
        return path, table, True
    own, pyproject = cwd / CONFIG_FILE, cwd / PYPROJECT
    table = _pyproject_table(_parse(pyproject, f"./{PYPROJECT}"), f"./{PYPROJECT}") if pyproject.is_file() else None
    if own.exists():
        if table is not None:
            raise ConfigError(
                f"both ./{CONFIG_FILE} and [{TOOL_TABLE}] in ./{PYPROJECT} configure dcs-contract: "
                f"keep one, or pick one with --config"
            )
        return own, _parse(own, f"./{CONFIG_FILE}"), False
    return (pyproject, table, True) if table is not None else None


def _check_reference_syntax(text: str, where: str, key: str) -> None:
    for match in _REFERENCE.finditer(text):
        if match["bad"]:
            raise ConfigError(
                f"{where} {key}={_shown_value(text)}: '${{' starts neither ${{NAME}} nor ${{NAME:-default}} "
                "(write $$ for a literal $)"
            )
        if match["name"] in _CREDENTIAL_VARIABLES:
            raise ConfigError(
                f"{where} {key} reads ${{{match['name']}}}: a credential goes in no setting of the file "
                "(it would reach the reports); it is read from the environment only"
            )


def _check_table(values: Mapping[str, Any], where: str, env: Mapping[str, str], *, top: bool) -> dict[str, Any]:
    """``values`` without ``profiles``, each key known and of its type; a ConfigError naming the first that is not."""
    secrets = [secret for secret in Credentials.secrets_in(env) if len(secret) >= MIN_FRAGMENT]
    checked: dict[str, Any] = {}
    for name, value in values.items():
        normal = name.lower().replace("-", "_").replace(" ", "_")
        if normal in _CREDENTIAL_KEYS:
            variable = _CREDENTIAL_KEYS[normal]
            if isinstance(value, str) and _REFERENCE.search(value):
                raise ConfigError(
                    f"{where} {name}: credentials are read from the environment only, never through the file: "
                    f"set {variable} and leave {name} out"
                )
            raise ConfigError(
                f"{where} {name}: a credential in the file would be committed; set {variable} in the environment "
                "instead (credentials are read from there only)"
            )
        if isinstance(value, str) and any(secret in value for secret in secrets):
            variables = [var for var in _CREDENTIAL_VARIABLES if env.get(var) and env[var] in value]
            raise ConfigError(
                f"{where} {name} holds the value of {'/'.join(variables) or 'a credential'}: it would be committed; "
                "leave credentials in the environment"
            )
        if top and name == "profiles":
            continue
        key = KEYS.get(name)
        if key is None:
            known = [*KEYS, "profiles"] if top else list(KEYS)
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif name == "tool" and top:
                hint = f"[{TOOL_TABLE}] belongs in {PYPROJECT}; in {CONFIG_FILE} the settings are at the top level"
            else:
                hint = f"known keys: {', '.join(known)}"
            raise ConfigError(f"{where} unknown key {name!r}: {hint}")
        checked[name] = _check_type(key, value, where)
    return checked


def _unquoted(key: Key, text: str) -> bool:
    """Whether ``text`` without its quotes is a value of the type ``key`` wants: ``"600"`` for an integer."""
    if not text.strip().isprintable():  # the hint is one line, as the message is
        return False
    try:
        parsed = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        return False
    if key.kind == "boolean":
        return isinstance(parsed, bool)
    return isinstance(parsed, int if key.kind == "integer" else (int, float)) and not isinstance(parsed, bool)


def _check_type(key: Key, value: Any, where: str) -> Any:
    accepted: bool
    if key.kind in ("string", "path", "store"):
        accepted = isinstance(value, str)
    elif key.kind == "integer":
        accepted = isinstance(value, int) and not isinstance(value, bool)
    elif key.kind == "number":
        accepted = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif key.kind == "boolean":
        accepted = isinstance(value, bool)
    else:  # record
        accepted = isinstance(value, (bool, str))
    if not accepted:
        hint = ""
        if isinstance(value, str) and key.kind in ("integer", "number", "boolean") and _unquoted(key, value):
            hint = f" (without quotes: {key.name} = {value.strip()})"
        raise ConfigError(
            f"{where} {key.name}={_shown_value(value)} is {_what(value)}, but it must be {KIND_TEXT[key.kind]}{hint}"
        )
    if isinstance(value, str):
        _check_reference_syntax(value, where, key.name)
    return value


def _profile_label(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _load(path: Path, table: dict[str, Any], pyproject: bool, cwd: Path, env: Mapping[str, str]) -> _File:
    shown = _shown_path(path, cwd)
    prefix = f"{TOOL_TABLE}." if pyproject else ""
    in_file = f"{shown} [{TOOL_TABLE}]" if pyproject else shown
    defaults = _Table(
        _check_table(table, f"{shown}: [{TOOL_TABLE}]" if pyproject else f"{shown}:", env, top=True),
        source=f"defaults in {in_file}",
        where=f"{shown}: [{TOOL_TABLE}]" if pyproject else f"{shown}:",
    )
    raw_profiles = table.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(
            f"{shown}: {prefix}profiles is {_what(raw_profiles)}, "
            f"but it must be a table of [{prefix}profiles.NAME] tables"
        )
    profiles: dict[str, _Table] = {}
    for name, values in raw_profiles.items():
        section = f"[{prefix}profiles.{_profile_label(name)}]"
        if not isinstance(values, dict):
            raise ConfigError(
                f"{shown}: {prefix}profiles.{_profile_label(name)} is {_what(values)}, not a table {section}"
            )
        where = f"{shown}: {section}"
        profiles[name] = _Table(_check_table(values, where, env, top=False), f"profile {name} in {in_file}", where)
    return _File(path, shown, defaults, profiles)


# -- resolving ----------------------------------------------------------------------------------


def _substitute(text: str, env: Mapping[str, str], where: str, key: str) -> tuple[str, list[str]]:
    """``text`` with its references read from ``env``, and the variables it read."""
    read: list[str] = []
    unset: list[str] = []

    def value(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        name, default = match["name"], match["default"]
        found = env.get(name) or default
        if found is None:
            unset.append(name)
            return ""
        read.append(name)
        return found

    substituted = _REFERENCE.sub(value, text)
    if unset:
        names = ", ".join(f"${{{name}}}" for name in unset)
        raise ConfigError(f"{where} {key} reads {names}, but {_unset(unset)}")
    return substituted, read


def _unset(names: list[str]) -> str:
    if len(names) == 1:
        return f"{names[0]} is not set in the environment (or is empty)"
    return f"{', '.join(names)} are not set in the environment (or are empty)"


def _from_table(table: _Table, key: Key, env: Mapping[str, str], directory: Path) -> Setting:
    value, source = table.values[key.name], table.source
    if isinstance(value, str):
        text, read = _substitute(value, env, table.where, key.name)
        if not text:
            why = f" once ${{{', '.join(read)}}} is read" if read else ""
            raise ConfigError(f"{table.where} {key.name} is empty{why}: give a value, or leave the key out")
        source += "".join(f" via ${{{name}}}" for name in read)
        value = directory / text if key.kind in ("path", "switch") else text
        if key.kind == "store":
            # A URL names a server, not a file beside the configuration: it is kept as it is.
            stored = parse_store(text)
            value = directory / stored if isinstance(stored, Path) else stored
    elif key.kind == "number":
        value = float(value)
    return Setting(value, source)


def _profile_name(profile: str | None, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    if profile is not None:
        if not profile:
            raise ConfigError("--profile='' is empty: give a profile's name, or leave the flag out")
        return profile, "flag --profile"
    if env.get(PROFILE_VARIABLE):
        return env[PROFILE_VARIABLE], f"env {PROFILE_VARIABLE}"
    return None, None


def resolve(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    cwd: Path,
    config: Path | None = None,
    profile: str | None = None,
) -> Resolved:
    """Every key's value and source: flag > env > profile > file defaults > built-in.

    ``flags`` holds the flags given, by key (``max_requests``; None: not given); ``config``
    is ``--config`` and ``profile`` is ``--profile``, either None when not given. ``cwd`` is
    where the file is looked for and what ``config`` is relative to; the paths the file
    gives are relative to the file's directory, and come back absolute when it is.
    """
    unknown = sorted(set(flags) - set(KEYS))
    if unknown:
        raise ValueError(f"not keys of the configuration: {', '.join(unknown)}")
    located = _locate(cwd, config)
    file = _load(*located, cwd, env) if located is not None else None
    chosen, chosen_source = _profile_name(profile, env)
    tables: list[_Table] = []
    if chosen is not None:
        flag_or_variable = "--profile" if profile is not None else PROFILE_VARIABLE
        if file is None:
            raise ConfigError(
                f"{flag_or_variable}={chosen!r}, but there is no configuration to read it from: "
                f"no ./{CONFIG_FILE}, no [{TOOL_TABLE}] in ./{PYPROJECT}, no --config"
            )
        if chosen not in file.profiles:
            known = ", ".join(sorted(file.profiles)) or "none"
            raise ConfigError(f"{flag_or_variable}={chosen!r} is not a profile of {file.shown}; known: {known}")
        tables.append(file.profiles[chosen])
    if file is not None:
        tables.append(file.defaults)
    directory = file.path.parent if file is not None else cwd

    # Each level: the keys it gives, each read only when it is the one used, so that a ${...}
    # a flag or the environment overrides need not be set.
    levels: list[dict[str, Callable[[], Setting]]] = [
        {
            name: partial(Setting, value, f"flag {KEYS[name].flag}")
            for name, value in flags.items()
            if value is not None
        },
        {
            name: partial(Setting, env[key.variable], f"env {key.variable}")
            for name, key in KEYS.items()
            if key.variable and env.get(key.variable)
        },
    ]
    for table in tables:
        levels.append({name: partial(_from_table, table, KEYS[name], env, directory) for name in table.values})
    settings: dict[str, Setting] = {}
    # Every unset ${VAR} of the keys used is reported at once: fixing them one run at a time is slow.
    unset: list[str] = []

    def read(name: str, setting: Callable[[], Setting]) -> Setting:
        try:
            return setting()
        except ConfigError as exc:
            unset.append(str(exc))
            return Setting(None, "unset")

    for level in levels:
        given = [name for name in _ENDPOINT if name in level]
        if given and not any(name in settings for name in _ENDPOINT):
            endpoint = {name: read(name, level[name]) for name in given}
            for name in _ENDPOINT:
                left_out = Setting(None, f"left out: {given[0]} comes from {endpoint[given[0]].source}")
                settings[name] = endpoint.get(name, left_out)
        for name, setting in level.items():
            if name not in _ENDPOINT and name not in settings:
                settings[name] = read(name, setting)
    if unset:
        raise ConfigError("\n".join(unset))
    resolved = {name: settings.get(name) or Setting(key.built_in, "built-in") for name, key in KEYS.items()}
    for name, chosen_setting in resolved.items():
        # No file has one in its name, and Path.exists() says False for one rather than raise:
        # found late, a run would have sent its requests and then lost its reports.
        if KEYS[name].kind in ("path", "switch", "store") and "\x00" in str(chosen_setting.value or ""):
            raise ConfigError(
                f"{KEYS[name].name} from {chosen_setting.source} holds a NUL character, which no path or URL can",
                setting=KEYS[name].flag,
            )
    return Resolved(
        resolved,
        file=file.path if file is not None else None,
        file_shown=file.shown if file is not None else None,
        profile=chosen,
        profile_source=chosen_source,
        credentials=Credentials.from_env(env),
    )


# -- config show --------------------------------------------------------------------------------


def _display(key: Key, setting: Setting) -> str:
    value = setting.value
    if value is None:
        return f"({key.built_in_text})" if setting.source == "built-in" else "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)
    return repr(value)


def render(resolved: Resolved, scrubber: Scrubber) -> str:
    """The resolved settings, one a line with where each came from, through ``scrubber``: ``config show``."""
    width = max(len(name) for name in KEYS) + 2
    if resolved.file_shown is None:
        file = f"none (no ./{CONFIG_FILE}, no [{TOOL_TABLE}] in ./{PYPROJECT})"
    else:
        file = resolved.file_shown
    lines = [f"{'config':<{width}}{file}"]
    profile = f"{resolved.profile}  ({resolved.profile_source})" if resolved.profile else "none"
    lines.append(f"{'profile':<{width}}{profile}")
    lines.append(f"{'credentials':<{width}}{resolved.credentials.describe()}  (environment only)")
    for name, setting in resolved.items():
        lines.append(f"{name:<{width}}{_display(KEYS[name], setting)}  ({setting.source})")
    return "".join(scrubber.text(line) + "\n" for line in lines)
