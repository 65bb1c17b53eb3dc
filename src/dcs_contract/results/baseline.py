"""Accepted drift: a file of findings a team knows about and has chosen to live with.

A finding is matched by its fingerprint (check, category, location, and the detail that
tells two deviations at one location apart), never by its message or request, so the same
deviation is recognised run after run. Accepted findings are still
reported but do not fail the run; entries no longer seen are reported as resolved.

The file is one teams commit, so it is written through the run's :class:`Scrubber`, and a
finding is matched by the fingerprint of its *scrubbed* fields: a location built from a
response's own keys may hold a credential, and what is written must match what is read back.

    {"version": 1, "accepted": [{"fingerprint": "…", "check": "…", "category": "…",
                                 "location": "…", "detail": "…", "title": "…",
                                 "reason": "why we accept it"}]}
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from secrets import token_hex
from typing import Any

from dcs_contract.contract.findings import BaselineEntry, Finding, fingerprint_of
from dcs_contract.contract.formats import printable, read_json_file
from dcs_contract.errors import ConfigError
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RunReport

__all__ = ["Baseline", "BaselineEntry", "Judgement"]

_VERSION = 1
_FIELDS = ("fingerprint", "check", "category", "location")
_OPTIONAL = ("detail", "title", "reason")
# What an error message shows of a value read from the file.
_SHOWN = 80


def _key(finding: Finding, scrubber: Scrubber) -> str:
    """The fingerprint a finding has in a baseline file: that of its scrubbed fields."""
    return BaselineEntry.of(finding, scrubber).fingerprint


@dataclass(frozen=True)
class Judgement:
    """A run's findings seen through a baseline."""

    new: list[Finding]
    accepted: list[Finding]
    resolved: list[BaselineEntry]


@dataclass
class Baseline:
    path: Path
    entries: dict[str, BaselineEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> Baseline:
        """Read ``path``; a missing file is an empty baseline only when ``missing_ok``."""
        where = f"--baseline={str(path)!r}"
        try:
            data = read_json_file(path, where, what="a baseline file")
        except FileNotFoundError:
            if missing_ok:
                return cls(path)
            raise ConfigError(f"{where} does not exist (--baseline-update creates it)") from None
        return cls(path, _entries(where, data))

    def accepts(self, finding: Finding, *, scrubber: Scrubber) -> bool:
        """Whether this baseline accepts ``finding``: ``--fail-fast`` does not stop at an accepted one."""
        return _key(finding, scrubber) in self.entries

    def judge(self, findings: Iterable[Finding], *, scrubber: Scrubber) -> Judgement:
        new: list[Finding] = []
        accepted: list[Finding] = []
        seen: set[str] = set()
        for finding in findings:
            key = _key(finding, scrubber)
            seen.add(key)
            (accepted if key in self.entries else new).append(finding)
        resolved = [entry for key, entry in self.entries.items() if key not in seen]
        return Judgement(new=new, accepted=accepted, resolved=resolved)

    def apply(self, report: RunReport, *, scrubber: Scrubber) -> RunReport:
        """``report`` with its accepted findings set apart; they no longer decide the verdict."""
        judgement = self.judge(report.findings, scrubber=scrubber)
        return replace(
            report,
            findings=judgement.new,
            accepted=judgement.accepted,
            resolved=judgement.resolved,
            baseline=str(self.path),
        )

    def updated(self, findings: Iterable[Finding], *, scrubber: Scrubber) -> Baseline:
        """A baseline of exactly ``findings``; the reason written for an entry that stays is kept."""
        entries = {}
        for finding in findings:
            key = _key(finding, scrubber)
            kept = self.entries.get(key)
            entries[key] = BaselineEntry.of(finding, scrubber, kept.reason if kept else "")
        return Baseline(self.path, entries)

    def write(self, *, scrubber: Scrubber) -> Path:
        """Write the file through ``scrubber``: each entry, then the text as a whole (its escaped forms).

        The file is replaced whole or not at all: a full disk or a failure half-way must not
        leave the team's committed file empty or cut.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = [entry.scrubbed(scrubber).as_dict() for entry in self.entries.values()]
        document = {"version": _VERSION, "accepted": entries}
        data = scrubber.json_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", indent=2).encode("utf-8")
        target = self.path.resolve()  # a symlinked baseline stays a symlink
        temporary = target.with_name(f".{target.name}.{token_hex(4)}.tmp")
        try:
            # 0o666 less the umask, as a plain write would create it; copymode below for a file that exists.
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except PermissionError:
            # A writable file in a folder we may not create files in (the check before the run
            # allows it): only an in-place write is possible there.
            self.path.write_bytes(data)
            return self.path
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            if target.exists():
                shutil.copymode(target, temporary)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.path


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _entries(where: str, data: Any) -> dict[str, BaselineEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("accepted"), list):
        raise ConfigError(f'{where} must be an object with an "accepted" list, as --baseline-update writes it')
    version = data.get("version")
    # True == 1 in Python: a boolean is not a version.
    if isinstance(version, bool) or version != _VERSION:
        raise ConfigError(f"{where} has version={_shown(version)}, but this harness reads version {_VERSION}")
    entries: dict[str, BaselineEntry] = {}
    for index, item in enumerate(data["accepted"]):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: accepted[{index}]={_shown(item)}, but each entry must be an object")
        missing = [name for name in _FIELDS if not isinstance(item.get(name), str) or not item[name]]
        if missing:
            raise ConfigError(f"{where}: accepted[{index}] lacks {', '.join(missing)} (each a non-empty string)")
        for name in _OPTIONAL:
            if not isinstance(item.get(name, ""), str):
                raise ConfigError(f"{where}: accepted[{index}].{name}={_shown(item[name])}, but it must be a string")
        # JSON's "\ud800" reads as a lone surrogate, which UTF-8 cannot carry: no finding's text
        # holds one (the report writes it as an escape), and a fingerprint of one cannot be taken.
        unwritable = [name for name, value in item.items() if isinstance(value, str) and printable(value) != value]
        if unwritable:
            raise ConfigError(
                f"{where}: accepted[{index}].{unwritable[0]} holds a lone surrogate (JSON's \\ud800 to \\udfff), "
                "which no finding's text does"
            )
        entry = BaselineEntry.from_dict(item)
        computed = fingerprint_of(entry.check, entry.category, entry.location, entry.detail)
        if computed != entry.fingerprint:
            # A hand-edited check/category/location/detail no longer matches its fingerprint: say so rather
            # than silently accept a different finding than the one the team meant.
            raise ConfigError(
                f"{where}: accepted[{index}] has fingerprint={entry.fingerprint!r}, but its check, category "
                f"and location give {computed!r}"
            )
        entries[entry.fingerprint] = entry
    return entries
