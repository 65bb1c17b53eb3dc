"""Cases drawn ahead in a helper process, while the run sends: two cores at work, not one.

Drawing schemathesis's negative cases, and the single-fault queries of negative-inputs, costs a
run as much as sending and judging them against the embedded mock, or more (docs/benchmarks.md),
and what those explorations draw never depends on an answer: they record findings and never fail
hypothesis's test. So a helper process draws them ahead (a :class:`Draws`), with the run's
seed and hypothesis settings, while the run sends its probes and judges its answers; the run
takes each as it comes, in the order drawn.

    helper = shared_helper()                       # one per process, started on first use
    job = helper.submit(spec, Draws.NEGATIVE_CASES, count=200, seed=7, path_parameters={...})
    for query, meta in helper.drawn(job): ...      # HelperGone: draw the rest here instead
    helper.cancel(job)                             # what the run did not take is drawn no further

The helper knows nothing secret and sends nothing: it gets the spec's document, what to draw,
the seed and the path parameters (the ids every report shows), and returns what it drew: a
case's query and schemathesis's record of how it was drawn, from which the run rebuilds the
case, or a query. Its environment keeps only what Python and hypothesis read (no credential,
proxy URL or password); it is in a session of its own (Ctrl-C reaches the run, not it); and it
ends when the run's process closes its pipe, however that process ends.

A seed draws the same cases in the helper run after run, but not those the run's own process
would draw: hypothesis mixes in constants read from the project's modules a process has loaded
(``hypothesis.internal.conjecture.providers._get_local_constants``), and the two load different
ones (the helper loads the same few, all before its first draw). So a run that loses its helper
midway draws the rest of that exploration itself: as many cases as were still to come.

Nothing here is needed for a run to be right: if the helper cannot start, dies, or a draw
raises in it, the run draws what is left in its own process, as it did before the helper, and
an error of the spec is raised there with its own traceback.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import pickle
import queue
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from enum import Enum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcs_contract.errors import RunStopped

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from dcs_contract.contract.spec import Spec

__all__ = ["DrawingHelper", "Draws", "HelperGone", "shared_helper", "strategy_of"]


class Draws(Enum):
    """What a helper can draw: each value is a strategy of :func:`strategy_of`, the same in either process."""

    # (the case's query, schemathesis's CaseMetadata): what the run needs to rebuild a case.
    POSITIVE_CASES = "positive"
    NEGATIVE_CASES = "negative"
    # (the parameter at fault, a query valid but for it): engine.strategies.invalid_queries.
    INVALID_QUERIES = "invalid-queries"

    @property
    def cases(self) -> bool:
        """Whether it draws schemathesis cases, as (query, CaseMetadata), rather than single-fault queries."""
        return self is not Draws.INVALID_QUERIES

    def query_of(self, example: Any) -> Any:
        """The query an example of this kind sends: what tells two of them apart on the wire."""
        return example[0] if self.cases else example[1]


def strategy_of(spec: Spec, draws: Draws, path_parameters: dict[str, str]) -> SearchStrategy[Any]:
    """What ``draws`` draws, as values that cross a pipe. The run draws with it too, when it draws itself."""
    from schemathesis import GenerationMode

    from dcs_contract.engine.operation import Operation
    from dcs_contract.engine.strategies import invalid_queries

    if not draws.cases:
        return invalid_queries(spec)
    cases = Operation.of(spec).cases(GenerationMode(draws.value), path_parameters=path_parameters)
    # A map draws what the strategy draws: the values, not the choices, change.
    return cases.map(lambda case: (case.query, case.meta))


_DRAW, _CANCEL = "draw", "cancel"
# How long the run's thread waits for the helper before it looks again whether a signal stopped the run.
_WAIT_SLICE = 0.05
_EXAMPLE, _DONE, _FAILED = "example", "done", "failed"
# The package's own root, so that the helper imports this code wherever the run found it.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


# What the helper's environment keeps of the run's: how to run Python and hypothesis, and the
# locale. Not the credentials, the proxies' URLs (which may carry a password) nor libpq's.
_PASSED_ON = frozenset({"PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT"})
_PASSED_ON_PREFIXES = ("PYTHON", "HYPOTHESIS_", "LC_")


def _passed_on(name: str) -> bool:
    return name in _PASSED_ON or name.startswith(_PASSED_ON_PREFIXES)


class HelperGone(Exception):
    """The helper cannot draw this job (it did not start, it died, or a draw raised): draw the rest here."""


class DrawingHelper:
    """The run's side of one helper process: jobs submitted, examples read back by job, in order.

    Two threads of its own carry the pipes, so that the run's thread waits on neither: the
    writer sends the jobs (a spec's document may be larger than a pipe holds), and the reader
    sorts what comes back by job. The run's thread only waits for an example, and no longer
    than ``patience``.
    """

    def __init__(self, command: list[str] | None = None, *, patience: float = 30.0, ahead: int = 64) -> None:
        # The longest wait for the next example: a helper silent longer is killed, and the run draws.
        self.patience = patience
        # The most examples of a job held here before the run takes them (see _read).
        self.ahead = ahead
        self._process = subprocess.Popen(
            # -P: the run's working directory is not on the helper's path, as it is on a run's.
            command or [sys.executable, "-P", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_helper_environment(),
            start_new_session=True,
        )
        try:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._jobs = Connection(os.dup(self._process.stdin.fileno()), readable=False)
            self._results = Connection(os.dup(self._process.stdout.fileno()), writable=False)
            self._process.stdin.close()
            self._process.stdout.close()
            self._ids = itertools.count(1)
            self._outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
            self._arrived = threading.Condition()
            # Job -> what came back for it and is not yet taken; a job not in it was cancelled or is over.
            self._waiting: dict[int, deque[tuple[str, Any]]] = {}
            self.alive = True
            self._threads = (
                threading.Thread(target=self._write, name="dcs-contract-drawing-jobs", daemon=True),
                threading.Thread(target=self._read, name="dcs-contract-drawing-examples", daemon=True),
            )
            with _stop_signals_blocked():  # in the new threads, from their first instruction
                for thread in self._threads:
                    thread.start()
        except BaseException:
            self._process.kill()
            self._process.wait()
            raise

    @property
    def pid(self) -> int:
        """The helper's process id."""
        return self._process.pid

    def submit(self, spec: Spec, draws: Draws, *, count: int, seed: int | None, path_parameters: dict[str, str]) -> int:
        """Ask for ``count`` examples of ``draws``; the job's id, whose examples :meth:`drawn` yields."""
        from hypothesis.configuration import storage_directory

        job = next(self._ids)
        document = pickle.dumps((spec.document, str(spec.path)), protocol=pickle.HIGHEST_PROTOCOL)
        # Hypothesis keeps its caches where the run has it keep them (cli/run.py), not in the cwd.
        home = str(storage_directory(intent_to_write=False).home_directory)
        with self._arrived:
            self._waiting[job] = deque()
        self._outbox.put((_DRAW, job, document, draws.value, count, seed, path_parameters, home))
        return job

    def drawn(self, job: int, *, stopped: Callable[[], str | None] = lambda: None) -> Iterator[Any]:
        """The job's examples as they arrive, until it is drawn whole; :class:`HelperGone` if it cannot be.

        ``stopped``: the name of a signal that asked the run to stop, if one did: the wait for
        the next example then ends in :class:`~dcs_contract.errors.RunStopped`, as a request would.
        """
        while True:
            kind, payload = self._next(job, stopped)
            if kind == _DONE:
                return
            if kind == _FAILED:
                raise HelperGone(payload)
            yield payload

    def cancel(self, job: int) -> None:
        """The run takes no more of ``job``: the helper draws it no further, and what it sent is dropped."""
        with self._arrived:
            if self._waiting.pop(job, None) is None:
                return  # cancelled already, or over
            self._arrived.notify_all()  # the reader may wait for room in this job
        self._outbox.put((_CANCEL, job))

    def close(self) -> None:
        """End the helper, and wait for it: it reads the end of its jobs and exits."""
        self._gone()  # the reader reads on, so that a helper waiting in its send sees the end
        self._outbox.put(None)
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _write(self) -> None:
        try:
            while (message := self._outbox.get()) is not None:
                self._jobs.send(message)
        except Exception:  # the helper is gone: the run draws here
            self._gone()
        finally:
            self._jobs.close()

    def _next(self, job: int, stopped: Callable[[], str | None]) -> tuple[str, Any]:
        deadline = time.monotonic() + self.patience
        with self._arrived:
            while True:
                waiting = self._waiting.get(job)
                if waiting is None:
                    raise HelperGone(f"job {job} was cancelled")
                if waiting:
                    self._arrived.notify_all()  # room for the reader
                    kind, payload = waiting.popleft()
                    if kind != _EXAMPLE:
                        del self._waiting[job]  # over: nothing to cancel
                    return kind, payload
                if not self.alive:
                    raise HelperGone("the drawing helper ended")
                if (signal_name := stopped()) is not None:
                    raise RunStopped(signal_name)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # In slices, looking at the stop between them: a signal handler may not raise in
                # this wait (it could land inside the condition's own bookkeeping), and one that
                # another of the process's threads took would not end it anyway.
                self._arrived.wait(timeout=min(left, _WAIT_SLICE))
        # Stuck, or stopped: no run waits on it longer, and the next run starts another.
        self._process.kill()
        self._process.wait()
        self._gone()
        raise HelperGone(f"the drawing helper sent nothing for {self.patience:g} s")

    def _read(self) -> None:
        """Sort what the helper sends by job, as it comes; hold at most ``ahead`` of a job not yet taken.

        A job held whole would be all of ``--max-examples`` (up to 100,000 cases) in this process's
        memory while a live run sends at two requests a second. So the reader stops reading while
        the job is that far ahead of the run: the pipe fills, and the helper waits in its send.
        The run takes jobs in the order they were submitted (DrawnAhead.each), so the job
        it waits for is never behind a full one.
        """
        try:
            while True:
                job, kind, payload = self._results.recv()
                with self._arrived:
                    waiting = self._waiting.get(job)
                    if waiting is None:
                        continue
                    waiting.append((kind, payload))
                    self._arrived.notify_all()
                    while self.alive and len(waiting) >= self.ahead and self._waiting.get(job) is waiting:
                        self._arrived.wait()
        except BaseException:  # the end of the pipe, or anything that cannot be read: the run draws here
            pass
        finally:
            self._gone()
            self._results.close()

    def _gone(self) -> None:
        with self._arrived:
            self.alive = False
            self._arrived.notify_all()


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread meanwhile, and so in the threads it starts: the
    kernel hands a process's signal to any of its threads that does not block it, and one taken
    by the helper's threads would not wake the run's thread from a request's wait."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _helper_environment() -> dict[str, str]:
    """What the helper's environment keeps of the run's (see _passed_on), and where to import this code from."""
    env = {name: value for name, value in os.environ.items() if _passed_on(name)}
    installed = {str(Path(path).resolve()) for path in (sysconfig.get_path("purelib"), sysconfig.get_path("platlib"))}
    if _SOURCE_ROOT not in installed:
        # A checkout on PYTHONPATH, or an editable install: put there, an installed directory
        # would come before the standard library.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
    return env


_SHARED: DrawingHelper | None = None
_SHARED_LOCK = threading.Lock()


def shared_helper() -> DrawingHelper | None:
    """This process's helper, started on first use and reused by every run; None where none can run."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or not _SHARED.alive:
            if _SHARED is not None:
                atexit.unregister(_SHARED.close)
                _SHARED.close()  # reaped now, not at exit
                _SHARED = None
            try:
                _SHARED = DrawingHelper()
            except Exception:  # no interpreter to start, no process or thread left: the runs draw here
                return None
            # Ended and waited for as this process exits: no helper is left behind to be reaped.
            atexit.register(_SHARED.close)
        return _SHARED


def _forget_in_child() -> None:
    """A forked child has the helper's pipes but not its threads: it lets go of them, and draws itself."""
    global _SHARED
    if _SHARED is not None:
        atexit.unregister(_SHARED.close)
        with suppress(OSError):
            _SHARED._jobs.close()
            _SHARED._results.close()
        _SHARED = None


os.register_at_fork(after_in_child=_forget_in_child)


# -- the helper process ----------------------------------------------------------------------


class _Cancelled(BaseException):
    """The run took no more of the job being drawn. A BaseException: hypothesis lets it through at once."""


def _serve(jobs: Connection, results: Connection) -> None:
    """Draw each job in turn, sending its cases as they are drawn, until the run closes the pipe."""
    from hypothesis.configuration import set_hypothesis_home_dir

    pending: deque[tuple[Any, ...]] = deque()
    # Jobs cancelled before they were drawn. Jobs come in the order of their ids, so a cancel of
    # one already drawn (or skipped) is dropped, and the set holds only jobs still to come.
    cancelled: set[int] = set()
    specs: dict[str, Spec] = {}
    last = 0

    def between_draws(job: int) -> None:
        # Messages that came while drawing: a cancel of this job ends it, others wait their turn.
        while jobs.poll():
            message = jobs.recv()
            if message[0] == _CANCEL and message[1] == job:
                raise _Cancelled()
            if message[0] == _CANCEL and message[1] > job:
                cancelled.add(message[1])
            elif message[0] == _DRAW:
                pending.append(message)

    while True:
        message = pending.popleft() if pending else jobs.recv()
        if message[0] == _CANCEL:
            if message[1] > last:
                cancelled.add(message[1])
            continue
        last = message[1]
        if last in cancelled:
            cancelled.discard(last)
            continue
        _, job, document, draws, count, seed, path_parameters, home = message
        try:
            set_hypothesis_home_dir(home)
            strategy = strategy_of(_spec_of(document, specs), Draws(draws), path_parameters)
            _draw(job, strategy, count, seed, results, between_draws)
        except _Cancelled:
            continue
        except (EOFError, BrokenPipeError):
            raise
        except Exception:
            results.send((job, _FAILED, traceback.format_exc()))
            continue
        results.send((job, _DONE, None))


def _spec_of(document: bytes, specs: dict[str, Spec]) -> Spec:
    """The job's spec, built once per document: its operation, too, is built once (Operation.of)."""
    from dcs_contract.contract.spec import Spec

    key = hashlib.sha256(document).hexdigest()
    if key not in specs:
        if len(specs) >= 4:
            specs.pop(next(iter(specs)))
        content, path = pickle.loads(document)
        specs[key] = Spec(document=content, path=Path(path))
    return specs[key]


def _draw(
    job: int,
    strategy: SearchStrategy[Any],
    count: int,
    seed: int | None,
    results: Connection,
    between_draws: Callable[[int], None],
) -> None:
    from hypothesis import given

    from dcs_contract.engine.hypothesis_settings import with_run_settings

    def drawn(example: Any) -> None:
        between_draws(job)
        results.send((job, _EXAMPLE, example))

    with_run_settings(given(example=strategy)(drawn), max_examples=count, seed=seed)()


def main() -> None:
    jobs = Connection(os.dup(0), writable=False)
    results = Connection(os.dup(1), readable=False)
    # Whatever a library prints goes to stderr, never into the stream of cases.
    os.dup2(2, 1)
    # The run's process ended, or closed its end: so does the helper.
    with suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        _serve(jobs, results)


if __name__ == "__main__":
    main()
