"""Latency: each answer's time to headers and to the last byte, per property, and the run's SLO.

The guard measures every answer on its clock (:class:`~dcs_contract.transport.guard.Timing`,
in the response's extensions); the run keeps them by property (:class:`LatencyLog`), and the
report gives p50, p95 and max of each::

    log = LatencyLog()
    log.add("schema", response)
    log.summary()   # {"schema": {"requests": 1, "headers": {"p50": ..}, "total": {"p50": ..}}}

An :class:`Slo` makes two tiers of them, as synthetic monitors do: an answer slower than
``--max-response-time`` is a ``latency`` finding that fails the run (severity contract); one
slower than ``--degraded-response-time`` is only observed (severity info), and makes the run
degraded, which is shown and does not fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from dcs_contract.contract.findings import Finding
from dcs_contract.contract.severity import Severity
from dcs_contract.transport.guard import TIMING, Timing

__all__ = [
    "LATENCY_CHECKS",
    "RESPONSE_TIME",
    "RESPONSE_TIME_DEGRADED",
    "LatencyLog",
    "Slo",
    "percentiles",
    "timing_of",
]

# The check names of the SLO's findings: --checks and --exclude-checks select them too.
RESPONSE_TIME = "response_time"
RESPONSE_TIME_DEGRADED = "response_time_degraded"
LATENCY_CHECKS = (RESPONSE_TIME, RESPONSE_TIME_DEGRADED)
# Where a latency finding points: no field of the body, the answer as a whole.
_LOCATION = "response time"


def timing_of(response: httpx.Response) -> Timing | None:
    """The timing the guard gave ``response``; None for one it did not send (a recording, a test's)."""
    timing = response.extensions.get(TIMING)
    return timing if isinstance(timing, Timing) else None


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 (nearest rank: a value that was measured, never an interpolation) and max."""
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"p50": rank(50), "p95": rank(95), "max": ordered[-1]}


@dataclass
class LatencyLog:
    """Every timed answer of a run, by the property that sent it."""

    by_property: dict[str, list[Timing]] = field(default_factory=dict)

    def add(self, property_name: str, response: httpx.Response) -> None:
        timing = timing_of(response)
        if timing is not None:
            self.by_property.setdefault(property_name, []).append(timing)

    def summary(self) -> dict[str, dict[str, Any]]:
        """report.json's ``latency``: seconds, by property; a property with no timed answer is left out."""
        return {
            name: {
                "requests": len(timings),
                "headers": percentiles([timing.headers for timing in timings]),
                "total": percentiles([timing.total for timing in timings]),
            }
            for name, timings in self.by_property.items()
            if timings
        }


@dataclass(frozen=True)
class Slo:
    """The run's latency objective, in seconds to the last byte; None: no such tier."""

    max_response_time: float | None = None
    degraded_response_time: float | None = None

    def as_dict(self) -> dict[str, float]:
        data = {"max_response_time": self.max_response_time, "degraded_response_time": self.degraded_response_time}
        return {name: value for name, value in data.items() if value is not None}

    def findings(self, response: httpx.Response) -> list[Finding]:
        """The finding of an answer over a tier: the worse tier only, since one answer is one finding."""
        timing = timing_of(response)
        if timing is None:
            return []
        actual = f"{timing.total:.3f} s to the last byte ({timing.headers:.3f} s to the headers)"
        if self.max_response_time is not None and timing.total > self.max_response_time:
            return [self._finding(response, RESPONSE_TIME, "--max-response-time", self.max_response_time, actual)]
        if self.degraded_response_time is not None and timing.total > self.degraded_response_time:
            limit = self.degraded_response_time
            return [self._finding(response, RESPONSE_TIME_DEGRADED, "--degraded-response-time", limit, actual)]
        return []

    @staticmethod
    def _finding(response: httpx.Response, check: str, flag: str, limit: float, actual: str) -> Finding:
        degraded = check == RESPONSE_TIME_DEGRADED
        finding = Finding.about(
            response,
            check=check,
            category="latency",
            title=f"Answer slower than {flag}",
            message=(
                f"The answer took longer than {flag} {limit:g} s allows"
                + (": the run is degraded, which does not fail it." if degraded else ".")
            ),
            location=_LOCATION,
            expected=f"at most {limit:g} s to the last byte",
            actual=actual,
        )
        # Only observed: a slow answer breaks no contract, and fails the run only under --fail-on info.
        return replace(finding, severity=Severity.INFO) if degraded else finding
