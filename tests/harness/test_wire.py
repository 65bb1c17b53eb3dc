"""The wire check: the body's bytes as the consumers' decoders read them, before the tolerant reading.

Each rule is shown broken and kept, with the place it names; the scan never raises and stays
linear on hostile bytes; a body valid on the wire but encoded otherwise (gzip, chunked, a
charset parameter of UTF-8 in any case and spacing) stays clean through a real server; and
the spec's decoders are read strictly and name exactly the consumers a finding breaks.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dcs_contract.cli.app import main
from dcs_contract.contract import json_scan
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.contract.wire import BOM, WIRE_RULES, WireContext, wire_violations
from dcs_contract.engine.judge import ExchangeJudge, Listing
from dcs_contract.engine.operation import Operation
from dcs_contract.errors import SpecError
from dcs_contract.har.check import check_har
from tests.harness.hostile import HostileServer, Received

JSON = "application/json"


@pytest.fixture(scope="module")
def context(spec: Spec) -> WireContext:
    return WireContext.of(spec, Consumers.of(spec).limits())


def page(**changes: Any) -> dict[str, Any]:
    record = {"backup_id": "b-1", "size": 1024, "remark": "每日备份 🔒", "status": "succeed"}
    return {"total_num": 1, "backup_record_response": [record], **changes}


CLEAN = json.dumps(page()).encode()


def found(raw: bytes, context: WireContext, content_type: str = JSON, status: int = 200) -> set[tuple[str, str, str]]:
    return {(v.rule, v.location, v.detail) for v in wire_violations(raw, content_type, status=status, context=context)}


# rule -> (a body that breaks it, its Content-Type, (rule, location, detail) it must give)
BROKEN: dict[str, tuple[bytes, str, tuple[str, str, str]]] = {
    "no-bom": (b"\xef\xbb\xbf" + CLEAN, JSON, ("no-bom", "body", "")),
    "utf-8": (json.dumps(page(), ensure_ascii=False).encode("gb18030"), JSON, ("utf-8", "body", "as-utf-8")),
    "charset-utf-8": (CLEAN, "application/json; charset=ISO-8859-1", ("charset-utf-8", "Content-Type", "")),
    "no-lone-surrogate": (
        CLEAN.replace(b'"b-1"', b'"b-1\\udc00"'),
        JSON,
        ("no-lone-surrogate", "/backup_record_response/*/backup_id", ""),
    ),
    "no-non-finite": (
        CLEAN.replace(b"1024", b"-Infinity"),
        JSON,
        ("no-non-finite", "/backup_record_response/*/size", ""),
    ),
    "no-duplicate-key": (
        CLEAN.replace(b'{"total_num"', b'{"total_num": 2, "total_num"'),
        JSON,
        ("no-duplicate-key", "/total_num", ""),
    ),
    "no-trailing-data": (CLEAN + b" x", JSON, ("no-trailing-data", "body", "")),
    "integer-written-as-integer": (
        CLEAN.replace(b'"total_num": 1', b'"total_num": 1.5'),
        JSON,
        ("integer-written-as-integer", "/total_num", "fractional"),
    ),
    "integer-within-format": (
        CLEAN.replace(b'"total_num": 1', b'"total_num": 2147483648'),
        JSON,
        ("integer-within-format", "/total_num", "int32"),
    ),
    "depth-within-decoders": (b"[" * 1001 + b"]" * 1001, JSON, ("depth-within-decoders", "body", "1000")),
    "number-length-within-decoders": (
        CLEAN.replace(b"1024", b"9" * 310),
        JSON,
        ("number-length-within-decoders", "/backup_record_response/*/size", "309"),
    ),
}


def test_every_rule_is_shown_broken_and_cites_its_source() -> None:
    assert set(BROKEN) == set(WIRE_RULES)
    for rule in WIRE_RULES.values():
        assert "RFC 8259" in rule.source or ".go" in rule.source or ".java" in rule.source, rule.id


def test_a_faithful_page_breaks_no_rule(context: WireContext) -> None:
    assert found(CLEAN, context) == set()
    assert found(json.dumps(page(), ensure_ascii=False, indent=2).encode(), context) == set()


@pytest.mark.parametrize("rule", list(BROKEN))
def test_each_rule_names_the_field_or_the_byte(rule: str, context: WireContext) -> None:
    raw, content_type, expected = BROKEN[rule]
    assert expected in found(raw, context, content_type)
    (violation,) = [v for v in wire_violations(raw, content_type, status=200, context=context) if v.rule == rule]
    if violation.offset is not None:
        assert 0 <= violation.offset < len(raw)
        assert str(violation.offset) in violation.actual


def test_the_detail_tells_the_consumers_apart(context: WireContext) -> None:
    whole = CLEAN.replace(b'"total_num": 1', b'"total_num": 1.0')
    exponent = CLEAN.replace(b'"total_num": 1', b'"total_num": 1e0')
    assert ("integer-written-as-integer", "/total_num", "whole") in found(whole, context)
    assert ("integer-written-as-integer", "/total_num", "whole") in found(exponent, context)
    gb = json.dumps(page(), ensure_ascii=False).encode("gb18030")
    assert ("utf-8", "body", "as-named-charset") in found(gb, context, "application/json; charset=GB18030")
    assert ("depth-within-decoders", "body", "10000") in found(b"[" * 10001 + b"]" * 10001, context)


def test_a_pair_of_surrogate_escapes_is_one_character_and_fine(context: WireContext) -> None:
    assert found(b'["\\ud83d\\udd12", "\\\\ud800"]', context) == set()
    assert {r for r, _, _ in found(b'["\\ud83d\\ud83d\\udd12"]', context)} == {"no-lone-surrogate"}
    assert {r for r, _, _ in found(b'["\\ud83d"]', context)} == {"no-lone-surrogate"}
    # An escaped backslash, then "ud800" as text, then a low surrogate's escape alone.
    assert {r for r, _, _ in found(b'["\\\\ud800\\udc00"]', context)} == {"no-lone-surrogate"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "Application/JSON ;  CHARSET = Utf-8 ",
        "application/problem+json; charset=utf8",
    ],
)
def test_a_charset_of_utf_8_in_any_spelling_is_fine(content_type: str, context: WireContext) -> None:
    assert found(CLEAN, context, content_type) == set()


def test_a_body_that_is_not_json_by_its_type_or_empty_is_not_judged(context: WireContext) -> None:
    assert found(b"\xef\xbb\xbfplain", context, "text/plain") == set()
    assert found(b"", context) == set()


def test_a_body_that_is_not_json_is_left_to_the_schema_check(context: WireContext) -> None:
    assert found(b'{"total_num": 1, "backup_record_response": [', context) == set()
    assert found(b"<html>", context) == set()


# -- hostile bytes ------------------------------------------------------------------------


def _slow(raw: bytes, context: WireContext, monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str, str]]:
    with monkeypatch.context() as patched:
        patched.setattr(json_scan, "_clean", lambda *args: None)
        return found(raw, context)


_tokens = st.sampled_from(
    [
        *(b"{", b"}", b"[", b"]", b",", b":", b" ", b'"a"', b'"b"', b'"\\ud800"', b'"\\ud83d\\udd12"', b"NaN", b"1"),
        *(b"1.0", b"-Infinity", b"2147483648", b"true", b"null", b'"total_num"', b'"backup_record_response"'),
        b"\xef\xbb\xbf",
        b'"\\\\ud800\\udc00"',
        # Lone low, upper-case pair, a high then an escaped backslash, a quote's escape between.
        *(b'"\\udd12"', b'"\\uD83D\\uDD12"', b'"\\ud83d\\\\udd12"', b'"\\ud83d\\"\\udd12"'),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(_tokens, max_size=40).map(b"".join))
def test_the_fast_reading_and_the_scan_agree(raw: bytes, context: WireContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C parser only proves a body clean: on JSON, it and the scan agree; on the rest, the scan may say more."""
    fast, slow = found(raw, context), _slow(raw, context, monkeypatch)
    assert fast <= slow
    if _parses(raw):
        assert fast == slow


_NUMBER_RUN_BYTES = st.lists(st.sampled_from([b"1", b"e", b"-", b".", b"+", b"E", b"9", b'"', b",", b"x"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(raw=_NUMBER_RUN_BYTES.map(b"".join), start=st.integers(0, 3), longest=st.integers(0, 12))
def test_a_long_number_is_found_as_the_pattern_of_number_bytes_finds_it(raw: bytes, start: int, longest: int) -> None:
    """One translate and one substring search, as linear as a body's size, where a regex tried every start in a run."""
    pattern = re.compile(rb"[-+.eE0-9]{%d}" % (longest + 1))
    assert json_scan._has_number_run(raw, start, longest) == (pattern.search(raw, start) is not None)


def test_the_fast_reading_tells_a_repeated_key_from_a_string_that_looks_like_one() -> None:
    """Exact on objects: a key twice goes to the scan; a value holding '":' no longer sends a page there."""
    fields: dict[str, str] = {}
    assert json_scan._clean(b'{"a": 1, "b": "x\\":"}', 0, fields, 309, 1000) is not None
    assert json_scan._clean(b'{"a": 1, "a": 2}', 0, fields, 309, 1000) is None
    assert json_scan._clean(b'[{"a": 1}, {"b": {"c": 1, "c": 1}}]', 0, fields, 309, 1000) is None


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8", "replace").removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), content_type=st.sampled_from([JSON, "application/json; charset=x", "text/html"]))
def test_any_bytes_are_judged_without_raising(raw: bytes, content_type: str) -> None:
    for violation in wire_violations(raw, content_type, status=200, context=WireContext({200: {"/a": "int32"}})):
        assert violation.rule in WIRE_RULES


@settings(max_examples=100, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_any_json_python_writes_is_judged_without_raising(value: Any) -> None:
    raw = json.dumps(value).encode("utf-8", "surrogatepass")
    for violation in wire_violations(raw, JSON, status=200, context=WireContext({200: {"/a": "int32"}})):
        assert violation.rule in ("no-non-finite", "utf-8", "no-lone-surrogate")


MiB = 1024 * 1024
HOSTILE: dict[str, bytes] = {
    "nested": b"[" * MiB,
    "unterminated string": b'"' + b"a" * MiB,
    "escapes": b'"' + b"\\u" * (MiB // 2),
    "huge number": b"[" + b"9" * MiB + b"]",
    "many NaN": b"[" + b"NaN," * (MiB // 4) + b"0]",
    "many duplicates": b"{" + b'"a":0,' * (MiB // 6) + b'"a":1}',
    "lone surrogates": b"[" + b'"\\ud800",' * (MiB // 9) + b"0]",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_mebibyte_is_judged_in_linear_time(kind: str, context: WireContext) -> None:
    raw = HOSTILE[kind]
    started = time.perf_counter()
    violations = wire_violations(raw, JSON, status=200, context=context)
    # A quadratic scan takes minutes on a mebibyte; a linear one, about a second at worst.
    assert time.perf_counter() - started < 8
    assert len(violations) <= 3 * json_scan._KEPT


# -- through the judge, and a real server -----------------------------------------------------


def _chunked(body: bytes, headers: dict[str, str]) -> Callable[[socket.socket, Received, Callable[[], bool]], None]:
    def behave(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
        head = ["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Connection: close"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:50], body[50:]) if part)
        conn.sendall("\r\n".join([*head, "", ""]).encode("latin-1") + chunks + b"0\r\n\r\n")

    return behave


ENCODINGS = {
    "gzip, chunked": (gzip.compress(CLEAN), {"Content-Encoding": "gzip", "Content-Type": JSON}),
    "chunked, charset=UTF-8": (CLEAN, {"Content-Type": "application/json;charset=UTF-8"}),
    "chunked, quoted charset": (CLEAN, {"Content-Type": 'application/json ; charset="Utf-8"'}),
    "gzip, charset=utf-8": (
        gzip.compress(CLEAN),
        {"Content-Encoding": "gzip", "Content-Type": "application/json; charset=utf-8"},
    ),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_body_encoded_otherwise_on_a_real_server_stays_clean(encoding: str, spec: Spec) -> None:
    body, headers = ENCODINGS[encoding]
    judge = ExchangeJudge(spec)
    with HostileServer(_chunked(body, headers), lifetime=10) as server, httpx.Client(timeout=5) as client:
        response = client.get(f"{server.base_url}/backups")
        bom = HostileServer(_chunked(b"\xef\xbb\xbf" + CLEAN, headers={"Content-Type": JSON}), lifetime=10)
        with bom:
            refused = client.get(f"{bom.base_url}/backups")
    assert response.content == CLEAN
    assert judge.wire_findings(response) == []
    assert [f.check for f in judge.wire_findings(refused)] == ["no-bom"]


def _judged(spec: Spec, raw: bytes, status: int = 200, query: str = "limit=10") -> list[Finding]:
    request = httpx.Request("GET", f"https://dcs.example.com{OPERATION_PATH}?{query}")
    response = httpx.Response(status, content=raw, headers={"Content-Type": JSON}, request=request)
    return ExchangeJudge(spec).wire_findings(response)


def test_one_defect_is_one_finding_per_kind_of_answer(spec: Spec) -> None:
    first = _judged(spec, b"\xef\xbb\xbf" + CLEAN, query="limit=10")
    again = _judged(spec, b"\xef\xbb\xbf" + json.dumps(page(total_num=7)).encode(), query="limit=10&offset=3")
    error = _judged(spec, b'\xef\xbb\xbf{"error_code": "DCS.4025", "error_msg": "x"}', status=400)
    assert {f.fingerprint for f in first} == {f.fingerprint for f in again}
    assert {f.fingerprint for f in first}.isdisjoint({f.fingerprint for f in error})
    assert first[0].category == "wire" and first[0].location == "body"


def test_the_tolerant_reading_still_runs_after_a_wire_finding(spec: Spec) -> None:
    """A byte order mark is a wire finding, and nothing else changes: the same checks, the same page."""
    case = Operation.of(spec).case(path_parameters={"project_id": "p", "instance_id": "i"}, query={"limit": "10"})
    request = httpx.Request("GET", f"https://dcs.example.com{OPERATION_PATH}?limit=10")
    judged = []
    for raw in (CLEAN, b"\xef\xbb\xbf" + CLEAN):
        response = httpx.Response(200, content=raw, headers={"Content-Type": JSON}, request=request)
        judged.append(ExchangeJudge(spec).exchange(case, response, Listing(recorded=True)))
    plain, marked = judged
    assert [f.check for f in marked.findings if f.category == "wire"] == ["no-bom"]
    shown = [(f.check, f.location, f.actual) for f in plain.findings]
    assert [(f.check, f.location, f.actual) for f in marked.findings if f.category != "wire"] == shown
    assert plain.page is not None and marked.page is not None
    assert marked.page.records == plain.page.records


# -- the decoders in the spec -----------------------------------------------------------------


def _wire_finding(rule: str, detail: str) -> Finding:
    return Finding(
        check=rule, category="wire", title="t", message="m", location="body", expected="e", actual="a", detail=detail
    )


def test_a_wire_finding_names_exactly_the_consumers_whose_decoder_breaks(spec: Spec) -> None:
    consumers = Consumers.of(spec)
    ids = {consumer.name: consumer.id for consumer in consumers.consumers}

    def named(rule: str, detail: str) -> set[str]:
        return {
            ids[impact.consumer] for impact in consumers.affected(_wire_finding(rule, detail)) if impact.consumer in ids
        }

    assert named("no-trailing-data", "200") == {"sdk-python"}
    assert named("integer-written-as-integer", "200 whole") == {"sdk-go"}
    assert "sdk-python" in named("integer-written-as-integer", "200 fractional")
    assert named("depth-within-decoders", "200 1000") == {"sdk-python", "sdk-java"}
    assert named("depth-within-decoders", "200 10000") == {
        "sdk-python",
        "sdk-java",
        "sdk-go",
        "terraform-data-source",
        "terraform-resource",
    }
    assert named("utf-8", "200 as-named-charset") == {
        "sdk-go",
        "terraform-data-source",
        "terraform-resource",
        "cloudmux",
    }
    impacts = consumers.affected(_wire_finding("no-bom", "200"))
    assert all(impact.how.startswith(("refuses: ", "garbles: ")) for impact in impacts)


def _decoder_of(spec: Spec, change: Callable[[dict[str, Any]], None]) -> Spec:
    document = copy.deepcopy(spec.document)
    change(document["paths"][OPERATION_PATH]["get"]["x-consumers"][0]["decoder"])
    return Spec(document, spec.path)


BROKEN_DECODERS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "a rule missing": (lambda d: d["tolerates"].pop("no-trailing-data"), "missing ['no-trailing-data']"),
    "an unknown rule": (lambda d: d["tolerates"].update({"no-tabs": "x"}), "unknown ['no-tabs']"),
    "a rule twice": (lambda d: d["tolerates"].update({"no-bom": "x"}), "in both ['no-bom']"),
    "neither refuses nor garbles": (lambda d: d["breaks-on"]["no-bom"].pop("refuses"), "either refuses or garbles"),
    "an unknown detail": (lambda d: d["breaks-on"]["integer-written-as-integer"].update(seen=["half"]), "tells apart"),
    "a bound without its limit": (lambda d: d["limits"].pop("depth-within-decoders"), "limits must name"),
    "a limit of a rule unbounded": (lambda d: d["limits"].update({"no-bom": 3}), "only a limited rule"),
    "a limit that is no number": (lambda d: d["limits"].update({"depth-within-decoders": "deep"}), "positive integer"),
    "no decoder": (lambda d: d.clear(), "missing"),
}


@pytest.mark.parametrize("kind", list(BROKEN_DECODERS))
def test_a_decoder_the_harness_cannot_read_is_a_spec_error(kind: str, spec: Spec) -> None:
    change, message = BROKEN_DECODERS[kind]
    with pytest.raises(SpecError, match="decoder") as refused:
        Consumers.of(_decoder_of(spec, change))
    assert message in str(refused.value)


def test_every_consumer_says_how_it_decodes_from_its_files(spec: Spec) -> None:
    for consumer in Consumers.of(spec).consumers:
        assert consumer.decoder.reads and consumer.decoder.files, consumer.id
        assert set(consumer.decoder.breaks_on) | set(consumer.decoder.tolerates) == set(WIRE_RULES)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(0, 12000), number=st.integers(0, 5000), close=st.booleans())
def test_any_nesting_and_any_number_length_is_measured(depth: int, number: int, close: bool) -> None:
    limits = {"depth-within-decoders": (1000, 10000), "number-length-within-decoders": (309, 1000, 4300)}
    context = WireContext({200: {}}, limits)
    inner = b"1" + b"0" * number
    raw = b"[" * depth + inner + (b"]" * depth if close else b"")
    by_rule = {v.rule: v for v in wire_violations(raw, JSON, status=200, context=context)}
    if close or depth > 1000:
        past = [limit for limit in (1000, 10000) if depth > limit]
        assert (by_rule["depth-within-decoders"].detail if "depth-within-decoders" in by_rule else None) == (
            str(past[-1]) if past else None
        )
    if close and depth <= 10000:
        past = [limit for limit in (309, 1000, 4300) if number + 1 > limit]
        shown = by_rule.get("number-length-within-decoders")
        assert (shown.detail if shown else None) == (str(past[-1]) if past else None)


@pytest.mark.slow
def test_replay_and_check_har_judge_the_bytes_they_hold(tmp_path: Path, spec: Spec) -> None:
    """A run's wire finding is still failing on replay while the switch is on, and fixed once it is off."""
    drift = ["--mock-drift", "body-with-bom"]
    run = ["run", "--report-dir", str(tmp_path), "--max-requests", "40", "--seed", "1", "--record"]
    assert main([*run, *drift], env={}) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    (finding,) = [f for f in report["findings"] if f["category"] == "wire"]
    assert finding["check"] == "no-bom" and finding["confirmation"] == "reproduced"
    selected = ["--finding", finding["fingerprint"]]
    assert main(["replay", str(tmp_path / "report.json"), *selected, *drift], env={}) == 1
    assert main(["replay", str(tmp_path / "report.json"), *selected], env={}) == 0
    offline = check_har(spec, [tmp_path / "traffic.har"])
    assert finding["fingerprint"] in {f.fingerprint for f in offline.findings}


def test_what_a_wire_finding_shows_of_the_body_has_no_control_character(context: WireContext) -> None:
    """Its texts reach terminals and junit.xml: a raw ESC colours a terminal, a raw \\x01 breaks the XML."""
    bodies = [
        b'["\x01\x1b[31m\\ud800"]',
        b'{"total_num": 1, "backup_record_response": [], "\x1b[2Jk": 1, "\x1b[2Jk": 2}',
        b'{"total_num": 1.5\x07, "backup_record_response": []}',
    ]
    shown = [
        text
        for raw in bodies
        for violation in wire_violations(raw, JSON, status=200, context=context)
        for text in (violation.location, violation.actual, violation.pointer)
    ]
    assert len(shown) >= 6, shown
    assert all(text.isprintable() for text in shown), shown


# The pieces of a string's inside: escapes of high and low surrogates, their hex digits in
# either case, escaped backslashes and quotes, a BMP character's escape, and plain text.
_STRING_PIECES = st.sampled_from(
    [
        *(b"\\ud83d", b"\\uD800", b"\\uDBFF", b"\\udBfF", b"\\udd12", b"\\uDC00", b"\\uDFFF", b"\\udfff"),
        *(b"\\\\", b'\\"', b"\\u00e9", b"u", b"d83d", b"a", b"\xe4\xb8\xad"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(strings=st.lists(st.lists(_STRING_PIECES, max_size=8).map(b"".join), min_size=1, max_size=4), bom=st.booleans())
# An escaped backslash, then a low surrogate's escape alone: the bytes alone would call it paired.
@example(strings=[b"\\\\ud83d\\udd12"], bom=False)
# A high surrogate ending one string and a low one starting the next: two lone ones.
@example(strings=[b"\\ud83d", b"\\udd12"], bom=True)
def test_a_lone_surrogate_is_found_on_the_bytes_as_in_the_parsed_strings(strings: list[bytes], bom: bool) -> None:
    """The bytes' reading, kept for bodies with no escaped backslash, and the parsed strings' agree."""
    # Each string as an item of one array, next to each other, and as a key and a value.
    raw = b'[["%s"], %s]' % (b'", "'.join(strings), b", ".join(b'{"%s": "%s"}' % (text, text) for text in strings))
    value = json.loads(raw)
    # The oracle: a surrogate in a parsed string is one its escapes did not pair.
    texts = [*value[0], *(text for item in value[1:] for pair in item.items() for text in pair)]
    lone = any(re.search("[\ud800-\udfff]", text) for text in texts)
    start = len(BOM) if bom else 0
    body = (BOM if bom else b"") + raw
    assert json_scan._lone_surrogate(body, start, value) == lone
    assert (json_scan._clean(body, start, {}, None, None) is None) == lone


_KEY_BYTES = st.lists(st.sampled_from([b"a", b"\\", b"u", b"d", b"8", b"0", b"\t", b"\xff", b"\xe4\xb8\xad", b"n"]))


@settings(max_examples=300, deadline=None)
@given(inside=_KEY_BYTES.map(b"".join))
def test_a_key_without_escapes_is_read_as_the_parser_reads_it(inside: bytes) -> None:
    """A key with no backslash is its own text, read without the parser: the same string, bad UTF-8 included."""
    token = json_scan._STRING.fullmatch(b'"' + inside + b'"')
    if token is not None and b"\\" not in inside:
        assert json_scan._decoded(token.group()) == json.loads(token.group().decode("utf-8", "replace"), strict=False)
