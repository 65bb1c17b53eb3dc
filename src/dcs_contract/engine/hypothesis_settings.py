"""The hypothesis settings every draw of a run is made with, in one place.

The run (engine/run.py) and the drawing helper (engine/drawing.py) both draw with them: a case
is drawn the same way wherever it is drawn. A module of its own: the helper imports it, and not
the run's transport and reports, while it starts.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, Phase
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings

__all__ = ["with_run_settings"]


def with_run_settings(
    test: Callable[..., None], *, max_examples: int, seed: int | None, shrink: bool = False
) -> Callable[..., None]:
    """``test`` with the hypothesis settings of every run: no database, no deadline, no health
    checks, no shrinking unless asked, and the run's seed if it has one."""
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]
    configured = hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(test)
    return configured if seed is None else hypothesis_seed(seed)(configured)
