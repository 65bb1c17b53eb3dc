"""How soon a run catches each drift switch of the mock, at the default live settings.

    python benchmarks/detection.py            # requests to first detection, 5 seeds per switch
    python benchmarks/detection.py --timed    # and the wall time to first finding at 2 requests/s

For each switch, a run against the embedded mock with that switch on, at the live defaults
(``RunSettings.LIVE_DEFAULTS``: 600 requests, 100 examples, no shrinking), ``--fail-fast``
and ``--no-confirm``,
for 5 seeds, each seed both the harness's and the mock's data. The number is the request at
which the first finding was seen (``Finding.first_seen``): the faithful mock gives none, so
any finding is the switch's. The table gives its median and maximum over the seeds; the
goal is a median under 20 and a maximum under 40.

``--timed`` then runs each switch once more at the live rate limit (2 requests per second),
again with ``--fail-fast``, and prints the total wall time until each run stopped at its
first finding: what a CI job waits, summed over every switch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.engine.suite import embedded_mock, run_contract
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.settings.target import RunSettings, Target

SEEDS = (1, 2, 3, 4, 5)
GOAL_MEDIAN, GOAL_MAXIMUM = 20, 40


def first_detection(spec: Spec, switch: str, seed: int, *, rate_limit: float | None) -> tuple[int | None, float]:
    """(the request at which the run first saw a finding, or None; the run's wall time in seconds)."""
    target = Target.from_env({})
    settings = RunSettings.for_target(target, **RunSettings.LIVE_DEFAULTS, seed=seed)
    # The first finding is what is measured: confirming it afterwards is no part of that.
    settings = replace(settings, rate_limit=rate_limit, fail_fast=True, confirm=False)
    with embedded_mock(spec, target, drifts=(switch,), seed=seed) as (mock_target, _state):
        started = time.perf_counter()
        report = run_contract(spec, mock_target, settings)
        elapsed = time.perf_counter() - started
    seen = [finding.first_seen for finding in report.findings if finding.first_seen is not None]
    return (min(seen) if seen else None), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", action="store_true", help="also time each switch at 2 requests per second")
    args = parser.parse_args(argv)
    spec = load_spec()
    print(f"{'switch':34} {'median':>6} {'max':>4}   requests to first detection, seeds {list(SEEDS)}")
    medians: list[float] = []
    maxima: list[int] = []
    missed: list[str] = []
    for switch in sorted(DRIFTS):
        counts = [first_detection(spec, switch, seed, rate_limit=None)[0] for seed in SEEDS]
        if None in counts:
            missed.append(f"{switch} (seeds {[s for s, c in zip(SEEDS, counts, strict=True) if c is None]})")
        caught = [count for count in counts if count is not None]
        if not caught:
            print(f"{switch:34} {'-':>6} {'-':>4}   never caught")
            continue
        median, maximum = statistics.median(caught), max(caught)
        medians.append(median)
        maxima.append(maximum)
        print(f"{switch:34} {median:6g} {maximum:4d}   {counts}")
    print(
        f"\n{len(DRIFTS)} switches: median of medians {statistics.median(medians):g}, "
        f"largest median {max(medians):g} (goal < {GOAL_MEDIAN}), largest maximum {max(maxima)} (goal < {GOAL_MAXIMUM})"
    )
    if missed:
        print("missed within the live budget: " + ", ".join(missed))
    if args.timed:
        total = 0.0
        for switch in sorted(DRIFTS):
            _, elapsed = first_detection(spec, switch, SEEDS[0], rate_limit=2.0)
            total += elapsed
        print(f"wall time to first finding at 2 requests/s, seed {SEEDS[0]}, summed over every switch: {total:.1f} s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
