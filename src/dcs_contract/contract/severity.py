"""How much a finding matters, and which findings fail a run (``--fail-on``).

A severity is read from what the contract already knows, never set by hand:

- ``breaking``: a known consumer breaks on it (the spec's ``x-consumers``, matched by
  :mod:`dcs_contract.contract.consumers`);
- ``contract``: it breaks the contract, and no known consumer relies on what it shows;
- ``info``: it is only observed (an answer slower than ``--degraded-response-time``).

    Severity.of_finding(info=False, breaks_consumer=True)   # Severity.BREAKING
    fails(findings, Severity.CONTRACT)                      # any at or above contract
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["DEFAULT_FAIL_ON", "SEVERITIES", "Severity", "failing"]


class Severity(enum.StrEnum):
    """A finding's severity; ordered, so that ``--fail-on contract`` also fails on ``breaking``."""

    BREAKING = "breaking"
    CONTRACT = "contract"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info 0, contract 1, breaking 2."""
        return _RANKS[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank

    @classmethod
    def of_finding(cls, *, info: bool, breaks_consumer: bool) -> Severity:
        """A consumer that breaks outranks everything; otherwise what the finding is."""
        if breaks_consumer:
            return cls.BREAKING
        return cls.INFO if info else cls.CONTRACT

    @classmethod
    def read(cls, value: object, default: Severity) -> Severity:
        """A severity as a report wrote it; ``default`` for one it lacks or that is not one (an older report)."""
        try:
            return cls(value) if isinstance(value, str) else default
        except ValueError:
            return default


_RANKS = {Severity.INFO: 0, Severity.CONTRACT: 1, Severity.BREAKING: 2}
# In the order --help and the docs list them: the worst first.
SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)
# Today's behaviour: every contract violation fails the run, what is only observed does not.
DEFAULT_FAIL_ON = Severity.CONTRACT


class _Graded(Protocol):
    @property
    def severity(self) -> Severity: ...


_G = TypeVar("_G", bound=_Graded)


def failing(findings: Iterable[_G], fail_on: Severity) -> list[_G]:
    """The findings that fail a run under ``--fail-on fail_on``."""
    return [finding for finding in findings if finding.severity.at_least(fail_on)]
