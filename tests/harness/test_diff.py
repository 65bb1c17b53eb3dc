"""dcs-contract diff: findings, observed values and the contract compared between two runs.

The reports are real: mock runs with different drift switches, made once for the module. The
spec changes are edits of a copy of the real spec document.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import OPERATION_PATH, load_spec
from dcs_contract.results import spec_diff as spec_diff_module
from dcs_contract.results.diff import (
    RULES,
    FindingRef,
    ObservedValue,
    ReportDiff,
    SpecChange,
    SpecDiff,
    as_dict,
    render_markdown,
    render_text,
)
from dcs_contract.results.report import RunReport, SpecInfo
from dcs_contract.results.schema import read_report

# Each run's drift switches: one run per entry, made once for the module.
RUNS: dict[str, tuple[str, ...]] = {
    "clean": (),
    "past-tense": ("status-past-tense",),
    "404": ("unknown-instance-404",),
    "renamed": ("error-body-renamed",),
    "size": ("size-as-string",),
    "size+past-tense": ("size-as-string", "status-past-tense"),
}
SPEC = load_spec()
NAMES = {consumer.id: consumer.name for consumer in Consumers.of(SPEC).consumers}
EVERY_CONSUMER = set(NAMES.values())
SDKS = {NAMES["sdk-go"], NAMES["sdk-python"], NAMES["sdk-java"]}
TERRAFORM = {NAMES["terraform-data-source"], NAMES["terraform-resource"]}
RECORD = "backup_record_response[]"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunReport]:
    made = {}
    for name, drifts in RUNS.items():
        directory = tmp_path_factory.mktemp(name.replace("+", "-"))
        flags = [flag for drift in drifts for flag in ("--mock-drift", drift)]
        code = main(["run", "--report-dir", str(directory), "--max-examples", "5", "--seed", "1", *flags], env={})
        assert code == (1 if drifts else 0), name
        made[name] = read_report(directory / "report.json")
    return made


def _only(report: RunReport, location: str) -> Finding:
    (finding,) = [f for f in report.findings if f.location == location]
    return finding


def _fingerprints(refs: tuple[FindingRef, ...]) -> set[str]:
    return {ref.fingerprint for ref in refs}


# -- findings -------------------------------------------------------------------------------


def test_a_drift_switched_on_is_a_new_finding_and_its_enum_value_appears(reports: dict[str, RunReport]) -> None:
    status = _only(reports["past-tense"], "/backup_record_response/*/status")
    diff = ReportDiff.between(reports["clean"], reports["past-tense"])
    assert _fingerprints(diff.new) == {status.fingerprint}
    (ref,) = diff.new
    assert (ref.category, ref.detail, ref.accepted) == ("enum", '"succeeded"', False)
    assert set(ref.consumers) == EVERY_CONSUMER
    assert diff.resolved == () and diff.persisting == ()
    assert diff.appeared == (ObservedValue("status", '"succeeded"'),)
    assert diff.disappeared == (ObservedValue("status", '"succeed"'),)
    assert diff.spec_diff is None and diff.spec_note is None and not diff.spec_changed
    assert diff.something_new


def test_a_drift_switched_off_is_resolved(reports: dict[str, RunReport]) -> None:
    status = _only(reports["past-tense"], "/backup_record_response/*/status")
    diff = ReportDiff.between(reports["past-tense"], reports["clean"])
    assert _fingerprints(diff.resolved) == {status.fingerprint}
    assert diff.new == () and diff.persisting == ()
    assert diff.disappeared == (ObservedValue("status", '"succeeded"'),)
    # The documented value is back: it appeared, as any value does, which is news too.
    assert diff.appeared == (ObservedValue("status", '"succeed"'),)
    assert diff.something_new


def test_a_drift_kept_persists_while_another_is_new(reports: dict[str, RunReport]) -> None:
    size = _only(reports["size"], "/backup_record_response/*/size")
    status = _only(reports["size+past-tense"], "/backup_record_response/*/status")
    diff = ReportDiff.between(reports["size"], reports["size+past-tense"])
    assert _fingerprints(diff.persisting) == {size.fingerprint}
    assert _fingerprints(diff.new) == {status.fingerprint}
    assert diff.resolved == ()
    backwards = ReportDiff.between(reports["size+past-tense"], reports["size"])
    assert _fingerprints(backwards.persisting) == {size.fingerprint}
    assert _fingerprints(backwards.resolved) == {status.fingerprint}
    assert backwards.new == ()


def test_a_status_and_an_error_code_appear_and_disappear(reports: dict[str, RunReport]) -> None:
    diff = ReportDiff.between(reports["clean"], reports["404"])
    assert diff.appeared == (ObservedValue("http_status", "404"), ObservedValue("error_body.error_code", '"DCS.3022"'))
    assert diff.disappeared == ()
    assert {ref.location for ref in diff.new} == {"instance_id"}
    backwards = ReportDiff.between(reports["404"], reports["clean"])
    assert backwards.disappeared == diff.appeared
    assert backwards.appeared == ()
    # Only a finding went away: nothing is new.
    assert not backwards.something_new


def test_error_codes_that_are_no_longer_seen_disappear(reports: dict[str, RunReport]) -> None:
    diff = ReportDiff.between(reports["clean"], reports["renamed"])
    assert diff.disappeared == (
        ObservedValue("error_body.error_code", '"111400063"'),
        ObservedValue("error_body.error_code", '"DCS.4025"'),
    )
    assert diff.appeared == ()
    assert {ref.location for ref in diff.new} == {"/code", "/message", "/error_code", "/error_msg"}
    assert {ref.category for ref in diff.new} == {"error-body"}


def test_the_same_report_twice_has_nothing_new(reports: dict[str, RunReport]) -> None:
    diff = ReportDiff.between(reports["size"], reports["size"])
    assert diff.new == diff.resolved == () and diff.appeared == diff.disappeared == ()
    assert len(diff.persisting) == 1
    assert not diff.something_new
    assert render_text(diff).startswith("dcs-contract diff: nothing new\n")


def test_accepted_findings_are_present_but_not_news(reports: dict[str, RunReport]) -> None:
    clean, drifted = reports["clean"], reports["past-tense"]
    # The new run saw the drift, and a baseline accepts it; its values are those of the clean run.
    accepted = replace(drifted, findings=(), accepted=drifted.findings, observed=clean.observed)
    diff = ReportDiff.between(clean, accepted)
    (ref,) = diff.new
    assert ref.accepted
    assert not diff.something_new
    assert "(accepted)" in render_text(diff)
    # Accepted last night, reported tonight (someone took it out of the baseline): it persists.
    again = ReportDiff.between(accepted, drifted)
    assert _fingerprints(again.persisting) == {ref.fingerprint}
    assert again.new == () and again.resolved == ()
    assert not again.persisting[0].accepted
    # Accepted, then gone: resolved, shown as it was accepted.
    gone = ReportDiff.between(accepted, clean)
    assert [r.accepted for r in gone.resolved] == [True]


# -- the spec, from the reports -------------------------------------------------------------


def test_a_report_without_its_spec_is_said_so(reports: dict[str, RunReport]) -> None:
    clean = reports["clean"]
    diff = ReportDiff.between(replace(clean, spec=None), clean)
    assert diff.spec_diff is None
    assert diff.spec_note == "the old report carries no spec: the contracts were not compared"
    assert not diff.something_new
    assert diff.spec_note in render_text(diff)
    neither = ReportDiff.between(replace(clean, spec=None), replace(clean, spec=None))
    assert neither.spec_note is not None and neither.spec_note.startswith("neither report")
    hollow = ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="0" * 64, document={})))
    assert hollow.spec_diff is None
    assert (
        hollow.spec_note
        == "the new report carries the spec's hash but not its document: the contracts were not compared"
    )


def test_a_changed_spec_is_diffed_and_a_breaking_change_is_news(reports: dict[str, RunReport]) -> None:
    clean = reports["clean"]
    document = _document()
    del _record(document)["properties"]["remark"]
    diff = ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="0" * 64, document=document)))
    assert diff.spec_changed and diff.spec_note is None and diff.spec_diff is not None
    assert [(c.kind, c.location) for c in diff.spec_diff.changes] == [("response-field-removed", f"{RECORD}.remark")]
    assert diff.something_new
    additive = _document()
    _record(additive)["properties"]["region"] = {"type": "string"}
    quiet = ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="1" * 64, document=additive)))
    assert quiet.spec_diff is not None and [c.kind for c in quiet.spec_diff.changes] == ["response-field-added"]
    assert not quiet.something_new


def test_a_spec_changed_only_in_prose_has_no_structural_change(reports: dict[str, RunReport]) -> None:
    clean = reports["clean"]
    document = _document()
    _record(document)["description"] = "reworded"
    _operation(document)["x-invariants"][0]["x-source"] = "seed"
    diff = ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="2" * 64, document=document)))
    assert diff.spec_diff == SpecDiff(())
    assert "none in what the diff compares" in render_text(diff)


# -- the spec, structurally -----------------------------------------------------------------


def _document() -> dict[str, Any]:
    return copy.deepcopy(SPEC.document)


def _record(document: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = document["components"]["schemas"]["BackupRecordResponse"]
    return record


def _operation(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][OPERATION_PATH]["get"]
    return operation


def _parameter(document: dict[str, Any], name: str) -> dict[str, Any]:
    (parameter,) = [p for p in _operation(document)["parameters"] if p["name"] == name]
    return parameter


def _changed(edit: Callable[[dict[str, Any]], None], *, old: dict[str, Any] | None = None) -> SpecDiff:
    new = _document()
    edit(new)
    return SpecDiff.between(old if old is not None else _document(), new)


def _single(diff: SpecDiff) -> SpecChange:
    (change,) = diff.changes
    return change


def _consumers(change: SpecChange) -> set[str]:
    return {impact.consumer for impact in change.consumers}


def test_the_same_document_has_no_change() -> None:
    assert SpecDiff.between(SPEC.document, _document()).changes == ()


def test_a_response_field_removed_breaks_who_reads_it() -> None:
    def edit(document: dict[str, Any]) -> None:
        del _record(document)["properties"]["status"]
        _record(document)["required"].remove("status")

    change = _single(_changed(edit))
    assert (change.kind, change.location, change.detail) == ("response-field-removed", f"{RECORD}.status", "removed")
    assert change.breaking
    # The reliances on status being present; the SDKs read a missing field as None.
    assert _consumers(change) == TERRAFORM
    assert all(impact.how for impact in change.consumers)


def test_a_field_removed_with_its_fields_is_one_change() -> None:
    def edit(document: dict[str, Any]) -> None:
        body = document["components"]["schemas"]["ListBackupRecordsBody"]
        del body["properties"]["backup_record_response"]
        body["required"].remove("backup_record_response")

    change = _single(_changed(edit))
    nested = len(SPEC.record_fields) + 1  # the items, and each record field
    assert (change.location, change.detail) == ("backup_record_response", f"removed with its {nested} nested fields")
    # The consumers that rely on a record field being present (their reliances name fields under it).
    assert _consumers(change) == TERRAFORM | {NAMES["cloudmux"]}


def test_an_enum_value_added_to_a_response_field_breaks_closed_enums() -> None:
    change = _single(_changed(lambda d: _record(d)["properties"]["status"]["enum"].append("restoring")))
    assert (change.kind, change.location, change.after) == (
        "response-enum-value-added",
        f"{RECORD}.status",
        '"restoring"',
    )
    assert change.breaking
    assert _consumers(change) == EVERY_CONSUMER
    # No consumer relies on error_code's values: the generic subject stands in.
    other = _single(_changed(lambda d: _record(d)["properties"]["error_code"]["enum"].append("dcs.08.0009")))
    assert other.breaking and _consumers(other) == {"clients with closed enums"}


def test_an_enum_value_removed_from_a_response_field_does_not_break() -> None:
    change = _single(_changed(lambda d: _record(d)["properties"]["status"]["enum"].remove("expired")))
    assert (change.kind, change.breaking, change.before, change.consumers) == (
        "response-enum-value-removed",
        False,
        '"expired"',
        (),
    )


def test_a_bound_narrowed_on_limit_breaks_the_consumers_that_send_more() -> None:
    change = _single(_changed(lambda d: _parameter(d, "limit")["schema"].update(maximum=500)))
    assert (change.kind, change.location, change.detail) == (
        "parameter-bound-narrowed",
        "query limit",
        "maximum 1000 -> 500",
    )
    assert (change.before, change.after, change.breaking) == ("1000", "500", True)
    # Terraform sends limit=10, which still fits; cloudmux sends none; the SDKs send what their caller asks.
    assert _consumers(change) == SDKS
    tight = _single(_changed(lambda d: _parameter(d, "limit")["schema"].update(maximum=5)))
    assert _consumers(tight) == SDKS | TERRAFORM
    assert {i.how.split(":")[0] for i in tight.consumers if i.consumer in TERRAFORM} == {"sends limit=10"}


def test_a_field_added_and_a_bound_widened_do_not_break() -> None:
    added = _single(_changed(lambda d: _record(d)["properties"].update(region={"type": "string"})))
    assert (added.kind, added.location, added.detail, added.breaking) == (
        "response-field-added",
        f"{RECORD}.region",
        "added (optional)",
        False,
    )
    widened = _single(_changed(lambda d: _parameter(d, "limit")["schema"].update(maximum=2000)))
    assert (widened.kind, widened.detail, widened.breaking, widened.consumers) == (
        "parameter-bound-widened",
        "maximum 1000 -> 2000",
        False,
        (),
    )


def test_a_response_bound_widened_breaks_and_error_bodies_are_merged_across_statuses() -> None:
    def edit(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["ErrorBody"]["properties"]["error_code"]["maxLength"] = 12

    change = _single(_changed(edit))
    assert (change.kind, change.location, change.detail) == (
        "response-bound-widened",
        "400, 500: error_code",
        "maxLength 9 -> 12",
    )
    assert change.breaking and _consumers(change) == {"clients that validate the field"}


def test_an_invariant_removed_breaks_who_relies_on_it_and_one_added_does_not() -> None:
    def drop(document: dict[str, Any]) -> None:
        operation = _operation(document)
        operation["x-invariants"] = [i for i in operation["x-invariants"] if i["id"] != "no-empty-page-before-total"]

    removed = _single(_changed(drop))
    assert (removed.kind, removed.location, removed.breaking) == (
        "invariant-removed",
        "invariant no-empty-page-before-total",
        True,
    )
    assert _consumers(removed) == TERRAFORM | {NAMES["cloudmux"]}
    new_rule = {"id": "ids-unique", "rule": "No backup_id twice in one page.", "category": "paging", "location": "x"}
    added = _single(_changed(lambda d: _operation(d)["x-invariants"].append(new_rule)))
    assert (added.kind, added.breaking, added.detail) == (
        "invariant-added",
        False,
        "added: No backup_id twice in one page.",
    )
    reworded = _single(_changed(lambda d: _operation(d)["x-invariants"][0].update(rule="reworded")))
    assert (reworded.kind, reworded.detail) == ("invariant-changed", "changed: rule")


def test_statuses_removed_and_added() -> None:
    removed = _single(_changed(lambda d: _operation(d)["responses"].pop("204")))
    assert (removed.kind, removed.location, removed.breaking) == ("status-removed", "status 204", True)
    # Each consumer says it takes 204 as success.
    assert _consumers(removed) == EVERY_CONSUMER
    error = _single(_changed(lambda d: _operation(d)["responses"].update({"404": {"description": "Not found."}})))
    assert (error.kind, error.breaking) == ("status-added", False)
    success = _single(_changed(lambda d: _operation(d)["responses"].update({"202": {"description": "Later."}})))
    assert (success.kind, success.breaking) == ("success-status-added", True)


def test_required_type_and_parameter_changes() -> None:
    optional = _single(_changed(lambda d: _record(d)["required"].remove("backup_id")))
    assert (optional.kind, optional.location, optional.breaking) == (
        "response-field-optional",
        f"{RECORD}.backup_id",
        True,
    )
    assert _consumers(optional) == TERRAFORM | {NAMES["cloudmux"]}
    typed = _single(_changed(lambda d: _record(d)["properties"]["size"].update(type=["integer", "string"])))
    assert (typed.kind, typed.detail, typed.breaking) == (
        "response-type-changed",
        "type integer -> integer, string",
        True,
    )
    assert NAMES["sdk-python"] in _consumers(typed)
    narrowed = _single(_changed(lambda d: _record(d)["properties"]["period"].update(type="string")))
    assert (narrowed.kind, narrowed.breaking) == ("response-type-narrowed", False)
    gone = _single(_changed(lambda d: _operation(d)["parameters"].remove(_parameter(d, "offset"))))
    assert (gone.kind, gone.location, gone.breaking) == ("parameter-removed", "query offset", True)
    # Every consumer sends an offset.
    assert _consumers(gone) == EVERY_CONSUMER
    required = _single(_changed(lambda d: _parameter(d, "limit").update(required=True)))
    assert (required.kind, required.breaking) == ("parameter-required", True)
    assert _consumers(required) == {NAMES["cloudmux"]}  # the only one that sends no limit
    default = _single(_changed(lambda d: _parameter(d, "limit")["schema"].update(default=20)))
    assert (default.kind, default.detail, default.breaking) == ("parameter-default-changed", "default 10 -> 20", False)


def test_breaking_changes_come_first() -> None:
    def edit(document: dict[str, Any]) -> None:
        _record(document)["properties"]["region"] = {"type": "string"}
        _parameter(document, "limit")["schema"]["maximum"] = 500
        _operation(document)["x-invariants"].pop()

    diff = _changed(edit)
    assert [c.breaking for c in diff.changes] == [True, True, False]
    assert diff.breaking == diff.changes[:2] and diff.not_breaking == diff.changes[2:]


def test_consumers_fall_back_to_the_old_document_and_else_to_a_generic_subject() -> None:
    def without_consumers(document: dict[str, Any]) -> None:
        del _operation(document)["x-consumers"]
        _parameter(document, "limit")["schema"]["maximum"] = 500

    fallback = _single(_changed(without_consumers))
    assert _consumers(fallback) == SDKS
    old = _document()
    del _operation(old)["x-consumers"]
    generic = _single(_changed(without_consumers, old=old))
    assert _consumers(generic) == {"clients that send it"}


def test_every_breaking_rule_is_in_the_module_docstring() -> None:
    doc = spec_diff_module.__doc__ or ""
    assert {kind for kind, rule in RULES.items() if rule.breaking} <= {word for word in doc.split()}
    assert all(rule.who for rule in RULES.values() if rule.breaking)


# -- odd documents --------------------------------------------------------------------------


def _odd_documents() -> Iterator[tuple[str, Any, Any]]:
    real = _document()
    yield "empty", {}, {}
    yield "list for a document", real, []
    yield "null and text", None, "openapi"
    paths_list = _document()
    paths_list["paths"] = []
    yield "paths a list", real, paths_list
    get_list = _document()
    get_list["paths"][OPERATION_PATH]["get"] = []
    yield "operation a list", get_list, real
    responses_list = _document()
    _operation(responses_list)["responses"] = ["200"]
    yield "responses a list", real, responses_list
    parameters_dict = _document()
    _operation(parameters_dict)["parameters"] = {"limit": 1}
    yield "parameters a mapping", real, parameters_dict
    nameless = _document()
    _operation(nameless)["parameters"].append({"in": "query"})
    yield "a parameter without a name", real, nameless
    dangling = _document()
    _record(dangling)["properties"]["created_at"] = {"$ref": "#/components/schemas/Nowhere"}
    yield "a dangling $ref", real, dangling
    cycle = _document()
    cycle["components"]["schemas"]["Loop"] = {
        "type": "object",
        "properties": {"next": {"$ref": "#/components/schemas/Loop"}},
    }
    _record(cycle)["properties"]["chain"] = {"$ref": "#/components/schemas/Loop"}
    yield "a recursive schema", real, cycle
    ref_loop = _document()
    ref_loop["components"]["schemas"]["A"] = {"$ref": "#/components/schemas/B"}
    ref_loop["components"]["schemas"]["B"] = {"$ref": "#/components/schemas/A"}
    _record(ref_loop)["properties"]["a"] = {"$ref": "#/components/schemas/A"}
    yield "$refs in a loop", real, ref_loop
    invariants = _document()
    _operation(invariants)["x-invariants"] = {"id": "page-size"}
    yield "x-invariants a mapping", real, invariants
    odd_values = _document()
    _record(odd_values)["properties"]["status"]["enum"] = "succeed"
    _record(odd_values)["properties"][7] = {"type": 5, "enum": [{"a": [1]}, None], "maximum": "big"}
    _record(odd_values)["required"] = "all"
    _parameter(odd_values, "limit")["schema"]["maximum"] = True
    yield "odd values", real, odd_values
    consumers = _document()
    _operation(consumers)["x-consumers"] = [1, {"name": 2}, {"name": "x", "relies-on": "all"}]
    _parameter(consumers, "limit")["schema"]["maximum"] = 500
    yield "odd x-consumers", real, consumers
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["properties"] = {"a": {}}
        node = node["properties"]["a"]
    nested = _document()
    _record(nested)["properties"]["deep"] = deep
    yield "a schema 5000 deep", real, nested


@pytest.mark.parametrize(("name", "old", "new"), list(_odd_documents()), ids=lambda v: v if isinstance(v, str) else "")
def test_odd_documents_never_raise(name: str, old: Any, new: Any) -> None:
    for before, after in ((old, new), (new, old)):
        diff = SpecDiff.between(before, after)
        assert isinstance(diff, SpecDiff)
        assert not [c for c in diff.changes if "internal error" in c.detail], name
        json.dumps(as_dict(ReportDiff(spec_diff=diff, old_spec_sha256="a", new_spec_sha256="b")))


def test_what_cannot_be_compared_is_said() -> None:
    assert [(c.kind, c.location) for c in SpecDiff.between({}, []).changes] == [
        ("not-compared", "document"),
        ("not-compared", "operation"),
    ]
    listed = SpecDiff.between(_document(), {"paths": {OPERATION_PATH: {"get": {"responses": []}}}})
    details = [c.detail for c in listed.changes]
    assert "the new document's responses are list, not a mapping" in details
    dangling = _document()
    _record(dangling)["properties"]["created_at"] = {"$ref": "#/components/schemas/Nowhere"}
    change = next(c for c in SpecDiff.between(_document(), dangling).changes if c.kind == "not-compared")
    assert "'#/components/schemas/Nowhere'" in change.detail and "does not resolve" in change.detail
    assert not change.breaking


def test_random_damage_to_the_real_document_never_raises() -> None:
    """Any node of the operation or the schemas replaced by a value of another shape."""
    real = _document()
    slots: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in items:
            slots.append((node, key))
            collect(child)

    collect(_operation(real))
    collect(real["components"]["schemas"])
    odd: list[Any] = [None, [], {}, "x", 7, True, {"$ref": "#/nowhere"}, {"$ref": "#/components/schemas/ErrorBody"}]
    chooser = random.Random(20240409)
    for _ in range(250):
        container, key = chooser.choice(slots)
        kept = container[key]
        container[key] = chooser.choice(odd)
        try:
            for before, after in ((SPEC.document, real), (real, SPEC.document)):
                diff = SpecDiff.between(before, after)
                assert not [c for c in diff.changes if "internal error" in c.detail], (key, container[key])
        finally:
            container[key] = kept


# -- showing --------------------------------------------------------------------------------

HOSTILE = "\x1b[31mred\x1b[0m\n\u202eevil\r" + "x" * 10_000


def test_texts_from_the_target_are_bounded_and_printable(reports: dict[str, RunReport]) -> None:
    clean, drifted = reports["clean"], reports["past-tense"]
    finding = replace(drifted.findings[0], title=HOSTILE, detail=HOSTILE, location="\ud800" + HOSTILE)
    observed = replace(
        drifted.observed, enum_values={**drifted.observed.enum_values, "status": {HOSTILE: 1, "`tick`": 1}}
    )
    diff = ReportDiff.between(clean, replace(drifted, findings=(finding,), observed=observed))
    for text in (render_text(diff), render_markdown(diff), json.dumps(as_dict(diff), ensure_ascii=False)):
        assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
        text.encode("utf-8")  # no lone surrogate
        assert "x" * 200 not in text
    lines = render_text(diff).splitlines()
    assert max(len(line) for line in lines) < 500
    assert any("\\x1b[31mred" in line for line in lines)
    assert "``` `tick` ```" not in render_markdown(diff)
    assert "`` `tick` ``" in render_markdown(diff)


def test_markdown_cannot_link_or_format_a_title(reports: dict[str, RunReport]) -> None:
    clean, drifted = reports["clean"], reports["past-tense"]
    finding = replace(drifted.findings[0], title="[click](http://evil) <img src=x> *bold*")
    markdown = render_markdown(ReportDiff.between(clean, replace(drifted, findings=(finding,))))
    # One escaper for every Markdown writer (results/markdown.py): the closing > is escaped too.
    assert r"\[click\](http://evil) \<img src=x\> \*bold\*" in markdown


def test_the_text_has_its_sections_and_counts_many_persisting_findings(reports: dict[str, RunReport]) -> None:
    clean = reports["clean"]
    template = reports["size"].findings[0]
    many = tuple(replace(template, location=f"/f{n}", title=f"finding {n}") for n in range(7))
    diff = ReportDiff.between(replace(clean, findings=many), replace(clean, findings=many))
    text = render_text(diff)
    for section in ("New findings (0)", "Resolved (0)", "Persisting (7)", "Observed: appeared (0)"):
        assert f"\n{section}\n" in text
    assert "Spec changes (breaking first)\n  none: both runs used the same spec" in text
    assert "finding 3" not in text  # counted, not listed
    few = ReportDiff.between(replace(clean, findings=many[:2]), replace(clean, findings=many[:2]))
    assert "finding 1" in render_text(few)


def test_the_text_lists_spec_changes_breaking_first_with_whom_they_break(reports: dict[str, RunReport]) -> None:
    clean = reports["clean"]
    document = _document()
    _parameter(document, "limit")["schema"]["maximum"] = 500
    _record(document)["properties"]["region"] = {"type": "string"}
    text = render_text(ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="3" * 64, document=document))))
    spec_part = text.split("Spec changes (breaking first)\n", 1)[1]
    assert spec_part.splitlines()[0] == "  BREAKING query limit: maximum 1000 -> 500"
    assert NAMES["sdk-go"] in spec_part.splitlines()[1]
    assert spec_part.splitlines()[2] == f"  ok       {RECORD}.region: added (optional)"
    markdown = render_markdown(
        ReportDiff.between(clean, replace(clean, spec=SpecInfo(sha256="3" * 64, document=document)))
    )
    assert "### Breaking (1)" in markdown and "### Not breaking (1)" in markdown


def test_as_dict_is_json_with_stable_keys(reports: dict[str, RunReport]) -> None:
    diff = ReportDiff.between(reports["clean"], reports["404"])
    data = json.loads(json.dumps(as_dict(diff)))
    assert list(data) == ["something_new", "old", "new", "findings", "observed", "spec"]
    assert list(data["findings"]) == ["new", "resolved", "persisting"]
    assert data["observed"] == {
        "appeared": {"http_status": ["404"], "error_body.error_code": ['"DCS.3022"']},
        "disappeared": {},
    }
    assert data["spec"] == {"changed": False, "note": None, "compared": False, "breaking": 0, "changes": []}
    assert data["something_new"] is True
    (finding,) = data["findings"]["new"]
    assert set(finding) == {"fingerprint", "check", "category", "title", "location", "detail", "consumers", "accepted"}
    assert finding["location"] == "instance_id"
    spec_diff = _changed(lambda d: _parameter(d, "limit")["schema"].update(maximum=500))
    changed = as_dict(replace(diff, spec_diff=spec_diff, old_spec_sha256="a", new_spec_sha256="b"))
    (change,) = changed["spec"]["changes"]
    assert list(change) == ["kind", "location", "detail", "breaking", "reason", "before", "after", "consumers"]
    assert {c["consumer"] for c in change["consumers"]} == SDKS
    assert changed["spec"]["breaking"] == 1 and changed["spec"]["changed"] is True


def test_record_fields_are_compared_only_with_a_report_that_counted_them(reports: dict[str, RunReport]) -> None:
    """A report from before record fields were counted is not a run where every field was new."""
    clean = reports["clean"]
    fields = dict(clean.observed.record_fields or {})
    assert fields, "a run counts the record fields it saw"
    older = replace(clean, observed=replace(clean.observed, record_fields=None))
    assert "record_field" not in older.as_dict()["observed"]
    assert ReportDiff.between(older, clean).appeared == ()
    without_remark = replace(clean.observed, record_fields={k: v for k, v in fields.items() if k != "remark"})
    diff = ReportDiff.between(replace(clean, observed=without_remark), clean)
    assert diff.appeared == (ObservedValue("record_field", "remark"),)
