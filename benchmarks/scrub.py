"""Benchmark: seconds per MiB of ``Scrubber.text`` on hostile text, and the old scrubber beside it.

    python benchmarks/scrub.py [--runs 3] [--sizes 1,4,8]

On one machine, in one run, each timed --runs times (median reported):

1. the scrubber, with an AK, an SK and a 3,000-character token, on texts of each size in MiB:
   a run of letters holding one e-mail address and one URL; one run of URL characters with
   "://" all along it and an @ past its end; the AK, SK and token echoed between padding; random printable text;
2. the scrubber before issue 19 (a regex for URL user-info, a match grown from every sampled
   gram), copied here as it was, and the scrubber on the same texts of 20,000 and 40,000
   characters: the old one is quadratic there already, and would not end at 1 MiB.

It stops by itself in well under a minute.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The oracle beside this script, however the script is loaded (python benchmarks/scrub.py, runpy).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scrub_reference import ReferenceScrubber

from dcs_contract.redaction import Scrubber

MIB = 1024 * 1024
AK = "HSTAKEXAMPLE00000001"
SK = "hst-secret-key-example-0000000000000000001"
# Base64 as an IAM token is, and as long: repeats of its own characters are the matcher's worst case.
TOKEN = "MIIT" + "".join(random.Random(19).choices(string.ascii_letters + string.digits + "+/", k=2996))


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def letters(size: int) -> str:
    half = _repeat("remark", size // 2)
    return f"{half} ops@example.com {half}https://alice:pw@dcs.example.com/"[:size]


def url_run(size: int) -> str:
    # The @ past the end of the run is what makes the old regex walk the run from every "://".
    tail = " @ https://alice:pw@dcs.example.com/"
    return _repeat("a://b", size - len(tail)) + tail


def echoed(size: int) -> str:
    unit = f'{{"remark": "{"r" * 40}{AK}", "status": "{SK}", "x{TOKEN}": 1}}, '
    return _repeat(unit, size)


def random_printable(size: int) -> str:
    return "".join(random.Random(size).choices(string.printable, k=size))


TEXTS: dict[str, Callable[[int], str]] = {
    "letters + @": letters,
    ":// run": url_run,
    "echoed AK/SK/token": echoed,
    "random printable": random_printable,
}


def median_seconds(scrub: Callable[[str], str], text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        scrub(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,4,8", help="sizes in MiB, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    secrets = [AK, SK, TOKEN]
    scrubber, old = Scrubber(secrets), ReferenceScrubber(secrets)
    for name, make in TEXTS.items():  # the two must agree before their times mean anything
        sample = make(20_000)
        assert scrubber.text(sample) == old.text(sample), name

    print(f"Scrubber.text, median of {args.runs} runs, seconds per MiB (token {len(TOKEN)} characters)")
    print(f"{'text':<22}" + "".join(f"{f'{size} MiB':>12}" for size in sizes))
    for name, make in TEXTS.items():
        cells = []
        for size in sizes:
            seconds = median_seconds(scrubber.text, make(size * MIB), args.runs)
            cells.append(f"{seconds / size:>12.3f}")
        print(f"{name:<22}" + "".join(cells))

    print(f"\nold (before issue 19) against new, median of {args.runs} runs, seconds")
    print(f"{'text':<22}{'chars':>8}{'old':>10}{'new':>10}{'old/new':>10}")
    for name, make in TEXTS.items():
        for size in (20_000, 40_000):
            text = make(size)
            before = median_seconds(old.text, text, args.runs)
            after = median_seconds(scrubber.text, text, args.runs)
            print(f"{name:<22}{size:>8}{before:>10.4f}{after:>10.4f}{before / after:>10.1f}")


if __name__ == "__main__":
    main()
