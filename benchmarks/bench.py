"""Benchmark: the harness's default run against plain `st run` and a bare httpx loop, side by side.

    python benchmarks/bench.py [--runs 3] [--requests 2000] [--profile]

On one machine, in one run, each measured --runs times (median reported):

1. ``dcs-contract run``: the harness's default contract run against its embedded mock;
2. ``st run`` of the same spec, same number of examples per operation, against the same
   mock (uvicorn on loopback), path parameters and token set through a schemathesis.toml;
3. a bare httpx loop of valid GETs against that mock: the ceiling for requests per second.

Each runs in its own process, timed from start to exit, imports included, as a user sees it.
Requests are counted at the mock's side for 2 and 3, and from report.json for 1. Also
measured: the harness run's peak RSS and its drawing helper's (a second process, see
engine/drawing.py), and ``dcs-contract --help`` (start-up alone).

``--profile`` adds one more harness run under cProfile (not timed: the profiler slows it)
and prints the files where its time is spent, by self time: where to look first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

from dcs_contract.contract.spec import default_spec_path, load_spec
from dcs_contract.mock import MockServer, MockState, create_app
from dcs_contract.settings.target import RunSettings

_GENERATED_RE = re.compile(r"(\d+) generated")
_HTTPX_LOOP = """
import sys, httpx
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with httpx.Client(headers={"X-Auth-Token": token}) as client:
    for i in range(count):
        client.get(url, params={"limit": str(1 + i % 50), "offset": str(i % 137)}).raise_for_status()
"""


# The harness as its console script runs it, reporting its own peak RSS (kB on Linux) on exit.
_HARNESS = """
import atexit, resource, runpy, sys
# Registered first, so run last: its children's largest peak, the drawing helper's, which the
# run's process waits for as it exits.
atexit.register(
    lambda: print(f"helper_maxrss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
)
sys.argv = ["dcs-contract", *sys.argv[1:]]
try:
    runpy.run_module("dcs_contract.cli.app", run_name="__main__")
finally:
    print(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""
_MAXRSS_RE = re.compile(r"(?<!_)maxrss_kb=(\d+)")
_HELPER_MAXRSS_RE = re.compile(r"helper_maxrss_kb=(\d+)")
_PROFILED_FILES = 15


def _timed(command: list[str], **kwargs: object) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started, done.stdout + done.stderr


def harness_run(seed: int, work: Path) -> dict[str, float]:
    reports = work / f"harness-{seed}"
    command = [sys.executable, "-c", _HARNESS, "run", "--seed", str(seed), "--report-dir", str(reports)]
    wall, output = _timed(command)
    report = json.loads((reports / "report.json").read_text())
    rss, helper_rss = _MAXRSS_RE.search(output), _HELPER_MAXRSS_RE.search(output)
    return {
        "wall": wall,
        "cases": sum(report["cases"].values()),
        "requests": report["requests"]["total"],
        "conforms": report["verdict"] == "conforms",
        "rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "helper_rss_mb": int(helper_rss.group(1)) / 1024 if helper_rss else float("nan"),
    }


def help_start(work: Path) -> float:
    """``dcs-contract --help``: the command line's start-up, which loads no run machinery."""
    wall, _ = _timed([sys.executable, "-m", "dcs_contract.cli.app", "--help"], cwd=work)
    return wall


def _where(filename: str) -> str:
    """A profiled file as a reader knows it: ``hypothesis/internal/conjecture/data.py``, ``dcs_contract/...``."""
    if filename == "~":  # cProfile's name for C functions: socket reads, json, regexes, builtins
        return "(C functions: sockets, json, re, builtins)"
    for root in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"], str(Path.cwd() / "src")):
        if filename.startswith(root):
            return filename[len(root) :].lstrip("/")
    return filename


def profile(seed: int, work: Path) -> list[tuple[str, float]]:
    """One harness run under cProfile: self time per file, the largest first, as shares of the whole."""
    stats_file, reports = work / "harness.prof", work / f"profiled-{seed}"
    command = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "dcs_contract.cli.app", "run"]
    subprocess.run([*command, "--seed", str(seed), "--report-dir", str(reports)], capture_output=True, check=False)
    per_file: Counter[str] = Counter()
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_calls, _primitive, self_time, _cumulative, _callers) in stats.items():
        per_file[_where(filename)] += self_time
    total = sum(per_file.values()) or 1.0
    return [(name, seconds / total) for name, seconds in per_file.most_common(_PROFILED_FILES)]


def st_run(seed: int, work: Path, server: MockServer, state: MockState, examples: int) -> dict[str, float]:
    config = work / "schemathesis.toml"
    config.write_text(
        f'headers = {{ "X-Auth-Token" = "{state.credentials.token}" }}\n'
        "[parameters]\n"
        f'"path.project_id" = "{state.project_id}"\n'
        f'"path.instance_id" = "{state.instance_id}"\n'
    )
    before = len(state.requests())
    st = str(Path(sys.executable).with_name("st"))
    command = [st, "--config-file", str(config), "run", str(default_spec_path()), "--url", server.base_url]
    command += ["--max-examples", str(examples), "--seed", str(seed), "--generation-database", "none"]
    command += ["--continue-on-failure", "--no-color"]
    wall, output = _timed(command, cwd=work)
    generated = _GENERATED_RE.search(output)
    if generated is None:
        raise RuntimeError(f"st run printed no case count:\n{output[-2000:]}")
    return {"wall": wall, "cases": int(generated.group(1)), "requests": len(state.requests()) - before}


def httpx_loop(server: MockServer, state: MockState, count: int) -> dict[str, float]:
    url = f"{server.base_url}/v2/{state.project_id}/instances/{state.instance_id}/backups"
    before = len(state.requests())
    wall, output = _timed([sys.executable, "-c", _HTTPX_LOOP, url, state.credentials.token, str(count)])
    served = len(state.requests()) - before
    if served != count:
        raise RuntimeError(f"the httpx loop sent {served} of {count} requests:\n{output[-2000:]}")
    return {"wall": wall, "cases": count, "requests": served}


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median reported; at least 3)")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the bare httpx loop")
    parser.add_argument("--profile", action="store_true", help="also profile one harness run: self time by file")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error(f"--runs={args.runs}, but medians need at least 3")
    examples = RunSettings().max_examples  # the harness's default per property, given to st as well
    spec = load_spec()
    results: dict[str, list[dict[str, float]]] = {"harness": [], "st run": [], "httpx loop": []}
    helps: list[float] = []
    state = MockState.default(spec)
    with tempfile.TemporaryDirectory() as tmp, MockServer(create_app(state)) as server:
        work = Path(tmp)
        # Interleaved, so that a noisy moment on a shared machine hits all three alike.
        for run in range(args.runs):
            results["harness"].append(harness_run(1000 + run, work))
            results["st run"].append(st_run(1000 + run, work, server, state, examples))
            results["httpx loop"].append(httpx_loop(server, state, args.requests))
            helps.append(help_start(work))
        profiled = profile(2000, work) if args.profile else []
    rows = []
    for name, samples in results.items():
        wall, cases, requests = (_median(samples, k) for k in ("wall", "cases", "requests"))
        rates = [s["cases"] / s["wall"] for s in samples]
        rows.append((name, wall, cases, requests, statistics.median(rates), [round(s["wall"], 2) for s in samples]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"runs: {args.runs} of each, interleaved; medians; {examples} examples per operation/property\n")
    print("| what | wall s | cases | requests | cases/s | walls of each run |")
    print("|---|---|---|---|---|---|")
    for name, wall, cases, requests, rate, walls in rows:
        print(f"| {name} | {wall:.2f} | {cases:.0f} | {requests:.0f} | {rate:.1f} | {walls} |")
    harness, st, loop = rows[0][4], rows[1][4], rows[2][4]
    print(f"\nharness / st run, cases per second: {harness / st:.2f}")
    print(f"harness / httpx loop, per second: {harness / loop:.2f}")
    print(f"harness peak RSS: {_median(results['harness'], 'rss_mb'):.0f} MB (median)")
    print(f"its drawing helper's peak RSS: {_median(results['harness'], 'helper_rss_mb'):.0f} MB (median)")
    print(f"dcs-contract --help: {statistics.median(helps):.2f} s (median of {len(helps)})")
    if profiled:
        print(f"\nself time of one profiled harness run, by file (top {len(profiled)}):\n")
        print("| file | share |\n|---|---|")
        for name, share in profiled:
            print(f"| {name} | {share:.1%} |")
    if not all(sample["conforms"] for sample in results["harness"]):
        print("warning: a harness run did not conform", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
