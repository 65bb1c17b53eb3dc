"""The contract suite under pytest-xdist: two workers, one budget and one rate limit, measured at the server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.conftest import Serve, live_env

# The suite run by pytest-xdist in a subprocess, at a real rate limit: -m 'not slow' leaves it out.
pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def test_two_workers_share_the_budget_and_the_rate_limit(serve: Serve) -> None:
    # A budget below what the suite needs (about 60 requests here), so that it binds.
    budget, rate, workers = 30, 20.0, 2
    with serve() as (server, state):
        env = {**live_env(server, state), "PATH": os.environ["PATH"]}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
        command += ["tests/contract", "--max-examples", "5", "--max-requests", str(budget), "--rate-limit", str(rate)]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    arrivals = sorted(entry.at for entry in state.requests())
    # The suite fails, and only because the budget binds: each worker's share (15) runs out
    # before its properties are done, and a property whose probe the rest cannot send could not
    # test the target. Against the faithful mock, no property fails for any other reason.
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    failed = re.search(r"(\d+) failed", done.stdout)
    untested = r"^E +AssertionError: the target could not be tested: the request budget of 15 is spent"
    assert failed is not None and len(re.findall(untested, done.stdout, re.M)) == int(failed[1]) > 0, done.stdout
    assert budget // 2 < len(arrivals) <= budget, "the workers spent their shares, and no more"
    assert "request budget of 15 is spent" in done.stdout
    # Each worker spaces its own requests at workers/rate; together, any run of k requests
    # spans at least (k - workers)/rate seconds, less 50 ms of scheduling jitter.
    for i, first in enumerate(arrivals):
        for j in range(i + 1, len(arrivals)):
            assert arrivals[j] - first >= (j - i + 1 - workers) / rate - 0.05, (i, j)
