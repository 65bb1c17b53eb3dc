"""Accepted drift: a file of findings a team knows about and has chosen to live with.

A finding is matched by its fingerprint (check, category, location, and the detail that
tells two deviations at one location apart), never by its message or request, so the same
deviation is recognised run after run. Accepted findings are still
reported but do not fail the run; entries no longer seen are reported as resolved.

    {"version": 1, "accepted": [{"fingerprint": "…", "check": "…", "category": "…",
                                 "location": "…", "detail": "…", "title": "…",
                                 "reason": "why we accept it"}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dcs_contract.errors import ConfigError
from dcs_contract.report import Finding, RunReport, fingerprint_of

__all__ = ["Baseline", "BaselineEntry", "Judgement"]

_VERSION = 1
_FIELDS = ("fingerprint", "check", "category", "location")


@dataclass(frozen=True)
class BaselineEntry:
    fingerprint: str
    check: str
    category: str
    location: str
    detail: str = ""
    title: str = ""
    reason: str = ""

    @classmethod
    def of(cls, finding: Finding, reason: str = "") -> BaselineEntry:
        return cls(
            finding.fingerprint,
            finding.check,
            finding.category,
            finding.location,
            finding.detail,
            finding.title,
            reason,
        )


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
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls(path)
            raise ConfigError(f"--baseline={str(path)!r} does not exist (--baseline-update creates it)") from None
        except OSError as exc:
            raise ConfigError(f"--baseline={str(path)!r} cannot be read: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--baseline={str(path)!r} is not JSON: {exc}") from exc
        return cls(path, _entries(path, data))

    def judge(self, findings: Iterable[Finding]) -> Judgement:
        new: list[Finding] = []
        accepted: list[Finding] = []
        seen: set[str] = set()
        for finding in findings:
            seen.add(finding.fingerprint)
            (accepted if finding.fingerprint in self.entries else new).append(finding)
        resolved = [entry for key, entry in self.entries.items() if key not in seen]
        return Judgement(new=new, accepted=accepted, resolved=resolved)

    def apply(self, report: RunReport) -> RunReport:
        """``report`` with its accepted findings set apart; they no longer decide the verdict."""
        judgement = self.judge(report.findings)
        return replace(
            report,
            findings=judgement.new,
            accepted=judgement.accepted,
            resolved=[asdict(entry) for entry in judgement.resolved],
            baseline=str(self.path),
        )

    def updated(self, findings: Iterable[Finding]) -> Baseline:
        """A baseline of exactly ``findings``; the reason written for an entry that stays is kept."""
        entries = {}
        for finding in findings:
            kept = self.entries.get(finding.fingerprint)
            entries[finding.fingerprint] = BaselineEntry.of(finding, kept.reason if kept else "")
        return Baseline(self.path, entries)

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": _VERSION, "accepted": [asdict(entry) for entry in self.entries.values()]}
        self.path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return self.path


def _entries(path: Path, data: Any) -> dict[str, BaselineEntry]:
    where = f"--baseline={str(path)!r}"
    if not isinstance(data, dict) or not isinstance(data.get("accepted"), list):
        raise ConfigError(f'{where} must be an object with an "accepted" list, as --baseline-update writes it')
    if data.get("version") != _VERSION:
        raise ConfigError(f"{where} has version={data.get('version')!r}, but this harness reads version {_VERSION}")
    entries: dict[str, BaselineEntry] = {}
    for index, item in enumerate(data["accepted"]):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: accepted[{index}]={item!r}, but each entry must be an object")
        missing = [name for name in _FIELDS if not isinstance(item.get(name), str) or not item[name]]
        if missing:
            raise ConfigError(f"{where}: accepted[{index}] lacks {', '.join(missing)}")
        entry = BaselineEntry(**{name: str(item.get(name, "")) for name in (*_FIELDS, "detail", "title", "reason")})
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
