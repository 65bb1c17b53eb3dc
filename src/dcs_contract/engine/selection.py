"""``--checks`` and ``--exclude-checks``: which checks and invariants a run reports, by name, as ``st run`` has it.

The names are the registries': the checks of one answer (``judge.ANSWER_CHECKS``: the
response checks and the wire rules, with the body cap's), the spec's invariants
(``x-invariants``) and the latency SLO's checks. A name that is none of them is a usage
error that lists them all::

    selection = CheckSelection.of(spec, checks="not_a_server_error,page-size", exclude=None)
    selection.selects("page-size")      # True
    selection.excluded()                # every known name it leaves out

A run whose selection leaves a check out does not report its findings, and its coverage says
the check was not selected, rather than that it found nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcs_contract.contract import checks
from dcs_contract.contract.findings import MORE_FINDINGS
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.judge import ANSWER_CHECKS
from dcs_contract.engine.latency import LATENCY_CHECKS
from dcs_contract.errors import ConfigError

__all__ = ["NOT_SELECTED", "CheckSelection", "known_names"]

# What the coverage says of a check the selection leaves out.
NOT_SELECTED = "not selected (--checks, --exclude-checks)"


def known_names(spec: Spec) -> tuple[str, ...]:
    """Every check and invariant a run can report, by the name its findings carry."""
    return tuple(dict.fromkeys((*ANSWER_CHECKS, checks.BODY_WITHIN_CAP, *spec.invariants, *LATENCY_CHECKS)))


def _names(text: str | None, flag: str, known: tuple[str, ...]) -> frozenset[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ConfigError(f"{flag}={text!r} names no check; known: {', '.join(known)}", setting=flag)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"{flag}={text!r}: {', '.join(map(repr, unknown))} is no check or invariant; known: {', '.join(known)}",
            setting=flag,
        )
    return frozenset(names)


@dataclass(frozen=True)
class CheckSelection:
    """The checks and invariants a run reports: ``only`` (None: all), minus ``exclude``."""

    known: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spec: Spec, *, checks: str | None = None, exclude: str | None = None) -> CheckSelection:
        """The selection of comma-separated names; a ConfigError (exit 2) lists the known ones for an unknown one."""
        known = known_names(spec)
        return cls(known, _names(checks, "--checks", known), _names(exclude, "--exclude-checks", known) or frozenset())

    def selects(self, name: str) -> bool:
        # A count of findings past the log's limit stands for findings already selected.
        if name == MORE_FINDINGS or name not in self.known:
            return name not in self.exclude
        return (self.only is None or name in self.only) and name not in self.exclude

    def excluded(self) -> tuple[str, ...]:
        """The known names this selection leaves out."""
        return tuple(name for name in self.known if not self.selects(name))
