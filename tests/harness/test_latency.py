"""Latency: each answer timed in the transport on the injected clock, per property in the report, and the SLO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.severity import Severity
from dcs_contract.engine.latency import RESPONSE_TIME, RESPONSE_TIME_DEGRADED, LatencyLog, Slo, percentiles, timing_of
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.suite import guarded
from dcs_contract.mock import FaultPlan
from dcs_contract.settings.target import RunSettings
from dcs_contract.transport.guard import build_client
from tests.harness.clocks import FakeClock
from tests.harness.conftest import Serve, live_env

# Every answer 0.2 s late, before its headers; no other fault.
SLOW = FaultPlan(throttle_every=0, unavailable_every=0, slow_every=1, slow_seconds=0.2)
# Every 10th answer late: a run that has a few slow answers among many fast ones.
SOME_SLOW = FaultPlan(throttle_every=0, unavailable_every=0, slow_every=10, slow_seconds=0.2)
# A budget that still reaches every property (schema-negative last), with a few slow answers in each run.
QUICK = ["--max-examples", "5", "--seed", "3", "--no-confirm", "--max-requests", "40"]


def test_percentiles_are_nearest_rank_values_that_were_measured() -> None:
    samples = [float(n) for n in range(100, 0, -1)]
    assert percentiles(samples) == {"p50": 50.0, "p95": 95.0, "max": 100.0}
    assert percentiles([0.25]) == {"p50": 0.25, "p95": 0.25, "max": 0.25}
    assert percentiles([1.0, 3.0]) == {"p50": 1.0, "p95": 3.0, "max": 3.0}


def test_the_guard_times_headers_and_last_byte_on_its_clock_not_counting_its_own_wait(serve: Serve) -> None:
    clock = FakeClock()
    # One request every 5 s: the second waits on the fake clock, which is the harness's wait, not the target's.
    settings = RunSettings(rate_limit=0.2, timeout=5.0)
    with serve(faults=SLOW) as (server, state):
        guard = guarded(settings, clock=clock)
        auth = state.credentials.auth(state.project_id)
        with build_client(server.base_url, auth=auth, guard=guard, timeout=5.0) as client:
            path = f"/v2/{state.project_id}/instances/{state.instance_id}/backups"
            answers = [client.get(path, params={"limit": "1"}) for _ in range(2)]
    assert clock.sleeps and max(clock.sleeps) > 4.0, "the second request waited for its slot"
    for response in answers:
        timing = timing_of(response)
        assert timing is not None and 0.2 <= timing.headers <= timing.total < 4.0, timing
    exchanges = guard.stats.exchanges
    assert [e.headers_elapsed is not None and e.headers_elapsed >= 0.2 for e in exchanges] == [True, True]
    log = LatencyLog()
    for response in answers:
        log.add("schema", response)
    [entry] = log.summary().values()
    assert entry["requests"] == 2 and set(entry) == {"requests", "headers", "total"}
    assert set(entry["headers"]) == set(entry["total"]) == {"p50", "p95", "max"}
    assert entry["total"]["max"] >= entry["headers"]["max"] >= 0.2
    # The worse tier only: over the maximum is a contract finding, over the degraded tier alone is info.
    [over] = Slo(max_response_time=0.1, degraded_response_time=0.05).findings(answers[0])
    assert (over.check, over.category, over.severity) == (RESPONSE_TIME, "latency", Severity.CONTRACT)
    [slow] = Slo(degraded_response_time=0.1).findings(answers[0])
    assert (slow.check, slow.severity) == (RESPONSE_TIME_DEGRADED, Severity.INFO)
    assert Slo(max_response_time=5.0).findings(answers[0]) == []


def test_slo_settings_are_checked_before_anything_is_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["run", "--report-dir", str(tmp_path)]
    assert main([*flags, "--max-response-time", "0"], env={}) == 2
    assert "--max-response-time=0.0, but it must be more than 0" in capsys.readouterr().err
    assert main([*flags, "--max-response-time", "1", "--degraded-response-time", "2"], env={}) == 2
    assert "must be below --max-response-time=1.0" in capsys.readouterr().err


def _report(directory: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((directory / "report.json").read_text())
    return report


@pytest.mark.slow
def test_an_slo_with_the_mocks_slow_answers_fails_over_the_maximum_and_is_degraded_over_the_lower_tier(
    serve: Serve, tmp_path: Path, fake_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(faults=SOME_SLOW) as (server, state):
        env = live_env(server, state)
        over = tmp_path / "over"
        code = main(["run", "--report-dir", str(over), *QUICK, "--max-response-time", "0.15", "--record"], env=env)
        degraded = tmp_path / "degraded"
        degraded_code = main(
            ["run", "--report-dir", str(degraded), *QUICK, "--degraded-response-time", "0.15"], env=env
        )
        strict = tmp_path / "strict"
        strict_flags = [*QUICK, "--degraded-response-time", "0.15", "--fail-on", "info"]
        strict_code = main(["run", "--report-dir", str(strict), *strict_flags], env=env)
    report = _report(over)
    assert code == 1, report["findings"]
    [finding] = report["findings"]
    assert (finding["check"], finding["category"], finding["severity"]) == (RESPONSE_TIME, "latency", "contract")
    assert report["slo"] == {"max_response_time": 0.15} and report["degraded"] is False
    # The budget still reaches every property, and each is timed; the slow answers show in the maxima.
    assert report["stopped"] is None and set(report["cases"]) == set(PROPERTIES)
    assert set(report["latency"]) == set(report["cases"])
    assert max(entry["total"]["max"] for entry in report["latency"].values()) >= 0.2
    assert sum(entry["requests"] for entry in report["latency"].values()) == sum(report["cases"].values())
    assert "## Latency" in (over / "report.md").read_text()
    # The recording splits each answer's time as the guard did: waiting for the headers, then the body.
    timings = [entry["timings"] for entry in json.loads((over / "traffic.har").read_text())["log"]["entries"]]
    assert any(t["wait"] >= 200 for t in timings) and all(t["receive"] >= 0 for t in timings)

    report = _report(degraded)
    assert (degraded_code, report["verdict"], report["degraded"]) == (0, "conforms", True)
    assert [f["severity"] for f in report["findings"]] == ["info"]
    assert "**degraded**" in (degraded / "report.md").read_text()
    assert "the run is degraded" in capsys.readouterr().out
    # --fail-on info: what is only observed fails the run too.
    assert (strict_code, _report(strict)["verdict"]) == (1, "violations")
