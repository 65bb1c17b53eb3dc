"""The documentation page: in sync with the spec by construction, self-contained, with its panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dcs_contract.cli import main
from dcs_contract.docs.model import DocsModel
from dcs_contract.docs.render import render_html, render_markdown
from dcs_contract.spec import Spec

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


def test_the_page_fetches_nothing_when_viewed(built: dict[str, str]) -> None:
    html = built["html"]
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html


def test_the_conformance_panel_shows_verdict_findings_and_coverage(spec: Spec, tmp_path: Path) -> None:
    reports = []
    for name, flags in (("faithful", []), ("drifted", ["--mock-drift", "format-upper-case"])):
        directory = tmp_path / name
        main(["run", "--report-dir", str(directory), "--max-examples", "20", "--seed", "4", *flags], env={})
        reports.append(str(directory / "report.json"))
    assert main(["docs", "--out", str(tmp_path / "site"), "--report", *reports]) == 0
    md = (tmp_path / "site" / "index.md").read_text()
    assert ": **conforms**" in md and ": **violations**" in md
    assert "| enum | 1 |" in md
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
