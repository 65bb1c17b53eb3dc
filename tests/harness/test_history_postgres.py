"""One history for many jobs: the run history in a real PostgreSQL, started on loopback by the tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.spec import load_spec
from dcs_contract.redaction import Scrubber
from dcs_contract.results.coverage import unseen
from dcs_contract.results.history import SCHEMA_VERSION, History, HistoryError, layout, rows
from dcs_contract.results.history.postgres import PostgresDatabase
from dcs_contract.results.report import RunReport, TargetInfo, markdown_of
from dcs_contract.results.schema import read_report
from dcs_contract.settings.table import parse_store
from tests.harness.conftest import Serve, live_env
from tests.harness.netlab import free_port
from tests.harness.pgserver import PASSWORD, Postgres, binaries

# A whole run, small: the matrix test runs three at once.
MATRIX_RUN = ["--max-examples", "5", "--seed", "2", "--rate-limit", "1000", "--no-confirm"]

SITE = TargetInfo(base_url="https://dcs.ap-southeast-1.example.com", project_id="p" * 32, instance_id="inst-a")


@pytest.fixture(scope="module")
def server() -> Iterator[Postgres]:
    # On a machine with only python3 and pip these are skipped; in CI (.ci/run installs
    # Debian's postgresql) a missing server fails them instead.
    if binaries() is None and not os.environ.get("CI"):
        pytest.skip("Debian's postgresql is missing")
    with Postgres.start() as running:
        yield running


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> RunReport:
    """A real report of the embedded mock with one drift (so findings), at a fixed target."""
    directory = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            [
                "run",
                "--report-dir",
                str(directory),
                "--max-examples",
                "5",
                "--seed",
                "1",
                "--mock-drift",
                "size-as-string",
            ],
            env={},
        )
    assert code == 1
    return replace(read_report(directory / "report.json"), target=SITE)


def _latency(seconds: float) -> dict[str, dict[str, object]]:
    timing = {"p50": seconds, "p95": seconds * 2, "max": seconds * 3}
    return {"paging": {"requests": 4, "headers": timing, "total": timing}}


def test_a_run_reads_back_with_its_latency_and_what_it_observed(server: Postgres, report: RunReport) -> None:
    url = server.database("roundtrip")
    timed = replace(report, latency=_latency(0.25))
    with History.open(url) as history:
        assert history.append(timed) == 1
        assert history.append(replace(timed, latency={})) == 2
        assert history.report(1) == timed
        (first, second) = history.runs()
        assert (first.id, first.previous, second.previous) == (1, None, 1)
        points = history.latency((SITE.base_url, SITE.instance_id), last=5)
        assert [(p.run, p.p50, p.p95, p.max, p.requests) for p in points] == [(1, 0.25, 0.5, 0.75, 4)]
        observed = history.observed((SITE.base_url, SITE.instance_id))
        assert observed.http_status == {k: 2 * v for k, v in report.observed.http_status.items()}
        assert history.location == url.replace(PASSWORD, "***")
    meta = dict(server.sql(url, "SELECT key, value FROM meta"))
    assert meta["application"] == "dcs-contract history" and meta["schema_version"] == str(SCHEMA_VERSION)


def test_diff_and_docs_read_the_database(
    server: Postgres, report: RunReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.database("readers")
    with History.open(url) as history:
        history.append(replace(report, latency=_latency(0.2)))
        history.append(replace(report, latency=_latency(0.4), findings=[], occurrences={}))
    assert main(["diff", "previous", "last", "--history", url], env={}) == 0
    assert "resolved" in capsys.readouterr().out
    assert main(["docs", "--out", str(tmp_path / "site"), "--history", url], env={}) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    timeline = page.split('<h2 id="timeline">')[1]
    assert timeline.count("<polyline") == 3 and timeline.count("<circle") == 6
    assert "postgresql://postgres:***@127.0.0.1" in timeline and PASSWORD not in page
    md = (tmp_path / "site" / "index.md").read_text()
    assert "| run 1 | 0.200 s | 0.400 s | 0.600 s |" in md and "| run 2 | 0.400 s | 0.800 s | 1.200 s |" in md


# A writer in its own process: appends ``count`` runs of a report, the n-th with seed tag * 1000 + n
# and 1 + n % 3 of its findings. With ``block_at``, that append stops inside its transaction,
# every row inserted but not committed, says "inside" and waits for a line that never comes.
WRITER = """
import json, sys
from dataclasses import replace
from pathlib import Path

from dcs_contract.results.history import History, rows
from dcs_contract.results.report import RunReport

o = json.loads(sys.argv[1])
base = RunReport.from_dict(json.loads(Path(o["report"]).read_text()))
insert = rows.insert_latency
appending = {"n": -1}

def inserting(*args):
    insert(*args)
    if appending["n"] == o["block_at"]:
        print("inside", flush=True)
        sys.stdin.readline()

rows.insert_latency = inserting
sys.stdin.readline()
with History.open(o["url"]) as h:
    for n in range(o["count"]):
        appending["n"] = n
        findings = [replace(base.findings[0], location=f"/f{i}") for i in range(1 + n % 3)]
        h.append(replace(base, seed=o["tag"] * 1000 + n, findings=findings, occurrences={}))
        print("appended", n, flush=True)
"""


@pytest.fixture
def report_file(report: RunReport, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(replace(report, latency=_latency(0.1)).as_dict()))
    return path


@pytest.fixture
def spawn(report_file: Path) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def writer(url: str, *, count: int, tag: int = 1, block_at: int = -1) -> subprocess.Popen[str]:
        arguments = json.dumps(
            {"url": url, "report": str(report_file), "count": count, "tag": tag, "block_at": block_at}
        )
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)},
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


def _complete(server: Postgres, url: str) -> list[int]:
    """The seeds of the runs, each run checked to have all its findings, observed values and latency."""
    found = server.sql(
        url,
        "SELECT r.seed, (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id), "
        "(SELECT COUNT(*) FROM observed o WHERE o.run_id = r.id), "
        "(SELECT COUNT(*) FROM latency l WHERE l.run_id = r.id) FROM runs r ORDER BY r.id",
    )
    seeds = [int(str(seed)) for seed, *_ in found]
    assert [(findings, latency) for _seed, findings, _observed, latency in found] == [
        (1 + seed % 1000 % 3, 1) for seed in seeds
    ]
    assert all(int(str(observed)) > 0 for _seed, _findings, observed, _latency in found)
    orphans = server.sql(
        url,
        "SELECT COUNT(*) FROM findings WHERE run_id NOT IN (SELECT id FROM runs)",
    )
    assert orphans == [(0,)]
    return seeds


def test_two_processes_append_at_once_to_one_database(server: Postgres, spawn: object) -> None:
    url = server.database("matrix")
    count = 12
    writers = [spawn(url, count=count, tag=tag) for tag in (1, 2)]  # type: ignore[operator]
    _go(*writers)
    outcomes = [writer.communicate(timeout=120) for writer in writers]
    assert [(writer.returncode, err) for writer, (_out, err) in zip(writers, outcomes, strict=True)] == [(0, "")] * 2
    seeds = _complete(server, url)
    assert sorted(seeds) == [tag * 1000 + n for tag in (1, 2) for n in range(count)]
    # Each writer's runs keep its order, and the ids are the order of the appends.
    for tag in (1, 2):
        assert [seed for seed in seeds if seed // 1000 == tag] == [tag * 1000 + n for n in range(count)]
    assert [r[0] for r in server.sql(url, "SELECT id FROM runs ORDER BY id")] == list(range(1, 2 * count + 1))


def test_a_writer_killed_halfway_leaves_no_partial_run(server: Postgres, spawn: object, report_file: Path) -> None:
    url = server.database("killed")
    writer = spawn(url, count=5, block_at=3)  # type: ignore[operator]
    _go(writer)
    assert writer.stdout is not None
    printed = [writer.stdout.readline().strip() for _ in range(4)]
    assert printed == ["appended 0", "appended 1", "appended 2", "inside"]
    # The 4th run's rows are inserted, uncommitted: another connection does not see them.
    assert server.sql(url, "SELECT COUNT(*) FROM runs") == [(3,)]
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    assert _complete(server, url) == [1000, 1001, 1002]
    with History.open(url) as history:
        run_id = history.append(RunReport.from_dict(json.loads(report_file.read_text())))
        assert [r.id for r in history.runs()] == [1, 2, 3, run_id]


def test_an_older_database_is_migrated_with_the_latency_its_reports_carry(server: Postgres, report: RunReport) -> None:
    url = server.database("migration")
    timed = replace(report, latency=_latency(0.5))
    database = PostgresDatabase.open(url, timeout=5)
    try:
        layout.prepare(database, upto=2)
        stored = rows.RunRows.of(timed)
        with database.transaction("write a version 2 run"):
            assert stored.spec is not None
            database.execute("INSERT INTO specs (sha256, document) VALUES (?, ?)", stored.spec)
            run_id = database.insert_id(
                "INSERT INTO runs (started, finished, base_url, instance_id, target, spec_sha256, seed, verdict, "
                "complete, requests_total, requests, report, harness_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                stored.run,
            )
            rows.insert_findings(database, run_id, stored.findings)
            rows.insert_observed(database, run_id, stored.observed)
    finally:
        database.close()
    tables = {
        name
        for (name,) in server.sql(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    }
    assert "latency" not in tables and dict(server.sql(url, "SELECT key, value FROM meta"))["schema_version"] == "2"
    with History.open(url) as history:
        assert history.report(1) == timed
        (point,) = history.latency((SITE.base_url, SITE.instance_id), last=3)
        assert (point.p50, point.p95, point.max) == (0.5, 1.0, 1.5)
    assert dict(server.sql(url, "SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)


def test_a_database_that_is_not_a_history_is_refused_untouched(server: Postgres) -> None:
    url = server.database("foreign")
    server.sql(url, "CREATE TABLE accounts (name TEXT)")
    with pytest.raises(HistoryError, match="not a dcs-contract history \\(it has table accounts\\)") as refused:
        History.open(url)
    assert PASSWORD not in str(refused.value)
    with pytest.raises(HistoryError, match="holds no history"):
        History.open(server.database("empty"), create=False)


def test_a_server_that_refuses_the_connection_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://ci:{PASSWORD}@127.0.0.1:{free_port()}/contract?sslmode=disable"
    for argv in (
        ["history", "--history", url],
        ["run", "--report-dir", str(tmp_path / "out"), "--history", url, "--max-examples", "2"],
        ["docs", "--out", str(tmp_path / "site"), "--history", url],
    ):
        assert main(argv, env={}) == 2, argv
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and err.startswith("dcs-contract: --history='postgresql://***@127.0.0.1:"), err
        assert "cannot be reached" in err and "Connection refused" in err
        assert PASSWORD not in out + err
    assert not (tmp_path / "out" / "report.json").exists(), "refused before anything is sent"
    assert not (tmp_path / "site").exists()


def test_a_password_given_as_a_parameter_is_never_shown(server: Postgres, capsys: pytest.CaptureFixture[str]) -> None:
    url = server.database("parameter").replace(f":{PASSWORD}@", "@") + f"?password={PASSWORD}"
    with History.open(url) as history:
        assert PASSWORD not in history.location
    assert main(["history", "--history", url], env={}) == 0
    assert main(["history", "--history", url.replace(PASSWORD, "wrong-password-123")], env={}) == 2
    out, err = capsys.readouterr()
    assert "holds no run yet" in out and "password authentication failed" in err
    assert PASSWORD not in out + err and "wrong-password-123" not in out + err


def test_coverage_names_what_was_never_observed_and_the_rules_it_leaves_unexercised(report: RunReport) -> None:
    spec = load_spec()
    gaps = {(gap.kind, gap.value): gap for gap in unseen(spec, report.observed)}
    assert ("status", "succeed") not in gaps, "the mock's records succeed"
    failed = {"kind": "status", "value": "failed"}
    statuses = {k: v for k, v in report.observed.enum_values["status"].items() if k != '"failed"'}
    observed = replace(report.observed, enum_values={**report.observed.enum_values, "status": statuses})
    gap = {(g.kind, g.value): g for g in unseen(spec, observed)}[(failed["kind"], failed["value"])]
    assert (
        gap.sentence("on staging")
        == "`failed` never seen: `error-code-iff-failed` has never been exercised on staging."
    )
    # Read from the spec: every documented status code never observed is listed, and only those.
    codes = {value for kind, value in gaps if kind == "http_status"}
    assert codes == {str(code) for code in spec.status_codes} - set(report.observed.http_status)


@pytest.mark.slow
def test_a_matrix_of_three_targets_appends_at_once_and_shows_in_history_and_docs(
    server: Postgres, serve: Serve, tmp_path: Path
) -> None:
    """Done when: three jobs append at once to one database; history and docs show all three, latency, coverage."""
    url = server.database("nightly")
    with contextlib.ExitStack() as stack:
        mocks = [stack.enter_context(serve(instance_id=f"inst-{n}")) for n in range(3)]
        jobs = []
        for n, (mock, state) in enumerate(mocks):
            env = {**live_env(mock, state), "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)}
            argv = ["run", "--report-dir", str(tmp_path / f"job{n}"), "--history", url, *MATRIX_RUN]
            jobs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dcs_contract.cli", *argv],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        printed = [job.communicate(timeout=300) for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0, 0], printed
        bases = [mock.base_url for mock, _state in mocks]
    history = subprocess.run(
        [sys.executable, "-m", "dcs_contract.cli", "history", "--history", url, "--coverage"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert history.returncode == 0, history.stderr
    text = history.stdout
    runs = [line for line in text.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert sorted(base for base in bases for line in runs if base in line) == sorted(bases)
    for n, base in enumerate(bases):
        assert f"  {base} (instance inst-{n}): run " in text, "its latency"
        assert f"\ncoverage on {base} (instance inst-{n}): " in text
    assert "`error-code-iff-failed`" in text or "`failed`" not in text
    site = tmp_path / "site"
    assert main(["docs", "--out", str(site), "--history", url], env={}) == 0
    page = (site / "index.html").read_text()
    md = (site / "index.md").read_text()
    for n, base in enumerate(bases):
        assert f"{base}, instance inst-{n}" in md
    assert page.count('<figure class="latency-chart">') == 3 and page.count("<polyline") == 9
    assert page.count('<ul class="unseen">') + page.count("every documented value has been observed") == 3
    assert "src=" not in page.split('<h2 id="timeline">')[1], "no external asset"
    outputs = [text, page, md, *(out + err for out, err in printed)]
    outputs += [(tmp_path / f"job{n}" / name).read_text() for n in range(3) for name in ("report.json", "report.md")]
    assert not [output for output in outputs if PASSWORD in output]


def test_history_coverage_and_the_report_say_what_was_never_observed(
    report: RunReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses = {value: count for value, count in report.observed.enum_values["status"].items() if value != '"failed"'}
    enum_values = {**report.observed.enum_values, "status": statuses}
    blind = replace(report, observed=replace(report.observed, enum_values=enum_values, record_fields={"size": 3}))
    path = tmp_path / "history.sqlite"  # the SQLite history says the same as PostgreSQL's
    with History.open(path) as history:
        history.append(blind)
        history.append(replace(blind, observed=replace(blind.observed, record_fields={"remark": 1})))
    assert main(["history", "--history", str(path), "--coverage"], env={}) == 0
    out = capsys.readouterr().out
    where = f"on {SITE.base_url} (instance {SITE.instance_id})"
    assert f"[status] `failed` never seen: `error-code-iff-failed` has never been exercised {where}." in out
    assert "[optional field] `updated_at` never seen: `updated-not-before-created` has never" in out
    assert "`size` never seen" not in out and "`remark` never seen" not in out, "seen by one run or the other"
    data = blind.as_dict()
    assert {"kind": "status", "what": "status", "value": "failed", "invariants": ["error-code-iff-failed"]} in data[
        "coverage"
    ]
    markdown = markdown_of(blind, scrubber=Scrubber())
    assert "## Never observed in this run" in markdown
    assert "- status: `failed` never seen: `error-code-iff-failed` has never been exercised in this run." in markdown


def test_the_scrubber_drops_a_password_parameter_wherever_it_stands() -> None:
    scrub = Scrubber().text
    assert scrub("postgresql://h/db?sslmode=require&password=hunter2 x") == (
        "postgresql://h/db?sslmode=require&password=*** x"
    )
    assert scrub("host=h PASSWORD=hunter2 dbname=x") == "host=h PASSWORD=*** dbname=x"
    assert scrub("no password here: passwords=fine") == "no password here: passwords=fine"
    hostile = "password=" * 20_000 + "a" * 200_000
    assert scrub(hostile) == "password=***"


def test_a_configured_url_is_kept_as_it_is_and_shown_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dcs-contract.toml").write_text(
        'history = "postgresql://ci:${DCS_HISTORY_PASSWORD}@db:5432/contract"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show"], env={"DCS_HISTORY_PASSWORD": PASSWORD}) == 0
    shown = capsys.readouterr().out
    (line,) = [line for line in shown.splitlines() if line.startswith("history ")]
    assert '"postgresql://***@db:5432/contract"' in line and PASSWORD not in shown
    assert parse_store(" postgres://db/x ") == "postgres://db/x" and parse_store("h.sqlite") == Path("h.sqlite")
