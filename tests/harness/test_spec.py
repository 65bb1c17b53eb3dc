"""The spec validates, its examples match their schemas, and every constraint names its source."""

from __future__ import annotations

import copy
import gc
import itertools
import os
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcs_contract.cli.app import main
from dcs_contract.contract.invariants import INVARIANTS, PAGE_INVARIANTS, Invariants
from dcs_contract.contract.spec import OPERATION_PATH, Spec, load_spec, per_spec
from dcs_contract.errors import SpecError
from dcs_contract.user_cache import private_cache_dir, user_cache_dir

SOURCES = {"seed", "public-doc", "decision"}


def test_spec_is_valid_openapi_31(spec: Spec) -> None:
    assert spec.document["openapi"].startswith("3.1")
    assert set(spec.parameters) == {"project_id", "instance_id", "begin_time", "end_time", "limit", "offset"}
    assert spec.status_codes[:4] == [200, 204, 400, 401]


def test_an_invalid_spec_is_refused_with_its_path(tmp_path: Path, spec: Spec) -> None:
    broken = copy.deepcopy(spec.document)
    broken["paths"][OPERATION_PATH]["get"]["responses"] = "none"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(SpecError, match=r"broken\.yaml is not valid OpenAPI"):
        load_spec(path)


def _validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each document the OpenAPI validator is asked about, from now on."""
    import openapi_spec_validator

    asked: list[object] = []
    validate = openapi_spec_validator.validate

    def counted(document: object, *args: object, **kwargs: object) -> None:
        asked.append(document)
        validate(document, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(openapi_spec_validator, "validate", counted)
    return asked


def test_a_spec_found_valid_is_not_validated_again_and_one_byte_more_is(
    tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    asked = _validations(monkeypatch)
    path = tmp_path / "spec.yaml"
    path.write_bytes(spec.path.read_bytes())
    assert load_spec(path).document == spec.document
    assert load_spec(path).document == spec.document
    assert len(asked) == 1, "the second load found the first one's mark"
    marks = list((tmp_path / "cache" / "dcs-contract" / "valid-specs").iterdir())
    assert len(marks) == 1 and marks[0].is_file() and not marks[0].is_symlink()
    path.write_bytes(spec.path.read_bytes() + b"\n")
    load_spec(path)
    assert len(asked) == 2, "another text is validated"


def test_a_spec_read_again_is_parsed_once_and_each_load_has_a_document_of_its_own(
    tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The YAML is constructed once per text; an edit to one load's document never shows in the next."""
    constructed: list[str] = []
    real_load = yaml.load

    def counted(stream: Any, Loader: Any) -> Any:
        constructed.append(stream)
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", counted)
    path = tmp_path / "spec.yaml"
    # A text of this run alone: no earlier load of the process has it cached.
    path.write_bytes(spec.path.read_bytes() + f"\n# {uuid.uuid4()}\n".encode())
    first = load_spec(path)
    first.document["info"]["title"] = "edited in place"
    second = load_spec(path)
    assert len(constructed) == 1
    assert second.document["info"]["title"] == spec.document["info"]["title"] != "edited in place"
    assert second.document is not first.document and second.document == spec.document
    path.write_bytes(path.read_bytes() + b"\n")
    load_spec(path)
    assert len(constructed) == 2, "another text is parsed"


def test_an_invalid_spec_leaves_no_mark_and_is_refused_every_time(
    tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    asked = _validations(monkeypatch)
    broken = copy.deepcopy(spec.document)
    broken["paths"][OPERATION_PATH]["get"]["responses"] = "none"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    for _ in range(2):
        with pytest.raises(SpecError, match="not valid OpenAPI"):
            load_spec(path)
    assert len(asked) == 2
    assert not (tmp_path / "cache" / "dcs-contract" / "valid-specs").exists()


def test_a_cache_that_cannot_be_written_only_costs_a_validation(
    tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file where the cache's directory should be: no mark can be left, and none is needed.
    (tmp_path / "cache").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    asked = _validations(monkeypatch)
    for _ in range(2):
        assert load_spec(spec.path).document == spec.document
    assert len(asked) == 2


def test_a_link_or_an_unreadable_cache_is_no_mark(tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    asked = _validations(monkeypatch)
    load_spec(spec.path)
    (mark,) = (tmp_path / "cache" / "dcs-contract" / "valid-specs").iterdir()
    # A link where the mark was, to a file elsewhere: not trusted, and not written through.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    mark.unlink()
    mark.symlink_to(elsewhere)
    load_spec(spec.path)
    assert len(asked) == 2 and mark.is_symlink() and elsewhere.read_text() == ""
    # A cache that cannot be looked at (no permission, a name too long): validated, never a traceback.
    real_lstat = os.lstat

    def refused(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if "valid-specs" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "lstat", refused)
    assert load_spec(spec.path).document == spec.document
    assert len(asked) == 3


def test_the_private_cache_is_an_absolute_xdg_cache_home_or_the_home_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    assert private_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "dcs-contract"
    # A relative one is ignored, as the XDG specification says: never the run's own directory.
    for relative in ("cache", ".", ""):
        assert private_cache_dir({"XDG_CACHE_HOME": relative}) == tmp_path / "home" / ".cache" / "dcs-contract"

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", homeless)
    # No home: no private cache, so no mark is trusted; hypothesis's tables go to the shared temporary one.
    assert private_cache_dir({}) is None
    assert user_cache_dir({}).parent == Path(tempfile.gettempdir())


def test_a_missing_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "absent.yaml")


def test_what_a_spec_implies_is_built_once_per_spec_and_dropped_with_it(spec: Spec) -> None:
    built: list[int] = []

    @per_spec
    def paths(of: Spec) -> list[str]:
        built.append(id(of))
        return sorted(of.document["paths"])

    assert paths(spec) is paths(spec) and built == [id(spec)]
    other = Spec(copy.deepcopy(spec.document), spec.path)
    assert paths(other) == paths(spec) and paths(other) is not paths(spec) and len(built) == 2
    # Kept only while its spec lives, and dropped with it: a later spec at the same address is built anew.
    alive = weakref.ref(other)
    del other
    gc.collect()
    assert alive() is None, "the memo kept its spec alive"
    later = [Spec(spec.document, spec.path) for _ in range(50)]
    for made in later:
        paths(made)
    assert len(built) == 2 + len(later)


def test_a_spec_whose_reading_fails_fails_every_time() -> None:
    calls: list[None] = []

    @per_spec
    def refused(of: Spec) -> None:
        calls.append(None)
        raise SpecError("refused")

    spec = load_spec()
    for _ in range(2):
        with pytest.raises(SpecError, match="refused"):
            refused(spec)
    assert len(calls) == 2


def test_integer_fields_are_read_once_for_the_bounds_and_the_wire_check(spec: Spec) -> None:
    assert spec.integer_fields is spec.integer_fields
    fields = {status: [(f.pointer, f.format) for f in found] for status, found in spec.integer_fields.items()}
    assert fields[200] == [("/total_num", "int32"), ("/backup_record_response/*/size", "int64")]
    assert fields[400] == []
    # A nullable integer counts; a format on a string does not; a schema that holds itself ends.
    document = copy.deepcopy(spec.document)
    record = document["components"]["schemas"]["BackupRecordResponse"]["properties"]
    record["size"] = {"type": ["integer", "null"], "format": "int64"}
    record["remark"] = {"type": "string", "format": "int32"}
    record["period"] = {
        "type": "object",
        "properties": {"again": {"$ref": "#/components/schemas/BackupRecordResponse"}},
    }
    edited = Spec(document, spec.path).integer_fields[200]
    pointers = [f.pointer for f in edited]
    assert "/backup_record_response/*/size" in pointers and "/backup_record_response/*/remark" not in pointers
    assert "/backup_record_response/*/period/again/size" in pointers and max(len(f.path) for f in edited) <= 16


@pytest.mark.parametrize("where", [where for where, _, _ in load_spec().examples()])
def test_every_example_matches_its_schema(spec: Spec, where: str) -> None:
    schema, value = next((s, v) for w, s, v in spec.examples() if w == where)
    errors = [e.message for e in spec.validator(schema).iter_errors(value)]
    assert errors == []


def test_the_seed_example_as_printed_is_rejected(spec: Spec) -> None:
    """The page shows {} for period and error_code; the spec must not accept that artefact."""
    _, schema, value = next(e for e in spec.examples() if e[0].endswith("seed-corrected"))
    as_printed = copy.deepcopy(value)
    as_printed["backup_record_response"][0].update(period={}, error_code={})
    bad = {tuple(e.path) for e in spec.validator(schema).iter_errors(as_printed)}
    assert ("backup_record_response", 0, "period") in bad
    assert ("backup_record_response", 0, "error_code") in bad


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"backup_format": "AOF"}, "backup_format"),
        ({"size": "880232"}, "size"),
        ({"is_support_restore": True}, "is_support_restore"),
        ({"backup_region": "x"}, None),
        ({"created_at": "2019-05-10 08:31:16"}, "created_at"),
    ],
)
def test_the_record_schema_rejects_drift(spec: Spec, change: dict[str, Any], where: str | None) -> None:
    _, schema, value = next(e for e in spec.examples() if e[0].endswith("seed-corrected"))
    drifted = copy.deepcopy(value)
    drifted["backup_record_response"][0].update(change)
    paths = [tuple(e.path) for e in spec.validator(schema).iter_errors(drifted)]
    expected = ("backup_record_response", 0, where) if where else ("backup_record_response", 0)
    assert expected in paths


def _nodes_needing_a_source(spec: Spec) -> list[tuple[str, dict[str, Any]]]:
    nodes = [(f"parameter {p['name']}", p) for p in spec.operation["parameters"]]
    nodes += [(f"response {code}", r) for code, r in spec.operation["responses"].items()]
    for name, schema in spec.document["components"]["schemas"].items():
        nodes.append((f"schema {name}", schema))
        nodes += [(f"{name}.{prop}", s) for prop, s in schema.get("properties", {}).items() if "$ref" not in s]
    return nodes


def test_every_constraint_names_its_source(spec: Spec) -> None:
    for where, node in _nodes_needing_a_source(spec):
        source = node.get("x-source")
        assert source is not None, f"{where} has no x-source"
        values = set(source.values()) if isinstance(source, dict) else {source}
        assert values <= SOURCES, f"{where}: x-source {source!r} is not one of {sorted(SOURCES)}"


def test_every_invariant_consumer_and_alternative_names_its_source(spec: Spec) -> None:
    entries = [(f"x-invariants {rule_id}", rule) for rule_id, rule in spec.invariants.items()]
    entries += [(f"x-consumers {c['id']}", c) for c in spec.operation["x-consumers"]]
    entries += [(f"RecordTime {a['form']}", a) for a in spec.component("RecordTime")["x-alternatives"]]
    assert [where for where, entry in entries if entry.get("x-source") not in SOURCES] == []


@pytest.mark.parametrize(
    ("progress", "valid"),
    [
        ("0.00", True),
        ("9.99", True),
        ("99.99", True),
        ("100.00", True),
        ("100.01", False),
        ("100.50", False),
        ("100.99", False),
        ("101.00", False),
        ("100", False),
        ("05.00", False),
    ],
)
def test_progress_stops_at_100(spec: Spec, progress: str, valid: bool) -> None:
    assert spec.validator(spec.record_fields["progress"]).is_valid(progress) is valid


def _source_of(node: dict[str, Any]) -> dict[str, str]:
    source = node["x-source"]
    return source if isinstance(source, dict) else {"": source}


def test_the_limit_bounds_are_public_doc_in_some_regions_and_a_decision_elsewhere(spec: Spec) -> None:
    """No SDK model states them: Go's ListBackupRecordsRequest says only "items per page"."""
    limit = next(p for p in spec.operation["parameters"] if p["name"] == "limit")
    bounds = {what: where for what, where in _source_of(limit).items() if "maximum" in what}
    assert sorted(bounds.values()) == ["decision", "public-doc"]
    regional = next(what for what, where in bounds.items() if where == "public-doc")
    assert "ally-visitor-1" in regional and "my-kualalumpur-1" in regional
    [defect] = [d for d in spec.document["info"]["x-reference-defects"] if "`limit`" in d["defect"]]
    assert "ally-visitor-1" in defect["resolution"] and "decision" in defect["resolution"]


def test_required_fields_are_a_decision_and_say_why(spec: Spec) -> None:
    for name in ("ListBackupRecordsBody", "BackupRecordResponse"):
        schema = spec.component(name)
        assert _source_of(schema)["required"] == "decision", name
        assert "silently show nothing" in " ".join(schema["description"].split()), name
    resolutions = [d["resolution"] for d in spec.document["info"]["x-reference-defects"]]
    assert any("silently show nothing" in text and "decision" in text for text in resolutions)


def test_the_record_time_pattern_is_a_decision_and_lists_the_alternatives(spec: Spec) -> None:
    record_time = spec.component("RecordTime")
    assert _source_of(record_time)["pattern"] == "decision"
    alternatives = {a["form"]: a["given-by"] for a in record_time["x-alternatives"]}
    forms = " ".join(alternatives)
    assert "YYYY-MM-DDThh:mm:ss.sssZ" in forms and "yyyy-mm-dd hh:mm:ss" in forms and "time.Time" in forms
    givers = " ".join(alternatives.values())
    assert "v1.0" in givers and "Terraform" in givers and "cloudmux" in givers


def test_every_enum_value_has_a_meaning(spec: Spec) -> None:
    for field_name in spec.enum_fields:
        meanings = spec.record_fields[field_name].get("x-enum-descriptions", {})
        assert set(spec.enum_values(field_name)) == set(meanings), field_name


def test_enums_are_those_of_the_reference_page(spec: Spec) -> None:
    assert spec.enum_values("status") == ["waiting", "backuping", "succeed", "failed", "expired", "deleted"]
    assert spec.enum_values("backup_format") == ["aof", "rdb"]
    assert spec.enum_values("error_code") == [f"dcs.08.000{n}" for n in range(1, 9)]
    assert None in spec.enum("error_code")


def test_the_record_has_all_fifteen_fields_and_no_more(spec: Spec) -> None:
    assert len(spec.record_fields) == 15
    assert spec.component("BackupRecordResponse")["additionalProperties"] is False
    assert spec.component("ListBackupRecordsBody")["additionalProperties"] is False


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("20170718235959", True),
        ("20240229235959", True),
        ("20230229000000", False),
        ("20230231000000", False),
        ("2023023100000", False),
        ("2023-02-01000000", False),
        ("19691231235959", False),
        ("20231301000000", False),
        ("20230101240000", False),
    ],
)
def test_query_times_are_real_calendar_times(spec: Spec, value: str, valid: bool) -> None:
    assert spec.validator(spec.query_parameters["begin_time"]).is_valid(value) is valid


def test_the_generator_never_sees_security_headers(spec: Spec) -> None:
    generated = spec.for_generation()
    assert "security" not in generated
    assert "security" in spec.document, "the documented spec keeps its auth"


def test_the_package_exports_what_its_all_names() -> None:
    """As hypothesis does for its strategies: the public surface is exactly __all__."""
    import dcs_contract

    # Imported on first use (dcs_contract.lazy): each name of __all__ resolves, and no other.
    assert set(dcs_contract.__all__) == set(dcs_contract._PUBLIC)
    assert set(dcs_contract.__all__) <= set(dir(dcs_contract))
    for name in dcs_contract.__all__:
        assert getattr(dcs_contract, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'run_contracts'"):
        dcs_contract.run_contracts  # noqa: B018


def test_the_invariant_registry_and_the_spec_name_the_same_rules(spec: Spec) -> None:
    """Adding an invariant is its entry in the spec and one decorated function: neither alone loads."""
    assert set(INVARIANTS) == set(spec.invariants)
    assert {rule.id for rule in PAGE_INVARIANTS.values()} <= set(spec.invariants)
    assert all(rule.id == rule_id for rule_id, rule in INVARIANTS.items())


@pytest.mark.parametrize("change", ["added", "removed"])
def test_a_spec_whose_invariants_differ_from_the_registry_is_refused(spec: Spec, change: str) -> None:
    document = copy.deepcopy(spec.document)
    rules = document["paths"][OPERATION_PATH]["get"]["x-invariants"]
    if change == "added":
        rules.append({**rules[0], "id": "records-newest-first"})
    else:
        rules.pop()
    with pytest.raises(SpecError, match=r"not implemented|not in the spec") as refused:
        Invariants(Spec(document, spec.path))
    named = "records-newest-first" if change == "added" else spec.operation["x-invariants"][-1]["id"]
    assert named in str(refused.value)


def _without_record_properties(spec: Spec) -> str:
    """Valid OpenAPI, but its backup record has no fields: a shape the harness cannot read."""
    document = copy.deepcopy(spec.document)
    del document["components"]["schemas"]["BackupRecordResponse"]["properties"]
    return yaml.safe_dump(document)


def _with_an_invariant_too_many(spec: Spec) -> str:
    document = copy.deepcopy(spec.document)
    rules = document["paths"][OPERATION_PATH]["get"]["x-invariants"]
    rules.append({**rules[0], "id": "records-newest-first"})
    return yaml.safe_dump(document)


def _alias_bomb(levels: int) -> str:
    """A "billion laughs" of ``levels`` anchors, each nine aliases of the one before: 9**levels strings spelt out."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{name}: &{name} [{','.join([f'*{before}'] * 9)}]" for before, name in itertools.pairwise(names)]
    return "\n".join([*lines, "openapi: 3.1.0", ""])


ALIAS_BOMB = "expands through its YAML aliases to"

UNLOADABLE = {
    "not-utf8": (lambda spec: b"openapi: 3.1.0\ninfo: {title: \xff\xfe}\n", "is not UTF-8 text"),
    "deep": (lambda spec: b"[" * 100_000 + b"]" * 100_000, "nests too deeply to be a spec"),
    "deep-value": (lambda spec: b"openapi: " + b"[" * 100_000 + b"]" * 100_000, "nests too deeply to be a spec"),
    "bad-tag": (lambda spec: b"openapi: !!int three\n", "is not valid YAML: invalid literal for int()"),
    "bad-date": (lambda spec: b"openapi: !!timestamp 2001-13-45\n", "is not valid YAML: month must be in 1..12"),
    "not-a-mapping": (lambda spec: b"- openapi\n", "holds list, not an OpenAPI document"),
    "alias-bomb": (lambda spec: _alias_bomb(9).encode(), ALIAS_BOMB),
    "shape": (
        lambda spec: _without_record_properties(spec).encode(),
        "is valid OpenAPI, but not the shape this harness reads: KeyError: 'properties'",
    ),
}


@pytest.mark.parametrize("kind", list(UNLOADABLE))
def test_a_spec_that_cannot_be_loaded_is_a_spec_error(spec: Spec, tmp_path: Path, kind: str) -> None:
    content, message = UNLOADABLE[kind]
    path = tmp_path / "spec.yaml"
    path.write_bytes(content(spec))
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    assert str(refused.value).startswith(str(path)) and message in str(refused.value)


@pytest.mark.parametrize(
    ("command", "kind"), [*(("run", kind) for kind in [*UNLOADABLE, "invariants"]), *(("docs", k) for k in UNLOADABLE)]
)
def test_a_spec_that_cannot_be_loaded_exits_2_with_one_line(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, command: str
) -> None:
    """Refused before the run, with nothing written: once a traceback (exit 4) for the encoding and the nesting.

    The docs show the spec's invariants, whatever the harness implements; a run refuses to check others.
    """
    if kind == "invariants":
        content, message = _with_an_invariant_too_many(spec).encode(), "not implemented ['records-newest-first']"
    else:
        content, message = UNLOADABLE[kind][0](spec), UNLOADABLE[kind][1]
    path, out = tmp_path / "spec.yaml", tmp_path / "out"
    path.write_bytes(content)
    flag = ["--report-dir", str(out)] if command == "run" else ["--out", str(out)]
    assert main([command, "--spec", str(path), *flag], env={}) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"dcs-contract: {path}") and message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert not out.exists(), "refused before anything was written"


def test_a_document_too_deep_to_keep_pickled_is_read_as_without_the_cache(tmp_path: Path) -> None:
    """YAML 800 deep is built by the parser but not pickled: it is judged as it was before the cache."""
    path = tmp_path / "deep.yaml"
    path.write_text("openapi: 3.1.0\nx-deep: " + "[" * 800 + "]" * 800 + "\n")
    with pytest.raises(SpecError, match="is not valid OpenAPI"):
        load_spec(path)


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    """Nine lines whose aliases spell out 9**9 strings: once the validator's error text expanded
    them all, for minutes and gigabytes. Refused from the composed nodes, before any object is built."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(9))
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    assert str(refused.value) == (
        f"{path} expands through its YAML aliases to 490,329,036 nodes more than it writes"
        " (at most 100,000): refused as an alias bomb, not a spec"
    )


def test_a_spec_reusing_a_schema_by_an_alias_loads_as_without_it(tmp_path: Path, spec: Spec) -> None:
    """Anchors and aliases a spec may well use (a schema written once, used twice) are no bomb."""
    document = copy.deepcopy(spec.document)
    schemas = document["components"]["schemas"]
    schemas["SameRecord"] = schemas["BackupRecordResponse"]  # one object twice: dumped as an anchor and an alias
    text = yaml.safe_dump(document)
    assert "&id001" in text and "*id001" in text
    path = tmp_path / "aliased.yaml"
    path.write_text(text)
    assert load_spec(path).document == yaml.safe_load(text)
