"""The drawing helper: the run's own cases drawn in another process, and nothing lost when it fails."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from hypothesis import given
from schemathesis import GenerationMode

from dcs_contract.cli import run as cli_run_module
from dcs_contract.cli.app import main
from dcs_contract.cli.signals import StopOnSignals
from dcs_contract.cli.summary import summary
from dcs_contract.contract.spec import Spec
from dcs_contract.engine import ahead as ahead_module
from dcs_contract.engine.drawing import DrawingHelper, Draws, HelperGone, strategy_of
from dcs_contract.engine.hypothesis_settings import with_run_settings
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.strategies import probe_invalid_queries
from dcs_contract.engine.suite import embedded_mock, run_contract
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RunReport, markdown_of
from dcs_contract.settings.target import RunSettings, Target

PATH = {"project_id": "0123456789abcdef0123456789abcdef", "instance_id": "5560df16-ebe1-4d2b-8b0d-e4f5e1e4a2b7"}
CASES = {Draws.POSITIVE_CASES: GenerationMode.POSITIVE, Draws.NEGATIVE_CASES: GenerationMode.NEGATIVE}


def _drawn_here(spec: Spec, draws: Draws, *, count: int, seed: int) -> list[Any]:
    examples: list[Any] = []

    def drawn(example: Any) -> None:
        examples.append(example)

    with_run_settings(given(example=strategy_of(spec, draws, PATH))(drawn), max_examples=count, seed=seed)()
    return _comparable(draws, examples)


def _comparable(draws: Draws, examples: list[Any]) -> list[Any]:
    # A case's query; schemathesis's record of its draw is compared on its own.
    return [query for query, _ in examples] if draws in CASES else examples


@pytest.fixture(scope="module")
def helper() -> Iterator[DrawingHelper]:
    started = DrawingHelper()
    yield started
    started.close()


def _drawn_by(helper: DrawingHelper, spec: Spec, draws: Draws, *, count: int, seed: int) -> list[Any]:
    return list(helper.drawn(helper.submit(spec, draws, count=count, seed=seed, path_parameters=PATH)))


@pytest.mark.parametrize("draws", list(Draws), ids=lambda draws: draws.value)
def test_a_seed_draws_the_same_examples_in_every_helper(spec: Spec, helper: DrawingHelper, draws: Draws) -> None:
    drawn = _drawn_by(helper, spec, draws, count=40, seed=11)
    assert len(drawn) == 40
    examples = _comparable(draws, drawn)
    assert _comparable(draws, _drawn_by(helper, spec, draws, count=40, seed=11)) == examples
    fresh = DrawingHelper()
    try:
        assert _comparable(draws, _drawn_by(fresh, spec, draws, count=40, seed=11)) == examples
    finally:
        fresh.close()
    assert _comparable(draws, _drawn_by(helper, spec, draws, count=40, seed=12)) != examples
    if draws in CASES:
        # Schemathesis's record of each draw comes along: the checks read the mode and the mutations from it.
        assert {meta.generation.mode for _, meta in drawn} == {CASES[draws]}
    else:
        assert all(parameter in query for parameter, query in drawn), "the parameter at fault is in its query"


def test_a_cancelled_job_is_dropped_and_the_next_one_comes_whole(spec: Spec, helper: DrawingHelper) -> None:
    first = helper.submit(spec, Draws.NEGATIVE_CASES, count=200, seed=3, path_parameters=PATH)
    second = helper.submit(spec, Draws.INVALID_QUERIES, count=15, seed=4, path_parameters=PATH)
    taken = helper.drawn(first)
    for _ in range(3):
        next(taken)
    helper.cancel(first)
    with pytest.raises(HelperGone, match="cancelled"):
        list(helper.drawn(first))
    assert list(helper.drawn(second)) == _drawn_by(helper, spec, Draws.INVALID_QUERIES, count=15, seed=4)


# A helper that reads its two jobs, then sends 300 examples of the first and one of the second
# at once, as fast as a pipe takes them: drawing takes no time here.
_FLOODING_HELPER = """
import os, sys
from multiprocessing.connection import Connection
jobs, results = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
first, second = jobs.recv()[1], jobs.recv()[1]
for index in range(300):
    results.send((first, "example", index))
results.send((first, "done", None))
results.send((second, "example", "after"))
results.send((second, "done", None))
sys.stdin.buffer.read()
"""


def test_the_run_holds_no_more_than_its_window_of_a_job_it_has_not_taken(spec: Spec) -> None:
    windowed = DrawingHelper([sys.executable, "-c", _FLOODING_HELPER], ahead=4)
    try:
        held = windowed.submit(spec, Draws.INVALID_QUERIES, count=300, seed=1, path_parameters=PATH)
        after = windowed.submit(spec, Draws.INVALID_QUERIES, count=1, seed=2, path_parameters=PATH)
        assert next(windowed.drawn(held)) == 0
        later: list[Any] = []
        taking = threading.Thread(target=lambda: later.extend(windowed.drawn(after)), daemon=True)
        taking.start()
        # Read whole, the first job would be here in milliseconds, and the second after it.
        taking.join(timeout=0.5)
        assert taking.is_alive(), "the run read on past its window, though it took nothing"
        windowed.cancel(held)
        taking.join(timeout=30)
        assert later == ["after"], "cancelled, the held job makes way for the next"
    finally:
        windowed.close()


def test_a_draw_that_raises_in_the_helper_leaves_it_serving(spec: Spec, helper: DrawingHelper) -> None:
    broken = Spec(document={"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}, path=spec.path)
    with pytest.raises(HelperGone, match="Traceback"):
        _drawn_by(helper, broken, Draws.NEGATIVE_CASES, count=3, seed=1)
    assert helper.alive
    assert len(_drawn_by(helper, spec, Draws.NEGATIVE_CASES, count=3, seed=1)) == 3


def test_a_job_whose_exploration_was_skipped_does_not_hold_up_the_next(spec: Spec, helper: DrawingHelper) -> None:
    run = _run(spec, max_examples=12)
    windowed = DrawingHelper(ahead=4, patience=10)
    try:
        run.ahead.helper = windowed
        for draws in (Draws.NEGATIVE_CASES, Draws.INVALID_QUERIES):
            run.ahead.jobs[draws] = windowed.submit(spec, draws, count=12, seed=21, path_parameters=PATH)
        taken: list[Any] = []
        # schema-negative had no share of the budget: negative-inputs is the first to take.
        run.each_drawn(Draws.INVALID_QUERIES, taken.append)
        assert windowed.alive, "the helper was never silent"
    finally:
        windowed.close()
    assert taken == _drawn_by(helper, spec, Draws.INVALID_QUERIES, count=12, seed=21)


def test_draws_asked_for_twice_are_drawn_once(
    spec: Spec, helper: DrawingHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(spec, max_examples=12)
    windowed = DrawingHelper(ahead=4, patience=10)
    monkeypatch.setattr(ahead_module, "shared_helper", lambda: windowed)
    try:
        run.ahead.ask([Draws.NEGATIVE_CASES, Draws.NEGATIVE_CASES])
        taken: list[Any] = []
        run.each_drawn(Draws.NEGATIVE_CASES, taken.append)
        assert windowed.alive, "the helper was never silent"
    finally:
        windowed.close()
    assert _comparable(Draws.NEGATIVE_CASES, taken) == _comparable(
        Draws.NEGATIVE_CASES, _drawn_by(helper, spec, Draws.NEGATIVE_CASES, count=12, seed=21)
    )


def test_a_spec_the_helper_cannot_be_sent_is_drawn_in_the_run(spec: Spec) -> None:
    run = _run(spec, max_examples=6)
    unpicklable = Spec(document={**spec.document, "x-unpicklable": threading.Lock()}, path=spec.path)
    run.ahead.spec = unpicklable
    run.ahead.ask([Draws.NEGATIVE_CASES])
    assert run.ahead.helper is None and not run.ahead.jobs
    run.ahead.spec = spec
    taken: list[Any] = []
    run.each_drawn(Draws.NEGATIVE_CASES, taken.append)
    assert _comparable(Draws.NEGATIVE_CASES, taken) == _drawn_here(spec, Draws.NEGATIVE_CASES, count=6, seed=21)


def test_the_helper_inherits_no_secret(spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCS_SK", "sk-that-must-not-travel")
    monkeypatch.setenv("DCS_AUTH_TOKEN", "token-that-must-not-travel")
    monkeypatch.setenv("HTTPS_PROXY", "http://user:proxy-password-that-must-not-travel@127.0.0.1:3128")
    monkeypatch.setenv("PGPASSWORD", "pg-password-that-must-not-travel")
    monkeypatch.setenv("HYPOTHESIS_NO_PLUGINS", "1")
    started = DrawingHelper()
    try:
        # It still draws: what it kept is enough. (Read once it has drawn: its environment is
        # empty in /proc while it is still being started.)
        assert len(_drawn_by(started, spec, Draws.POSITIVE_CASES, count=3, seed=1)) == 3
        environment = Path(f"/proc/{started.pid}/environ").read_bytes()
    finally:
        started.close()
    assert b"must-not-travel" not in environment and b"\0DCS_" not in b"\0" + environment
    assert b"PYTHONPATH=" in environment, "the helper imports this code wherever the run found it"
    assert b"\0HYPOTHESIS_NO_PLUGINS=1\0" in b"\0" + environment


def _helper_of(script: str, *, exits: int) -> int:
    """The pid of the helper that ``script``, run in a process of its own, starts and prints."""
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert parent.returncode == exits, parent.stderr
    return int(parent.stdout)


def test_the_helper_ends_with_the_run_s_process_however_it_ends() -> None:
    # A process that starts a helper and dies at once, closing nothing itself.
    script = (
        "import os, sys\n"
        "from dcs_contract.engine.drawing import DrawingHelper\n"
        "print(DrawingHelper().pid, flush=True)\n"
        "os._exit(9)\n"
    )
    try:
        handle = os.pidfd_open(_helper_of(script, exits=9))
    except ProcessLookupError:
        return  # it has ended already
    try:
        ended, _, _ = select.select([handle], [], [], 30)
    finally:
        os.close(handle)
    assert ended, "the helper outlived the process that started it"


def test_the_shared_helper_is_waited_for_as_its_process_exits() -> None:
    script = (
        "from dcs_contract.engine.drawing import shared_helper\n"
        "helper = shared_helper()\n"
        "assert helper is shared_helper(), 'one helper per process'\n"
        "print(helper.pid, flush=True)\n"
    )
    helper_pid = _helper_of(script, exits=0)
    # Reaped by the process that started it, before that process ended: not left to init.
    with pytest.raises(ProcessLookupError):
        os.kill(helper_pid, 0)


def _run(spec: Spec, **changes: Any) -> ContractRun:
    env = {"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": PATH["project_id"], "DCS_AUTH_TOKEN": "t"}
    target = Target.from_env({**env, "DCS_INSTANCE_ID": PATH["instance_id"]})
    settings = replace(RunSettings.for_target(target, seed=21), **changes)
    return ContractRun(spec, target, settings, httpx.Client(), RunLog(spec))


def _dying(helper: DrawingHelper, count: int, monkeypatch: pytest.MonkeyPatch) -> DrawingHelper:
    """``helper``, whose cases of a job stop coming after ``count`` of them, as if it had died."""
    drawn = helper.drawn

    def dying(job: int, **waiting: Any) -> Iterator[Any]:
        for index, case in enumerate(drawn(job, **waiting)):
            if index == count:
                raise HelperGone("the helper died")
            yield case

    monkeypatch.setattr(helper, "drawn", dying)
    return helper


@pytest.mark.parametrize(
    ("draws", "dies_after"),
    [
        (Draws.NEGATIVE_CASES, 0),
        (Draws.NEGATIVE_CASES, 3),
        (Draws.NEGATIVE_CASES, 12),
        (Draws.POSITIVE_CASES, 3),
        (Draws.INVALID_QUERIES, 5),
    ],
)
def test_a_run_whose_helper_dies_draws_the_rest_itself(
    spec: Spec, helper: DrawingHelper, draws: Draws, dies_after: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _comparable(draws, _drawn_by(helper, spec, draws, count=12, seed=21))
    run = _run(spec, max_examples=12)
    dying = _dying(helper, dies_after, monkeypatch)
    run.ahead.helper = dying
    run.ahead.jobs[draws] = dying.submit(spec, draws, count=12, seed=21, path_parameters=PATH)
    examples: list[Any] = []
    run.each_drawn(draws, examples.append)
    taken = _comparable(draws, examples)
    assert len(taken) == 12
    assert taken[:dies_after] == whole[:dies_after]
    # The rest are the run's own draws, in their order, but for what the helper sent already.
    sent = [repr(draws.query_of(example)) for example in examples]
    assert not set(sent[dies_after:]) & set(sent[:dies_after]), "a query the helper sent was sent again"
    here = iter(_drawn_here(spec, draws, count=12 + dies_after, seed=21))
    assert all(example in here for example in taken[dies_after:]), "not the run's own draws, in order"


def _queries_taken(spec: Spec, helper: DrawingHelper, draws: Draws, *, count: int) -> list[dict[str, Any]]:
    """The queries of the cases a run takes through ``each_case``, having asked ``helper`` for them."""
    run = _run(spec, max_examples=count)
    run.ahead.helper = helper
    run.ahead.jobs[draws] = helper.submit(spec, draws, count=count, seed=21, path_parameters=PATH)
    taken: list[dict[str, Any]] = []
    run.each_case(draws, lambda case: taken.append(case.query))
    return taken


def test_a_helper_that_cannot_start_leaves_the_run_to_draw_in_process(spec: Spec) -> None:
    helper = DrawingHelper([sys.executable, "-c", "raise SystemExit(1)"])
    try:
        taken = _queries_taken(spec, helper, Draws.POSITIVE_CASES, count=8)
    finally:
        helper.close()
    assert taken == _drawn_here(spec, Draws.POSITIVE_CASES, count=8, seed=21)


def test_a_silent_helper_is_killed_and_the_run_draws_itself(spec: Spec) -> None:
    # A helper that reads its jobs and never answers, as a stuck or stopped one would.
    silent = DrawingHelper([sys.executable, "-c", "import sys; sys.stdin.buffer.read()"], patience=0.05)
    try:
        taken = _queries_taken(spec, silent, Draws.NEGATIVE_CASES, count=5)
        assert silent._process.wait(timeout=10) == -9 and not silent.alive
    finally:
        silent.close()
    assert taken == _drawn_here(spec, Draws.NEGATIVE_CASES, count=5, seed=21)


def _blocks_stop_signals(native_id: int) -> bool:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    blocked = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return all(blocked & (1 << (signum - 1)) for signum in (signal.SIGINT, signal.SIGTERM))


def test_the_helper_s_threads_leave_sigint_and_sigterm_to_the_run_s_thread(helper: DrawingHelper) -> None:
    # A signal a process gets goes to one of its threads that does not block it; taken by one
    # of these, it would not wake the run's thread from a request's wait.
    assert all(_blocks_stop_signals(thread.native_id or 0) for thread in helper._threads)
    assert not _blocks_stop_signals(threading.get_native_id())


def test_a_signal_stops_a_run_that_waits_on_a_stuck_helper_at_once(spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stuck, not slow: it reads its jobs and never answers. Its patience is the default, 30 s.
    stuck = DrawingHelper([sys.executable, "-c", "import sys; sys.stdin.buffer.read()"])
    monkeypatch.setattr(ahead_module, "shared_helper", lambda: stuck)
    stop, over = StopOnSignals(), threading.Event()

    def signal_once_the_run_waits() -> None:
        while not stuck._arrived._waiters:  # type: ignore[attr-defined]  # the run's thread, in its wait
            if over.wait(0.001):
                return  # the run ended without waiting: the assertions below say so
        # Taken by this thread, not the run's: the kernel hands a process's signal to any of its
        # threads that does not block it, and one taken elsewhere does not interrupt a wait.
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=9), max_examples=8)
    started = time.monotonic()
    try:
        with embedded_mock(spec, target) as (mock_target, _), stop.installed(), stop.sending():
            threading.Thread(target=signal_once_the_run_waits, daemon=True).start()
            report = run_contract(spec, mock_target, settings, stopped=stop.stop_signal)
    finally:
        over.set()
        stuck.close()
    assert time.monotonic() - started < stuck.patience / 3, "the run waited out the helper's patience"
    assert report.error is not None and report.error.startswith(
        "stopped by SIGTERM during the exploration of schema-negative"
    ), report.error
    assert not report.cases.get("schema-negative") and "schema-negative" not in report.drawn_in_run


@pytest.mark.slow
def test_a_seeded_run_sends_the_same_requests_again_and_as_many_without_the_helper(
    spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sent(seed: int) -> list[str]:
        helper_now = ahead_module.shared_helper()
        target = Target.from_env({})
        settings = replace(RunSettings.for_target(target, seed=seed), max_examples=30)
        with embedded_mock(spec, target) as (mock_target, state):
            report = run_contract(spec, mock_target, settings)
        assert report.crash is None and report.error is None
        assert not report.drawn_in_run or helper_now is None, report.drawn_in_run
        return [f"{entry.path}?{entry.query}" for entry in state.requests()]

    # Every example the helper yields is counted: the runs must take them all from it.
    shared = ahead_module.shared_helper()
    assert shared is not None
    yielded = 0
    drawn = shared.drawn

    def counted(job: int, **waiting: Any) -> Iterator[Any]:
        nonlocal yielded
        for example in drawn(job, **waiting):
            yielded += 1
            yield example

    monkeypatch.setattr(shared, "drawn", counted)
    with_helper = sent(5)
    assert yielded == 2 * 30, "schema-negative's and negative-inputs' cases, all from the helper"
    assert sent(5) == with_helper
    monkeypatch.setattr(ahead_module, "shared_helper", lambda: None)
    assert len(sent(5)) == len(with_helper)


@pytest.mark.parametrize(
    ("dies", "why"),
    [
        (True, "the drawing helper failed after 3 of its cases: the helper died"),
        (False, "no drawing helper could start"),
    ],
    ids=["dies", "none"],
)
def test_cases_drawn_in_the_run_though_asked_of_the_helper_are_reported(
    spec: Spec, helper: DrawingHelper, monkeypatch: pytest.MonkeyPatch, dies: bool, why: str
) -> None:
    drawing = _dying(helper, 3, monkeypatch) if dies else None
    monkeypatch.setattr(ahead_module, "shared_helper", lambda: drawing)
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=9), max_examples=8)
    with embedded_mock(spec, target) as (mock_target, _):
        report = run_contract(spec, mock_target, settings)
    assert report.drawn_in_run == {"schema-negative": why, "negative-inputs": why}
    assert report.cases["schema-negative"] == 8, "as many cases all the same"
    assert RunReport.from_dict(json.loads(json.dumps(report.as_dict()))).drawn_in_run == report.drawn_in_run
    assert f"- schema-negative drawn in the run's process: {why}" in markdown_of(report, scrubber=Scrubber())
    shown = summary(report)
    assert f"drawn     schema-negative in the run's process: {why}" in shown
    assert "--seed may draw other cases" in shown and "replay with --seed" not in shown


@pytest.mark.parametrize("how", ["flag", "file"])
def test_draw_ahead_off_starts_no_helper_and_explores_as_much(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    def no_helper() -> NoReturn:
        raise AssertionError("a helper was started with draw_ahead off")

    monkeypatch.setattr(cli_run_module, "shared_helper", no_helper)
    monkeypatch.setattr(ahead_module, "shared_helper", no_helper)
    config = tmp_path / "dcs-contract.toml"
    config.write_text("draw_ahead = false\n")
    off = ["--no-draw-ahead"] if how == "flag" else ["--config", str(config)]
    reports = tmp_path / "reports"
    assert main(["run", "--report-dir", str(reports), "--seed", "3", "--max-examples", "20", *off], env={}) == 0
    report = json.loads((reports / "report.json").read_text())
    assert report["cases"]["schema-negative"] == 20
    assert report["cases"]["negative-inputs"] == len(probe_invalid_queries(spec)) + 20


def test_a_property_takes_only_what_it_declares_it_draws(spec: Spec) -> None:
    run = _run(spec)
    with pytest.raises(ValueError, match="page-walk declares nothing to draw"):
        run.for_property("page-walk").each_drawn(lambda example: None)
    with pytest.raises(ValueError, match="draws no schemathesis cases"):
        run.for_property("negative-inputs", Draws.INVALID_QUERIES).each_case(lambda case: None)
