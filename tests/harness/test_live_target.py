"""``dcs-contract run`` against a mock served on its own socket, addressed as a live target.

What the mock's request log saw is the proof: methods, counts and arrival times measured at
the server, not at the client.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.mock import FaultPlan
from dcs_contract.settings.target import RunSettings
from tests.harness.clocks import FakeClock
from tests.harness.conftest import Serve, dcs_contract_mock, live_env

# Whole runs of the suite, each a few seconds: -m 'not slow' leaves them out of a quick loop.
pytestmark = pytest.mark.slow
# A live target gets 2 requests/s by default; these runs are small and faster, the rules the same.
# Their rate limit only waits, in real time: test_the_budget_and_the_rate_limit_hold_at_the_server measures it.
QUICK = ["--max-examples", "15", "--rate-limit", "1000"]


def _report(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


def test_a_live_run_against_dcs_contract_mock_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The mock started on its own, as a user would, and addressed through DCS_BASE_URL with AK/SK."""
    with dcs_contract_mock() as printed:
        env = {key: value for key, value in printed.items() if key != "DCS_AUTH_TOKEN"}
        code = main(["run", "--report-dir", str(tmp_path), *QUICK], env=env)
    assert code == 0, capsys.readouterr().out
    report = _report(tmp_path)
    assert report["verdict"] == "conforms"
    assert report["target"]["base_url"] == printed["DCS_BASE_URL"]
    assert report["cases"]["auth-probe"] == 1


def test_only_get_reaches_the_target(serve: Serve, tmp_path: Path) -> None:
    with serve() as (server, state):
        assert main(["run", "--report-dir", str(tmp_path), *QUICK], env=live_env(server, state)) == 0
    methods = {entry.method for entry in state.requests()}
    assert methods == {"GET"}
    assert len(state.requests()) == _report(tmp_path)["requests"]["total"]


def test_the_budget_and_the_rate_limit_hold_at_the_server(serve: Serve, tmp_path: Path) -> None:
    budget, rate = 40, 10.0
    flags = ["--max-requests", str(budget), "--rate-limit", str(rate), "--report-dir", str(tmp_path)]
    with serve() as (server, state):
        code = main(["run", *flags], env=live_env(server, state))
    arrivals = [entry.at for entry in state.requests()]
    report = _report(tmp_path)
    assert code == 0, "a budget that sends the probe plan is a plan: the run ends on its verdict"
    # The budget binds: all but the reserves (retries, confirmation) is spent, and not one request more.
    kept = report["budget"]["reserve"] + report["budget"]["confirmation"]
    assert budget - kept <= len(arrivals) == report["requests"]["total"] <= budget
    # Any k consecutive requests span at least k/rate seconds, less 50 ms of scheduling jitter.
    for i, first in enumerate(arrivals):
        for j in range(i + 1, len(arrivals)):
            assert arrivals[j] - first >= (j - i) / rate - 0.05, (i, j, arrivals[j] - first)


def test_transient_faults_are_retried_and_are_not_drift(serve: Serve, tmp_path: Path, fake_clock: FakeClock) -> None:
    """Every 7th answer a 429 (Retry-After: 1), every 9th a 503, every 11th late (by less than the deadline).

    The run's waits are asked of a fake clock, and asserted by their lengths; the mock's
    late answers take real time, shortened from the default 1.5 s.
    """
    rate = 100.0
    with serve(faults=FaultPlan(slow_seconds=0.3)) as (server, state):
        # Small: still several of each fault (every 7th a 429, every 9th a 503) among about 70 requests.
        flags = ["--max-examples", "2", "--rate-limit", str(rate)]
        code = main(["run", "--report-dir", str(tmp_path), *flags], env=live_env(server, state))
    statuses = [entry.status for entry in state.requests()]
    assert code == 0, _report(tmp_path)["findings"]
    assert statuses.count(429) >= 3 and statuses.count(503) >= 3
    report = _report(tmp_path)
    assert report["requests"]["retries"] == statuses.count(429) + statuses.count(503)
    assert report["requests"]["total"] == len(statuses)
    # Each retry waited once, in the order the faults arrived: a 429 its Retry-After, a 503
    # (which has none) the guard's backoff, 0.5 s doubled at each attempt of the same request.
    retried = [status for status in statuses if status in (429, 503)]
    waits = fake_clock.waits(longer_than=1 / rate)
    assert len(waits) == len(retried), (waits, retried)
    assert [wait for status, wait in zip(retried, waits, strict=True) if status == 429] == [1.0] * retried.count(429)
    assert {wait for status, wait in zip(retried, waits, strict=True) if status == 503} <= {0.5, 1.0, 2.0, 4.0}


def test_an_anonymous_request_that_is_served_is_a_security_finding(serve: Serve, tmp_path: Path) -> None:
    with serve(drifts=("served-without-credentials",)) as (server, state):
        code = main(["run", "--report-dir", str(tmp_path), *QUICK], env=live_env(server, state))
    assert code == 1
    [finding] = _report(tmp_path)["findings"]
    assert (finding["category"], finding["location"], finding["actual"]) == ("auth", "Authorization", "200")
    assert "X-Auth-Token" not in finding["requests"][0]["curl"], "the probe is reproduced without credentials"
    first = state.requests()[0]
    assert (first.with_credentials, first.status) == (False, 200)


@pytest.mark.parametrize("token", [False, True], ids=["aksk", "token"])
def test_no_secret_appears_in_any_output(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], token: bool
) -> None:
    """stdout, stderr, the reports and the HAR recording: not the AK, the SK or the token."""
    reports = tmp_path / "reports"
    # A drift, so that findings with reproductions and excerpts are written too.
    with serve(drifts=("extra-field",)) as (server, state):
        env = live_env(server, state, token=token)
        code = main(["run", "--report-dir", str(reports), "--record", *QUICK], env=env)
    assert code == 1
    captured = capsys.readouterr()
    outputs = {"stdout": captured.out, "stderr": captured.err}
    outputs |= {path.name: path.read_text() for path in reports.iterdir()}
    assert set(outputs) == {"stdout", "stderr", "report.json", "report.md", "junit.xml", "traffic.har"}
    secrets = [state.credentials.token] if token else [state.credentials.access_key, state.credentials.secret_key]
    for name, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {name}"
    har = json.loads(outputs["traffic.har"])
    signed = [e for e in har["log"]["entries"] if any(h["value"] == "[REDACTED]" for h in e["request"]["headers"])]
    assert len(signed) == len(har["log"]["entries"]) - 1, "every request but the probe carried a redacted credential"
    assert len(har["log"]["entries"]) == len(state.requests())


def test_the_default_live_run_fits_the_default_budget_with_every_check_on(serve: Serve, tmp_path: Path) -> None:
    """Live defaults (examples, budget, retries) but for the rate limit, so that the test is quick."""
    with serve() as (server, state):
        code = main(["run", "--report-dir", str(tmp_path), "--rate-limit", "1000"], env=live_env(server, state))
    report = _report(tmp_path)
    assert code == 0, report["findings"]
    assert report["skipped"] == {}
    assert set(report["cases"]) == set(PROPERTIES)
    assert len(state.requests()) == report["requests"]["total"] <= RunSettings.LIVE_DEFAULTS["max_requests"]
