"""The pytest plugin, as a team uses it: its own rules in its own test files, run by pytester.

The sample rule holds against the faithful mock, which the plugin serves itself, and fails
against a drift switch, as a finding of the report; the client refuses anything but GET and
stops at the session's budget, which the mock's own log confirms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from dcs_contract.contract.spec import Spec
from dcs_contract.mock import MockState
from dcs_contract.results.schema import read_report
from tests.harness.conftest import Serve, live_env

pytest_plugins = ["pytester"]

RULE = "every backup's instance_id is the instance's"
CHECK = "team-rule:test_backups_belong_to_their_instance"
GUIDE = Path(__file__).parents[2] / "docs" / "pytest-plugin.md"
# The plugin guide's example of a team's rule, as it is printed there: the tests run it.
TEAM_RULES = GUIDE.read_text().split("## A team's own rules", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
NODE = "test_team_rules.py::test_backups_belong_to_their_instance"


@pytest.fixture(autouse=True)
def no_configured_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the environment of the harness's own run, a team's session here starts with no target."""
    for name in ("DCS_BASE_URL", "DCS_REGION", "DCS_PROJECT_ID", "DCS_INSTANCE_ID", "DCS_EMPTY_INSTANCE_ID"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CLOUD_SDK_AK", "CLOUD_SDK_SK", "DCS_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _report(directory: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return report


def test_a_team_rule_holds_against_the_faithful_embedded_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_team_rules=TEAM_RULES)
    result = pytester.runpytest("--dcs-report-dir", "out")
    result.assert_outcomes(passed=1)
    report = _report(pytester.path / "out")
    assert report["verdict"] == "conforms"
    assert report["findings"] == [] and report["error"] is None
    assert report["cases"] == {CHECK: 1}
    # 137 records at limit=100: two pages, the walk stopping at total_num.
    assert report["requests"] == {"total": 2, "retries": 0, "by_status": {"200": 2}}
    assert report["target"]["base_url"].startswith("http://127.0.0.1:")
    assert report["spec"]["sha256"] and report["harness_version"]


def test_a_team_rule_fails_against_a_drift_switch_as_a_finding_of_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_team_rules=TEAM_RULES)
    result = pytester.runpytest("--dcs-mock-drift", "other-instance-leaks", "--dcs-report-dir", "out")
    result.assert_outcomes(failed=1)
    # The team's own message, and the plugin's summary of the finding.
    result.stdout.re_match_lines(
        [r"E\s+AssertionError: backup \S+ belongs to instance \S+", r".*dcs-contract team rules.*"]
    )
    result.stdout.fnmatch_lines([f"[[]paging[]] {RULE}: backup * belongs to instance * ({NODE})"])
    report = _report(pytester.path / "out")
    assert report["verdict"] == "violations"
    assert report["cases"] == {CHECK: 1}
    (finding,) = report["findings"]
    assert (finding["check"], finding["category"], finding["title"]) == (CHECK, "paging", RULE)
    assert finding["location"] == NODE
    assert finding["actual"].startswith("backup ") and "belongs to instance" in finding["actual"]
    # Every third record of the first page is another instance's: the first page shows it.
    (request,) = finding["requests"]
    assert request["method"] == "GET" and request["url"].endswith("/backups?limit=100&offset=0")
    assert request["curl"].startswith('curl -sS -X GET -H "X-Auth-Token: $DCS_AUTH_TOKEN" ')
    assert finding["status"] == 200
    # The report reads back as a run's does (its JSON Schema checked): diff, history and docs take it.
    (read,) = read_report(pytester.path / "out" / "report.json").findings
    assert read.fingerprint == finding["fingerprint"] and read.check == CHECK
    suite = ET.parse(pytester.path / "out" / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
    case = suite.find("testcase")
    # One testcase per check (results/junit.py): the team's rule, failing with its finding.
    assert case is not None and case.get("classname") == "dcs-contract.checks"
    assert case.get("name") == CHECK and NODE in (case.findtext("failure") or "")
    # No seed drove it, and replay cannot judge a team's rule: report.md offers neither.
    markdown = (pytester.path / "out" / "report.md").read_text()
    assert "seed None" not in markdown and "dcs-contract replay" not in markdown
    assert "curl -sS -X GET" in markdown


@pytest.mark.slow
def test_the_findings_of_xdist_workers_reach_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_team_rules=TEAM_RULES, test_more_rules=TEAM_RULES.replace("their_instance", "it"))
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--dcs-mock-drift", "other-instance-leaks", "--dcs-report-dir", "out"
    )
    result.assert_outcomes(failed=2)
    report = _report(pytester.path / "out")
    assert sorted(f["location"] for f in report["findings"]) == [
        "test_more_rules.py::test_backups_belong_to_it",
        NODE,
    ]
    assert report["requests"]["total"] == 2, "one page each: the first page already shows the drift"


def test_a_team_test_cannot_send_anything_but_get(
    pytester: pytest.Pytester, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_sneaky="""
        import pytest

        @pytest.mark.dcs_rule("a backup can be made")
        def test_make_a_backup(dcs_client, dcs_target):
            path = f"/v2/{dcs_target.project_id}/instances/{dcs_target.instance_id}/backups"
            dcs_client.post(path, json={"remark": "made by a test"})
        """
    )
    with serve() as (server, state):
        for name, value in live_env(server, state).items():
            monkeypatch.setenv(name, value)
        result = pytester.runpytest("--dcs-report-dir", "out")
        sent, base_url = state.requests(), server.base_url
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UnsafeMethod: refusing to send POST /v2/*/backups: this harness sends only GET*"])
    assert sent == [], "the POST never left the client"
    report = _report(pytester.path / "out")
    # A refused request is the test's fault, not the target's: no finding, and the rule is untested.
    assert report["verdict"] == "untestable" and report["findings"] == []
    assert "could not be tested: UnsafeMethod: refusing to send POST" in report["error"]
    assert report["target"]["base_url"] == base_url


def test_the_budget_is_the_sessions_not_each_tests(
    pytester: pytest.Pytester, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_budget="""
        def test_first_walk(dcs_pages):
            assert len(list(dcs_pages(limit=100))) == 2

        def test_second_walk(dcs_pages):
            assert len(list(dcs_pages(limit=10))) == 14
        """
    )
    with serve() as (server, state):
        for name, value in live_env(server, state).items():
            monkeypatch.setenv(name, value)
        result = pytester.runpytest("--dcs-max-requests", "3", "--dcs-rate-limit", "100")
        sent = state.requests()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*BudgetExhausted: the request budget of 3 is spent (--max-requests)*"])
    assert [(entry.method, entry.query) for entry in sent] == [
        ("GET", "limit=100&offset=0"),
        ("GET", "limit=100&offset=100"),
        ("GET", "limit=10&offset=0"),
    ]


def test_a_walk_stops_at_an_empty_page_and_at_its_cap(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_walks="""
        import pytest

        def test_the_empty_instance_is_one_empty_page(dcs_pages, dcs_target):
            (page,) = dcs_pages(instance_id=dcs_target.empty_instance_id)
            assert (page.status, page.total, page.entries) == (204, 0, 0)

        def test_the_cap(dcs_pages):
            assert [page.offset for page in dcs_pages(limit=10, offset=20, max_pages=3)] == [20, 30, 40]

        @pytest.fixture(scope="session")
        def every_record(dcs_pages):
            return list(dcs_pages.records(limit=1000))

        def test_every_record_once(every_record):
            ids = [record["backup_id"] for record in every_record]
            assert len(ids) == len(set(ids)) == 137

        def test_every_backup_type_is_documented(every_record, dcs_spec):
            assert {record["backup_type"] for record in every_record} == set(dcs_spec.enum_values("backup_type"))

        def test_a_bad_limit_is_refused_before_sending(dcs_pages):
            with pytest.raises(ValueError, match=r"limit=0, but it must be 1..1000"):
                dcs_pages(limit=0)
        """
    )
    result = pytester.runpytest("--dcs-report-dir", "out")
    result.assert_outcomes(passed=5)
    # One page of the empty instance, three to the cap, and one walk read by two tests.
    assert _report(pytester.path / "out")["requests"]["total"] == 1 + 3 + 1


def test_a_wrong_marker_or_drift_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_wrong="""
        import pytest

        @pytest.mark.dcs_rule("backups are fine", category="team-rule")
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dcs_rule(category='team-rule'), but it must be one of schema, enum, *"])
    result = pytester.runpytest("--dcs-mock-drift", "no-such-drift", "-k", "nothing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dcs-mock-drift='no-such-drift' is not a drift switch; known: *"])


def test_a_profile_is_read_from_the_config_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_team_rules=TEAM_RULES)
    pytester.makefile(".toml", **{"dcs-contract": '[profiles.tiny]\nmax_requests = 1\nreport_dir = "tiny-report"\n'})
    result = pytester.runpytest("--dcs-profile", "tiny")
    result.stdout.fnmatch_lines(["dcs-contract: settings of ./dcs-contract.toml, profile 'tiny'"])
    # The profile's budget of 1 is the session's: the walk's second page is never sent.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the request budget of 1 is spent*"])
    report = _report(pytester.path / "tiny-report")
    assert report["verdict"] == "untestable" and report["requests"]["total"] == 1
    # A flag given wins over the profile.
    result = pytester.runpytest("--dcs-profile", "tiny", "--dcs-max-requests", "2")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--dcs-profile", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'huge' is not a profile of ./dcs-contract.toml; known: tiny*"])


def test_the_file_s_defaults_and_dcs_profile_hold_without_a_flag(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget in dcs-contract.toml binds a team's session as it binds a run; a profile with no file is refused."""
    pytester.makepyfile(test_team_rules=TEAM_RULES)
    result = pytester.runpytest("--dcs-profile", "staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--profile='staging', but there is no configuration to read it from*"])
    pytester.makefile(".toml", **{"dcs-contract": "max_requests = 1\n\n[profiles.tiny]\nmax_examples = 2\n"})
    monkeypatch.setenv("DCS_PROFILE", "tiny")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["dcs-contract: settings of ./dcs-contract.toml, profile 'tiny'*"])
    # One request: the walk's first page; its second is refused by the budget, and the rule is untested.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*budget of 1 is spent*"])


def test_the_mock_drift_the_plugin_serves_is_the_mocks(spec: Spec) -> None:
    # The sample rule fails against this switch because the switch does what its name says.
    state = MockState.default(spec, drifts=("other-instance-leaks",))
    rows = state.service.records[state.instance_id]
    assert any(row["instance_id"] != state.instance_id for row in rows)
