"""What a finding breaks: the spec's x-consumers, read and matched, and carried by every finding of a run."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract import checks
from dcs_contract.contract.consumers import Consumers, Reliance, affected_consumers, seen_in
from dcs_contract.contract.findings import CATEGORIES, NO_KNOWN_CONSUMER, NOBODY, ConsumerImpact, Finding
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.errors import SpecError

RECORDS = "/backup_record_response/*"
# Where a finding may be that is neither a field nor a parameter: the harness's own names.
OTHER_LOCATIONS = {"body", "status", "Content-Type", "Authorization", "query"}
JSON_TYPES = {"null", "boolean", "integer", "number", "string", "array", "object"}
SCHEMA_KEYWORDS = {"missing", "format", "pattern", "minimum", "maximum", "minLength", "maxLength"}


def _finding(
    check: str, category: str, location: str, *, expected: str = "as in the spec", actual: str = "x", detail: str = ""
) -> Finding:
    return Finding(
        check=check,
        category=category,
        title="t",
        message="m",
        location=location,
        expected=expected,
        actual=actual,
        detail=detail,
    )


def _ids(spec: Spec, consumers: Sequence[ConsumerImpact | dict[str, str]]) -> set[str]:
    """The ids of the consumers named in a finding's ``consumers``, typed or as report.json has them."""
    by_name = {consumer.name: consumer.id for consumer in Consumers.of(spec).consumers}
    names = [entry.consumer if isinstance(entry, ConsumerImpact) else entry["consumer"] for entry in consumers]
    return {by_name[name] for name in names if name != NO_KNOWN_CONSUMER}


# -- the spec's consumers ---------------------------------------------------------------


def test_the_consumers_are_terraform_the_official_sdks_and_cloudmux_each_with_its_files(spec: Spec) -> None:
    consumers = Consumers.of(spec).consumers
    by_repository: dict[str, list[str]] = {}
    for consumer in consumers:
        by_repository.setdefault(consumer.repository, []).extend(consumer.files)
        assert consumer.files and consumer.paging and consumer.relies_on, consumer.id
    terraform = by_repository["huaweicloud/terraform-provider-huaweicloud"]
    assert "huaweicloud/services/dcs/data_source_huaweicloud_dcs_backups.go" in terraform
    assert "huaweicloud/services/dcs/resource_huaweicloud_dcs_backup.go" in terraform
    for sdk in ("go", "python", "java"):
        assert by_repository[f"huaweicloud/huaweicloud-sdk-{sdk}-v3"], sdk
    assert any(path.endswith("elasticcache_instance.go") for path in by_repository["yunionio/cloudmux"])


def _pointer_resolves(spec: Spec, pointer: str) -> bool:
    """A pointer as findings write it ("/backup_record_response/*/size") names a field of a documented body."""
    for status in spec.status_codes:
        node = spec.response_schema(status)
        for part in pointer.strip("/").split("/"):
            if node is None:
                break
            node = spec.resolve(node)
            child = node.get("items") if part == "*" else node.get("properties", {}).get(part)
            node = child if isinstance(child, dict) else None
        if node is not None:
            return True
    return False


def test_every_reliance_names_what_the_harness_reports(spec: Spec) -> None:
    """A misspelt name would never match a finding, and its consumer would silently never be named."""
    known_checks = {*checks.CHECK_NAMES, *spec.invariants}
    parameters = set(spec.parameters) | {"query"}
    wrong = []
    for consumer in Consumers.of(spec).consumers:
        for reliance in consumer.relies_on:
            for name in reliance.names:
                pointer = name.startswith("/") and _pointer_resolves(spec, name)
                if not (pointer or name in known_checks or name in parameters or name in OTHER_LOCATIONS):
                    wrong.append((consumer.id, "names", name))
            wrong += [(consumer.id, "within", n) for n in reliance.within if n not in parameters]
            wrong += [(consumer.id, "checks", n) for n in reliance.checks if n not in known_checks]
            wrong += [(consumer.id, "seen", n) for n in reliance.seen if n not in JSON_TYPES | SCHEMA_KEYWORDS]
            wrong += [(consumer.id, "categories", n) for n in reliance.categories if n not in CATEGORIES]
    assert wrong == []


def test_every_invariant_that_a_walk_judges_names_a_consumer(spec: Spec) -> None:
    """The two rules that came from how consumers page are what consumers rely on."""
    consumers = Consumers.of(spec)
    for rule_id in ("total-stable-through-walk", "no-empty-page-before-total"):
        rule = spec.invariants[rule_id]
        named = consumers.affected(_finding(rule_id, rule["category"], rule["location"]))
        assert _ids(spec, named) >= {"terraform-data-source", "terraform-resource", "cloudmux"}, rule_id


# -- matching ---------------------------------------------------------------------------


def _relying(**selectors: tuple[str, ...]) -> Reliance:
    return Reliance(what="what it relies on", breaks="how it breaks", **selectors)


@pytest.mark.parametrize(
    ("reliance", "finding", "covered"),
    [
        (_relying(names=("pages-partition",)), ("pages-partition", "paging", "offset"), True),
        (_relying(names=("/total_num",)), ("x", "type", "/total_num"), True),
        (_relying(names=("end_time",)), ("x", "window", "begin_time,end_time"), True),
        (_relying(names=("/total_num",)), ("x", "type", f"{RECORDS}/size"), False),
        (_relying(within=("limit", "offset")), ("x", "status", "limit,offset"), True),
        (_relying(within=("offset",)), ("x", "status", "limit,offset"), False),
        (_relying(names=("/total_num",), categories=("type",)), ("x", "enum", "/total_num"), False),
        (_relying(names=("limit",), checks=("invalid_input_rejected",)), ("y", "status", "limit"), False),
        (_relying(categories=("sdk",)), ("sdk_model_agrees", "sdk", "request/x"), True),
        (_relying(categories=("sdk",)), ("x", "schema", "request/x"), False),
    ],
)
def test_a_reliance_covers_what_it_names_or_holds_and_its_filters_let_through(
    reliance: Reliance, finding: tuple[str, str, str], covered: bool
) -> None:
    assert reliance.covers(_finding(*finding)) is covered


@pytest.mark.parametrize(
    ("finding", "seen"),
    [
        (_finding("c", "type", "/total_num", detail="string"), "string"),
        (_finding("c", "enum", f"{RECORDS}/status", detail='"succeeded"'), '"succeeded"'),
        (_finding("c", "schema", "/total_num", expected="a required property", actual="missing"), "missing"),
        (_finding("c", "schema", "/total_num", expected='format "int32" as in the spec', actual="2"), "format"),
        (_finding("c", "schema", f"{RECORDS}/created_at", expected='pattern "^x$" as in the spec'), "pattern"),
    ],
)
def test_what_a_finding_saw_is_its_type_its_value_missing_or_the_keyword_it_broke(finding: Finding, seen: str) -> None:
    assert seen_in(finding) == seen


def test_seen_tells_apart_findings_at_one_location(spec: Spec) -> None:
    """A total_num past int32 breaks the Go SDK; a missing one reads as nil there; a string fails it."""
    missing = _finding("c", "schema", "/total_num", expected="a required property", actual="missing")
    overflow = _finding("c", "schema", "/total_num", expected='format "int32" as in the spec', actual="2147483648")
    as_string = _finding("c", "type", "/total_num", detail="string")
    assert "sdk-go" not in _ids(spec, affected_consumers(spec, missing))
    assert "sdk-go" in _ids(spec, affected_consumers(spec, overflow))
    assert "sdk-go" in _ids(spec, affected_consumers(spec, as_string))
    assert "terraform-data-source" in _ids(spec, affected_consumers(spec, missing))


def test_a_finding_no_consumer_relies_on_says_so(spec: Spec) -> None:
    unknown_field = _finding("response_schema_conformance", "schema", f"{RECORDS}/backup_region")
    assert affected_consumers(spec, unknown_field) == (NOBODY,) == (ConsumerImpact(NO_KNOWN_CONSUMER),)


def test_each_consumer_is_named_once_with_every_way_it_breaks(spec: Spec) -> None:
    """is_support_restore as a boolean: the Python SDK reads "True", Terraform fails its read."""
    finding = _finding("response_schema_conformance", "type", f"{RECORDS}/is_support_restore", detail="boolean")
    named = affected_consumers(spec, finding)
    ids = [_ids(spec, (entry,)).pop() for entry in named]
    assert len(ids) == len(set(ids))
    assert {"terraform-data-source", "terraform-resource", "sdk-go", "sdk-python", "sdk-java"} <= set(ids)
    assert all(impact.consumer and impact.how for impact in named)


# -- an x-consumers the harness cannot read ---------------------------------------------


def _consumers(spec: Spec) -> list[dict[str, Any]]:
    return list(spec.operation["x-consumers"])


Change = Callable[[list[dict[str, Any]]], Any]
BROKEN: dict[str, tuple[Change, str]] = {
    "not-a-list": (lambda c: {"x": c}, "not a list"),
    "yaml-on": (lambda c: [{**c[0], "relies-on": [{True: ["pages-partition"], "what": "w", "breaks": "b"}]}], "keys"),
    "unknown-category": (
        lambda c: [{**c[0], "relies-on": [{"what": "w", "breaks": "b", "categories": ["paging", "speed"]}]}],
        "'speed'",
    ),
    "covers-nothing": (lambda c: [{**c[0], "relies-on": [{"what": "w", "breaks": "b"}]}], "covers nothing"),
    "no-files": (lambda c: [{**c[0], "files": []}], "files"),
    "twice": (lambda c: [c[0], c[0]], "twice"),
    "no-breaks": (lambda c: [{**c[0], "relies-on": [{"what": "w", "names": ["offset"]}]}], "breaks"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_an_x_consumers_the_harness_cannot_read_is_a_spec_error(spec: Spec, kind: str) -> None:
    change, message = BROKEN[kind]
    document = copy.deepcopy(spec.document)
    document["paths"][OPERATION_PATH]["get"]["x-consumers"] = change(_consumers(spec))
    with pytest.raises(SpecError, match="x-consumers") as refused:
        Consumers.of(Spec(document, spec.path))
    assert message in str(refused.value)


def test_a_consumer_named_with_a_colon_is_read_whole(spec: Spec) -> None:
    """A consumer travels as a typed value, never as a text split back: any name is fine."""
    document = copy.deepcopy(spec.document)
    consumers = _consumers(spec)
    document["paths"][OPERATION_PATH]["get"]["x-consumers"] = [{**consumers[0], "name": "Terraform: data source"}]
    edited = Spec(document, spec.path)
    rule = spec.invariants["no-empty-page-before-total"]
    named = Consumers.of(edited).affected(_finding("no-empty-page-before-total", rule["category"], rule["location"]))
    assert [impact.consumer for impact in named] == ["Terraform: data source"]


# -- every finding of a run names its consumers -----------------------------------------


@pytest.mark.slow
def test_every_finding_of_a_run_names_its_consumers_in_each_report(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An early empty page: the Terraform data source loops forever; report.json, report.md and the summary say so."""
    # A small run finds what a default one does here: page-size, pages-partition, no-empty-page-before-total.
    argv = ["run", "--report-dir", str(tmp_path), "--mock-drift", "later-pages-empty", "--seed", "1"]
    code = main([*argv, "--max-examples", "5"], env={})
    assert code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["findings"] and all(finding["consumers"] for finding in report["findings"])
    [empty] = [f for f in report["findings"] if f["check"] == "no-empty-page-before-total"]
    assert "terraform-data-source" in _ids(spec, empty["consumers"])
    data_source = next(c for c in Consumers.of(spec).consumers if c.id == "terraform-data-source")
    markdown = (tmp_path / "report.md").read_text()
    assert f"  - {data_source.name}: loops forever" in markdown
    summary = capsys.readouterr().out
    assert f"consumers {data_source.name}" in summary


def test_the_sdk_check_names_the_sdk_its_differences_break(spec: Spec, tmp_path: Path) -> None:
    pytest.importorskip("huaweicloudsdkdcs")
    main(["sdk-check", "--report-dir", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    listed = [*report["findings"], *(report["baseline"] or {}).get("accepted", [])]
    assert listed, "the spec lists one known difference, project_id"
    assert all("sdk-python" in _ids(spec, finding["consumers"]) for finding in listed)
