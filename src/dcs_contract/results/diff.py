"""What changed between two contract runs: findings, observed values, and the contract itself.

``dcs-contract diff OLD NEW`` answers a team reading last night's run: what is new, what went
away, and whether the contract they were judged by moved under them::

    from dcs_contract.results.diff import ReportDiff, render_text
    from dcs_contract.results.schema import read_report

    diff = ReportDiff.between(read_report(old_path), read_report(new_path))
    print(render_text(diff))
    exit_code = 1 if diff.something_new else 0

**Findings** are matched by :attr:`Finding.fingerprint`. A finding is *present* in a report
when it is one of its ``findings`` or one of its ``accepted`` (a baseline accepts it): a
finding a baseline accepts is still drift the target shows, so it is not "resolved" because a
baseline took it in, nor "new" because a baseline let it go. Each listed finding says whether
it is ``accepted`` in the report it is shown from (the new one for new and persisting
findings, the old one for resolved ones). A new finding that the new report accepts is listed,
but does not make :attr:`ReportDiff.something_new` true: someone already decided about it.

**Observed values** (``report.observed``: the status codes, each enum field's values, the
error codes) are compared by presence, per kind; counts are ignored, and the placeholder
``(other values)`` is a value like any other.

**The spec**: when the two reports' specs differ, :class:`~dcs_contract.results.spec_diff.SpecDiff`
compares them (``results/spec_diff.py``, which holds the rules of what is breaking).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dcs_contract.contract.findings import Finding, fingerprint_of
from dcs_contract.contract.formats import printable
from dcs_contract.results.markdown import Markdown, bullet, escape, heading
from dcs_contract.results.markdown import code as code_span
from dcs_contract.results.observed import HTTP_STATUS, Observations
from dcs_contract.results.report import RunReport
from dcs_contract.results.spec_diff import (
    NAME_CHARS,
    RULES,
    TITLE_CHARS,
    VALUE_CHARS,
    Impact,
    Rule,
    SpecChange,
    SpecDiff,
    clean_text,
)

__all__ = [
    "RULES",
    "FindingRef",
    "Impact",
    "ObservedValue",
    "ReportDiff",
    "Rule",
    "SpecChange",
    "SpecDiff",
    "as_dict",
    "render_markdown",
    "render_text",
]


@dataclass(frozen=True, kw_only=True)
class FindingRef:
    """A finding as a diff lists it: its key, and its texts made printable and bounded."""

    fingerprint: str
    check: str
    category: str
    title: str
    location: str
    detail: str
    consumers: tuple[str, ...]
    accepted: bool

    @classmethod
    def of(cls, finding: Finding, *, accepted: bool) -> FindingRef:
        return cls(
            fingerprint=_fingerprint(finding),
            check=clean_text(finding.check, NAME_CHARS),
            category=clean_text(finding.category, NAME_CHARS),
            title=clean_text(finding.title, TITLE_CHARS),
            location=clean_text(finding.location, VALUE_CHARS),
            detail=clean_text(finding.detail, VALUE_CHARS),
            consumers=tuple(clean_text(name, NAME_CHARS) for name in dict.fromkeys(_consumer_names(finding))),
            accepted=accepted,
        )


@dataclass(frozen=True)
class ObservedValue:
    """A value of one kind of ``report.observed`` (``http_status``, ``status``, ``error_code``...)."""

    kind: str
    value: str


@dataclass(frozen=True, kw_only=True)
class ReportDiff:
    """What changed from one run report to the next; :meth:`between` builds it."""

    new: tuple[FindingRef, ...] = ()
    resolved: tuple[FindingRef, ...] = ()
    persisting: tuple[FindingRef, ...] = ()
    appeared: tuple[ObservedValue, ...] = ()
    disappeared: tuple[ObservedValue, ...] = ()
    old_started: str = ""
    new_started: str = ""
    old_spec_sha256: str | None = None
    new_spec_sha256: str | None = None
    spec_note: str | None = None
    spec_diff: SpecDiff | None = None

    @classmethod
    def between(cls, old: RunReport, new: RunReport) -> ReportDiff:
        before, after = _present(old), _present(new)
        old_sha = old.spec.sha256 if old.spec is not None else None
        new_sha = new.spec.sha256 if new.spec is not None else None
        note, spec_diff = _spec_comparison(old, new)
        appeared, disappeared = _observed_changes(old.observed, new.observed)
        return cls(
            new=_refs(after[key] for key in after if key not in before),
            resolved=_refs(before[key] for key in before if key not in after),
            persisting=_refs(after[key] for key in after if key in before),
            appeared=appeared,
            disappeared=disappeared,
            old_started=clean_text(old.started, NAME_CHARS),
            new_started=clean_text(new.started, NAME_CHARS),
            old_spec_sha256=old_sha,
            new_spec_sha256=new_sha,
            spec_note=note,
            spec_diff=spec_diff,
        )

    @property
    def spec_changed(self) -> bool:
        """Both reports carry a spec, and they differ."""
        return None not in (self.old_spec_sha256, self.new_spec_sha256) and self.old_spec_sha256 != self.new_spec_sha256

    @property
    def something_new(self) -> bool:
        """A new finding no baseline accepts, an observed value that appeared, or a breaking spec change."""
        return (
            any(not ref.accepted for ref in self.new)
            or bool(self.appeared)
            or (self.spec_diff is not None and bool(self.spec_diff.breaking))
        )


# Persisting findings are listed when there are at most this many; otherwise counted.
_FEW = 5


def _consumer_names(finding: Finding) -> tuple[str, ...]:
    return finding.consumer_names


def _fingerprint(finding: Finding) -> str:
    """:attr:`Finding.fingerprint`; for a finding read from a hand-made report.json with a lone surrogate
    (``"\\ud800"``), which no run writes, that of its fields made printable, rather than an error."""
    try:
        return finding.fingerprint
    except UnicodeEncodeError:
        parts = (finding.check, finding.category, finding.location, finding.detail)
        return fingerprint_of(*(printable(part) for part in parts))


def _present(report: RunReport) -> dict[str, tuple[Finding, bool]]:
    """The report's findings by fingerprint, each with whether a baseline accepts it."""
    present = {_fingerprint(finding): (finding, True) for finding in report.accepted}
    # A finding both reported and accepted (no writer makes one) counts as not accepted.
    present |= {_fingerprint(finding): (finding, False) for finding in report.findings}
    return present


def _refs(pairs: Iterable[tuple[Finding, bool]]) -> tuple[FindingRef, ...]:
    refs = [FindingRef.of(finding, accepted=accepted) for finding, accepted in pairs]
    return tuple(sorted(refs, key=lambda r: (r.category, r.location, r.check, r.detail, r.fingerprint)))


def _observed_changes(
    old: Observations, new: Observations
) -> tuple[tuple[ObservedValue, ...], tuple[ObservedValue, ...]]:
    """(values that appeared, values that disappeared), per kind, by presence."""
    # Record fields are counted since issue 22: against a report written before, every field
    # would "appear" and fail the diff for nothing.
    if old.record_fields is None:
        new = replace(new, record_fields=None)
    before_kinds, after_kinds = dict(old.kinds()), dict(new.kinds())

    def values(kinds: Mapping[str, Mapping[str, int]], kind: str) -> set[str]:
        return set(kinds.get(kind, {}))

    kinds = sorted({*before_kinds, *after_kinds}, key=lambda kind: (kind != HTTP_STATUS, kind))  # status codes first
    appeared: list[ObservedValue] = []
    disappeared: list[ObservedValue] = []
    for kind in kinds:
        before, after = values(before_kinds, kind), values(after_kinds, kind)
        shown = clean_text(kind, NAME_CHARS)
        appeared += [ObservedValue(shown, clean_text(v, VALUE_CHARS)) for v in sorted(after - before, key=_value_order)]
        disappeared += [
            ObservedValue(shown, clean_text(v, VALUE_CHARS)) for v in sorted(before - after, key=_value_order)
        ]
    return tuple(appeared), tuple(disappeared)


def _value_order(value: str) -> tuple[int, int, str]:
    """Status codes as numbers, then every other value as text."""
    return (0, int(value), "") if value.isdigit() and len(value) < 10 else (1, 0, value)


def _spec_comparison(old: RunReport, new: RunReport) -> tuple[str | None, SpecDiff | None]:
    """(a note on why the specs were not compared, the diff when they were)."""
    missing = [side for side, report in (("old", old), ("new", new)) if report.spec is None]
    if len(missing) == 2:
        return "neither report carries its spec: the contracts were not compared", None
    if missing:
        return f"the {missing[0]} report carries no spec: the contracts were not compared", None
    assert old.spec is not None and new.spec is not None
    if old.spec.sha256 == new.spec.sha256:
        return None, None
    empty = [side for side, report in (("old", old), ("new", new)) if not report.spec or not report.spec.document]
    if empty:
        carry = "the old and new reports carry" if len(empty) == 2 else f"the {empty[0]} report carries"
        return f"{carry} the spec's hash but not its document: the contracts were not compared", None
    return None, SpecDiff.between(old.spec.document, new.spec.document)


def _first(names: Sequence[str], limit: int = 4) -> str:
    """Names for one terminal line: the first few, and how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _summary(diff: ReportDiff) -> str:
    spec = diff.spec_diff
    if spec is not None:
        spec_text = f"spec: {len(spec.changes)} change{'s' * (len(spec.changes) != 1)}, {len(spec.breaking)} breaking"
    elif diff.spec_note:
        spec_text = "spec: not compared"
    else:
        spec_text = "spec: unchanged"
    return (
        f"{len(diff.new)} new, {len(diff.resolved)} resolved, {len(diff.persisting)} persisting; "
        f"{len(diff.appeared)} observed value{'s' * (len(diff.appeared) != 1)} appeared, "
        f"{len(diff.disappeared)} disappeared; {spec_text}"
    )


def _grouped(values: Sequence[ObservedValue]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for item in values:
        groups.setdefault(item.kind, []).append(item.value)
    return groups


def _spec_line(diff: ReportDiff) -> str:
    old, new = (sha[:12] if sha else "none" for sha in (diff.old_spec_sha256, diff.new_spec_sha256))
    return f"spec {old}" if old == new else f"spec {old} -> {new}"


def render_text(diff: ReportDiff) -> str:
    """The diff for a terminal: a verdict line, then each section, short and scannable."""
    verdict = "something new" if diff.something_new else "nothing new"
    lines = [f"dcs-contract diff: {verdict}", f"  {_summary(diff)}"]
    lines.append(f"  old run {diff.old_started or '?'}, new run {diff.new_started or '?'}; {_spec_line(diff)}")

    def finding_lines(refs: Sequence[FindingRef], *, breaks: bool) -> list[str]:
        out = []
        for ref in refs:
            detail = f" {ref.detail}" if ref.detail else ""
            accepted = "  (accepted)" if ref.accepted else ""
            out.append(f"  [{ref.category}] {ref.title}: {ref.location}{detail}  {ref.fingerprint}{accepted}")
            if breaks and ref.consumers:
                out.append(f"      breaks: {_first(ref.consumers)}")
        return out

    lines += ["", f"New findings ({len(diff.new)})", *finding_lines(diff.new, breaks=True)]
    lines += ["", f"Resolved ({len(diff.resolved)})", *finding_lines(diff.resolved, breaks=False)]
    lines += ["", f"Persisting ({len(diff.persisting)})"]
    if len(diff.persisting) <= _FEW:
        lines += finding_lines(diff.persisting, breaks=False)
    for title, values in (("appeared", diff.appeared), ("disappeared", diff.disappeared)):
        lines += ["", f"Observed: {title} ({len(values)})"]
        lines += [f"  {kind}: {', '.join(shown)}" for kind, shown in _grouped(values).items()]
    lines += ["", "Spec changes (breaking first)"]
    if diff.spec_note:
        lines.append(f"  {diff.spec_note}")
    elif diff.spec_diff is None:
        lines.append("  none: both runs used the same spec")
    elif not diff.spec_diff.changes:
        lines.append("  none in what the diff compares (the spec's text changed: descriptions, examples, sources)")
    else:
        for change in diff.spec_diff.changes:
            mark = "BREAKING" if change.breaking else ("?" if change.kind == "not-compared" else "ok")
            lines.append(f"  {mark:<8} {change.location}: {change.detail}")
            if change.breaking:
                lines.append(f"           {change.reason}; breaks {_first([i.consumer for i in change.consumers])}")
    return "\n".join(lines) + "\n"


def render_markdown(diff: ReportDiff, *, level: int = 1) -> str:
    """The diff as Markdown, for a CI summary or a pull request comment.

    ``level``: its title's heading level, its sections' one below: the job summary nests it
    under a heading of its own.
    """
    verdict = "something new" if diff.something_new else "nothing new"
    lines = [heading(level, Markdown(f"dcs-contract diff: {verdict}")), "", escape(_summary(diff)), ""]
    old, new = escape(diff.old_started or "?"), escape(diff.new_started or "?")
    lines.append(bullet(Markdown(f"old run: {old}, new run: {new}")))
    lines.append(bullet(_spec_line(diff)))

    def finding_lines(refs: Sequence[FindingRef], *, breaks: bool) -> list[str]:
        out = []
        for ref in refs:
            detail = f" {code_span(ref.detail)}" if ref.detail else ""
            accepted = " (accepted by the baseline)" if ref.accepted else ""
            out.append(
                bullet(
                    Markdown(
                        f"**{escape(ref.category)}** {escape(ref.title)}: {code_span(ref.location)}{detail}, "
                        f"fingerprint {code_span(ref.fingerprint)}{accepted}"
                    )
                )
            )
            if breaks and ref.consumers:
                out.append(bullet(f"breaks: {', '.join(ref.consumers)}", depth=1))
        return out

    for title, refs, breaks in (("New findings", diff.new, True), ("Resolved", diff.resolved, False)):
        lines += ["", heading(level + 1, Markdown(f"{title} ({len(refs)})")), ""]
        lines += finding_lines(refs, breaks=breaks) or ["None."]
    lines += ["", heading(level + 1, Markdown(f"Persisting ({len(diff.persisting)})")), ""]
    if len(diff.persisting) <= _FEW:
        lines += finding_lines(diff.persisting, breaks=False) or ["None."]
    else:
        lines.append(f"{len(diff.persisting)} findings, in both reports.")
    for title, values in (("appeared", diff.appeared), ("disappeared", diff.disappeared)):
        lines += ["", heading(level + 1, Markdown(f"Observed: {title} ({len(values)})")), ""]
        groups = _grouped(values).items()
        shown = [bullet(Markdown(f"{code_span(kind)}: {', '.join(code_span(v) for v in vs)}")) for kind, vs in groups]
        lines += shown or ["None."]
    lines += ["", heading(level + 1, Markdown("Spec changes")), ""]
    if diff.spec_note:
        lines.append(escape(diff.spec_note))
    elif diff.spec_diff is None:
        lines.append("None: both runs used the same spec.")
    elif not diff.spec_diff.changes:
        lines.append("None in what the diff compares: the spec's text changed (descriptions, examples, sources).")
    else:
        for title, changes in (("Breaking", diff.spec_diff.breaking), ("Not breaking", diff.spec_diff.not_breaking)):
            lines += [heading(level + 2, Markdown(f"{title} ({len(changes)})")), ""]
            for change in changes:
                lines.append(
                    bullet(
                        Markdown(
                            f"{code_span(change.location)}: {escape(change.detail)} ({code_span(change.kind)}): "
                            f"{escape(change.reason)}"
                        )
                    )
                )
                for impact in change.consumers:
                    how = f": {escape(impact.how)}" if impact.how else ""
                    lines.append(bullet(Markdown(f"{escape(impact.consumer)}{how}"), depth=1))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _change_dict(change: SpecChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "location": change.location,
        "detail": change.detail,
        "breaking": change.breaking,
        "reason": change.reason,
        "before": change.before,
        "after": change.after,
        "consumers": [{"consumer": i.consumer, "how": i.how} for i in change.consumers],
    }


def _ref_dict(ref: FindingRef) -> dict[str, Any]:
    return {
        "fingerprint": ref.fingerprint,
        "check": ref.check,
        "category": ref.category,
        "title": ref.title,
        "location": ref.location,
        "detail": ref.detail,
        "consumers": list(ref.consumers),
        "accepted": ref.accepted,
    }


def as_dict(diff: ReportDiff) -> dict[str, Any]:
    """The diff as JSON: every key always present, lists in the diff's order."""
    spec = diff.spec_diff
    return {
        "something_new": diff.something_new,
        "old": {"started": diff.old_started, "spec_sha256": diff.old_spec_sha256},
        "new": {"started": diff.new_started, "spec_sha256": diff.new_spec_sha256},
        "findings": {
            "new": [_ref_dict(r) for r in diff.new],
            "resolved": [_ref_dict(r) for r in diff.resolved],
            "persisting": [_ref_dict(r) for r in diff.persisting],
        },
        "observed": {
            "appeared": {kind: values for kind, values in _grouped(diff.appeared).items()},
            "disappeared": {kind: values for kind, values in _grouped(diff.disappeared).items()},
        },
        "spec": {
            "changed": diff.spec_changed,
            "note": diff.spec_note,
            "compared": spec is not None,
            "breaking": len(spec.breaking) if spec is not None else 0,
            "changes": [_change_dict(c) for c in spec.changes] if spec is not None else [],
        },
    }
