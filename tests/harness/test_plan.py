"""The budget as a plan: the probe plan first and whole, a reserve for retries, the rest by weight."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.checks import CHECK_NAMES
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.plan import MIN_RESERVE, BudgetPlan
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.suite import embedded_mock, guarded, run_contract
from dcs_contract.mock import FaultPlan
from dcs_contract.results.report import RunReport
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import build_client

RUN_GUIDE = Path(__file__).parents[2] / "docs" / "how-a-run-works.md"


def _plan(spec: Spec, budget: int, *, empty_instance: bool = True) -> BudgetPlan:
    env = {"DCS_BASE_URL": "https://dcs.test", "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i", "DCS_AUTH_TOKEN": "t"}
    target = Target.from_env(env)
    target = replace(target, empty_instance_id="e" if empty_instance else None)
    return BudgetPlan.of(spec, target, max_requests=budget, properties=list(PROPERTIES.values()))


MockRun = Callable[[int, int], tuple[list[str], RunReport]]


@pytest.fixture(scope="module")
def mock_run(spec: Spec) -> MockRun:
    """``mock_run(budget, seed)``: what a run against the embedded mock sent, and its report; once per module."""

    @functools.cache
    def run(budget: int, seed: int) -> tuple[list[str], RunReport]:
        target = Target.from_env({})
        settings = replace(RunSettings.for_target(target, seed=seed), max_requests=budget)
        with embedded_mock(spec, target) as (mock_target, state):
            report = run_contract(spec, mock_target, settings)
        assert report.error is None and report.crash is None
        return [f"{entry.path}?{entry.query}" for entry in state.requests()], report

    return run


def test_the_probe_plan_is_known_before_the_run_and_counts_the_survey_once(spec: Spec) -> None:
    plan = _plan(spec, 600)
    assert plan.probes["schema-positive"] == 1, "the survey is the only probe of schema-positive"
    assert plan.probes["paging-total"] == 2 and plan.probes["time-windows"] == 5, "the survey is not counted again"
    assert plan.probes["empty-instance"] == 1 and _plan(spec, 600, empty_instance=False).probes["empty-instance"] == 0
    assert plan.probe_requests == sum(plan.probes.values()) < 40
    assert plan.minimum == plan.probe_requests + MIN_RESERVE
    assert (_plan(spec, 40).reserve, _plan(spec, 120).reserve, _plan(spec, 600).reserve) == (2, 6, 30)


def test_exploration_shares_go_by_weight_beyond_the_reserve(spec: Spec) -> None:
    plan = _plan(spec, 600)
    order = [name for name in PROPERTIES if plan.weights[name]]
    left = 600 - plan.probe_requests
    first = plan.share(order[0], left=left, after=order)
    kept = plan.reserve + plan.confirmation
    assert (plan.reserve, plan.confirmation) == (30, 30)
    assert first == (left - kept) * plan.weights[order[0]] // sum(plan.weights[name] for name in order)
    assert plan.share(order[-1], left=100, after=order[-1:]) == 100 - kept, "the last takes what is left"
    assert plan.share(order[-1], left=kept, after=order[-1:]) == 0, "the reserves are never planned"
    assert replace(plan, confirm=False).confirmation == 0, "--no-confirm keeps nothing to confirm with"
    assert plan.share("auth-probe", left=500, after=["auth-probe", *order]) == 0, "no weight, no exploration"


@pytest.mark.slow
def test_a_budget_below_the_probe_plan_is_refused_before_anything_is_sent(
    spec: Spec, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    minimum = _plan(spec, 1).minimum
    assert main(["run", "--report-dir", str(tmp_path), "--max-requests", str(minimum - 1)], env={}) == 2
    err = capsys.readouterr().err
    assert f"give at least --max-requests {minimum}" in err
    assert "starting the embedded mock" not in err and not (tmp_path / "report.json").exists()
    assert main(["run", "--report-dir", str(tmp_path), "--max-requests", str(minimum), "--seed", "3"], env={}) == 0


def test_the_probe_plan_alone_evaluates_every_check_and_every_invariant(spec: Spec, mock_run: MockRun) -> None:
    minimum = _plan(spec, 1).minimum
    sent, report = mock_run(minimum, 1)
    assert len(sent) <= minimum
    assert report.budget is not None and report.budget.probe_plan_sent is not None
    assert report.budget.probe_plan_sent <= report.budget.probe_plan
    evaluated = report.evaluated
    assert set(evaluated) == {*CHECK_NAMES, *spec.invariants}, set(CHECK_NAMES) | set(spec.invariants) - set(evaluated)


@pytest.mark.slow
def test_the_probe_plan_is_the_same_whatever_the_seed(spec: Spec, mock_run: MockRun) -> None:
    minimum = _plan(spec, 1).minimum
    first, report = mock_run(minimum, 1)
    second, _ = mock_run(minimum, 987654321)
    # And it is what a larger budget sends first.
    larger, _ = mock_run(200, 5)
    assert report.budget is not None and report.budget.probe_plan_sent is not None
    probes = report.budget.probe_plan_sent
    assert first[:probes] == second[:probes] == larger[:probes]
    assert len({query for query in first[:probes]}) == probes, "no probe repeats another"


@pytest.mark.slow
def test_retries_count_against_the_budget_and_the_plan_still_completes(spec: Spec) -> None:
    """A busy gateway (every 3rd answer a 429): later shares shrink by what retries took, never the budget."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=4, max_examples=1000), max_requests=60)
    busy = FaultPlan(throttle_every=3, unavailable_every=0, slow_every=0, retry_after=0)
    with embedded_mock(spec, target, faults=busy) as (mock_target, state):
        report = run_contract(spec, mock_target, settings)
    assert len(state.requests()) == report.requests.total <= 60
    assert report.requests.retries > _plan(spec, 60).reserve
    assert (report.verdict, report.error, report.stopped) == ("conforms", None, None)
    assert report.cases["time-windows"] > 5, "the last property still explored"


def test_a_budget_spent_by_others_after_the_probe_plan_ends_the_run_on_its_verdict(spec: Spec) -> None:
    """A guard shared with others (the pytest suite's properties): what they spend is not this run's to plan."""
    target = Target.from_env({})
    settings = replace(RunSettings.for_target(target, seed=4), max_requests=80)
    guard = guarded(settings, shared=True)
    with embedded_mock(spec, target) as (mock_target, _state):
        assert mock_target.base_url is not None and mock_target.project_id is not None
        auth = mock_target.credentials.auth(mock_target.project_id)
        other = build_client(mock_target.base_url, auth=auth, guard=guard, timeout=10)

        def spend_the_rest(name: str, done: int, expected: int | None) -> None:
            if name == "schema-negative" and guard.requests_left:
                for _ in range(guard.requests_left):
                    other.get("/")

        with other:
            report = run_contract(spec, mock_target, settings, guard=guard, progress=spend_the_rest)
        guard.shutdown()
    assert (report.verdict, report.error) == ("conforms", None)
    assert report.stopped is not None and "exploration of schema-negative" in report.stopped
    assert report.cases["schema-negative"] == 1


@pytest.mark.slow
def test_fail_fast_stops_at_the_first_finding_and_says_when(tmp_path: Path) -> None:
    # Small runs: --fail-fast ends in the probe plan, and the same run without it still goes on.
    argv = ["run", "--report-dir", str(tmp_path), "--seed", "1", "--max-examples", "5"]
    argv += ["--mock-drift", "negative-offset-accepted"]
    assert main([*argv, "--fail-fast"], env={}) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    [finding] = report["findings"]
    assert (finding["check"], finding["location"]) == ("invalid_input_rejected", "offset")
    # Nothing was sent after it but its own requests, once more, to confirm it.
    assert report["requests"]["total"] == finding["first_seen"] + len(finding["requests"])
    assert finding["confirmation"] == "reproduced"
    assert report["stopped"].startswith("at the first finding (--fail-fast)")
    assert main(argv, env={}) == 1
    going_on = json.loads((tmp_path / "report.json").read_text())
    assert going_on["stopped"] is None and going_on["requests"]["total"] > report["requests"]["total"]


@pytest.mark.slow
def test_fail_fast_does_not_stop_at_a_finding_the_baseline_accepts(tmp_path: Path) -> None:
    baseline = tmp_path / "accepted.json"
    argv = ["run", "--report-dir", str(tmp_path / "r"), "--seed", "1", "--max-examples", "10"]
    argv += ["--mock-drift", "extra-field", "--baseline", str(baseline)]
    assert main([*argv, "--baseline-update"], env={}) == 0
    assert main([*argv, "--fail-fast"], env={}) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["stopped"] is None and len(report["baseline"]["accepted"]) == 1


def test_the_run_guide_states_each_weight_and_the_reserve(spec: Spec) -> None:
    text = RUN_GUIDE.read_text()
    for name, prop in PROPERTIES.items():
        if prop.weight:
            assert re.search(rf"\| `{re.escape(name)}` \| {prop.weight} \|", text), f"the guide: the weight of {name}"
    assert "5% of the budget, at least 2" in text
