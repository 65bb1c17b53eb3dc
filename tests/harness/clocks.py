"""A clock for the guard that never waits: each sleep moves it forward at once, and is kept.

For the harness's own waits (the rate limit's spacing, Retry-After, the backoff), which a
test asserts by their lengths rather than by waiting them out::

    clock = FakeClock()
    report = run_contract(spec, target, settings, clock=clock)
    assert clock.sleeps == [1.0, 0.5]

It reads real time plus what it has "slept": what the target takes (a slow answer, a drip
against the deadline) still takes real time, and every reading stays monotonic.
"""

from __future__ import annotations

import threading
import time


class FakeClock:
    """A :class:`~dcs_contract.transport.guard.Clock` whose sleeps return at once and are recorded."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self._ahead = 0.0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._ahead += seconds

    def monotonic(self) -> float:
        return time.monotonic() + self._ahead

    def waits(self, *, longer_than: float) -> list[float]:
        """The sleeps longer than ``longer_than``: a retry's wait, not the rate limit's spacing."""
        return [seconds for seconds in self.sleeps if seconds > longer_than]
