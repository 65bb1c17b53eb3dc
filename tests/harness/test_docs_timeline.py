"""The documentation page's Timeline: each target's last runs and its drift, from a history of real mock runs.

The history is built once for the module from six runs of the embedded mock, with drift
switched on in some and not others, appended as two targets: in the HTML, the Markdown,
and in a headless Chromium, the cells are those runs in order and the drift table says when
each finding was first and last seen, and which one comes and goes.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import Spec
from dcs_contract.docs import build_docs, read_timeline
from dcs_contract.docs import timeline as timeline_module
from dcs_contract.docs.timeline import LIMITS
from dcs_contract.errors import ConfigError
from dcs_contract.results.history import History, HistoryError
from dcs_contract.results.report import RunReport, TargetInfo
from dcs_contract.results.schema import read_report
from tests.harness.test_docs_browser import chromium

SITE_A = TargetInfo(base_url="https://dcs.eu-west-101.example.com", project_id="p" * 32, instance_id="inst-a")
SITE_B = TargetInfo(base_url="https://dcs.eu-west-101.example.com", project_id="p" * 32, instance_id="inst-b")
SIZE, STATUS = "size-as-string", "status-past-tense"
# The runs, in the order they are appended (run ids 1, 2, ...): the two targets interleaved.
# Target A: conforms, size drifts, conforms again, size drifts again (intermittent), then a run
# cut short. Target B: the status drifts twice, and the size joins it in the second run.
PLAN: list[tuple[TargetInfo, tuple[str, ...]]] = [
    (SITE_A, ()),
    (SITE_B, (STATUS,)),
    (SITE_A, (SIZE,)),
    (SITE_A, ()),
    (SITE_B, (STATUS, SIZE)),
    (SITE_A, (SIZE,)),
]
CUT_SHORT = "stopped after 12 requests: --max-requests reached"
GREEN, RED, AMBER = "rgba(26, 127, 55, 1)", "rgba(180, 35, 24, 1)", "rgba(154, 103, 0, 1)"
# (verdict class, mark, background colour) of a cell: style.css's --ok, --bad and --warn.
CONFORMS, VIOLATIONS = ("conforms", "✓", GREEN), ("violations", "✗", RED)


def _started(run_id: int) -> str:
    """A distinct day per run, so that first and last seen name one run each."""
    return f"2026-11-{run_id:02d}T02:00:00+00:00"


@dataclass(frozen=True)
class Built:
    history: Path
    reports: list[RunReport]  # as appended, by run id - 1
    html: str
    md: str

    def fingerprint(self, run_id: int, field: str) -> str:
        """The fingerprint of the finding run ``run_id`` had at ``/backup_record_response/*/<field>``."""
        (finding,) = [f for f in self.reports[run_id - 1].findings if f.location.endswith(f"/{field}")]
        return finding.fingerprint


def _mock_run(directory: Path, drifts: tuple[str, ...]) -> RunReport:
    flags = [flag for drift in drifts for flag in ("--mock-drift", drift)]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["run", "--report-dir", str(directory), "--max-examples", "5", "--seed", "1", *flags], env={})
    assert code == (1 if drifts else 0), f"the mock with drift {drifts} exited {code}"
    return read_report(directory / "report.json")


@pytest.fixture(scope="module")
def built(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Six real mock runs (about 4 s) and a seventh cut short, appended to one history; the page built from it."""
    work = tmp_path_factory.mktemp("timeline")
    reports = []
    for run_id, (target, drifts) in enumerate(PLAN, start=1):
        report = _mock_run(work / f"run-{run_id}", drifts)
        reports.append(replace(report, target=target, started=_started(run_id)))
    # Run 7: target A's faithful run, cut short: untestable, and no base for the runs after it.
    reports.append(replace(reports[0], error=CUT_SHORT, started=_started(7)))
    assert [r.verdict for r in reports] == [
        "conforms",
        *["violations"] * 2,
        "conforms",
        *["violations"] * 2,
        "untestable",
    ]
    history = work / "history.sqlite"
    with History.open(history) as opened:
        assert [opened.append(report) for report in reports] == [1, 2, 3, 4, 5, 6, 7]
    out = work / "site"
    assert build_docs(spec, out, history=history) == [out / "index.html", out / "index.md"]
    return Built(history, reports, (out / "index.html").read_text(), (out / "index.md").read_text())


def _section(page: str, index: int) -> str:
    match = re.search(rf'<section class="panel timeline-target" id="timeline-{index}">(.*?)</section>', page, re.S)
    assert match, f"no timeline-{index} section"
    return match.group(1)


def _cells(section: str) -> list[tuple[int, str, bool, str]]:
    """(run id, verdict class, cut short, title) of each cell, left to right."""
    cells = re.findall(r'<li class="cell verdict-(\w+)( incomplete)?" data-run="(\d+)" title="([^"]*)"', section)
    return [(int(run), verdict, bool(cut), html.unescape(title)) for verdict, cut, run, title in cells]


def _drift_rows(section: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr id=\"drift-.*?</tr>", section, re.S)
    ]


def _markdown_section(md: str, heading: str) -> str:
    start = md.index(f"### {heading}\n")
    end = md.find("\n### ", start + 1)
    return md[start : end if end != -1 else md.index("\n## Sources")]


# -- the HTML --------------------------------------------------------------------------------


def test_each_target_has_a_row_of_its_runs_oldest_first(built: Built) -> None:
    page = built.html
    assert '<h2 id="timeline">' in page and '<a href="#timeline">Timeline</a>' in page
    assert page.index('id="conformance"') < page.index('id="timeline"') < page.index('id="sources"')
    a, b = _section(page, 1), _section(page, 2)
    assert "inst-a" in a.split("</h3>")[0] and "inst-b" in b.split("</h3>")[0]
    assert [(run, verdict, cut) for run, verdict, cut, _ in _cells(a)] == [
        (1, "conforms", False),
        (3, "violations", False),
        (4, "conforms", False),
        (6, "violations", False),
        (7, "untestable", True),
    ]
    assert [(run, verdict, cut) for run, verdict, cut, _ in _cells(b)] == [
        (2, "violations", False),
        (5, "violations", False),
    ]
    # Each cell's title, also its text for a screen reader: the run, its start, its verdict, what it changed.
    titles = {run: title for run, _, _, title in _cells(a) + _cells(b)}
    assert titles[1] == f"run 1, started {_started(1)}: conforms; 0 new, 0 resolved"
    assert titles[3] == f"run 3, started {_started(3)}: violations; 1 new, 0 resolved"
    assert titles[4] == f"run 4, started {_started(4)}: conforms; 0 new, 1 resolved"
    assert titles[6] == f"run 6, started {_started(6)}: violations; 1 new, 0 resolved"
    assert titles[7] == f"run 7, started {_started(7)}: untestable, cut short; 0 new, 0 resolved"
    assert titles[5] == f"run 5, started {_started(5)}: violations; 1 new, 0 resolved"
    assert f'<span class="sr-only">{html.escape(titles[4], quote=False)}</span>' in a
    assert "The last 5 of its 5 runs, oldest first." in a and "The last 2 of its 2 runs, oldest first." in b


def test_the_drift_table_says_when_each_finding_was_first_and_last_seen(built: Built) -> None:
    size_a, status_b, size_b = (
        built.fingerprint(3, "size"),
        built.fingerprint(2, "status"),
        built.fingerprint(5, "size"),
    )
    assert size_a == size_b, "one finding, one fingerprint: the history keeps them apart by target"
    a_rows, b_rows = _drift_rows(_section(built.html, 1)), _drift_rows(_section(built.html, 2))
    # Target A: the size seen in runs 3 and 6, not in 4 between them; run 7 was cut short, so the
    # window is A's four complete runs.
    assert a_rows == [
        f"Response violates schema response_schema_conformance type fingerprint {size_a} "
        f"/backup_record_response/*/size run 3 {_started(3)} run 6 {_started(6)} seen 2 of 4 intermittent"
    ]
    assert b_rows == [
        f"Response violates schema response_schema_conformance enum fingerprint {status_b} "
        f"/backup_record_response/*/status run 2 {_started(2)} run 5 {_started(5)} seen 2 of 2",
        f"Response violates schema response_schema_conformance type fingerprint {size_b} "
        f"/backup_record_response/*/size run 5 {_started(5)} run 5 {_started(5)} seen 1 of 2",
    ]
    assert f'<tr id="drift-1-{size_a}" class="intermittent">' in built.html
    assert f'<tr id="drift-2-{size_b}">' in built.html
    assert "Drift: each finding's first and last run, 1 intermittent</h4>" in _section(built.html, 1)


# -- the Markdown ----------------------------------------------------------------------------


def test_the_markdown_has_the_same_timeline(built: Built) -> None:
    md = built.md
    assert md.index("## Conformance") < md.index("## Timeline") < md.index("## Sources")
    a = _markdown_section(md, "https://dcs.eu-west-101.example.com, instance inst-a")
    b = _markdown_section(md, "https://dcs.eu-west-101.example.com, instance inst-b")
    assert "\n✓ ✗ ✓ ✗ ?~\n" in a and "\n✗ ✗\n" in b
    runs = [line for line in a.splitlines() if re.match(r"\| \d+ \|", line)]
    assert runs == [
        f"| 1 | {_started(1)} | conforms | 0 | 0 |",
        f"| 3 | {_started(3)} | violations | 1 | 0 |",
        f"| 4 | {_started(4)} | conforms | 0 | 1 |",
        f"| 6 | {_started(6)} | violations | 1 | 0 |",
        f"| 7 | {_started(7)} | untestable (cut short) | 0 | 0 |",
    ]
    size = built.fingerprint(3, "size")
    assert (
        f"| `{size}` | `response_schema_conformance` | type | `/backup_record_response/*/size` | "
        f"Response violates schema | run 3, {_started(3)} | run 6, {_started(6)} | seen 2 of 4 | intermittent |"
    ) in a
    assert (
        f"| `{size}` | `response_schema_conformance` | type | `/backup_record_response/*/size` | "
        f"Response violates schema | run 5, {_started(5)} | run 5, {_started(5)} | seen 1 of 2 |  |"
    ) in b


# -- the model -------------------------------------------------------------------------------


def test_the_timeline_shows_each_target_s_last_n_runs(built: Built, spec: Spec, tmp_path: Path) -> None:
    timeline = read_timeline(built.history, last=3)
    a, b = timeline.targets
    assert (a.instance_id, a.runs, [cell.run for cell in a.cells]) == ("inst-a", 5, [4, 6, 7])
    assert (b.instance_id, b.runs, [cell.run for cell in b.cells]) == ("inst-b", 2, [2, 5])
    # Over A's last three complete runs (3, 4, 6), the size is still seen, gone, seen again.
    (size,) = a.drift
    assert (size.first_run, size.last_run, size.seen, size.window, size.intermittent) == (3, 6, 2, 3, True)
    build_docs(spec, tmp_path, history=built.history, timeline_runs=3)
    page = (tmp_path / "index.html").read_text()
    assert [run for run, *_ in _cells(_section(page, 1))] == [4, 6, 7]
    assert "each target's last 3 runs" in page and "The last 3 of its 5 runs, oldest first." in page
    with pytest.raises(ConfigError, match=r"last=0, but the timeline shows 1 or more runs"):
        read_timeline(built.history, last=0)


def test_a_long_history_shows_the_targets_and_findings_seen_most_recently(
    built: Built, spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline_module, "MAX_TARGETS", 1)
    monkeypatch.setattr(timeline_module, "MAX_DRIFT", 1)
    timeline = read_timeline(built.history)
    # Target A ran last (run 7): B is counted, not shown. A's one fingerprint fits the bound.
    assert [(t.instance_id, len(t.drift), t.more_drift) for t in timeline.targets] == [("inst-a", 1, 0)]
    assert timeline.more_targets == 1
    monkeypatch.setattr(timeline_module, "MAX_TARGETS", 2)
    b = read_timeline(built.history).targets[1]
    assert (b.instance_id, len(b.drift), b.more_drift) == ("inst-b", 1, 1)
    build_docs(spec, tmp_path, history=built.history)
    assert "1 more fingerprint, last seen longer ago, not shown here" in (tmp_path / "index.md").read_text()
    monkeypatch.setattr(timeline_module, "MAX_TARGETS", 1)
    build_docs(spec, tmp_path, history=built.history)
    assert "1 more target, run longer ago, not shown here" in (tmp_path / "index.html").read_text()


def test_without_a_history_the_page_has_no_timeline(spec: Spec, tmp_path: Path) -> None:
    build_docs(spec, tmp_path)
    page, md = (tmp_path / "index.html").read_text(), (tmp_path / "index.md").read_text()
    assert 'id="timeline' not in page and 'href="#timeline"' not in page and "## Timeline" not in md


def test_a_history_with_no_runs_says_so(spec: Spec, tmp_path: Path) -> None:
    History.open(tmp_path / "history.sqlite").close()
    build_docs(spec, tmp_path / "site", history=tmp_path / "history.sqlite")
    assert "The history has no runs yet" in (tmp_path / "site" / "index.html").read_text()
    assert "The history has no runs yet" in (tmp_path / "site" / "index.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist: a run given --history"),
        (b"", "is an empty file, not a dcs-contract history"),
        (b"not a database, but long enough to be read as one" * 4, "is not a dcs-contract history"),
        ("other-app", "is an SQLite database but not a dcs-contract history"),
    ],
    ids=["missing", "empty", "not-sqlite", "other-sqlite"],
)
def test_a_missing_or_foreign_history_is_refused_and_nothing_written(
    spec: Spec, tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / "history.sqlite"
    if content == "other-app":
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("CREATE TABLE notes (text TEXT)")
            connection.commit()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(HistoryError, match=re.escape(message)) as raised:
        build_docs(spec, tmp_path / "site", history=path)
    assert isinstance(raised.value, ConfigError) and f"--history={str(path)!r}" in str(raised.value)
    assert not (tmp_path / "site").exists(), "a history that cannot be read leaves --out as it was"
    assert (path.read_bytes() if path.exists() else None) == before, "the docs never write the history"


# -- what a target sends ---------------------------------------------------------------------

HOSTILE_URL = 'https://evil.example.com/"><script>alert(1)</script>' + "u" * 1000
HOSTILE_TITLE = "<img src=x onerror=alert(1)> *bold* [link](https://evil.example.com) | & " + "t" * 1000
HOSTILE_LOCATION = "/a`b``c|d<e>\n" + "l" * 1000


def test_texts_from_a_target_are_escaped_and_bounded(built: Built, spec: Spec, tmp_path: Path) -> None:
    base = built.reports[2]  # a real run of target A with one finding
    finding: Finding = replace(base.findings[0], title=HOSTILE_TITLE, location=HOSTILE_LOCATION)
    hostile = replace(base, target=replace(SITE_A, base_url=HOSTILE_URL), findings=[finding], occurrences={})
    path = tmp_path / "history.sqlite"
    with History.open(path) as history:
        history.append(hostile)
    # A verdict no harness writes, as a hand-edited history may hold: shown as text, styled as unknown.
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE runs SET verdict = ?", ['"><b>bold</b>'])
        connection.commit()
    build_docs(spec, tmp_path / "site", history=path)
    page, md = (tmp_path / "site" / "index.html").read_text(), (tmp_path / "site" / "index.md").read_text()
    section = _section(page, 1)
    # The page's one script is its own search box's (docs/templates/search.js): none from the history.
    assert page.count("<script") == 1 and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "&lt;img src=x" in section
    ((run, verdict, cut, title),) = _cells(section)
    assert (run, verdict, cut) == (1, "unknown", False) and '"><b>bold</b>' in title
    # Each text cut to its bound, ending with an ellipsis.
    shown = re.search(r'<span class="title">([^<]*)</span>', section)
    assert shown
    title_shown = html.unescape(shown.group(1))
    assert len(title_shown) == LIMITS["title"] and title_shown.endswith("…")
    assert title_shown.startswith("<img src=x onerror=alert(1)> *bold*")
    heading = html.unescape(re.sub(r"<[^>]+>", "", section.split("</h3>")[0])).strip()
    assert heading.startswith('https://evil.example.com/"><script>') and len(heading) < LIMITS["base_url"] + 40
    assert heading.split(" instance ")[0].endswith("…")
    # The Markdown shows the same texts literally: no tag, emphasis or link, one row of nine cells.
    (row,) = [line for line in md.splitlines() if line.startswith("| `") and "run 1," in line]
    assert len(re.findall(r"(?<!\\)\|", row)) == 10, row
    assert "\\<img src=x onerror=alert(1)\\> \\*bold\\* \\[link\\](https://evil.example.com) \\| \\&" in row
    assert "| ```/a`b``c\\|d<e> lll" in row, "a code span fenced by more backticks than the text holds"
    assert '### https://evil.example.com/"\\>\\<script\\>alert(1)\\</script\\>' in md
    assert not re.search(r"(?<!\\)<(script|img)", md), "every < of a text is escaped"


def test_the_page_with_a_timeline_fetches_nothing(built: Built) -> None:
    # The one inline script is the search box's own (docs/templates/search.js): it loads nothing.
    assert re.findall(r"<(?:script|link|img|iframe|object|embed)\b[^>]*>", built.html, re.I) == ["<script>"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", built.html, re.I)
    assert "@import" not in built.html and "url(" not in built.html


# -- in a browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless Chromium as tests/harness/test_docs_browser.py starts it, logging every request it sends."""
    with chromium(tmp_path_factory.mktemp("profile"), log_requests=True) as driver:
        yield driver


def _requests(driver: webdriver.Chrome, url: str) -> list[str]:
    """Load ``url``; every URL the browser asked for on behalf of that page, the page itself included.

    Only requests whose document is the page count: Chromium's own new-tab page, still loading
    its chrome:// resources when the first page is opened, is no part of it.
    """
    driver.get_log("performance")  # what an earlier page asked for
    driver.get(url)
    messages = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [
        m["params"]["request"]["url"]
        for m in messages
        if m["method"] == "Network.requestWillBeSent" and m["params"].get("documentURL") == url
    ]


@pytest.mark.browser
def test_a_reader_sees_each_target_s_runs_as_coloured_cells(built: Built, browser: webdriver.Chrome) -> None:
    url = (built.history.parent / "site" / "index.html").as_uri()
    requested = _requests(browser, url)
    # Self-contained: the page itself is the only thing loaded, nothing from elsewhere.
    assert requested and set(requested) == {url}, requested
    browser.find_element(By.CSS_SELECTOR, 'nav a[href="#timeline"]').click()
    assert browser.find_element(By.ID, "timeline").is_displayed()
    expected = {
        1: [CONFORMS, VIOLATIONS, CONFORMS, VIOLATIONS, ("untestable", "?", AMBER)],
        2: [VIOLATIONS, VIOLATIONS],
    }
    for index, cells in expected.items():
        shown = browser.find_elements(By.CSS_SELECTOR, f"#timeline-{index} ol.timeline > li")
        assert len(shown) == len(cells)
        for element, (verdict, mark, colour) in zip(shown, cells, strict=True):
            assert element.is_displayed() and element.size["width"] >= 16 and element.size["height"] >= 16
            assert f"verdict-{verdict}" in (element.get_attribute("class") or "")
            assert element.value_of_css_property("background-color") == colour
            assert element.find_element(By.CSS_SELECTOR, "[aria-hidden=true]").text == mark
            assert f": {verdict}" in (element.get_attribute("title") or "")
        # Oldest to newest, left to right, on one line.
        lefts = [element.location["x"] for element in shown]
        assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts)
        assert len({element.location["y"] for element in shown}) == 1
    last = browser.find_elements(By.CSS_SELECTOR, "#timeline-1 ol.timeline > li")[-1]
    assert "incomplete" in (last.get_attribute("class") or "") and float(last.value_of_css_property("opacity")) < 1


@pytest.mark.browser
def test_a_reader_sees_which_finding_is_intermittent(built: Built, browser: webdriver.Chrome) -> None:
    browser.get((built.history.parent / "site" / "index.html").as_uri() + "#timeline-1")
    (row,) = browser.find_elements(By.CSS_SELECTOR, "#timeline-1 table.drift tr.intermittent")
    assert row.is_displayed()
    text = " ".join(row.text.split())
    assert "/backup_record_response/*/size" in text and "seen 2 of 4" in text
    assert f"run 3 {_started(3)}" in text and f"run 6 {_started(6)}" in text
    mark = row.find_element(By.CSS_SELECTOR, ".mark-intermittent")
    assert mark.is_displayed() and mark.text == "intermittent"
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline-2 table.drift tr.intermittent") == []


@pytest.mark.browser
def test_the_request_log_would_see_a_page_that_fetches(browser: webdriver.Chrome, tmp_path: Path) -> None:
    """The check above can fail: a page with an image from elsewhere shows up in the same log."""
    page = tmp_path / "fetching.html"
    page.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/pixel.png" alt="">')
    assert "http://127.0.0.1:9/pixel.png" in _requests(browser, page.as_uri())
