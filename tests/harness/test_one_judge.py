"""One judge (engine/judge.py): the run, check-har, replay and the pytest plugin's page walk agree.

One mock, served on loopback with drift switches, is judged four ways:

- ``dcs-contract run --record`` sends and judges its own exchanges (report.json), and records them;
- ``check-har`` judges the recording, with nothing sent;
- replay sends each finding's requests again and judges what comes back (``rejudge``);
- a team's pytest session walks the same listing through ``dcs_pages --dcs-judge-pages``.

What is compared, and why only that: the plugin fetches only pages of valid queries of the
target's instance, at its own limits and offsets, so the four meet on what such a page shows
by itself: the response checks of a listing and the per-page invariants. The findings of
those checks on those exchanges, as (check, location, fingerprint), must be the same set for
all four. The fingerprint leaves out the request, so the same drift on another page of the
same listing is the same finding. The run, check-har and replay also meet on the invariants
across requests, the run's evidence being in its recording and in each finding's requests:
each of the run's cross-page findings must be found again by check-har and by replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract import checks
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.invariants import INVARIANTS, PAGE_INVARIANTS
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.judge import OFFLINE_CHECKS
from dcs_contract.engine.reproduce import Rebase, rejudge
from dcs_contract.engine.run import ContractRun, RunLog
from dcs_contract.engine.suite import guarded
from dcs_contract.har.check import check_har
from dcs_contract.results.schema import read_report
from dcs_contract.settings.target import RunSettings, Target
from dcs_contract.transport.guard import build_client
from tests.harness.conftest import Serve, live_env

pytest_plugins = ["pytester"]

# Drift on the records (a type, an enum, another instance's record) and on total_num (across pages).
SWITCHES = ("size-as-string", "status-past-tense", "other-instance-leaks", "total-counts-from-offset")
# What a page of a valid query shows by itself: the four meet there.
ON_A_PAGE = frozenset((*checks.check_names(OFFLINE_CHECKS), *PAGE_INVARIANTS))
ACROSS = frozenset(rule_id for rule_id, rule in INVARIANTS.items() if not rule.per_page)
# A team's walks of the listing: the survey's page size, the default, and a walk of three pages.
WALKS = """
def test_walk_the_listing(dcs_pages):
    for limit in (1000, None, 46, 1):
        assert list(dcs_pages(limit=limit, max_pages=3))
"""

Key = tuple[str, str, str]


def _keys(findings: Iterable[Finding], checks_of: frozenset[str]) -> set[Key]:
    return {(f.check, f.location, f.fingerprint) for f in findings if f.check in checks_of}


def _valid_listing_of(instance_id: str, findings: Iterable[Finding]) -> list[Finding]:
    """The findings whose every request was a listing of ``instance_id`` (the plugin sends no other)."""
    return [
        f
        for f in findings
        if f.requests and all(f"/instances/{instance_id}/backups" in request.url for request in f.requests)
    ]


def test_the_run_check_har_replay_and_the_plugin_judge_the_same_exchanges_alike(
    serve: Serve, spec: Spec, tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    flags = ["--seed", "1", "--max-requests", "80", "--rate-limit", "1000", "--record", "--no-confirm"]
    with serve(drifts=SWITCHES) as (server, state):
        env = live_env(server, state)
        # -- the run, and its recording --------------------------------------------------
        assert main(["run", "--report-dir", str(out), *flags], env=env) == 1
        run_findings = list(read_report(out / "report.json").findings)
        # -- check-har on the recording ---------------------------------------------------
        har_findings = list(check_har(spec, [out / "traffic.har"], empty_instance_id=state.empty_instance_id).findings)
        # -- replay: each finding's requests sent again and judged ------------------------
        target = Target.from_env(env)
        assert target.base_url is not None and target.project_id is not None
        settings = replace(RunSettings.for_target(target, seed=1), max_requests=1000, rate_limit=None)
        replayed: list[Finding] = []
        with build_client(
            target.base_url, auth=target.credentials.auth(target.project_id), guard=guarded(settings), timeout=10
        ) as client:
            run = ContractRun(spec, target, settings, client, RunLog(spec))
            for finding in run_findings:
                judged = rejudge(run, finding, Rebase({}), as_property="replay")
                assert judged is not None, f"{finding.check} at {finding.location} could not be judged again"
                replayed.extend(judged)
        # -- the plugin's page walk over the same mock -------------------------------------
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        pytester.makepyfile(test_walks=WALKS)
        # At the run's rate limit: a live target's default (2/s) would only wait, in real time.
        result = pytester.runpytest(
            "--dcs-judge-pages", "--dcs-rate-limit", "1000", "--dcs-report-dir", "plugin", "-p", "no:cacheprovider"
        )
        result.assert_outcomes(passed=1)
        plugin: dict[str, Any] = json.loads((pytester.path / "plugin" / "report.json").read_text(encoding="utf-8"))
        plugin_findings = [Finding.from_dict(shown) for shown in plugin["findings"]]

    instance = state.instance_id
    seen = {
        "run": _keys(_valid_listing_of(instance, run_findings), ON_A_PAGE),
        "check-har": _keys(_valid_listing_of(instance, har_findings), ON_A_PAGE),
        "replay": _keys(_valid_listing_of(instance, replayed), ON_A_PAGE),
        "plugin": _keys(plugin_findings, ON_A_PAGE),
    }
    # Each switch shows on a page: a type, an enum value, another instance's record.
    locations = {location for _, location, _ in seen["run"]}
    assert {
        "/backup_record_response/*/size",
        "/backup_record_response/*/status",
        "/backup_record_response/*/instance_id",
    } <= locations
    for name, keys in seen.items():
        assert keys == seen["run"], f"{name} judges the pages otherwise than the run: {keys ^ seen['run']}"
    # Across requests: every cross-page finding of the run, again from its recording and its requests.
    across = _keys(run_findings, ACROSS)
    assert across, "total-counts-from-offset breaks an invariant across requests"
    assert across <= _keys(har_findings, ACROSS)
    assert across <= _keys(replayed, ACROSS)
