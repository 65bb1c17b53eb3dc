"""Transient faults, as a busy gateway produces them: throttling, unavailability, slowness.

They are not drift: a harness that retries them as the contract allows must still find the
faithful mock conforming. Counted per request that reaches the server, in arrival order.

    MockState.default(spec, faults=FaultPlan())   # every 7th 429, every 9th 503, every 11th slow
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from dcs_contract.mock.service import ServiceAnswer

__all__ = ["FaultPlan"]


@dataclass
class FaultPlan:
    throttle_every: int = 7
    unavailable_every: int = 9
    slow_every: int = 11
    slow_seconds: float = 1.5
    retry_after: int = 1
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next(self) -> tuple[ServiceAnswer | None, float]:
        """The fault for the next request, if any, and how long to stall before answering."""
        with self._lock:
            self._count += 1
            n = self._count
        delay = self.slow_seconds if self.slow_every and n % self.slow_every == 0 else 0.0
        if self.throttle_every and n % self.throttle_every == 0:
            body = {"error_msg": "The throttling threshold has been reached.", "error_code": "APIGW.0308"}
            headers = {"Retry-After": str(self.retry_after)}
            return ServiceAnswer(429, {**body, "request_id": uuid.uuid4().hex}, headers), delay
        if self.unavailable_every and n % self.unavailable_every == 0:
            body = {"error_msg": "The backend service is unavailable.", "error_code": "APIGW.0203"}
            return ServiceAnswer(503, {**body, "request_id": uuid.uuid4().hex}), delay
        return None, delay
