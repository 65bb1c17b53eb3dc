"""The documentation page: in sync with the spec by construction, self-contained, with its panel."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import CATEGORIES, BaselineEntry, Finding, RequestInfo
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.docs.model import DocsModel
from dcs_contract.docs.render import render_html, render_markdown
from dcs_contract.redaction import Scrubber
from dcs_contract.results.observed import Observations
from dcs_contract.results.report import VERDICTS, RequestCounts, RunReport, TargetInfo, verdict_of, write_reports
from dcs_contract.results.schema import REPORT_SCHEMA, load_report, read_report

ROOT = Path(__file__).parents[2]
SAMPLE = Path("docs/sample")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("site")
    report = ROOT / SAMPLE / "report.json"
    assert main(["docs", "--out", str(out), "--report", str(report)]) == 0
    return {"html": (out / "index.html").read_text(), "md": (out / "index.md").read_text()}


def _spec_items(spec: Spec) -> dict[str, list[str]]:
    """Everything the spec names that a reader must find on the page."""
    model = DocsModel(spec)
    return {
        "parameter": list(spec.parameters),
        "field": [field.path for field in model.fields],
        "enum value": [json.dumps(v) for values in spec.enum_fields.values() for v in values],
        "status code": [str(code) for code in spec.status_codes],
        "error code": spec.enum_values("error_code"),
        "invariant": list(spec.invariants),
    }


@pytest.mark.parametrize("kind", ["html", "md"])
def test_everything_the_spec_names_is_on_the_page(spec: Spec, built: dict[str, str], kind: str) -> None:
    text = built[kind].replace("&#34;", '"').replace("&quot;", '"')
    missing = {what: [n for n in names if n not in text] for what, names in _spec_items(spec).items()}
    assert not any(missing.values()), missing


def test_every_field_enum_value_and_status_has_an_anchor(spec: Spec, built: dict[str, str]) -> None:
    ids = set(re.findall(r'id="([^"]+)"', built["html"]))
    model = DocsModel(spec)
    expected = {field.anchor for field in model.fields}
    expected |= {f"param-{name}" for name in spec.parameters}
    expected |= {f"status-{code}" for code in spec.status_codes}
    expected |= {
        f"{table.anchor}-{re.sub(r'[^a-z0-9]+', '-', json.dumps(v).lower()).strip('-') or 'null'}"
        for table in model.enums
        for v, _ in table.values
    }
    assert expected - ids == set()


def test_a_field_added_to_the_spec_appears_without_touching_the_templates(spec: Spec) -> None:
    document = json.loads(json.dumps(spec.document))
    record = document["components"]["schemas"]["BackupRecordResponse"]["properties"]
    record["retention_days"] = {"type": "integer", "description": "Days the backup is kept.", "x-source": "decision"}
    changed = Spec(document=document, path=spec.path)
    html, md = render_html(DocsModel(changed)), render_markdown(DocsModel(changed))
    assert 'id="field-backup_record_response-retention_days"' in html
    assert "`backup_record_response[].retention_days`" in md and "Days the backup is kept." in md


def test_the_error_bodies_are_those_the_error_statuses_answer_with(spec: Spec) -> None:
    assert DocsModel(spec).error_bodies == ["ErrorBody", "GatewayErrorBody"]
    document = copy.deepcopy(spec.document)
    schemas = document["components"]["schemas"]
    schemas["ThrottledBody"] = {**schemas["GatewayErrorBody"], "description": "What a throttled client is answered."}
    throttled = document["paths"][OPERATION_PATH]["get"]["responses"]["429"]["content"]["application/json"]
    throttled["schema"] = {"$ref": "#/components/schemas/ThrottledBody"}
    model = DocsModel(Spec(document=document, path=spec.path))
    assert model.error_bodies == ["ErrorBody", "GatewayErrorBody", "ThrottledBody"]
    assert 'id="body-ThrottledBody"' in render_html(model)
    assert "### `ThrottledBody`\n\nWhat a throttled client is answered." in render_markdown(model)


def test_the_page_fetches_nothing_when_viewed(built: dict[str, str]) -> None:
    html = built["html"]
    # One inline script, the search box's own; nothing loaded from elsewhere.
    assert re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html, re.I) == ["<script>"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html


def test_the_conformance_panel_shows_verdict_findings_and_coverage(spec: Spec, tmp_path: Path) -> None:
    reports = []
    for name, flags in (("faithful", []), ("drifted", ["--mock-drift", "format-upper-case"])):
        directory = tmp_path / name
        main(["run", "--report-dir", str(directory), "--max-examples", "20", "--seed", "4", *flags], env={})
        reports.append(str(directory / "report.json"))
        # Our own reports have the shape the page reads.
        Draft202012Validator(REPORT_SCHEMA).validate(json.loads((directory / "report.json").read_text()))
    assert main(["docs", "--out", str(tmp_path / "site"), "--report", *reports]) == 0
    md = (tmp_path / "site" / "index.md").read_text()
    assert ": **conforms**" in md and ": **violations**" in md
    # One enum finding per unknown value seen (AOF, RDB, ...): the panel counts what the report holds.
    drifted = json.loads(Path(reports[1]).read_text())["findings"]
    assert {f["category"] for f in drifted} == {"enum"}
    assert f"| enum | {len(drifted)} |" in md
    # The drifted run's coverage row of backup_format: upper case observed, flagged as undocumented.
    row = [line for line in md.splitlines() if line.startswith("| `backup_format` |")][-1]
    assert '`"AOF"`' in row.split("|")[3] and '`"aof"` 0' in row


def test_a_missing_or_foreign_report_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--out", str(tmp_path), "--report", str(tmp_path / "nope.json")]) == 2
    assert "does not exist: run dcs-contract run first" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"hello": 1}')
    assert main(["docs", "--out", str(tmp_path), "--report", str(tmp_path / "other.json")]) == 2
    assert "is not a dcs-contract report.json" in capsys.readouterr().err


def test_the_committed_sample_is_what_the_spec_renders_today(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """docs/sample/ is rebuilt with: dcs-contract docs --out docs/sample --report docs/sample/report.json"""
    monkeypatch.chdir(ROOT)
    assert main(["docs", "--out", str(tmp_path), "--report", str(SAMPLE / "report.json")]) == 0
    for name in ("index.html", "index.md"):
        assert (tmp_path / name).read_text() == (SAMPLE / name).read_text(), f"rebuild docs/sample/{name}"


def test_the_report_schema_is_valid_and_the_committed_sample_passes_it() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)
    Draft202012Validator(REPORT_SCHEMA).validate(json.loads((ROOT / SAMPLE / "report.json").read_text()))


@pytest.mark.parametrize("kind", ["crash", "untestable", "baseline"])
def test_every_kind_of_report_we_write_loads(tmp_path: Path, kind: str) -> None:
    finding = Finding(
        check="response_schema_conformance",
        category="enum",
        title="Unknown enum value",
        message="m",
        location="/backup_record_response/*/status",
        expected="one of the documented values",
        actual='"archived"',
        requests=(RequestInfo(method="GET", url="http://127.0.0.1:1/v2/p/instances/i/backups"),),
        status=200,
        detail='"archived"',
    )
    report = RunReport(
        target=TargetInfo(base_url="http://127.0.0.1:1", instance_id="i", credentials="none"),
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:01+00:00",
        seed=3,
        cases={"schema-positive": 1},
        requests=RequestCounts(total=1, retries=0, by_status={"200": 1}),
        findings=[] if kind == "baseline" else [finding],
        error="the target did not answer" if kind == "untestable" else None,
        crash="Traceback (most recent call last):\nRuntimeError: x" if kind == "crash" else None,
        evaluated={"status_code_conformance": 1},
        not_evaluated={"created-in-window": "no window"},
        accepted=[finding] if kind == "baseline" else (),
        resolved=[BaselineEntry(fingerprint="f", check="c", category="schema", location="/")],
        baseline="b.json" if kind == "baseline" else None,
    )
    write_reports(report, tmp_path, scrubber=Scrubber())
    loaded = load_report(tmp_path / "report.json")
    assert loaded["verdict"] == {"crash": "error", "untestable": "violations", "baseline": "conforms"}[kind]
    assert main(["docs", "--out", str(tmp_path / "site"), "--report", str(tmp_path / "report.json")]) == 0


def test_a_written_report_reads_back_as_the_report_that_was_written(tmp_path: Path) -> None:
    report = RunReport(
        target=TargetInfo(base_url="http://127.0.0.1:1", project_id="p", instance_id="i", credentials="none"),
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:01+00:00",
        seed=3,
        cases={"schema-positive": 2},
        requests=RequestCounts(total=2, by_status={"200": 2}),
        findings=[Finding.from_dict(_FOUND)],
        accepted=[Finding.from_dict({**_FOUND, "location": "/accepted", "message": "m" * 5000})],
        resolved=[BaselineEntry(fingerprint="f", check="c", category="schema", location="/", reason="fixed")],
        baseline="b.json",
        observed=Observations(http_status={"200": 2}),
    )
    write_reports(report, tmp_path, scrubber=Scrubber())
    assert read_report(tmp_path / "report.json") == report.scrubbed(Scrubber())


_FOUND = {
    "check": "response_schema_conformance",
    "category": "enum",
    "title": "Unknown enum value",
    "location": "/backup_record_response/*/status",
    "expected": "one of the documented values",
    "actual": '"archived"',
}


def _sample() -> dict:
    return json.loads((ROOT / SAMPLE / "report.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["requests"].update(total="many"), "at requests.total, 'many' is not of type 'integer'"),
        (lambda r: r.update(findings={"a": 1}), "at findings, {'a': 1} is not of type 'array'"),
        (lambda r: r.update(findings=[{"category": "schema"}]), "at findings[0], 'check' is a required property"),
        (lambda r: r.update(findings=[7]), "at findings[0], 7 is not of type 'object'"),
        (lambda r: r.update(target="http://x"), "at target, 'http://x' is not of type 'object'"),
        (lambda r: r["observed"].update(status={"x": "1"}), "at observed.status.x, '1' is not of type 'integer'"),
        (lambda r: r.update(baseline={"accepted": 3}), "at baseline.accepted, 3 is not of type 'array'"),
        (lambda r: r.update(verdict="fine"), "at verdict, 'fine' is not one of"),
        (
            lambda r: r.update(verdict="violations"),
            "its verdict is 'violations', but its findings, error and crash make it 'conforms'",
        ),
        (lambda r: r.update(findings=[{**_FOUND, "category": "new"}]), "at findings[0].category, 'new' is not one of"),
        (
            lambda r: r.update(findings=[{**_FOUND, "requests": [{"url": "http://x"}]}]),
            "at findings[0].requests[0], 'method' is a required property",
        ),
        (lambda r: r.update(baseline={"resolved": [{"check": "c"}]}), "at baseline.resolved[0], 'fingerprint' is a"),
        (lambda r: r.pop("started"), "at the top level, 'started' is a required property"),
        # A budget is empty (none planned) or has what one is read with: once a TypeError, exit 4.
        (lambda r: r.update(budget={"probe_plan": 20}), "at budget, 'max_requests' is a required property"),
        (lambda r: r.update(error=["x" * 1000]), "at error, ['xxxxxxxx"),
        (
            lambda r: r["observed"].update(deep=[[[[[[[[[[]]]]]]]]]]),
            "at observed.deep, [[[[[[[[[[]]]]]]]]]] is not of type",
        ),
    ],
)
def test_a_report_of_the_wrong_shape_names_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, message: str
) -> None:
    report = _sample()
    change(report)  # type: ignore[operator]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    assert main(["docs", "--out", str(tmp_path / "site"), "--report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dcs-contract: --report={str(path)!r} is not a dcs-contract report.json: ")
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err and len(err) < 500
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"verdict": "conforms", "x": "\xff"}', "is not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b'{"verdict": "conforms", "observed": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deeply"),
        (b'{"verdict": ', "is not JSON (cut short or corrupted?): Expecting value"),
    ],
    ids=["invalid-utf8", "deep", "deep-field", "truncated"],
)
def test_an_unreadable_report_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    assert main(["docs", "--out", str(tmp_path / "site"), "--report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dcs-contract: --report={str(path)!r} ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_lone_surrogate_in_a_report_is_shown_as_its_escape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON may escape a lone surrogate ("\\ud800"), which UTF-8 cannot carry: the page shows the escape."""
    report = _sample()
    report["target"]["instance_id"] = "i-\ud800-x"
    report["observed"]["status"] = {'"\udfff"': 2}
    path, site = tmp_path / "r.json", tmp_path / "site"
    path.write_text(json.dumps(report))  # ensure_ascii: the surrogates are written as \ud800 and \udfff
    assert "\\ud800" in path.read_text()
    assert main(["docs", "--out", str(site), "--report", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and f"dcs-contract: wrote {site / 'index.html'}" in captured.out
    for name in ("index.html", "index.md"):
        text = (site / name).read_text(encoding="utf-8")
        assert "i-\\ud800-x" in text, name
        assert "\\udfff" in text, name


def test_the_report_schema_reads_verdicts_and_categories_from_where_they_are_defined() -> None:
    assert REPORT_SCHEMA["properties"]["verdict"]["enum"] == list(VERDICTS)
    assert REPORT_SCHEMA["properties"]["findings"]["items"]["properties"]["category"]["enum"] == list(CATEGORIES)
    # Every verdict a report can have: each combination of findings, error and crash.
    given = {
        verdict_of(findings=findings, error=error, crash=crash)
        for findings in (False, True)
        for error in (None, "cut short")
        for crash in (None, "Traceback")
    }
    assert given == set(VERDICTS)
