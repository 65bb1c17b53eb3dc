"""SIGTERM and SIGINT during a run: stop sending, and still write what was found."""

from __future__ import annotations

import gc
import signal
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from dcs_contract.errors import RunStopped
from dcs_contract.transport.guard import handling_request

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Where Python runs code for the interpreter, not for a caller: an exception raised there is
# printed as "Exception ignored in ..." and dropped. The stop is not raised where that is known
# beforehand; anywhere else Python drops it, the unraisable hook catches it (StopOnSignals.installed).
_FINALIZER = weakref.finalize.__call__.__code__


def _passes_exceptions_on(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` reaches the run: not in a gc callback, ``__del__`` or a finalizer."""
    callbacks = {code for callback in gc.callbacks if (code := getattr(callback, "__code__", None)) is not None}
    while frame is not None:
        code = frame.f_code
        if code in callbacks or code is _FINALIZER or code.co_name == "__del__":
            return False
        frame = frame.f_back
    return True


class StopOnSignals:
    """SIGTERM and SIGINT stop a run while it sends; later, they wait.

    A CI job timeout, ``docker stop`` and a cancelled pipeline send SIGTERM: the reports of what
    was found so far must still be written. Once the run has stopped, a second signal does not
    cut the writing of those reports short.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._raising = False
        self._sending = False

    def stop_signal(self) -> str | None:
        """The signal received, if any: the guard checks it before each attempt."""
        return self.received

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received = self.received or name
        # Raised only while a request waits on the target (a socket, a rate-limit or retry
        # sleep), where nothing else would stop it soon: run_contract catches it there. Anywhere
        # else the guard stops the run before its next attempt; raised there, it could escape
        # run_contract after its properties ended (closing the client, building the report) and
        # take what they found with it. Nor is it raised where Python would drop it (a gc
        # callback, a finalizer): the guard stops the run there too, one exchange later.
        if self._raising and handling_request() and _passes_exceptions_on(frame):
            self._raising = False
            raise RunStopped(name)

    @contextmanager
    def installed(self) -> Iterator[StopOnSignals]:
        # Python lets only the main thread set signal handlers (and only it receives them).
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, self._handle) for signum in _STOP_SIGNALS}
        previous_hook = sys.unraisablehook

        def dropped(unraisable: sys.UnraisableHookArgs) -> None:
            if isinstance(unraisable.exc_value, RunStopped):
                # Raised where Python drops it (a weakref callback, a generator closed by gc): the
                # guard stops the run at its next attempt, and another signal may still raise.
                self._raising = self._sending
                return
            previous_hook(unraisable)

        sys.unraisablehook = dropped
        try:
            yield self
        finally:
            sys.unraisablehook = previous_hook
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Signals may raise while in this block.

        One received before it does not raise: the guard refuses the run's first attempt, and
        the run reports that it was stopped before it sent anything.
        """
        self._raising = self._sending = True
        try:
            yield
        finally:
            self._raising = self._sending = False
