"""The run history: every run kept whole, compared with the last of its target, and never half-written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding
from dcs_contract.errors import ConfigError
from dcs_contract.results.history import SCHEMA_VERSION, History, HistoryError, layout, rows, store
from dcs_contract.results.history.database import APPLICATION
from dcs_contract.results.observed import Observations
from dcs_contract.results.report import RunReport, TargetInfo
from dcs_contract.results.schema import read_report

SITE_A = TargetInfo(base_url="https://dcs.eu-west-101.example.com", project_id="p" * 32, instance_id="inst-a")
SITE_B = TargetInfo(base_url="https://dcs.eu-west-101.example.com", project_id="p" * 32, instance_id="inst-b")


@pytest.fixture(scope="module")
def mock_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunReport, RunReport]:
    """Two real reports of the embedded mock: one drift, and three at once (about 3 s in all)."""
    reports = []
    for name, drifts in [
        ("one", ["size-as-string"]),
        ("three", ["size-as-string", "status-past-tense", "extra-field"]),
    ]:
        directory = tmp_path_factory.mktemp(name)
        flags = [flag for drift in drifts for flag in ("--mock-drift", drift)]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["run", "--report-dir", str(directory), "--max-examples", "5", "--seed", "1", *flags], env={})
        assert code == 1, f"the mock with {drifts} should show drift"
        reports.append(read_report(directory / "report.json"))
    one, three = reports
    assert len(one.findings) == 1 and len(three.findings) == 3
    return one, three


@pytest.fixture(scope="module")
def base(mock_reports: tuple[RunReport, RunReport]) -> RunReport:
    """A real report at a fixed target (the mock's port differs run to run), to make variants of."""
    return replace(mock_reports[1], target=SITE_A)


def _findings(base: RunReport, names: Iterable[str]) -> list[Finding]:
    """Findings with real evidence, one distinct fingerprint per name."""
    template = base.findings[0]
    return [replace(template, location=f"/backup_record_response/*/{name}") for name in names]


def _run(
    base: RunReport,
    names: Iterable[str] = (),
    *,
    target: TargetInfo = SITE_A,
    accepted: Iterable[str] = (),
    started: str = "2026-11-01T02:00:00+00:00",
    **changes: object,
) -> RunReport:
    found, kept = _findings(base, names), _findings(base, accepted)
    occurrences = {finding.fingerprint: 2 for finding in [*found, *kept]}
    return replace(
        base,
        target=target,
        findings=found,
        accepted=kept,
        occurrences=occurrences,
        started=started,
        baseline="baseline.json" if kept else None,
        **changes,  # type: ignore[arg-type]
    )


def _fingerprint(base: RunReport, name: str) -> str:
    return _findings(base, [name])[0].fingerprint


def _sql(path: Path, query: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(query, parameters).fetchall()
        connection.commit()
        return rows


# -- what a run keeps -----------------------------------------------------------------------


def test_a_run_reads_back_as_it_was_appended_with_its_spec(
    tmp_path: Path, mock_reports: tuple[RunReport, RunReport]
) -> None:
    one, three = mock_reports
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        ids = [history.append(one), history.append(three), history.append(one)]
        assert ids == [1, 2, 3]
        for run_id, report in zip(ids, [one, three, one], strict=True):
            back = history.report(run_id)
            assert back == report
            assert back.spec is not None and report.spec is not None
            assert back.spec.document == report.spec.document
            assert back.as_dict() == report.as_dict()
    assert one.spec is not None
    assert _sql(path, "SELECT sha256 FROM specs") == [(one.spec.sha256,)], "one spec, stored once"
    (stored,) = _sql(path, "SELECT report FROM runs WHERE id = 2")[0]
    assert isinstance(stored, str) and '"openapi"' not in stored, "a run's report keeps the spec's hash only"


def test_the_columns_hold_what_the_report_says(tmp_path: Path, mock_reports: tuple[RunReport, RunReport]) -> None:
    _one, three = mock_reports
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        run_id = history.append(three)
    columns = "started, finished, base_url, instance_id, target, spec_sha256, seed, verdict, complete, requests_total, "
    row = _sql(path, f"SELECT {columns} requests, harness_version FROM runs WHERE id = ?", [run_id])[0]
    assert three.spec is not None
    assert row == (
        three.started,
        three.finished,
        three.target.base_url,
        three.target.instance_id,
        json.dumps(three.target.as_dict(), separators=(",", ":")),
        three.spec.sha256,
        "1",
        "violations",
        1,
        three.requests.total,
        json.dumps(three.requests.as_dict(), separators=(",", ":")),
        three.harness_version,
    )
    findings = _sql(
        path,
        "SELECT fingerprint, accepted, check_name, category, location, title, finding FROM findings ORDER BY position",
    )
    assert [row[:6] for row in findings] == [
        (f.fingerprint, 0, f.check, f.category, f.location, f.title) for f in three.findings
    ]
    assert [json.loads(str(row[6])) for row in findings] == [
        json.loads(json.dumps(f.as_dict())) for f in three.findings
    ]
    observed: dict[str, dict[str, object]] = {}
    for kind, value, count in _sql(path, "SELECT kind, value, count FROM observed"):
        observed.setdefault(str(kind), {})[str(value)] = count
    assert observed == three.observed.to_json()
    assert {"http_status", "status", "error_code"} <= set(observed)


def test_texts_sqlite_cannot_take_as_they_are_still_round_trip(tmp_path: Path, base: RunReport) -> None:
    # A lone surrogate from a target's JSON is not UTF-8, and an observed value keeps it as it came;
    # a seed may be past SQLite's integers.
    odd = replace(base.findings[0], actual='string "\udfff"', message="\udfff in /size")
    report = replace(
        base,
        findings=[odd],
        occurrences={odd.fingerprint: 1},
        observed=Observations(enum_values={"status": {'"\ud83d"': 2, '"ok"': 1}, "\udc00kind": {"1": 1}}),
        seed=2**64 - 1,
    )
    with History.open(tmp_path / "history.sqlite") as history:
        run_id = history.append(report)
        assert history.report(run_id) == report
        (summary,) = history.runs()
    assert summary.seed == 2**64 - 1
    observed = _sql(tmp_path / "history.sqlite", "SELECT kind, value, count FROM observed ORDER BY kind, value")
    assert observed == [("\\udc00kind", "1", 1), ("status", '"\\ud83d"', 2), ("status", '"ok"', 1)]


def test_a_report_that_cannot_be_stored_leaves_the_history_unchanged(tmp_path: Path, base: RunReport) -> None:
    path = tmp_path / "history.sqlite"
    assert base.spec is not None
    with History.open(path) as history:
        history.append(base)
        before = path.read_bytes()
        broken = replace(base, spec=replace(base.spec, sha256="0" * 64, document={"openapi": {"3.1.0"}}))
        with pytest.raises(HistoryError, match=r"this run cannot be stored.*the history is unchanged"):
            history.append(broken)
        assert [r.id for r in history.runs()] == [1]
    assert path.read_bytes() == before


def test_reading_a_history_writes_nothing(tmp_path: Path, base: RunReport) -> None:
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        history.append(_run(base, ["a"]))
        history.append(_run(base, ["b"]))
    before = path.read_bytes()
    with History.open(path, create=False) as history:
        history.runs()
        history.fingerprints()
        history.report(history.resolve("previous"))
    assert path.read_bytes() == before


# -- comparing runs -------------------------------------------------------------------------


def test_each_run_is_compared_with_the_previous_run_of_its_own_target(tmp_path: Path, base: RunReport) -> None:
    with History.open(tmp_path / "history.sqlite") as history:
        history.append(_run(base, ["a", "b"], target=SITE_A))
        history.append(_run(base, ["a"], target=SITE_B))
        history.append(_run(base, ["b", "c"], target=SITE_A))
        history.append(_run(base, [], target=SITE_B))
        history.append(_run(base, ["b", "c"], target=SITE_A))
        runs = history.runs()
        assert [(r.id, r.instance_id, r.previous, r.findings, r.new, r.resolved) for r in runs] == [
            (1, "inst-a", None, 2, 2, 0),
            (2, "inst-b", None, 1, 1, 0),
            (3, "inst-a", 1, 2, 1, 1),
            (4, "inst-b", 2, 0, 0, 1),
            (5, "inst-a", 3, 2, 0, 0),
        ]
        assert [r.verdict for r in runs] == ["violations", "violations", "violations", "conforms", "violations"]
        # The newest three, oldest first, compared with runs outside the window all the same.
        assert history.runs(last=3) == runs[2:]
        assert history.runs(last=100) == runs


def test_accepted_findings_are_seen_and_only_new_ones_decide_the_verdict(tmp_path: Path, base: RunReport) -> None:
    with History.open(tmp_path / "history.sqlite") as history:
        history.append(_run(base, ["a", "b"]))
        history.append(_run(base, ["b"], accepted=["a"]))
        history.append(_run(base, [], accepted=["a", "b"]))
        runs = history.runs()
    assert [(r.findings, r.accepted, r.new, r.resolved, r.verdict) for r in runs] == [
        (2, 0, 2, 0, "violations"),
        (1, 1, 0, 0, "violations"),
        (0, 2, 0, 0, "conforms"),
    ], "a baseline that accepts drift does not resolve it"


def test_a_run_cut_short_resolves_nothing_and_is_compared_with_no_one(tmp_path: Path, base: RunReport) -> None:
    with History.open(tmp_path / "history.sqlite") as history:
        history.append(_run(base, ["a", "b"]))
        history.append(_run(base, [], error="127.0.0.1 did not answer after 5 attempts"))
        history.append(_run(base, ["a"], error="the request budget of 25 is spent"))
        history.append(_run(base, ["a", "b"]))
        runs = history.runs()
        assert [(r.verdict, r.complete, r.previous, r.new, r.resolved) for r in runs] == [
            ("violations", True, None, 2, 0),
            ("untestable", False, 1, 0, 0),
            ("violations", False, 1, 0, 0),
            ("violations", True, 1, 0, 0),
        ]
        assert history.resolve("previous") == 1
        assert [(f.seen, f.window, f.intermittent) for f in history.fingerprints()] == [(2, 2, False)] * 2


# -- fingerprints over time -----------------------------------------------------------------

# Which of six complete runs (oldest first) saw each fingerprint.
PATTERNS = {
    "steady": "111111",
    "flaky": "011010",
    "fixed": "110000",
    "recent": "000011",
    "gone": "100000",
}


def test_fingerprints_say_when_each_was_seen_and_which_come_and_go(tmp_path: Path, base: RunReport) -> None:
    with History.open(tmp_path / "history.sqlite") as history:
        for index in range(6):
            names = [name for name, seen in PATTERNS.items() if seen[index] == "1"]
            history.append(_run(base, names, started=f"2026-11-0{index + 1}T02:00:00+00:00"))
        history.append(_run(base, ["steady"], target=SITE_B))
        by_name = {f.location.rsplit("/", 1)[1]: f for f in history.fingerprints(last=4) if f.instance_id == "inst-a"}
        assert {name: (f.first_run, f.last_run, f.seen, f.window, f.intermittent) for name, f in by_name.items()} == {
            "steady": (1, 6, 4, 4, False),
            "flaky": (2, 5, 2, 4, True),  # runs 3..6 saw it as 1 0 1 0
            "fixed": (1, 2, 0, 4, False),
            "recent": (5, 6, 2, 4, False),
            "gone": (1, 1, 0, 4, False),
        }
        assert by_name["flaky"].first_started == "2026-11-02T02:00:00+00:00"
        assert by_name["flaky"].last_started == "2026-11-05T02:00:00+00:00"
        assert by_name["flaky"].fingerprint == _fingerprint(base, "flaky")
        # Over the last three runs (0 1 0) it was seen once: not come and gone again.
        flaky = [f for f in history.fingerprints(last=3) if f.fingerprint == _fingerprint(base, "flaky")]
        assert [(f.seen, f.window, f.intermittent) for f in flaky] == [(1, 3, False)]
        everything = history.fingerprints(last=10)
        assert [(f.instance_id, f.seen, f.window) for f in everything if f.location.endswith("steady")] == [
            ("inst-a", 6, 6),
            ("inst-b", 1, 1),
        ], "each target's fingerprints are its own"
        assert [f.fingerprint for f in everything if f.intermittent] == [_fingerprint(base, "flaky")]


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ("", False),
        ("0000", False),
        ("1111", False),
        ("0110", False),
        ("1100", False),
        ("0011", False),
        ("101", True),
        ("0100101", True),
        ("1001", True),
    ],
)
def test_intermittent_means_seen_then_absent_then_seen_again(present: str, expected: bool) -> None:
    assert store._intermittent([mark == "1" for mark in present]) is expected


# -- naming runs ----------------------------------------------------------------------------


def test_a_run_is_named_by_its_id_last_or_previous(tmp_path: Path, base: RunReport) -> None:
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        with pytest.raises(HistoryError, match="has no runs yet") as empty:
            history.resolve("last")
        assert str(path) in str(empty.value)
        history.append(_run(base, ["a"], target=SITE_A))
        with pytest.raises(HistoryError, match="no previous run to compare it with"):
            history.resolve("previous")
        history.append(_run(base, ["a"], target=SITE_A))
        history.append(_run(base, ["a"], target=SITE_B))
        history.append(_run(base, ["a"], target=SITE_A))
        assert [history.resolve(ref) for ref in ["1", "3", " LAST ", "previous"]] == [1, 3, 4, 2]
        for ref, problem in [
            ("5", "has no run 5 \\(its newest is 4\\)"),
            ("99999999999999999999999", "has no run 99999999999999999999999"),
            ("yesterday", "names no run"),
            ("-1", "names no run"),
            ("", "names no run"),
        ]:
            with pytest.raises(HistoryError, match=problem) as refused:
                history.resolve(ref)
            assert str(path) in str(refused.value)


# -- files it refuses -----------------------------------------------------------------------


def _other_database(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE accounts (name TEXT)")
        connection.commit()


def _newer_history(path: Path) -> None:
    History.open(path).close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE tags (name TEXT)")
        connection.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        connection.commit()


def _foreign_meta(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        connection.execute("INSERT INTO meta VALUES ('application', 'grafana')")
        connection.commit()


def _extra_table(path: Path) -> None:
    History.open(path).close()
    _other_database(path)


def _lost_table(path: Path) -> None:
    History.open(path).close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("DROP TABLE observed")
        connection.commit()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path.write_text("started,verdict\n2026-11-01,conforms\n"), "it is not an SQLite database"),
        (lambda path: path.write_bytes(bytes(range(256)) * 8), "it is not an SQLite database"),
        (_other_database, "not a dcs-contract history \\(it has table accounts\\)"),
        (_foreign_meta, "its meta table is not one dcs-contract wrote"),
        (
            _newer_history,
            f"version {SCHEMA_VERSION + 1}, written by a newer dcs-contract .* up to {SCHEMA_VERSION}: upgrade",
        ),
        (_extra_table, f"not a dcs-contract history of version {SCHEMA_VERSION}: it also has table accounts"),
        (_lost_table, "a damaged dcs-contract history: it lacks table observed"),
    ],
    ids=["csv", "binary", "other-database", "foreign-meta", "newer", "extra-table", "lost-table"],
)
def test_a_file_that_is_not_a_history_it_reads_is_refused_untouched(tmp_path: Path, make: object, problem: str) -> None:
    path = tmp_path / "history.sqlite"
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(HistoryError, match=problem) as refused:
        History.open(path)
    assert isinstance(refused.value, ConfigError), "the CLI exits 2 on it"
    assert f"--history={str(path)!r}" in str(refused.value)
    assert "--history" in str(refused.value).split(":", 1)[1], "it says what to do"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"], "no journal left behind"


def test_a_missing_file_is_created_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "nightly" / "history.sqlite"
    with pytest.raises(HistoryError, match="does not exist: a run given --history"):
        History.open(path, create=False)
    assert not path.parent.exists()
    with History.open(path) as history:
        assert history.runs() == []
    assert _sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert dict(_sql(path, "SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    with History.open(path, create=False) as history:
        assert history.runs() == []
    with pytest.raises(HistoryError, match="is a folder"):
        History.open(tmp_path)


def test_counts_are_checked_at_the_boundary(tmp_path: Path) -> None:
    with History.open(tmp_path / "history.sqlite") as history:
        with pytest.raises(HistoryError, match="last=0, but it must be a whole number of runs, 1 or more"):
            history.runs(last=0)
        with pytest.raises(HistoryError, match="last=-3"):
            history.fingerprints(last=-3)


# -- damage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ('UPDATE runs SET report = \'{"verdict": "conf\' WHERE id = 2', "its report is not JSON a run wrote"),
        ("UPDATE runs SET report = '[1, 2]' WHERE id = 2", "its report is not JSON a run wrote"),
        ("UPDATE runs SET report = json_remove(report, '$.target') WHERE id = 2", "its report is not one dcs-contract"),
        ("UPDATE runs SET report = x'c3ff00' WHERE id = 2", "its report is not JSON a run wrote"),
        ("DELETE FROM specs", "the spec it was run with .* is missing"),
    ],
    ids=["cut", "list", "no-target", "bytes", "no-spec"],
)
def test_a_damaged_run_is_an_error_that_names_it(tmp_path: Path, base: RunReport, damage: str, problem: str) -> None:
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        history.append(_run(base, ["a"]))
        history.append(_run(base, ["b"]))
    _sql(path, damage)
    with History.open(path) as history:
        with pytest.raises(HistoryError, match=f"run 2 is damaged: {problem}") as refused:
            history.report(2)
        assert str(path) in str(refused.value)
        assert len(history.runs()) == 2, "the list of runs does not read reports"
        with pytest.raises(HistoryError, match="has no run 7"):
            history.report(7)


def _two_runs(path: Path, base: RunReport) -> Path:
    with History.open(path) as history:
        history.append(_run(base, ["a"]))
        history.append(_run(base, ["b"]))
    return path


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (
            "UPDATE runs SET started = CAST('x' AS BLOB) WHERE id = 2",
            "run 2 is damaged: runs.started holds binary data",
        ),
        ("UPDATE runs SET base_url = CAST('x' AS BLOB) WHERE id = 1", "run 1 is damaged: runs.base_url holds binary"),
        ("UPDATE runs SET verdict = x'ff' WHERE id = 2", "run 2 is damaged: runs.verdict holds binary data"),
        ("UPDATE runs SET complete = 'x' WHERE id = 1", "run 1 is damaged: runs.complete holds text, not 0 or 1"),
        ("UPDATE findings SET title = x'00' WHERE run_id = 2", "run 2 is damaged: findings.title holds binary data"),
    ],
    ids=["started", "base-url", "verdict", "complete", "title"],
)
def test_a_row_of_the_wrong_type_is_a_damaged_run_for_every_reader(
    tmp_path: Path, base: RunReport, damage: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _two_runs(tmp_path / "history.sqlite", base)
    _sql(path, damage)
    for command in (["history", "--coverage"], ["docs", "--out", str(tmp_path / "docs")]):
        code = main([*command, "--history", str(path)], env={})
        err = capsys.readouterr().err
        assert code == 2, f"{command}: {err}"
        assert problem in err and str(path) in err and "Traceback" not in err


def test_values_of_the_wrong_type_read_as_the_history_reads_damaged_ones(
    tmp_path: Path, base: RunReport, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _two_runs(tmp_path / "history.sqlite", base)
    target = (SITE_A.base_url, SITE_A.instance_id)
    with History.open(path) as history:
        observed, (_, point) = history.observed(target), history.latency(target, last=2)
    assert point.max is not None and point.p50 is not None
    # Run 1's counts overflow, run 2's latency is text, and the spec is no spec: what no run writes.
    _sql(path, "UPDATE observed SET count = 1e999 WHERE run_id = 1")
    _sql(path, "UPDATE latency SET total_max = '', total_p50 = CAST('x' AS BLOB), requests = 1e999 WHERE run_id = 2")
    _sql(path, "UPDATE specs SET document = '{\"paths\": {}}'")
    with History.open(path) as history:
        # A count that is not one is dropped, as if that run had not observed the value (Observations.from_json).
        assert history.observed(target) == Observations.from_json(
            {
                kind: {value: count // 2 for value, count in counts.items()}
                for kind, counts in observed.to_json().items()
            }
        )
        # A time that is not a number of seconds is None, a count that is not one counts none (rows.latency_rows).
        (_, damaged) = history.latency(target, last=2)
        assert (damaged.p50, damaged.max, damaged.requests) == (None, None, 0)
        # A spec that does not read as one is a damaged spec: None, as one that is not JSON.
        assert history.spec(target) is None
    shown = []
    for command in (["history", "--coverage"], ["docs", "--out", str(tmp_path / "docs")]):
        code = main([*command, "--history", str(path)], env={})
        out, err = capsys.readouterr()
        assert code == 0, f"{command}: {err}"
        shown.append(out)
    assert "run 2, p50 ?" in shown[0] and "max ?" in shown[0] and "no run of it kept its spec" in shown[0]
    assert "no run of it kept its spec" in (tmp_path / "docs" / "index.md").read_text(encoding="utf-8")


def test_diff_of_previous_and_a_damaged_last_run_is_an_error(
    tmp_path: Path, base: RunReport, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _two_runs(tmp_path / "history.sqlite", base)
    _sql(path, 'UPDATE runs SET report = \'{"verdict": "confo\' WHERE id = 2')
    code = main(["diff", "previous", "last", "--history", str(path)], env={})
    out, err = capsys.readouterr()
    assert "run 2 is damaged" in err and "nothing to compare with" not in out
    assert code == 2, "a nightly job must not go green on a damaged history"


# -- the older layout -----------------------------------------------------------------------


def _write_v1(path: Path, reports: Sequence[RunReport], *, damaged: int | None = None) -> None:
    """A history as the first layout (the module's own DDL) has it, written as that harness wrote it."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for statement in layout.LAYOUT_V1:
            connection.execute(statement.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT"))
        connection.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("application", APPLICATION),
                ("schema_version", "1"),
                ("created_by", "dcs-contract 0.0.9"),
            ],
        )
        connection.execute("PRAGMA user_version = 1")
        for index, report in enumerate(reports, start=1):
            assert report.spec is not None
            data = {**report.as_dict(), "spec": {"sha256": report.spec.sha256}}
            connection.execute(
                "INSERT OR IGNORE INTO specs VALUES (?, ?)", (report.spec.sha256, json.dumps(report.spec.document))
            )
            connection.execute(
                "INSERT INTO runs (started, finished, base_url, instance_id, target, spec_sha256, seed, verdict, "
                "complete, requests_total, requests, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (
                    report.started,
                    report.finished,
                    report.target.base_url,
                    report.target.instance_id,
                    json.dumps(report.target.as_dict()),
                    report.spec.sha256,
                    str(report.seed),
                    report.verdict,
                    report.requests.total,
                    json.dumps(report.requests.as_dict()),
                    "{cut" if index == damaged else json.dumps(data),
                ),
            )
            connection.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, 0, ?, ?, ?, ?, 1, ?)",
                [
                    (index, n, f.fingerprint, f.check, f.category, f.location, f.title, json.dumps(f.as_dict()))
                    for n, f in enumerate(report.findings)
                ],
            )
        connection.commit()


def test_a_version_1_history_is_upgraded_and_reads_as_before(tmp_path: Path, base: RunReport) -> None:
    path = tmp_path / "history.sqlite"
    reports = [_run(base, ["a", "b"]), _run(base, ["b"]), replace(_run(base, ["c"]), harness_version="0.0.9")]
    _write_v1(path, reports, damaged=2)
    with History.open(path) as history:
        assert [(r.id, r.new, r.resolved, r.harness_version) for r in history.runs()] == [
            (1, 2, 0, "0.1.0"),
            (2, 0, 1, None),  # its report cannot be read: it has no harness version to give
            (3, 1, 1, "0.0.9"),
        ]
        assert history.report(1) == reports[0]
        assert history.report(3) == reports[2]
        with pytest.raises(HistoryError, match="run 2 is damaged"):
            history.report(2)
        assert history.append(reports[0]) == 4
    assert _sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert dict(_sql(path, "SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    kinds = _sql(path, "SELECT run_id, COUNT(*) FROM observed GROUP BY run_id")
    expected = sum(len(counts) for counts in base.observed.to_json().values())
    assert kinds == [(1, expected), (3, expected), (4, expected)]
    # Version 3's latency, read from the reports that carry it (the damaged one has none to give).
    assert base.latency, "a run measures its latency"
    timed = _sql(path, "SELECT run_id, COUNT(*) FROM latency GROUP BY run_id")
    assert timed == [(1, len(base.latency)), (3, len(base.latency)), (4, len(base.latency))]
    assert _sql(path, "PRAGMA integrity_check") == [("ok",)]


def test_an_upgrade_that_fails_half_way_leaves_the_file_as_it_was(
    tmp_path: Path, base: RunReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite"
    _write_v1(path, [_run(base, ["a"]), _run(base, ["b"]), _run(base, ["c"])])
    before = path.read_bytes()
    calls: list[int] = []
    insert = rows.insert_observed

    def failing(connection: object, run_id: int, rows: Iterable[tuple[object, ...]]) -> None:
        calls.append(run_id)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        insert(connection, run_id, rows)

    monkeypatch.setattr(rows, "insert_observed", failing)
    with pytest.raises(HistoryError, match="could not be created or upgraded: disk I/O error") as refused:
        History.open(path)
    assert str(path) in str(refused.value)
    assert calls == [1, 2], "it failed after the first run was upgraded"
    assert path.read_bytes() == before
    monkeypatch.undo()
    with History.open(path) as history:
        assert [r.id for r in history.runs()] == [1, 2, 3]
    assert _sql(path, "SELECT COUNT(DISTINCT run_id) FROM observed") == [(3,)]


# -- crashes and concurrency ----------------------------------------------------------------

# A writer in its own process, started by a line on its stdin: appends ``count`` runs made of
# the report in a file, the n-th with ``seed`` tag * 1000 + n and 10 + n % 25 of its findings
# (so that each run's findings can be counted back). From the ``pause_at``-th append on, each
# sleeps ``pause`` s inside its transaction, every row inserted, before COMMIT; ``create_pause``
# is how long creating the file sleeps inside its transaction. ``cache``: the page cache, in pages.
WRITER = """
import json, sys, time
from dataclasses import replace
from pathlib import Path

import dcs_contract.results.history as history
from dcs_contract.results.history import layout, rows
from dcs_contract.results.report import RunReport

o = json.loads(sys.argv[1])
base = RunReport.from_dict(json.loads(Path(o["report"]).read_text()))
insert, create = rows.insert_observed, layout.create
appending = {"n": -1}

def inserting(*args):
    insert(*args)
    if appending["n"] >= o["pause_at"]:
        print("inside", flush=True)
        time.sleep(o["pause"])

def creating(*args):
    create(*args)
    print("creating", flush=True)
    time.sleep(o["create_pause"])

rows.insert_observed, layout.create = inserting, creating
sys.stdin.readline()
with history.History.open(Path(o["path"])) as h:
    if o["cache"]:
        # A tiny page cache: SQLite writes the transaction's pages into the file before COMMIT.
        h.database.connection.execute(f"PRAGMA cache_size = {o['cache']}")
    for n in range(o["count"]):
        appending["n"] = n
        findings = base.findings[: 10 + n % 25]
        h.append(replace(base, seed=o["tag"] * 1000 + n, findings=findings, occurrences={}))
        print("appended", n, flush=True)
"""


@pytest.fixture
def many(base: RunReport, tmp_path: Path) -> Path:
    """A report of 40 findings, each with its evidence, as JSON for the writers."""
    names = [f"field{index}" for index in range(40)]
    path = tmp_path / "many.json"
    report = _run(base, names)
    path.write_text(json.dumps(report.as_dict()))
    return path


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn(many: Path) -> Iterator[Spawn]:
    """``spawn(path, count=…, **options)``: a WRITER of ``many``, started; it begins on a line on its stdin.

    A writer the test left running (it failed before its kill) is killed at teardown.
    """
    started: list[subprocess.Popen[str]] = []

    def writer(path: Path, *, count: int, tag: int = 1, **options: float) -> subprocess.Popen[str]:
        settings = {"pause": 0, "pause_at": 0, "create_pause": 0, "cache": 0, **options}
        arguments = json.dumps({"path": str(path), "report": str(many), "count": count, "tag": tag, **settings})
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PATH": os.environ["PATH"]},
        )
        started.append(process)
        return process

    yield writer
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _go(*writers: subprocess.Popen[str]) -> None:
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()


def _lines_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith(wanted)):
        line = process.stdout.readline()
        assert line, f"the writer exited before printing {wanted!r}: {process.stderr.read() if process.stderr else ''}"
        lines.append(line.strip())
    return lines


def _every_run_complete(path: Path, report: Path) -> list[int]:
    """The seeds of the runs in the file, each run checked to have all its findings and observed values."""
    assert _sql(path, "PRAGMA integrity_check") == [("ok",)]
    values = sum(len(counts) for counts in json.loads(report.read_text())["observed"].values())
    rows = _sql(
        path,
        "SELECT r.id, r.seed, (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id), "
        "(SELECT COUNT(*) FROM observed o WHERE o.run_id = r.id) FROM runs r ORDER BY r.id",
    )
    seeds = [int(str(seed)) for _id, seed, _findings, _values in rows]
    expected = [(run_id, 10 + seed % 1000 % 25, values) for (run_id, *_rest), seed in zip(rows, seeds, strict=True)]
    assert [(run_id, findings, observed) for run_id, _seed, findings, observed in rows] == expected
    with History.open(path) as history:
        assert [len(history.report(run_id).findings) for run_id, _findings, _values in expected] == [
            findings for _run_id, findings, _values in expected
        ]
    return seeds


def test_a_writer_killed_inside_its_transaction_leaves_the_runs_before_it(
    tmp_path: Path, many: Path, spawn: Spawn
) -> None:
    path = tmp_path / "history.sqlite"
    writer = spawn(path, count=10, pause=60, pause_at=4, cache=8)
    _go(writer)
    printed = _lines_until(writer, "inside")
    assert printed == ["creating", "appended 0", "appended 1", "appended 2", "appended 3", "inside"]
    # The 5th run's rows are in the file's pages and its journal, not committed.
    assert Path(f"{path}-journal").stat().st_size > 0
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    assert _every_run_complete(path, many) == [1000, 1001, 1002, 1003]
    with History.open(path) as history:
        assert history.append(RunReport.from_dict(json.loads(many.read_text()))) == 5
        assert [r.id for r in history.runs()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("after", [1, 3, 6])
def test_a_writer_killed_at_any_moment_leaves_complete_runs(
    tmp_path: Path, many: Path, spawn: Spawn, after: int
) -> None:
    path = tmp_path / "history.sqlite"
    writer = spawn(path, count=500, cache=8)
    _go(writer)
    # Killed as the run after the after-th is written: wherever it is in that append.
    _lines_until(writer, f"appended {after - 1}")
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=10)
    seeds = _every_run_complete(path, many)
    assert seeds[:after] == list(range(1000, 1000 + after))
    assert seeds == list(range(1000, 1000 + len(seeds)))
    with History.open(path) as history:
        assert history.append(RunReport.from_dict(json.loads(many.read_text()))) == len(seeds) + 1


def test_two_writers_at_once_both_append_every_run(tmp_path: Path, many: Path, spawn: Spawn) -> None:
    path = tmp_path / "new" / "history.sqlite"
    count = 15
    # Both find no file and create it: the first sleeps while creating, so the second finds it
    # empty, then waits, and must not create it again.
    writers = [spawn(path, count=count, pause=0.01, create_pause=0.5, tag=tag) for tag in (1, 2)]
    _go(*writers)
    outcomes = [writer.communicate(timeout=60) for writer in writers]
    assert [(writer.returncode, err) for writer, (_out, err) in zip(writers, outcomes, strict=True)] == [(0, "")] * 2
    assert sorted(out.count("creating") for out, _err in outcomes) == [0, 1], "one of them created the file"
    seeds = _every_run_complete(path, many)
    assert sorted(seeds) == [tag * 1000 + n for tag in (1, 2) for n in range(count)]


# -- bounded reads --------------------------------------------------------------------------


def _statements(history: History) -> list[str]:
    statements: list[str] = []
    history.database.connection.set_trace_callback(statements.append)
    return statements


def test_the_newest_runs_are_read_without_reading_the_rest(tmp_path: Path, base: RunReport) -> None:
    counts = []
    for size in (4, 40):
        with History.open(tmp_path / f"{size}.sqlite") as history:
            for index in range(size):
                history.append(_run(base, ["a"] if index % 2 else ["a", "b"]))
            statements = _statements(history)
            summaries = history.runs(last=3)
            assert [s.id for s in summaries] == [size - 2, size - 1, size]
            counts.append(len(statements))
            assert any("LIMIT" in statement for statement in statements)
    assert counts[0] == counts[1], "as many queries for 40 runs as for 4"
