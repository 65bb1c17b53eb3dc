"""report.md answers the morning's questions: the excerpt, the occurrences, the statuses, and lines that work."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dcs_contract.cli.app import build_parser
from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo, write_reports

URL = "http://127.0.0.1:9/v2/p/instances/i/backups?limit=5"


def _finding(check: str = "page-size") -> Finding:
    return Finding(
        check=check,
        category="paging",
        title="Page size wrong",
        message="",
        location="/backup_record_response",
        expected="5 records",
        actual="10 records",
        status=200,
        response_excerpt='{"total_num": 12, "backup_record_response": [{"backup_id": "b-1"}]}',
        requests=(RequestInfo(method="GET", url=URL),),
    )


def _report(finding: Finding, *, seed: int | None = 7) -> RunReport:
    return RunReport(
        target=TargetInfo(credentials="AK/SK from CLOUD_SDK_AK"),
        started="2026-12-04T00:00:00+00:00",
        finished="2026-12-04T00:00:09+00:00",
        seed=seed,
        cases={"page-walk": 3},
        requests=RequestCounts(total=61, by_status={"200": 58, "400": 2, "204": 1}),
        findings=[finding],
        occurrences={finding.fingerprint: 58},
    )


def _written(report: RunReport, directory: Path) -> str:
    write_reports(report, directory, scrubber=Scrubber())
    return (directory / "report.md").read_text()


def test_the_excerpt_and_the_occurrences_are_shown(tmp_path: Path) -> None:
    markdown = _written(_report(_finding()), tmp_path)
    assert "seen 58 times in the run" in markdown
    assert '{"total_num": 12, "backup_record_response": [{"backup_id": "b-1"}]}' in markdown
    assert "The response (status 200), its start:" in markdown


def test_the_status_counts_are_a_table_not_json(tmp_path: Path) -> None:
    markdown = _written(_report(_finding()), tmp_path)
    assert "| status | requests |\n|---|---|\n| 200 | 58 |\n| 204 | 1 |\n| 400 | 2 |" in markdown
    assert '{"200"' not in markdown


@pytest.mark.parametrize("directory", ["reports", "night reports"])
def test_the_replay_line_names_the_report_where_it_is_and_parses(tmp_path: Path, directory: str) -> None:
    markdown = _written(_report(_finding()), tmp_path / directory)
    [line] = [line for line in markdown.splitlines() if "dcs-contract replay" in line]
    command = line.split("`")[1]
    argv = shlex.split(command)
    assert Path(argv[2]) == tmp_path / directory / "report.json"
    args = build_parser().parse_args(argv[1:])
    assert args.report.is_file() and args.finding == _finding().fingerprint
    assert f"reproduce: `curl -sS -X GET -H \"X-Auth-Token: $DCS_AUTH_TOKEN\" '{URL}'`" in markdown


def test_a_team_rule_gets_no_replay_line_and_no_seed_none(tmp_path: Path) -> None:
    markdown = _written(_report(_finding("tests/test_rules.py::test_mine"), seed=None), tmp_path)
    assert "dcs-contract replay" not in markdown, "replay would answer NOT REPLAYED"
    assert "seed" not in markdown and "curl -sS" in markdown


def test_the_job_summary_nests_the_diff_under_its_heading(tmp_path: Path) -> None:
    from dcs_contract.cli.history import step_summary
    from dcs_contract.results.diff import ReportDiff

    before, after = _report(_finding()), _report(_finding("pages-partition"))
    summary = tmp_path / "summary.md"
    step_summary(summary, "# dcs-contract: violations\n", ReportDiff.between(before, after))
    text = summary.read_text()
    since = text.index("## Since the previous run")
    headings = [line for line in text[since:].splitlines() if line.startswith("#")]
    assert headings[1].startswith("### dcs-contract diff: ")
    assert all(not line.startswith(("# ", "## ")) for line in headings[1:]), "one H1 per summary"
