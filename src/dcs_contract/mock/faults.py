"""Transient faults, as a busy gateway produces them: throttling, unavailability, slowness.

They are not drift: a harness that retries them as the contract allows must still find the
faithful mock conforming. Counted per request that reaches the server, in arrival order.

    MockState.default(spec, faults=FaultPlan())   # the schedule FaultPlan().describe() states
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from dcs_contract.mock.service import ServiceAnswer, gateway_error

__all__ = ["FaultPlan"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class FaultPlan:
    """Every ``n``-th request a fault; 0 turns that fault off."""

    throttle_every: int = 7
    unavailable_every: int = 9
    slow_every: int = 11
    slow_seconds: float = 1.5
    retry_after: int = 1
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def describe(self) -> str:
        """The schedule in words, for help texts: read from the plan, so that it cannot drift from it."""
        faults = [
            (self.throttle_every, f"a 429 with Retry-After: {self.retry_after}"),
            (self.unavailable_every, "a 503"),
            (self.slow_every, f"{self.slow_seconds:g} s late"),
        ]
        return ", ".join(f"every {_ordinal(every)} answer {what}" for every, what in faults if every) or "no faults"

    def next(self) -> tuple[ServiceAnswer | None, float]:
        """The fault for the next request, if any, and how long to stall before answering."""
        with self._lock:
            self._count += 1
            n = self._count
        delay = self.slow_seconds if self.slow_every and n % self.slow_every == 0 else 0.0
        if self.throttle_every and n % self.throttle_every == 0:
            throttled = gateway_error(
                429, "APIGW.0308", "The throttling threshold has been reached.", {"Retry-After": str(self.retry_after)}
            )
            return throttled, delay
        if self.unavailable_every and n % self.unavailable_every == 0:
            return gateway_error(503, "APIGW.0203", "The backend service is unavailable."), delay
        return None, delay
