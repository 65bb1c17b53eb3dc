"""Benchmark: where a default run's time goes, property by property, with and without the drawing helper.

    python benchmarks/phases.py [--runs 5] [--seed 7]

Each run is a process of its own (a fresh helper, hypothesis's caches as the CLI keeps them),
and the two kinds are interleaved: with the helper (``draw_ahead``, the default) and without
(every draw in the run's process). Each prints the wall time of the run (the embedded mock
started, ``run_contract``, the mock stopped), of the probe plan, and of each property's
exploration; the medians of each are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

# One run, in a fresh process: the properties' parts timed by wrapping them, nothing else changed.
_ONE_RUN = """
import json, sys, time
from dataclasses import replace

from hypothesis.configuration import set_hypothesis_home_dir

from dcs_contract.cli.run import hypothesis_cache
from dcs_contract.contract.spec import load_spec
from dcs_contract.engine import properties
from dcs_contract.engine.drawing import shared_helper
from dcs_contract.engine.suite import embedded_mock, run_contract
from dcs_contract.settings.target import RunSettings, Target

seed, draw_ahead = int(sys.argv[1]), sys.argv[2] == "on"
times = {"probe plan": 0.0}
explore, probe = properties.ContractProperty.run_exploration, properties.ContractProperty.run_probe

def timed_exploration(self, run, share):
    started = time.perf_counter()
    explore(self, run, share)
    times[self.name] = time.perf_counter() - started

def timed_probe(self, run):
    started = time.perf_counter()
    probe(self, run)
    times["probe plan"] += time.perf_counter() - started

properties.ContractProperty.run_exploration = timed_exploration
properties.ContractProperty.run_probe = timed_probe
set_hypothesis_home_dir(hypothesis_cache({}))
spec, target = load_spec(), Target.from_env({})
settings = replace(RunSettings.for_target(target, seed=seed), draw_ahead=draw_ahead)
if draw_ahead:
    shared_helper()  # as the CLI does, once the settings are known
started = time.perf_counter()
with embedded_mock(spec, target) as (mock_target, _):
    report = run_contract(spec, mock_target, settings)
times["the run"] = time.perf_counter() - started
assert report.crash is None and report.error is None, report.crash or report.error
print(json.dumps(times))
"""


def one_run(seed: int, draw_ahead: bool) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, str(seed), "on" if draw_ahead else "off"],
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (median reported; at least 3)")
    parser.add_argument("--seed", type=int, default=7, help="the seed of every run")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error(f"--runs={args.runs}, but medians need at least 3")
    samples: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(args.runs):  # interleaved: a noisy moment hits both alike
        for draw_ahead in (True, False):
            samples[draw_ahead].append(one_run(args.seed, draw_ahead))
    names: list[str] = list(samples[True][0])
    print(f"{args.runs} runs of each, interleaved, seed {args.seed}; medians, seconds\n")
    print("| part | with the helper | without | ratio |\n|---|---|---|---|")
    for name in names:
        on: Any = statistics.median(sample[name] for sample in samples[True])
        off: Any = statistics.median(sample[name] for sample in samples[False])
        ratio = f"{on / off:.2f}" if off >= 0.01 else ""
        print(f"| {name} | {on:.2f} | {off:.2f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
