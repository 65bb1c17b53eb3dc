"""Loading and reading the spec: the single source of truth for shapes, enums and bounds.

The mock, the strategies, the checks and the docs ask this module; none of them restates
a field, an enum value or a bound.

    >>> spec = load_spec()
    >>> spec.query_parameters["limit"]["maximum"]
    1000
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import pickle
import stat
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from jsonschema import FormatChecker
    from jsonschema.protocols import Validator

from dcs_contract.contract.formats import FORMAT_NAME, dcs_timestamp_format
from dcs_contract.contract.json_scan import INTEGER_FORMATS, escaped
from dcs_contract.errors import SpecError
from dcs_contract.user_cache import private_cache_dir

__all__ = ["OPERATION_PATH", "IntegerField", "Spec", "default_spec_path", "load_spec", "per_spec"]

OPERATION_PATH = "/v2/{project_id}/instances/{instance_id}/backups"
_SPEC_FILE = "dcs-backups.yaml"
_SPEC_URI = "urn:dcs-contract:spec"


def default_spec_path() -> Path:
    """The packaged copy of ``spec/dcs-backups.yaml``, or the checkout's own in a source tree."""
    packaged = Path(__file__).parents[1] / "spec" / _SPEC_FILE
    if packaged.is_file():
        return packaged
    # An editable install runs from src/, where the wheel's copy does not exist.
    return Path(__file__).resolve().parents[3] / "spec" / _SPEC_FILE


_Derived = TypeVar("_Derived")
# A response schema nested deeper than this is a recursive one: no consumer reads fields that deep.
_FIELD_DEPTH = 16


@dataclass(frozen=True)
class IntegerField:
    """An integer field of a response schema with an OpenAPI integer format (int32, int64).

    ``path``: the names down to it, None standing for any index of an array.
    """

    path: tuple[str | None, ...]
    format: str

    @property
    def pointer(self) -> str:
        """The path as a JSON pointer, ``*`` for any index: ``/backup_record_response/*/size``."""
        return "".join("/*" if part is None else f"/{escaped(part)}" for part in self.path)


def per_spec(build: Callable[[Spec], _Derived]) -> Callable[[Spec], _Derived]:
    """``build`` made once per spec object: what a spec implies is read on first use, then shared.

    A run judges hundreds of responses by one spec, and a test process builds many runs on it:
    each reading (its consumers, its query rule, its wire context) would otherwise be redone per
    response. Kept while the spec lives and dropped with it, so that another spec given the
    same ``id()`` gets its own. What ``build`` returns must not hold the spec, or it never dies.
    A ``build`` that raises keeps nothing: the next call raises again.
    """
    built: dict[int, _Derived] = {}
    lock = threading.Lock()

    @wraps(build)
    def of(spec: Spec) -> _Derived:
        key = id(spec)
        if key in built:
            return built[key]
        value = build(spec)
        with lock:  # two threads may build at once; both get the first one kept
            if key not in built:
                built[key] = value
                weakref.finalize(spec, built.pop, key, None)
            return built[key]

    return of


# libyaml's parser where PyYAML was built with it: the same safe constructor, a fifth of the
# parsing time, and every command that reads the spec pays it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# How many nodes more than it writes a spec may expand to through its YAML aliases. A spec
# reusing a schema by an anchor repeats a few hundred nodes; a "billion laughs" file of nine
# lines repeats a few hundred million, and the validator then spells every one of them out.
_ALIASED_NODES = 100_000


class _AliasBomb(yaml.YAMLError):
    """A document whose aliases expand it past ``_ALIASED_NODES``: refused before it is constructed."""


def _aliased_nodes(root: yaml.Node) -> int:
    """How many nodes more ``root`` holds with every alias spelt out than as written.

    Each node is visited once (an alias is the same node object again): a collection's expanded
    size is one plus its children's, so the count costs the written size however far the aliases
    expand. A recursive alias (an anchor used inside itself) counts as one node.
    """
    sizes: dict[int, int] = {}  # each collection's expanded size
    scalars: set[int] = set()
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iteratively: the written document may nest deeper than Python recurses
        node, children_done = stack.pop()
        key = id(node)
        children: list[yaml.Node]
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            scalars.add(key)
            continue
        if children_done:
            sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in children)
        elif key not in entered:
            entered.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in entered)
    return sizes.get(id(root), 1) - len(sizes) - len(scalars)


class _SpecLoader(_SAFE_LOADER):  # type: ignore[misc,valid-type]  # CSafeLoader or SafeLoader
    """The safe loader, refusing a document its aliases expand past ``_ALIASED_NODES``.

    Checked on the composed node graph, before any Python object is built: a plain document is
    never refused, whatever its size, and one using a few anchors loads exactly as before.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        aliased = _aliased_nodes(node)
        if aliased > _ALIASED_NODES:
            raise _AliasBomb(
                f"expands through its YAML aliases to {aliased:,} nodes more than it writes "
                f"(at most {_ALIASED_NODES:,}): refused as an alias bomb, not a spec"
            )
        return super().construct_document(node)


@lru_cache(maxsize=8)
def _pickled(text: str) -> bytes | None:
    """The YAML text's document, pickled: a process reads one spec many times (every run of a
    test session does), and unpickling is forty times cheaper than constructing it again. Each
    load unpickles a document of its own, so that one Spec's edits never reach another's.
    None for a document too deep to pickle: it is constructed anew each time, as before."""
    document = yaml.load(text, Loader=_SpecLoader)
    try:
        return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
    except RecursionError:
        return None


def _parsed(text: str) -> Any:
    pickled = _pickled(text)
    return yaml.load(text, Loader=_SpecLoader) if pickled is None else pickle.loads(pickled)


# The OpenAPI validators are imported when a spec is first validated or read, not with this
# module: the command line imports it to parse its flags, and --help must start at once.
@cache
def _format_checker() -> FormatChecker:
    from openapi_schema_validator import oas31_format_checker

    checker = copy.deepcopy(oas31_format_checker)
    checker.checks(FORMAT_NAME)(dcs_timestamp_format)
    return checker


@dataclass(frozen=True)
class Spec:
    """A loaded, validated spec with typed accessors for the parts the harness reads."""

    document: dict[str, Any]
    path: Path
    _registry: Registry[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        object.__setattr__(self, "_registry", Registry().with_resource(_SPEC_URI, resource))

    @cached_property
    def sha256(self) -> str:
        """The hash of the document's content, not of its file: the same contract written otherwise hashes the same."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # -- the operation ---------------------------------------------------------------------
    @cached_property
    def operation(self) -> dict[str, Any]:
        return dict(self.document["paths"][OPERATION_PATH]["get"])

    @cached_property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """Every parameter by name, with its ``schema`` resolved."""
        return {p["name"]: {**p, "schema": self.resolve(p["schema"])} for p in self.operation["parameters"]}

    @cached_property
    def query_parameters(self) -> dict[str, dict[str, Any]]:
        """The query parameters' resolved schemas by name."""
        return {name: p["schema"] for name, p in self.parameters.items() if p["in"] == "query"}

    @cached_property
    def invariants(self) -> dict[str, dict[str, Any]]:
        """The operation's ``x-invariants`` by id: rule, category, location and source."""
        return {entry["id"]: dict(entry) for entry in self.operation.get("x-invariants", [])}

    @cached_property
    def defaults(self) -> dict[str, Any]:
        """The query parameters' defaults, as a request without them is answered."""
        return {name: schema["default"] for name, schema in self.query_parameters.items() if "default" in schema}

    @cached_property
    def status_codes(self) -> list[int]:
        return sorted(int(code) for code in self.operation["responses"])

    def response_schema(self, status: int) -> dict[str, Any] | None:
        """The JSON schema of a documented status's body, or None when it has no body."""
        content = self.operation["responses"][str(status)].get("content")
        if not content:
            return None
        return dict(content["application/json"]["schema"])

    # -- schemas ---------------------------------------------------------------------------
    def component(self, name: str) -> dict[str, Any]:
        return dict(self.document["components"]["schemas"][name])

    def resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Follow a local ``$ref`` one level, keeping sibling keywords (OpenAPI 3.1 allows them)."""
        ref = schema.get("$ref")
        if ref is None:
            return dict(schema)
        target = self._registry.resolver().lookup(_SPEC_URI + ref).contents
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}

    @cached_property
    def record_fields(self) -> dict[str, dict[str, Any]]:
        """The backup record's fields and their resolved schemas, in the spec's order."""
        properties = self.component("BackupRecordResponse")["properties"]
        return {name: self.resolve(schema) for name, schema in properties.items()}

    def enum(self, record_field: str) -> list[Any]:
        """A record field's enum values, as listed in the spec (null included where allowed)."""
        return list(self.record_fields[record_field]["enum"])

    def enum_values(self, record_field: str) -> list[str]:
        """A record field's enum values without null: the values a record can really carry."""
        return [value for value in self.enum(record_field) if value is not None]

    @cached_property
    def enum_fields(self) -> dict[str, list[Any]]:
        return {name: list(schema["enum"]) for name, schema in self.record_fields.items() if "enum" in schema}

    def validator(self, schema: Mapping[str, Any]) -> Validator:
        """A JSON Schema validator for a fragment of the spec, with its $refs and formats."""
        from openapi_schema_validator import OAS31Validator

        validator: Validator = OAS31Validator(
            _absolute_refs(schema), registry=self._registry, format_checker=_format_checker()
        )
        return validator

    def examples(self) -> Iterator[tuple[str, dict[str, Any], Any]]:
        """Every example in the spec as (where, schema, value): responses and schemas alike."""
        for status, response in self.operation["responses"].items():
            for media, content in response.get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    yield f"responses/{status}/{media}/examples/{name}", content["schema"], example["value"]
        for name, schema in self.document["components"]["schemas"].items():
            for index, value in enumerate(schema.get("examples", [])):
                yield f"components/schemas/{name}/examples/{index}", {"$ref": f"#/components/schemas/{name}"}, value

    @cached_property
    def integer_fields(self) -> dict[int, tuple[IntegerField, ...]]:
        """Each documented status's integer fields with an OpenAPI integer format.

        The format bounds check and the wire check read them: each response's, from here.
        """
        found: dict[int, tuple[IntegerField, ...]] = {}
        for status in self.status_codes:
            schema = self.response_schema(status)
            if schema is not None:
                found[status] = tuple(self._integer_fields(schema, ()))
        return found

    def _integer_fields(self, schema: Mapping[str, Any], path: tuple[str | None, ...]) -> Iterator[IntegerField]:
        if len(path) > _FIELD_DEPTH:
            return
        node = self.resolve(schema)
        types = node.get("type", "integer")
        if node.get("format") in INTEGER_FORMATS and "integer" in (types if isinstance(types, list) else [types]):
            yield IntegerField(path, str(node["format"]))
        for name, child in (node.get("properties") or {}).items():
            if isinstance(child, Mapping):
                yield from self._integer_fields(child, (*path, str(name)))
        if isinstance(node.get("items"), Mapping):
            yield from self._integer_fields(node["items"], (*path, None))

    # -- schemathesis ----------------------------------------------------------------------
    def for_generation(self) -> dict[str, Any]:
        """The document as the generator sees it: without ``security``.

        Auth is the client's job (signing.py). Left in, schemathesis would generate junk
        ``Authorization`` and ``X-Auth-Token`` headers that the signer then overwrites.
        """
        document = copy.deepcopy(self.document)
        document.pop("security", None)
        document["paths"][OPERATION_PATH]["get"].pop("security", None)
        return document


def _absolute_refs(node: Any) -> Any:
    """A copy of a fragment whose local refs ("#/components/...") point into the document."""
    if isinstance(node, Mapping):
        return {
            key: _SPEC_URI + value
            if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else _absolute_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(item) for item in node]
    return node


def load_spec(path: str | Path | None = None) -> Spec:
    """Read, parse and validate the spec; ``SpecError`` says what is wrong and where.

    Whatever the file holds (not UTF-8, YAML nested 100,000 deep, a valid OpenAPI document
    of another shape) is a SpecError, never a traceback: ``--spec`` is a user's file.
    """
    spec_path = Path(path) if path is not None else default_spec_path()
    try:
        text = spec_path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the spec at {spec_path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{spec_path} is not UTF-8 text: {exc}") from None
    try:
        document = _parsed(text)
    except _AliasBomb as exc:
        raise SpecError(f"{spec_path} {exc}") from None
    except yaml.YAMLError as exc:
        # libyaml stops at its own depth limit where PyYAML's Python parser recurses: one message.
        if "maximum nesting depth" in str(exc):
            raise SpecError(f"{spec_path} nests too deeply to be a spec") from None
        raise SpecError(f"{spec_path} is not valid YAML: {exc}") from exc
    except RecursionError:
        raise SpecError(f"{spec_path} nests too deeply to be a spec") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a tagged scalar that does not convert: !!int x
        raise SpecError(f"{spec_path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{spec_path} holds {type(document).__name__}, not an OpenAPI document")
    _validate_openapi(document, text, spec_path)
    if OPERATION_PATH not in document.get("paths", {}) or "get" not in document["paths"][OPERATION_PATH]:
        raise SpecError(f"{spec_path} does not describe GET {OPERATION_PATH}")
    return _read_whole(Spec(document=document, path=spec_path))


def _validate_openapi(document: dict[str, Any], text: str, spec_path: Path) -> None:
    """Refuse a document that is not valid OpenAPI; a text found valid before is not validated again.

    The validator and what it imports (pydantic, requests) cost every command that reads the
    spec about half a second, and the spec rarely changes between runs. So each text found
    valid leaves a mark in the user's own cache, named by the text's hash and by the versions
    of the harness and of the validator and its schema packages; a text never found valid, one
    byte different, or read by other versions is validated. The cache is a hint: where it
    cannot be read or written, or where there is no home, the spec is validated as if the
    cache were empty.
    """
    marker = _validity_marker(text)
    if marker is not None and _is_mark(marker):
        return
    from openapi_spec_validator import validate as validate_openapi

    try:
        validate_openapi(document)
    except Exception as exc:  # the validator raises several unrelated types
        raise SpecError(f"{spec_path} is not valid OpenAPI: {exc}") from exc
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Never through a link: a mark is an empty file of its own, or nothing.
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


# What a mark's name depends on besides the text: a release of any of these may judge otherwise.
_JUDGES = ("dcs-contract", "openapi-spec-validator", "openapi-schema-validator", "jsonschema")


def _validity_marker(text: str) -> Path | None:
    """The file saying that ``text`` was found valid by these versions; None where no private cache exists."""
    from importlib import metadata

    directory = private_cache_dir()
    if directory is None:
        return None
    try:
        versions = ",".join(f"{name}={metadata.version(name)}" for name in _JUDGES)
    except metadata.PackageNotFoundError:
        return None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    judged_by = hashlib.sha256(versions.encode()).hexdigest()[:16]
    return directory / "valid-specs" / f"{digest}-{judged_by}"


def _is_mark(path: Path) -> bool:
    """A regular file of its own at ``path`` (not a link to one); False where it cannot be looked at."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):  # no such file, no permission, a name too long, a NUL in the name
        return False


# What the harness reads of a spec, beyond what OpenAPI requires of any document.
_READ_PARTS = ("parameters", "query_parameters", "defaults", "invariants", "record_fields", "enum_fields")


def _read_whole(spec: Spec) -> Spec:
    """``spec``, once every part the harness reads was read: a part it lacks fails here, not mid-run."""
    try:
        for name in _READ_PARTS:
            getattr(spec, name)
        for code in spec.status_codes:
            spec.response_schema(code)
    except (LookupError, TypeError, AttributeError, ValueError, Unresolvable) as exc:
        raise SpecError(
            f"{spec.path} is valid OpenAPI, but not the shape this harness reads: {type(exc).__name__}: {exc}"
        ) from None
    return spec
