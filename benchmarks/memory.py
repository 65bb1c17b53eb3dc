"""What a default run holds in memory, its drawing helper's share told apart.

    python benchmarks/memory.py [--runs 3] [-- extra flags for dcs-contract run]

Peak RSS (what bench.py reports, from getrusage) counts every page a process maps, the pages
of shared libraries and of its interpreter too; two processes that load the same files each
count them. So this samples ``/proc/<pid>/smaps_rollup`` of the run's process and of its
drawing helper (its child) every 20 ms, and reports each one's peak RSS, PSS (shared pages
split between the processes sharing them) and private memory, and the peaks of their sums:
the sum of PSS is what the run costs the machine. Linux only. Medians of ``--runs``.

    python benchmarks/memory.py --runs 3 -- --no-draw-ahead   # the run in one process
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_FIELDS = ("Rss", "Pss", "Private")


def _rollup(pid: int) -> dict[str, int] | None:
    """The process's memory in kB, or None once it is gone."""
    read: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if parts and parts[0].rstrip(":") in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            read[parts[0].rstrip(":")] = int(parts[1])
    read["Private"] = read.get("Private_Clean", 0) + read.get("Private_Dirty", 0)
    return read


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def one_run(flags: list[str]) -> dict[str, dict[str, int]]:
    """The peaks (kB) of one ``dcs-contract run --seed 1``: the run's, the helper's, and their sum's."""
    peaks: dict[str, dict[str, int]] = {"run": {}, "helper": {}, "both": {}}
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "dcs_contract.cli.app", "run", "--seed", "1", "--report-dir", reports, *flags]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            run = _rollup(process.pid)
            children = _children(process.pid)
            helper = _rollup(children[0]) if children else None
            for name, read in (("run", run), ("helper", helper)):
                for field in _FIELDS:
                    if read is not None:
                        peaks[name][field] = max(peaks[name].get(field, 0), read[field])
            if run is not None:
                for field in _FIELDS:
                    both = run[field] + (helper or {}).get(field, 0)
                    peaks["both"][field] = max(peaks["both"].get(field, 0), both)
            time.sleep(0.02)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("flags", nargs="*", help="more flags for dcs-contract run, after --")
    args = parser.parse_args()
    runs = [one_run(args.flags) for _ in range(args.runs)]
    print(f"{args.runs} runs of dcs-contract run --seed 1 {' '.join(args.flags)}; medians of each peak, in MB")
    print("| process | peak RSS | peak PSS | peak private |")
    print("|---|---|---|---|")
    for name in ("run", "helper", "both"):
        cells = []
        for field in _FIELDS:
            values = [run[name][field] for run in runs if field in run[name]]
            cells.append(f"{statistics.median(values) / 1024:.0f}" if values else "-")
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
