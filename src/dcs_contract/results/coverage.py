"""What has never been observed: the documented values a run, or a target's whole history, has not shown.

The documented values are read from the spec (its statuses, each record field's enum, the
record's optional fields); the observed ones from ``report.observed``, or from the history's
union of them. What was never seen could not be judged, so this is never a finding: it says
which rules were never exercised on it, by the spec's own words (an invariant whose rule
names the value)::

    for gap in unseen(spec, report.observed):
        print(gap.sentence("on staging"))  # `failed` never seen: `error-code-iff-failed` has never ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcs_contract.contract.spec import Spec
from dcs_contract.results.markdown import Markdown, code, escape
from dcs_contract.results.observed import HTTP_STATUS, RECORD_FIELDS, Observations

__all__ = ["Unseen", "unseen", "unseen_in"]

# How each kind is named to a reader; a record field's enum is named after the field.
_NAMES = {HTTP_STATUS: "HTTP status", RECORD_FIELDS: "optional field", "status": "status", "error_code": "error code"}


@dataclass(frozen=True)
class Unseen:
    """One documented value never observed: its kind (a key of report.observed), the value, the rules that need it."""

    kind: str
    value: str
    invariants: tuple[str, ...]

    @property
    def what(self) -> str:
        return _NAMES.get(self.kind, f"{self.kind} value")

    def as_dict(self) -> dict[str, Any]:
        """As report.json's ``coverage`` lists it."""
        return {"kind": self.kind, "what": self.what, "value": self.value, "invariants": list(self.invariants)}

    def sentence(self, where: str) -> str:
        """In words, with the spec's names in backticks (a reader shows :attr:`what` beside it).

        ``where`` is "on <target>" or "in this run".
        """
        if not self.invariants:
            return f"`{self.value}` never seen {where}."
        ids = ", ".join(f"`{name}`" for name in self.invariants)
        verb = "has" if len(self.invariants) == 1 else "have"
        return f"`{self.value}` never seen: {ids} {verb} never been exercised {where}."

    def markdown(self, where: str) -> Markdown:
        """:meth:`sentence` through the one escaper: every name a code span, every word escaped."""
        head = Markdown(f"{code(self.value)} never seen")
        if not self.invariants:
            return Markdown(f"{head} {escape(where)}.")
        ids = ", ".join(code(name) for name in self.invariants)
        verb = "has" if len(self.invariants) == 1 else "have"
        return Markdown(f"{head}: {ids} {verb} never been exercised {escape(where)}.")


def _documented(spec: Spec, observed: Observations) -> list[tuple[str, str, str, Mapping[str, int]]]:
    """(kind, the value as report.observed keys it, the value as shown, the kind's counts), in the spec's order.

    The optional fields are left out when ``observed`` does not hold them: older runs did not record them.
    """
    values: list[tuple[str, str, str, Mapping[str, int]]] = [
        (HTTP_STATUS, str(status), str(status), observed.http_status) for status in spec.status_codes
    ]
    for name, enum in spec.enum_fields.items():
        seen = observed.enum_values.get(name, {})
        values += [(name, _key(value), value if isinstance(value, str) else _key(value), seen) for value in enum]
    required = set(spec.component("BackupRecordResponse").get("required", []))
    if (fields := observed.record_fields) is not None:
        values += [(RECORD_FIELDS, name, name, fields) for name in spec.record_fields if name not in required]
    return values


def _key(value: Any) -> str:
    # As engine.run counts a value: compact JSON.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _rules(spec: Spec, kind: str, value: str) -> tuple[str, ...]:
    """The invariants whose rule names ``value``: in a code span, or a status as a number; a field by location too."""
    found = []
    for name, invariant in spec.invariants.items():
        rule, location = str(invariant.get("rule", "")), str(invariant.get("location", ""))
        if kind == HTTP_STATUS:
            named = re.search(rf"(?<![0-9]){re.escape(value)}(?![0-9])", rule) is not None
        else:
            named = f"`{value}`" in rule or (kind == RECORD_FIELDS and location.endswith(f"/{value}"))
        if named:
            found.append(name)
    return tuple(found)


def unseen(spec: Spec, observed: Observations) -> list[Unseen]:
    """Every documented value ``observed`` lacks, in the spec's order.

    The optional fields are left out when ``observed`` does not hold them at all (older runs
    did not record them); a status code or an enum never observed is unseen all the same.
    """
    gaps = []
    for kind, key, shown, seen in _documented(spec, observed):
        if seen.get(key):
            continue
        gaps.append(Unseen(kind, shown, _rules(spec, kind, shown)))
    return gaps


def unseen_in(document: object, observed: Observations) -> list[Unseen]:
    """:func:`unseen` by a spec document as a report or a history keeps it; none for one that is not a spec."""
    if not isinstance(document, dict):
        return []
    try:
        return unseen(Spec(document, Path("the report's spec")), observed)
    except (KeyError, TypeError, ValueError, AttributeError):  # a hand-edited spec: nothing to say
        return []
