"""Helpers for the harness's self-tests: a mock served on a real socket, addressed as a live target."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest

from dcs_contract.cli import common as cli_common
from dcs_contract.cli import run as cli_run
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.suite import run_contract
from dcs_contract.mock import FaultPlan, MockServer, MockState, create_app
from tests.harness.clocks import FakeClock

Serve = Callable[..., Any]


def live_env(server: MockServer, state: MockState, *, token: bool = False) -> dict[str, str]:
    """The environment of a live run against ``server``: DCS_* plus AK/SK (or the token)."""
    env = {"DCS_BASE_URL": server.base_url, "DCS_PROJECT_ID": state.project_id, "DCS_INSTANCE_ID": state.instance_id}
    if token:
        env["DCS_AUTH_TOKEN"] = state.credentials.token
    else:
        env["CLOUD_SDK_AK"] = state.credentials.access_key
        env["CLOUD_SDK_SK"] = state.credentials.secret_key
    if state.empty_instance_id:
        env["DCS_EMPTY_INSTANCE_ID"] = state.empty_instance_id
    return env


@pytest.fixture
def serve(spec: Spec) -> Serve:
    """``with serve(**MockState.default options) as (server, state):`` a mock on loopback."""

    @contextmanager
    def serving(**options: Any) -> Iterator[tuple[MockServer, MockState]]:
        state = MockState.default(spec, **options)
        with MockServer(create_app(state)) as server:
            yield server, state

    return serving


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of every ``dcs-contract run`` of the test (``main(["run", ...])``): its waits are kept, not waited.

    ``main`` takes no clock: the run it builds is handed one here, and nothing else is changed.
    """
    clock = FakeClock()
    monkeypatch.setattr(cli_run, "run_contract", partial(run_contract, clock=clock))
    return clock


@pytest.fixture
def prompt_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--mock-faults`` of the test's runs answers late by 0.05 s instead of 1.5 s.

    The lateness is the target's, real time on the mock's side that no injected clock can
    skip; the schedule (which answers are late, throttled, unavailable) stays the same.
    """
    monkeypatch.setattr(cli_common, "FaultPlan", partial(FaultPlan, slow_seconds=0.05))


@contextmanager
def dcs_contract_mock(*flags: str) -> Iterator[dict[str, str]]:
    """``dcs-contract mock --port 0`` in its own process, as a user starts it; yields what it printed."""
    command = [sys.executable, "-m", "dcs_contract.cli.app", "mock", "--port", "0", *flags]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={"PATH": os.environ["PATH"]}) as process:
        try:
            assert process.stdout is not None
            printed: dict[str, str] = {}
            while "DCS_AUTH_TOKEN" not in printed:
                line = process.stdout.readline()
                assert line, "the mock exited before printing its settings"
                key, sep, value = line.strip().partition("=")
                if sep:
                    printed[key] = value.split()[0]
            yield printed
        finally:
            process.terminate()
            process.wait(timeout=10)
