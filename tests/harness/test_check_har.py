"""check-har: recorded traffic judged against the spec, with no request sent.

A run against the mock records its traffic (``--record``); the recording, judged offline,
must give the run's own verdict and, for each drift, the run's findings (the same check,
category, location and fingerprint). A HAR is not trusted: a broken one is a ConfigError
that names the file and the entry, and nothing a request carried reaches the report.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.spec import Spec
from dcs_contract.errors import ConfigError
from dcs_contract.har.check import CHECK_HAR, CREDENTIALS, check_har
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import RunReport, write_reports
from dcs_contract.results.schema import REPORT_SCHEMA
from dcs_contract.transport.guard import MAX_RECORDED_BODY
from tests.harness.leaks import assert_no_leak

# A run's recording, and its report.json.
Recorded = Callable[..., tuple[Path, dict[str, Any]]]

# What a recording can never judge: how schemathesis drew a case.
UNDECIDABLE = {"negative_data_rejection", "positive_data_acceptance"}
# The cross-request invariants a run's recording has what they need for.
ACROSS = {
    "total-independent-of-paging",
    "pages-partition",
    "total-stable-through-walk",
    "no-empty-page-before-total",
    "past-end-empty",
    "window-complete",
    "narrower-window-not-more",
    "adjacent-windows-add-up",
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """``recorded(*flags)``: a run against the mock with --record, once per set of flags."""
    runs: dict[tuple[str, ...], tuple[Path, dict[str, Any]]] = {}

    def run(*flags: str) -> tuple[Path, dict[str, Any]]:
        if flags not in runs:
            directory = tmp_path_factory.mktemp("run")
            args = ["run", "--report-dir", str(directory), "--max-examples", "5", "--seed", "1", "--record"]
            main([*args, *flags], env={})
            runs[flags] = directory / "traffic.har", json.loads((directory / "report.json").read_text())
        return runs[flags]

    return run


def keys(findings: Any) -> set[tuple[str, str, str]]:
    return {
        (f["check"], f["category"], f["location"]) if isinstance(f, dict) else (f.check, f.category, f.location)
        for f in findings
    }


# -- a run's own recording ----------------------------------------------------------------


def test_a_faithful_runs_recording_conforms_offline(recorded: Recorded, spec: Spec) -> None:
    har, live = recorded()
    assert live["verdict"] == "conforms"

    report = check_har(spec, [har])

    assert (report.verdict, report.findings, report.error) == ("conforms", (), None)
    # Every exchange of the run was the endpoint's, and every one was checked.
    assert report.cases == {str(har): live["requests"]["total"]}
    assert report.requests.total == live["requests"]["total"]
    assert report.requests.by_status == live["requests"]["by_status"]
    assert report.skipped == {}
    assert report.target.credentials == CREDENTIALS == "none: nothing is sent"
    assert report.target.base_url == live["target"]["base_url"]
    assert report.target.instance_id == live["target"]["instance_id"]
    assert report.spec is not None and report.spec.sha256 == live["spec"]["sha256"]
    # The invariants across requests ran on what the recording holds, and the probes' own judgements too.
    assert ACROSS | {"unknown-instance-refused", "unauthenticated_refused", "invalid_input_rejected"} <= set(
        report.evaluated
    )
    # What it could not judge, it says, with why.
    assert set(report.not_evaluated) == UNDECIDABLE | {"empty-instance-empty"}
    assert all(reason.startswith(f"{CHECK_HAR}: ") for reason in report.not_evaluated.values())
    assert "DCS_EMPTY_INSTANCE_ID" in report.not_evaluated["empty-instance-empty"]


def test_the_empty_instance_is_judged_when_named(recorded: Recorded, spec: Spec) -> None:
    har, live = recorded()
    empty = live["target"]["empty_instance_id"]
    report = check_har(spec, [har], empty_instance_id=empty)
    assert report.verdict == "conforms"
    assert report.evaluated["empty-instance-empty"] == 1


# switch -> the run's main finding (check, category, location), which the recording must show too.
DRIFTS = {
    "size-as-string": ("response_schema_conformance", "type", "/backup_record_response/*/size"),
    "total-is-page-size": ("total-independent-of-paging", "paging", "/total_num"),
    "offset-ignored": ("pages-partition", "paging", "offset"),
    "served-without-credentials": ("unauthenticated_refused", "auth", "Authorization"),
    "empty-instance-not-empty": ("empty-instance-empty", "paging", "instance_id"),
    # On the wire: the recording keeps the body's text, and check-har judges the bytes it holds.
    "body-with-bom": ("no-bom", "wire", "body"),
    "data-after-body": ("no-trailing-data", "wire", "body"),
    "total-with-fraction": ("integer-written-as-integer", "wire", "/total_num"),
    "status-key-twice": ("no-duplicate-key", "wire", "/backup_record_response/*/status"),
}


@pytest.mark.parametrize("switch", sorted(DRIFTS))
def test_a_drifting_runs_recording_gives_the_runs_findings(switch: str, recorded: Recorded, spec: Spec) -> None:
    har, live = recorded("--mock-drift", switch)
    assert live["verdict"] == "violations"

    report = check_har(spec, [har], empty_instance_id=live["target"]["empty_instance_id"])

    assert report.verdict == "violations"
    assert DRIFTS[switch] in keys(live["findings"])
    assert DRIFTS[switch] in keys(report.findings)
    # The same drift, the same finding: a baseline written from the run accepts the recording's.
    live_prints = {f["fingerprint"] for f in live["findings"]}
    main_finding = next(f for f in report.findings if (f.check, f.category, f.location) == DRIFTS[switch])
    assert main_finding.fingerprint in live_prints
    # Everything the run found, the recording shows, but what needs to know how a case was drawn.
    assert {k for k in keys(live["findings"]) if k[0] not in UNDECIDABLE} <= keys(report.findings)


# -- a browser's recording --------------------------------------------------------------------

PROJECT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
# The instance of the spec's own example record.
INSTANCE = "5560df16-cebf-4473-95c4-d1b573c16e79"
BACKUPS = f"https://dcs.ap-southeast-1.myhuaweicloud.com/v2/{PROJECT}/instances/{INSTANCE}/backups"
JSON = [{"name": "Content-Type", "value": "application/json;charset=UTF-8"}]


def entry(
    url: str,
    *,
    method: str = "GET",
    status: int = 200,
    text: str | None = "",
    encoding: str | None = None,
    headers: list[dict[str, str]] | None = None,
    request_headers: list[dict[str, str]] | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {"size": size if size is not None else len(text or ""), "mimeType": ""}
    if text is not None:
        content["text"] = text
    if encoding is not None:
        content["encoding"] = encoding
    return {
        "startedDateTime": "2026-01-01T00:00:00.000Z",
        "time": 12.5,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/2", "headers": request_headers or []},
        "response": {"status": status, "headers": JSON if headers is None else headers, "content": content},
    }


def har_file(path: Path, *entries: dict[str, Any], creator: str = "WebInspector") -> Path:
    document = {"log": {"version": "1.2", "creator": {"name": creator, "version": "537.36"}, "entries": list(entries)}}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def example_page(spec: Spec) -> str:
    """The spec's own example page: one record of INSTANCE, as the contract has it."""
    example = spec.operation["responses"]["200"]["content"]["application/json"]["examples"]["seed-corrected"]
    return json.dumps(example["value"])


def browser_entries(spec: Spec) -> list[dict[str, Any]]:
    return [
        entry("https://console.example.com/favicon.ico", headers=[], text="AAABAAEAEBA=", encoding="base64"),
        entry(
            "https://console.example.com/api/v1/dcs/instances",
            method="POST",
            status=201,
            text='{"id": "x"}',
        ),
        entry(
            "https://console.example.com/static/app.3f2a.js",
            headers=[{"name": "content-type", "value": "application/javascript"}],
            text="console.log(1)",
        ),
        # POST on the backups path creates a backup: never this harness's, never checked.
        entry(BACKUPS, method="POST", status=200, text='{"backup_id": "b"}'),
        # The browser stores the body decoded: its Content-Encoding describes the wire, not the text.
        entry(
            BACKUPS,
            text=example_page(spec),
            headers=[*JSON, {"name": "Content-Encoding", "value": "gzip"}, {"name": "Content-Length", "value": "9"}],
        ),
        # A site whose name is IDNA, and a name that says it is and is not: other hosts, counted.
        entry("https://xn--ls8h.la/favicon.ico", status=404, headers=[], text=None),
        entry(f"https://xn--/v2/{PROJECT}/instances/{INSTANCE}/backups", status=404, headers=[], text=None),
        # No backup in 2020: the example record is from 2019.
        entry(f"{BACKUPS}?begin_time=20200101000000&end_time=20201231235959", status=204, headers=[], text=None),
        # Blocked by the browser, throttled, and evicted from the browser's cache: none can be judged.
        entry(BACKUPS, status=0, headers=[], text=None),
        entry(BACKUPS, status=503, text='{"error_code": "APIGW.0308"}'),
        entry(f"{BACKUPS}?limit=5", text=None, size=1234),
    ]


def test_a_browsers_other_exchanges_are_counted_not_checked(tmp_path: Path, spec: Spec) -> None:
    har = har_file(tmp_path / "console.har", *browser_entries(spec))

    report = check_har(spec, [har])

    assert (report.verdict, report.findings, report.error) == ("conforms", (), None)
    assert report.cases == {str(har): 2}
    assert report.skipped == {
        CHECK_HAR: "6 exchanges of other paths or methods were not checked; "
        "1 exchange without a response (status 0) was not checked; "
        "1 exchange answered 429, 502, 503 or 504 was not checked: a live run retries them; "
        "1 exchange whose body the recording did not keep was not checked"
    }
    # The recorded exchanges of the endpoint, by status; the other paths are no request of it.
    assert report.requests.by_status == {"200": 2, "204": 1, "error": 1, "503": 1}
    assert report.target.base_url == "https://dcs.ap-southeast-1.myhuaweicloud.com"
    assert (report.target.project_id, report.target.instance_id) == (PROJECT, INSTANCE)
    # The 204 window against the unfiltered page holding every record.
    assert report.evaluated["window-complete"] == 1
    assert report.evaluated["page-size"] == 1
    # A browser's export may strip credentials: an anonymous-looking request is not judged as one.
    assert "dcs-contract's own recordings" in report.not_evaluated["unauthenticated_refused"]
    # Written as run's report is, and read back as one.
    write_reports(report, tmp_path / "out", scrubber=Scrubber())
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(written, REPORT_SCHEMA)
    assert RunReport.from_dict(written).skipped == report.skipped


def test_a_recording_without_the_endpoint_tested_nothing(tmp_path: Path, spec: Spec) -> None:
    har = har_file(tmp_path / "other.har", *browser_entries(spec)[:3])
    report = check_har(spec, [har])
    assert report.verdict == "untestable"
    assert report.error is not None and "no exchange of GET" in report.error
    assert report.skipped == {CHECK_HAR: "3 exchanges of other paths or methods were not checked"}


def test_nothing_a_request_carried_reaches_the_report(tmp_path: Path, spec: Spec) -> None:
    secrets = ["PASSWORD-in-the-url-1234", "URL-TOKEN-5678abcd", "AK-SECRET-ACCESS-KEY-90", "COOKIE-SESSION-abcdef12"]
    url = (
        f"https://user:{secrets[0]}@dcs.ap-southeast-1.myhuaweicloud.com/v2/{PROJECT}/instances/{INSTANCE}/backups"
        f"?limit=10&X-Security-Token={secrets[1]}#frag"
    )
    request_headers = [
        {"name": "Authorization", "value": f"SDK-HMAC-SHA256 Access={secrets[2]}, Signature=abc"},
        {"name": "Cookie", "value": f"session={secrets[3]}"},
    ]
    # A page served as HTML: a finding, whose request the report shows.
    html = [{"name": "Content-Type", "value": "text/html"}]
    har = har_file(
        tmp_path / "secret.har", entry(url, text=example_page(spec), headers=html, request_headers=request_headers)
    )

    report = check_har(spec, [har])

    finding = next(f for f in report.findings if f.check == "content_type_conformance")
    (request,) = finding.requests
    assert (
        request.url
        == f"https://dcs.ap-southeast-1.myhuaweicloud.com/v2/{PROJECT}/instances/{INSTANCE}/backups?limit=10"
    )
    assert request.curl.startswith('curl -sS -X GET -H "X-Auth-Token: $DCS_AUTH_TOKEN" ')
    written = write_reports(report, tmp_path / "out", scrubber=Scrubber())
    assert_no_leak({path.name: path.read_text() for path in written}, secrets)
    assert_no_leak({"report": repr(report.findings)}, secrets)


# -- a HAR is not trusted -----------------------------------------------------------------------


@pytest.fixture
def valid_entries(spec: Spec) -> list[dict[str, Any]]:
    return browser_entries(spec)


def test_a_truncated_har_names_the_file_and_the_entry_it_breaks_in(
    tmp_path: Path, spec: Spec, recorded: Recorded
) -> None:
    har, _ = recorded()
    document = json.loads(har.read_text())
    text = json.dumps(document)
    half = len(text) // 2
    # The entries that end before the cut are whole; the next one is where it breaks.
    ends = [text.index(json.dumps(entry)) + len(json.dumps(entry)) for entry in document["log"]["entries"]]
    whole = sum(end <= half for end in ends)
    cut = tmp_path / "traffic.har"
    cut.write_text(text[:half])
    with pytest.raises(ConfigError, match=rf"traffic\.har: entry {whole + 1} \(log\.entries\[{whole}\]\) is cut short"):
        check_har(spec, [cut])


def broken(entries: list[dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    """The entries with the seventh changed: as a HAR viewer numbers them, entry 7."""
    entries = copy.deepcopy(entries)
    change(entries[6])
    return entries


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("response"), "response is missing"),
        (lambda e: e.pop("request"), "request is missing"),
        (lambda e: e["response"].pop("status"), "response.status is missing"),
        (lambda e: e["response"].update(status="200"), "response.status is a JSON string, not an integer"),
        (lambda e: e["request"].update(url=None), "request.url is a JSON null, not a string"),
        (lambda e: e.update(response=[]), "response is a JSON array, not an object"),
    ],
)
def test_a_broken_entry_is_named_by_its_number(
    change: Callable[[dict[str, Any]], None],
    message: str,
    tmp_path: Path,
    spec: Spec,
    valid_entries: list[dict[str, Any]],
) -> None:
    har = har_file(tmp_path / "traffic.har", *broken(valid_entries, change))
    with pytest.raises(ConfigError) as caught:
        check_har(spec, [har])
    assert str(caught.value) == f"{har}: entry 7 (log.entries[6]): {message}"


def test_a_broken_body_of_the_endpoint_is_named_by_its_entry(tmp_path: Path, spec: Spec) -> None:
    har = har_file(tmp_path / "traffic.har", entry(BACKUPS, text="not base64!", encoding="base64"))
    with pytest.raises(
        ConfigError, match=r"entry 1 \(log\.entries\[0\]\): response\.content\.text is not valid base64"
    ):
        check_har(spec, [har])
    har = har_file(tmp_path / "traffic.har", entry(BACKUPS, text="{}", headers=[{"name": "a"}]))
    with pytest.raises(ConfigError, match=r"entry 1 \(log\.entries\[0\]\): response\.headers\[0\]\.value is missing"):
        check_har(spec, [har])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"log": {"entries": [}', "is not JSON"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b'{"entries": []}', "not a HAR file: it has no log object"),
        (b'{"log": {"entries": {}}}', "not a HAR file: log.entries is missing or not an array"),
    ],
)
def test_a_file_that_is_no_har_is_a_config_error(content: bytes, message: str, tmp_path: Path, spec: Spec) -> None:
    har = tmp_path / "traffic.har"
    har.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as caught:
        check_har(spec, [har])
    assert str(caught.value).startswith(f"{har}: ")


def test_a_file_over_the_size_cap_is_refused_unread(
    tmp_path: Path, spec: Spec, valid_entries: list[dict[str, Any]]
) -> None:
    har = har_file(tmp_path / "traffic.har", *valid_entries)
    with pytest.raises(ConfigError, match=rf"{har}: \d+ bytes, over the 1000 bytes check-har reads of a HAR file"):
        check_har(spec, [har], max_file_size=1000)
    with pytest.raises(ConfigError, match="no such file"):
        check_har(spec, [tmp_path / "missing.har"])
    with pytest.raises(ConfigError, match="is a directory"):
        check_har(spec, [tmp_path])


def test_a_byte_order_mark_is_read_past(tmp_path: Path, spec: Spec, valid_entries: list[dict[str, Any]]) -> None:
    har = har_file(tmp_path / "traffic.har", *valid_entries)
    har.write_bytes(b"\xef\xbb\xbf" + har.read_bytes())
    assert check_har(spec, [har]).verdict == "conforms"


# -- bodies over the cap ----------------------------------------------------------------------

CAP = 64 * 1024


def body_findings(report: RunReport) -> list[tuple[str, str, str, int | None]]:
    return [(f.check, f.category, f.location, f.status) for f in report.findings]


def big_page(spec: Spec) -> str:
    """The example page, padded past the cap with spaces: still JSON, and conforming."""
    return example_page(spec) + " " * (CAP + 10)


@pytest.mark.parametrize("encoding", [None, "base64"])
def test_a_body_over_the_cap_is_a_finding(encoding: str | None, tmp_path: Path, spec: Spec) -> None:
    text = big_page(spec)
    if encoding:
        text = base64.b64encode(text.encode()).decode()
    har = har_file(tmp_path / "traffic.har", entry(BACKUPS, text=text, encoding=encoding))

    report = check_har(spec, [har], max_body=CAP)

    assert body_findings(report) == [("body_within_cap", "transport", "body", 200)]
    assert report.findings[0].expected == f"a body of at most {CAP} bytes"
    # The same body within a larger cap conforms: it is the size, not the content.
    assert check_har(spec, [har], max_body=CAP * 2).verdict == "conforms"


def test_a_gzip_bomb_stored_raw_inflates_no_further_than_the_cap(tmp_path: Path, spec: Spec) -> None:
    bomb = gzip.compress(b"[" + b" " * (16 * 1024 * 1024) + b"]")
    assert len(bomb) < CAP
    gzipped = [*JSON, {"name": "Content-Encoding", "value": "gzip"}]
    raw = entry(BACKUPS, text=base64.b64encode(bomb).decode(), encoding="base64", headers=gzipped)
    report = check_har(spec, [har_file(tmp_path / "bomb.har", raw)], max_body=CAP)
    assert body_findings(report) == [("body_within_cap", "transport", "body", 200)]

    # Raw gzip bytes within the cap are inflated, then checked as the body they hold.
    page = gzip.compress(example_page(spec).encode())
    raw = entry(BACKUPS, text=base64.b64encode(page).decode(), encoding="base64", headers=gzipped)
    report = check_har(spec, [har_file(tmp_path / "page.har", raw)], max_body=CAP)
    assert (report.verdict, report.evaluated["page-size"]) == ("conforms", 1)


def test_a_body_the_recorder_found_over_its_cap_is_the_same_finding(tmp_path: Path, spec: Spec) -> None:
    over = entry(BACKUPS, text="", request_headers=[{"name": "authorization", "value": "[REDACTED]"}])
    over["_error"] = "body over 8388608 bytes"
    report = check_har(spec, [har_file(tmp_path / "traffic.har", over, creator="dcs-contract")])
    assert body_findings(report) == [("body_within_cap", "transport", "body", 200)]
    assert report.findings[0].expected == "a body of at most 8388608 bytes"


def test_a_body_the_recorder_cut_short_is_judged_for_its_status_and_content_type_only(
    tmp_path: Path, spec: Spec
) -> None:
    # What recording.py writes of a page past MAX_RECORDED_BODY characters: its start, then "…".
    text = (example_page(spec) + " " * MAX_RECORDED_BODY)[:MAX_RECORDED_BODY] + "…"
    authenticated = [{"name": "authorization", "value": "[REDACTED]"}]
    cut = entry(BACKUPS, text=text, request_headers=authenticated)
    report = check_har(spec, [har_file(tmp_path / "traffic.har", cut, creator="dcs-contract")])
    assert (report.verdict, report.findings) == ("conforms", ())
    assert report.skipped == {
        CHECK_HAR: "1 exchange whose body dcs-contract's recorder cut short was checked for status and "
        "content type only"
    }
    assert "response_schema_conformance" not in report.evaluated
    # Served as HTML, the same cut body is still a content-type finding.
    cut["response"]["headers"] = [{"name": "content-type", "value": "text/html"}]
    report = check_har(spec, [har_file(tmp_path / "traffic.har", cut, creator="dcs-contract")])
    assert keys(report.findings) == {("content_type_conformance", "content-type", "Content-Type")}


def test_check_har_on_the_command_line_exits_as_the_run_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Recorded against a drift switch: exit 1 with the run's finding; cut short: exit 2 naming the file."""
    live = tmp_path / "live"
    flags = ["--seed", "2", "--max-requests", "60", "--record", "--mock-drift", "offset-ignored"]
    assert main(["run", "--report-dir", str(live), *flags], env={}) == 1
    offline = tmp_path / "offline"
    assert main(["check-har", str(live / "traffic.har"), "--report-dir", str(offline)], env={}) == 1
    found = {(f["check"], f["location"]) for f in json.loads((offline / "report.json").read_text())["findings"]}
    ran = {(f["check"], f["location"]) for f in json.loads((live / "report.json").read_text())["findings"]}
    assert ("pages-partition", "offset") in found & ran
    cut = tmp_path / "cut.har"
    cut.write_bytes((live / "traffic.har").read_bytes()[:3000])
    capsys.readouterr()
    assert main(["check-har", str(cut), "--report-dir", str(tmp_path / "cut")], env={}) == 2
    assert str(cut) in capsys.readouterr().err


@pytest.mark.parametrize(
    "query",
    ["offset=" + "9" * 5000, "begin_time=99991231235959&end_time=99991231235959", "limit=" + "1" * 4301],
    ids=["offset-of-5000-digits", "the-last-second-of-9999", "limit-past-int-digits"],
)
def test_queries_at_the_edge_of_python_s_numbers_are_findings_or_skipped_not_a_crash(
    tmp_path: Path, spec: Spec, recorded: Recorded, query: str
) -> None:
    """A hostile HAR may hold any query: each is judged (a fault, a window) and the run still reports."""
    har, _ = recorded()
    document = json.loads(har.read_text())
    entries = document["log"]["entries"]
    extra = copy.deepcopy(entries[1])
    extra["request"]["url"] = extra["request"]["url"].split("?", 1)[0] + "?" + query
    document["log"]["entries"] = [*entries, extra, copy.deepcopy(extra)]
    hostile = tmp_path / "hostile.har"
    hostile.write_text(json.dumps(document))
    report = check_har(spec, [hostile])
    assert report.crash is None and report.error is None
    assert report.requests.total == len(entries) + 2
