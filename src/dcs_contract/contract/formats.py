"""How the harness reads what a target sends: the spec's ``dcs-timestamp``, record times, and JSON.

``dcs-timestamp`` is the spec's custom string format, a UTC time as ``yyyyMMddHHmmss``. The
spec's pattern holds the shape and field ranges; this module adds what a regular expression
cannot: calendar validity (20230231000000 is not a time). The mock validates with
:func:`is_dcs_timestamp`, the strategies generate values that pass it, and the semantic
checks compare record times with :func:`parse_record_time`.

Everything else here reads values from a target, which may send anything: JSON nested
100,000 deep, numbers as strings, a time without a zone. These functions never raise on
such input: they say the value is not readable, and the caller leaves it out. A JSON file a
user gives (a baseline, a report) is read by :func:`read_json_file`, whose errors are
configuration errors instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from dcs_contract.errors import ConfigError

__all__ = [
    "FORMAT_NAME",
    "JsonBody",
    "dcs_timestamp_format",
    "format_dcs_timestamp",
    "is_dcs_timestamp",
    "json_text",
    "json_type",
    "json_types",
    "parse_dcs_timestamp",
    "parse_record_time",
    "printable",
    "read_json",
    "read_json_file",
    "record_time_form",
]

FORMAT_NAME = "dcs-timestamp"
_LAYOUT = "%Y%m%d%H%M%S"


def parse_dcs_timestamp(value: str) -> datetime:
    """``"20170718235959"`` -> an aware UTC datetime. Raises ValueError for anything else."""
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        raise ValueError(f"{value!r} is not yyyyMMddHHmmss")
    # Fixed-width ASCII digits, so slicing reads what strptime(_LAYOUT) reads, and datetime()
    # refuses the same impossible dates (31 February, hour 24, year 0); a quarter of the time,
    # on a path every generated, mocked and judged time goes through.
    fields = (value[0:4], value[4:6], value[6:8], value[8:10], value[10:12], value[12:14])
    year, month, day, hour, minute, second = (int(field) for field in fields)
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def is_dcs_timestamp(value: object) -> bool:
    """True only for a string that is a real calendar time as ``yyyyMMddHHmmss``."""
    if not isinstance(value, str):
        return False
    try:
        parse_dcs_timestamp(value)
    except ValueError:
        return False
    return True


def dcs_timestamp_format(value: object) -> bool:
    """The format as a JSON Schema format checker applies it: only strings are constrained.

    JSON Schema leaves other types to the ``type`` keyword, so a non-string passes here;
    anywhere else, :func:`is_dcs_timestamp` is the predicate.
    """
    return not isinstance(value, str) or is_dcs_timestamp(value)


def format_dcs_timestamp(moment: datetime) -> str:
    """An aware datetime -> ``yyyyMMddHHmmss`` in UTC."""
    return moment.astimezone(UTC).strftime(_LAYOUT)


def parse_record_time(value: object) -> datetime:
    """A record time such as ``2019-05-10T08:31:16.166Z`` -> an aware UTC datetime.

    A time with an offset is the instant it names. A time without a zone
    (``2026-11-19 00:49:22``, as the Terraform provider's docs show) names no instant: it
    is a ValueError, as is anything that is not an ISO 8601 time.
    """
    if not isinstance(value, str):
        raise ValueError(f"a record time is a string, not {json_type(value)}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 at +01:00, year 9999 at -01:00
        raise ValueError(f"{value!r} is outside the years a datetime holds") from exc


# A time in an ISO 8601 family of forms, each part kept to say how it differs from the
# contract's 2019-05-10T08:31:16.166Z. ASCII digits only: "\d" would take any script's.
_ISO_LIKE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:(?P<sep>[Tt ])(?P<clock>[0-9]{2}:[0-9]{2})(?P<seconds>:[0-9]{2})?(?P<fraction>\.[0-9]+)?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_CONTRACT_FORM = "YYYY-MM-DDThh:mm:ss.sssZ"
_MILLISECONDS = 3


def record_time_form(value: object) -> str:
    """How a record time that fails the contract's form is written, for a finding to say.

    >>> record_time_form("2026-11-19 00:49:22")
    'looks like `YYYY-MM-DD hh:mm:ss` without a zone: a space instead of T, no milliseconds'
    >>> record_time_form("2024-01-01T08:00:00.000+08:00")
    'looks like `YYYY-MM-DDThh:mm:ss.sss+hh:mm`: carries offset +08:00 instead of Z'

    Never raises, whatever the value.
    """
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a string"
    if not value:
        return "is empty"
    if value.isascii() and value.isdigit():
        return {
            14: "looks like `yyyyMMddHHmmss`, the query's form, without a zone",
            13: "looks like epoch milliseconds, not a calendar time",
            10: "looks like epoch seconds, not a calendar time",
        }.get(len(value), "is a number written as a string, not a time")
    match = _ISO_LIKE.fullmatch(value)
    if match is None:
        return "is in no time form the harness recognises"
    return _iso_form(value, match)


def _iso_form(value: str, match: re.Match[str]) -> str:
    sep, clock, seconds, fraction, zone = match.group("sep", "clock", "seconds", "fraction", "zone")
    if clock is None:
        return "looks like a date, `YYYY-MM-DD`, without a time"
    digits = len(fraction) - 1 if fraction else 0
    form = "YYYY-MM-DD" + sep + "hh:mm" + (":ss" if seconds else "") + ("." + "s" * digits if fraction else "")
    differences = []
    if zone in ("Z", "z"):
        form += zone
        if zone == "z":
            differences.append("a lower-case z instead of Z")
    elif zone:
        form += zone[0] + ("hh:mm" if ":" in zone else "hhmm" if len(zone) == 5 else "hh")
        differences.append(f"carries offset {zone} instead of Z")
    if sep != "T":
        differences.append("a space instead of T" if sep == " " else "a lower-case t instead of T")
    if not seconds:
        differences.append("no seconds")
    if not fraction:
        differences.append("no milliseconds")
    elif digits != _MILLISECONDS:
        differences.append(f"{digits} fractional digits instead of {_MILLISECONDS}")
    if form == _CONTRACT_FORM:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"has the contract's form `{form}`, but is not a real calendar time"
        return f"has the contract's form `{form}`"
    head = f"looks like `{form}`" + ("" if zone else " without a zone")
    return head + (": " + ", ".join(differences) if differences else "")


# -- JSON from the target --------------------------------------------------------------


@dataclass(frozen=True)
class JsonBody:
    """A response body read as JSON: its ``value``, or why it could not be read (``error``)."""

    value: Any = None
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.error is None


# Each response is parsed once, however many checks and invariants read it: kept with the
# response itself, not in a weak mapping whose callbacks would run (and swallow a signal's
# exception) whenever a response is collected.
_READ = "dcs_contract.json"


def read_json(response: httpx.Response) -> JsonBody:
    """The body as JSON; never raises, whatever the body (not JSON, not UTF-8, nested too deep)."""
    known = response.extensions.get(_READ)
    if isinstance(known, JsonBody):
        return known
    try:
        read = JsonBody(value=json.loads(response.content))
    except httpx.ResponseNotRead:
        read = JsonBody(error="the body was not read")
    except RecursionError:
        read = JsonBody(error="JSON nested too deep to read")
    except ValueError as exc:  # not JSON, not UTF-8, or an integer of more digits than Python converts
        read = JsonBody(error=f"not JSON: {exc}")
    response.extensions[_READ] = read
    return read


def json_types(value: Any) -> frozenset[str]:
    """The JSON Schema types ``value`` satisfies: an integer is a number, and 2.0 is an integer."""
    if value is None:
        return frozenset({"null"})
    if isinstance(value, bool):
        return frozenset({"boolean"})
    if isinstance(value, int):
        return frozenset({"integer", "number"})
    if isinstance(value, float):
        return frozenset({"integer", "number"}) if value.is_integer() else frozenset({"number"})
    if isinstance(value, str):
        return frozenset({"string"})
    if isinstance(value, list):
        return frozenset({"array"})
    if isinstance(value, dict):
        return frozenset({"object"})
    return frozenset()


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, as a reader would name it: ``integer`` for 5, ``number`` for 5.5."""
    if isinstance(value, float):
        return "number"
    types = json_types(value)
    return "integer" if "integer" in types else next(iter(types), type(value).__name__)


def printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: JSON's lone surrogates (``"\\ud800"``) become escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def json_text(value: Any) -> str:
    """A parsed value as compact JSON, keys sorted so that one value has one text; never raises."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except RecursionError:
        return f"({json_type(value)} nested too deep to show)"
    except (TypeError, ValueError):  # not a parsed JSON value: nothing a target sent
        return f"({type(value).__name__})"
    return printable(text)


def read_json_file(path: Path, where: str, *, what: str) -> Any:
    """The JSON document in the file at ``path``, or a ConfigError that starts with ``where``.

    ``where`` names the setting and its value (``--baseline='b.json'``), ``what`` the kind of
    file expected (``a baseline file``). A missing file is left to the caller, as
    FileNotFoundError: what it means depends on the file.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror or exc}") from None
    return json_document(raw, where, what=what)


def json_document(raw: bytes, where: str, *, what: str) -> Any:
    """The JSON document in ``raw``, a file's bytes, or a ConfigError that starts with ``where``.

    A UTF-8 byte order mark is no part of JSON, but some exporters (of HAR files) write one:
    it is skipped.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(f"{where} nests too deeply to be {what}") from None
    except ValueError as exc:  # not JSON (cut short?), or an integer of more digits than Python converts
        raise ConfigError(f"{where} is not JSON (cut short or corrupted?): {exc}") from None
