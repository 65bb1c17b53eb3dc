"""What one run has the drawing helper draw ahead, and how the run takes it.

The helper (engine/drawing.py) is a process shared by the runs of a process; this is one run's
side of it. The run asks for every kind of draw its explorations will take (:meth:`ask`),
takes each in the order asked (:meth:`each`), and drops what it did not take when it ends
(:meth:`close`). Where no helper draws what was asked, or one fails midway, the run draws in
its own process, as many cases as were still to come, and ``drawn_in_run`` (the report's)
says which property and why: a seed does not replay such a run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given

from dcs_contract.contract.spec import Spec
from dcs_contract.engine.drawing import DrawingHelper, Draws, HelperGone, shared_helper, strategy_of
from dcs_contract.engine.hypothesis_settings import with_run_settings
from dcs_contract.settings.target import RunSettings

__all__ = ["DrawnAhead"]


class _Enough(BaseException):
    """An exploration drawn in-process after its helper failed has what it needs. A BaseException:
    hypothesis lets it through at once, and does not take it for a failing example."""


@dataclass
class DrawnAhead:
    """One run's jobs on the drawing helper: what was asked, in order, and what no helper draws."""

    spec: Spec
    settings: RunSettings
    path_parameters: dict[str, str]
    # The run log's: property -> why its cases were drawn in the run's process though asked ahead.
    drawn_in_run: dict[str, str]
    # The run's: the name of a signal that asked it to stop, which ends a wait for the helper.
    stopped: Callable[[], str | None] = field(default=lambda: None, repr=False)
    helper: DrawingHelper | None = None
    # The helper's job for each kind of draw asked, in the order asked.
    jobs: dict[Draws, int] = field(default_factory=dict)
    asked: set[Draws] = field(default_factory=set)
    # Why no helper draws what was asked, if none does.
    not_ahead: str | None = None

    def ask(self, draws: Sequence[Draws]) -> None:
        """Have the helper draw each of ``draws`` while the run sends.

        Each is the whole of what one exploration may take (``max_examples``), in the order the
        run will take them. Without a helper, they are drawn in-process as taken.
        """
        self.asked = set(draws)
        helper = shared_helper()
        if helper is None:
            self.not_ahead = "no drawing helper could start"
            return
        self.helper = helper
        try:
            for each in draws:
                if each in self.jobs:  # asked twice: the first job would never be taken, and hold up the next
                    helper.cancel(self.jobs.pop(each))
                self.jobs[each] = helper.submit(
                    self.spec,
                    each,
                    count=self.settings.max_examples,
                    seed=self.settings.seed,
                    path_parameters=self.path_parameters,
                )
        except Exception as exc:  # a spec that cannot be sent, say: this run draws in its own process
            self.close()
            self.helper = None
            self.not_ahead = f"the drawing helper could not be given the spec: {type(exc).__name__}"

    def close(self) -> None:
        """What was drawn ahead and not taken is dropped, and what is still being drawn, stopped."""
        if self.helper is not None:
            for job in self.jobs.values():
                self.helper.cancel(job)
        self.jobs.clear()

    def each(self, draws: Draws, body: Callable[[Any], object], *, by: str) -> None:
        """``body`` on each of the ``max_examples`` examples of ``draws``: drawn ahead by the helper
        where the run asked it, else here; if the helper fails midway, as many more, here.
        ``by``: the property drawing, as the report names it if they are drawn here after all."""
        if draws in self.jobs and self.helper is not None:
            # Taken in the order asked for: those asked for before, and not taken (their
            # exploration had no share left), never will be, and must not hold this one up.
            for earlier in list(self.jobs)[: list(self.jobs).index(draws)]:
                self.helper.cancel(self.jobs.pop(earlier))
        job = self.jobs.pop(draws, None)
        if job is None and draws in self.asked and self.not_ahead is not None:
            self.drawn_in_run[by] = self.not_ahead
        taken, sent = 0, set[str]()  # the helper's examples, and their queries, should it fail midway
        if job is not None and self.helper is not None:
            try:
                for example in self.helper.drawn(job, stopped=self.stopped):
                    taken += 1
                    sent.add(repr(draws.query_of(example)))
                    body(example)
                return
            except HelperGone as exc:
                why = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                self.drawn_in_run[by] = f"the drawing helper failed after {taken} of its cases: {why}"
            finally:
                self.helper.cancel(job)
        self._draw_here(draws, body, taken=taken, sent=sent)

    def _draw_here(self, draws: Draws, body: Callable[[Any], object], *, taken: int, sent: set[str]) -> None:
        """The ``max_examples - taken`` examples still to come, drawn in this process.

        Not the helper's next examples: hypothesis's draws also read the constants of the code a
        process has loaded (engine/drawing.py). They begin alike, though (each process draws the
        simplest first), so a query the helper sent already is not sent again.
        """
        remaining = self.settings.max_examples - taken
        if remaining <= 0:
            return
        drawn_here = 0

        def each(example: Any) -> None:
            nonlocal drawn_here
            if repr(draws.query_of(example)) in sent:
                return
            body(example)
            drawn_here += 1
            if drawn_here == remaining:
                raise _Enough()

        strategy = strategy_of(self.spec, draws, self.path_parameters)
        # As many draws more as were skipped: hypothesis stops at max_examples, not at new ones.
        test = with_run_settings(
            given(example=strategy)(each), max_examples=self.settings.max_examples + taken, seed=self.settings.seed
        )
        with suppress(_Enough):
            test()
