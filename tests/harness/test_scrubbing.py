"""Scrub first, then cut: no secret, nor a fragment of one, reaches any output.

The unit properties drive the one scrubber with hypothesis; the end-to-end test runs
``dcs-contract run`` against a target that echoes the credential it was sent into its
bodies, at offsets that put it across every cut point of the reports.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from benchmarks.scrub_reference import reference_scrub
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.json_scan import shown
from dcs_contract.redaction import MIN_FRAGMENT, Scrubber, _forms
from dcs_contract.results.report import write_reports
from dcs_contract.results.schema import read_report
from tests.harness.hostile import HostileServer, Received, answer
from tests.harness.leaks import fragments, leaks
from tests.harness.test_report import _report

SECRET_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
secrets_ = st.text(SECRET_ALPHABET, min_size=MIN_FRAGMENT, max_size=60)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


def _scrubbed_then_cut(scrubber: Scrubber, text: str, limit: int) -> str:
    clean = scrubber.text(text)
    return clean if len(clean) <= limit else clean[:limit] + "\u2026"


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, copies=st.integers(0, 6), before=texts, after=texts, limit=st.integers(0, 200))
def test_a_cut_is_the_whole_text_scrubbed_then_cut(
    secret: str, copies: int, before: str, after: str, limit: int
) -> None:
    """Even where secrets before the limit shrink to *** and pull later text into view."""
    scrubber = Scrubber([secret])
    text = secret * copies + before + secret + after
    assert scrubber.cut(text, limit) == _scrubbed_then_cut(scrubber, text, limit)


def test_secrets_replaced_before_the_limit_do_not_pull_a_piece_of_the_next_into_view() -> None:
    secret = "QwErTy1234567890AsDfGhJkLzXcVbNm12345678"  # 40 characters, as an SK
    # Two secrets, then filler, then a third whose first 7 characters end where a window of
    # the limit plus the longest secret would have ended.
    text = secret * 2 + "-" * 153 + secret + "-" * 100
    cut = Scrubber([secret]).cut(text, 200)
    assert secret[:4] not in cut, cut
    assert cut == "******" + "-" * 153 + "***" + "-" * 38 + "\u2026"


def test_a_token_is_held_whole_until_the_report_scrubs_and_cuts_it() -> None:
    secret = "QwErTy1234567890AsDfGhJkLzXcVbNm12345678"
    # A string with a lone surrogate, the secret across byte 80: the scan's token is whole.
    token = b'"' + b"x" * 75 + secret.encode() + b'\\ud800"'
    assert secret in shown(token)
    finding = Finding(
        check="c", category="schema", title="t", message="m", location="/x", expected="e", actual=shown(token)
    )
    assert secret[:4] not in finding.scrubbed(Scrubber([secret])).actual


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, limit=st.integers(0, 200))
def test_a_secret_across_the_cut_point_leaves_no_fragment(secret: str, before: str, after: str, limit: int) -> None:
    text = before + secret + after
    cut = Scrubber([secret]).cut(text, limit)
    assert not leaks(cut, secret), (text, limit, cut)
    assert len(cut) <= max(limit, len(Scrubber([secret]).text(text))) + 1


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, start=st.integers(0, 60), size=st.integers(MIN_FRAGMENT, 60))
def test_a_fragment_cut_elsewhere_is_removed_wherever_it_stands(
    secret: str, before: str, after: str, start: int, size: int
) -> None:
    """What a third party's cut left of a secret (a target that echoes it truncated, say)."""
    start = min(start, len(secret) - MIN_FRAGMENT)
    fragment = secret[start : start + size]
    assert not leaks(Scrubber([secret]).text(before + fragment + after), secret)


def _spellings(char: str) -> st.SearchStrategy[str]:
    """``char`` as other writers may spell it: as it is, JSON's \\u, a URL's %XX (a byte), HTML's &#N; and &#xH;."""
    code = ord(char)
    forms = [char, f"&#{code};", f"&#x{code:x};", f"&#X{code:X};"]
    if code <= 0xFFFF:
        forms += [f"\\u{code:04x}", f"\\u{code:04X}"]
    if code < 0x80:
        forms += [f"%{code:02x}", f"%{code:02X}"]
    return st.sampled_from(forms)


# The same escapes, read back: what a reader that decodes them would show of a scrubbed text.
_OTHER_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})|%([0-7][0-9a-fA-F])|&#([0-9]{1,7});|&#[xX]([0-9a-fA-F]{1,6});")


def _read_back(text: str) -> str:
    def char(match: re.Match[str]) -> str:
        json_unit, url_byte, decimal, hexadecimal = match.groups()
        code = int(decimal) if decimal else int(json_unit or url_byte or hexadecimal, 16)
        return match[0] if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else chr(code)

    return _OTHER_ESCAPES.sub(char, text)


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, data=st.data(), start=st.integers(0, 60), limit=st.integers(0, 400))
def test_a_fragment_spelled_with_other_writers_escapes_is_removed(
    secret: str, before: str, after: str, data: st.DataObject, start: int, limit: int
) -> None:
    """A target may echo a secret with every character escaped, or some: json.loads, or a browser, reads it plain."""
    start = min(start, len(secret) - MIN_FRAGMENT)
    fragment = secret[start : start + data.draw(st.integers(MIN_FRAGMENT, len(secret) - start))]
    spelled = "".join(data.draw(_spellings(char)) for char in fragment)
    text = before + spelled + after
    scrubber = Scrubber([secret])
    assert not leaks(_read_back(scrubber.text(text)), secret), text
    assert not leaks(_read_back(scrubber.cut(text, limit)), secret), (text, limit)


@pytest.mark.parametrize(
    "spell",
    [
        lambda s: s,
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: html.escape(s),
        lambda s: quote(s, safe=""),
    ],
    ids=["raw", "json-ascii", "json", "html", "url"],
)
def test_escaped_forms_of_a_secret_are_scrubbed(spell: Callable[[str], str]) -> None:
    token = 'MIIT"tok&en<é>/+=' + "x" * 20
    text = f"before {spell(token)} after"
    assert spell(token) not in Scrubber([token]).text(text)
    assert Scrubber([token]).text(text).startswith("before ***")


_SIGNATURE = "0f04f4e26230aa1c47b4b9d577158f2887361feab854c3d7420c407e370d0173"


_ONE_ESCAPE = [
    lambda c: f"\\u{ord(c):04x}",
    lambda c: f"%{ord(c):02X}",
    lambda c: f"&#{ord(c)};",
    lambda c: f"&#x{ord(c):X};",
]


@pytest.mark.parametrize("start", [0, 5, 32])
def test_a_fragment_with_one_character_escaped_anywhere_is_removed(start: int) -> None:
    """Where the escape stands decides which windows hold it: the first, the last, or one between."""
    secret = "QwErTy1234567890AsDfGhJkLzXcVbNm12345678"
    fragment = secret[start : start + MIN_FRAGMENT]
    scrubber = Scrubber([secret])
    for at in range(MIN_FRAGMENT):
        for escape in _ONE_ESCAPE:
            text = f"<{fragment[:at]}{escape(fragment[at])}{fragment[at + 1 :]}>"
            for scrubbed in (scrubber.text(text), scrubber.cut(text + "-" * 300, 100)):
                assert not leaks(_read_back(scrubbed), secret), (text, scrubbed)
            # Whole, escape and all, unless the escape's own digits and what follows are a
            # fragment too ("\u0031" then "2345678"): the plain pass, first, takes that one.
            if not any(text[i : i + MIN_FRAGMENT] in secret for i in range(len(text))):
                assert scrubber.text(text) == "<***>", text


@pytest.mark.parametrize(
    "spell",
    [lambda s: s, lambda s: json.dumps({"error_msg": f"bad: {s}"}), lambda s: quote(s, safe=""), str.upper],
    ids=["raw", "json", "url", "upper"],
)
def test_an_echoed_signature_is_scrubbed_without_any_secret_known(spell: Callable[[str], str]) -> None:
    """The AK is a secret and scrubbed as one; the signature beside it is of one request, but an auth header's."""
    header = f"SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature={_SIGNATURE}"
    scrubbed = Scrubber().text(f"before {spell(header)} after")
    assert not leaks(scrubbed.lower(), _SIGNATURE) and scrubbed.endswith(" after")
    assert "***" in scrubbed


def test_a_text_about_the_signature_is_left_as_it_is() -> None:
    text = "Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex (spec.yaml)"
    assert Scrubber().text(text) == text


@pytest.mark.parametrize("password", ["s3cret", "pa#ss", "pa?ss", "pa/ss", "pa@ss"])
def test_url_user_info_is_scrubbed_without_any_secret_known(password: str) -> None:
    text = f"see http://alice:{password}@dcs.example.com/v2 now"
    assert Scrubber().text(text) == "see http://***@dcs.example.com/v2 now"


def test_strings_in_keys_and_values_are_scrubbed() -> None:
    secret = "AKEXAMPLEKEY12345678"
    data = {f"x{secret}": [secret, {"k": f"…{secret[5:]}"}], "n": 3}
    assert not leaks(json.dumps(Scrubber([secret]).data(data)), secret)


# -- the reference the linear scrubber replaces -------------------------------------------
# What trips a URL scan or a fragment match: scheme and URL characters, their ends (quotes,
# ASCII and unicode whitespace), and characters secrets are drawn from.
_PIECES = ["://", "://", "a://", "1://", "@", "@", ":", "/", '"', "'", "<", ">"]
_PIECES += [" ", "\t", "\u3000", "\x85", "\xa0", "\u2028", "\x1c"]
_PIECES += ["a", "b", "Z", "0", "1", "9", "+", ".", "-", "%", "&", "é", "\\"]
oracle_secrets = st.lists(
    st.text(st.sampled_from(["a", "b", "1", ":", "/", "@", " ", "&", "é", '"']), max_size=14), max_size=3
)


@st.composite
def oracle_cases(draw: st.DrawFn) -> tuple[list[str], str]:
    secrets = draw(oracle_secrets)
    sources = [st.sampled_from(_PIECES), st.text(max_size=3)]
    if any(secrets):  # fragments of each form, so that matches start, stop and overlap anywhere
        forms = sorted(set().union(*(_forms(secret) for secret in secrets if secret)))
        sources.append(
            st.builds(lambda f, i, n: f[i : i + n], st.sampled_from(forms), st.integers(0, 40), st.integers(0, 40))
        )
    return secrets, "".join(draw(st.lists(st.one_of(sources), max_size=24)))


@settings(max_examples=1500, deadline=None)
@given(case=oracle_cases())
def test_the_linear_scrubber_gives_what_the_reference_gave(case: tuple[list[str], str]) -> None:
    """Then it reads what is left through other writers' escapes, which the reference did not (see below)."""
    secrets, text = case
    scrubber = Scrubber(secrets)
    assert scrubber.text(text) == scrubber._without_escaped_fragments(reference_scrub(secrets, text))


@pytest.mark.parametrize(
    "text",
    [
        "://x@y",
        "1abc://x@y",
        "1+.://x@y",
        "a:://x@y",
        "ab://c\u3000d@e",
        "ab://c\x1cd@e",
        "a://b@c://d@e f://g@h",
        "1://a://x@y",
        "@://b://c@d",
        "-://a@b c://d",
    ],
)
def test_url_edge_cases_agree_with_the_reference(text: str) -> None:
    assert Scrubber().text(text) == reference_scrub([], text)


# -- hostile text up to the body cap ------------------------------------------------------

BODY_CAP = 8 * 1024 * 1024
_LETTERS = st.text(st.sampled_from("abcxyzAZ09"), min_size=1, max_size=4)
_PADDING = st.text(st.sampled_from(' r"\n{}:,t'), max_size=6)


@st.composite
def hostile_cases(draw: st.DrawFn) -> tuple[list[str], str]:
    """A text of up to BODY_CAP characters, made of few drawn pieces repeated, and its secrets.

    Secrets are an AK, an SK and a token about as long as an IAM one (3,000 characters), with
    runs of one character in it, as padding that repeats the secret's own characters is the worst
    case for a matcher that grows matches.
    """
    ak = draw(st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), min_size=20, max_size=20))
    sk = draw(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=40, max_size=40))
    run = draw(st.sampled_from("tr0"))
    token = "MIIT" + draw(st.text(st.sampled_from("ABCxyz+/="), min_size=16, max_size=16)) * 180 + run * 100
    secrets = [ak, sk, token]
    size = draw(st.sampled_from([BODY_CAP // 8, BODY_CAP // 2, BODY_CAP]))
    room = size - 16 * 1024  # for the repeated part: what follows it is never cut off by the cap
    letters, padding = draw(_LETTERS), draw(_PADDING)
    shape = draw(st.sampled_from(["letters", "url-run", "echo", "escaped-echo", "token-echo", "mixed"]))
    secret = draw(st.sampled_from(secrets))
    if shape == "letters":  # a remark of letters with one e-mail address and one URL in it
        half = letters * (room // 2 // len(letters))
        text = f"{half} ops@example.com {half}https://alice:{secret}@dcs.example.com/"
    elif shape == "url-run":  # one run of URL characters with "://" all along it, and @ in it or past it
        unit = "a://" + letters + draw(st.sampled_from(["@", ""]))
        text = unit * (room // len(unit)) + " @ http://user:" + secret + "@h"
    elif shape == "echo":  # a secret echoed, JSON-escaped and not, between padding
        unit = padding + secret + padding + json.dumps(secret)[1:-1] + run * 9
        text = unit * max(1, room // len(unit))
    elif shape == "escaped-echo":  # a secret echoed with other writers' escapes, every character or some
        styles = [str, lambda c: f"\\u{ord(c):04x}", lambda c: f"%{ord(c):02X}", lambda c: f"&#{ord(c)};"]
        spelled = "".join(styles[index % len(styles)](char) for index, char in enumerate(secret))
        unit = padding + spelled + padding + run * 9
        text = unit * max(1, room // len(unit))
    elif shape == "token-echo":  # the token echoed thousands of times, cut anywhere
        cut = draw(st.integers(MIN_FRAGMENT, len(token)))
        unit = token[:cut] + padding + run * 200
        text = unit * max(1, room // len(unit)) + f"http://u:{sk}@h"
    else:  # e-mail-like @s, "://" and a secret split by padding, over and over
        unit = letters + "@" + padding + "://" + secret[: len(secret) // 2] + padding + secret[len(secret) // 2 :]
        text = unit * max(1, room // len(unit)) + f" ftp://{ak}@h"
    assert len(text) <= BODY_CAP
    return secrets, text


_KEPT_USERINFO_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?!\*\*\*@)[^\s\"'<>]*@")


@settings(max_examples=6, deadline=None)
@given(case=hostile_cases())
def test_hostile_text_up_to_the_body_cap_is_scrubbed(case: tuple[list[str], str]) -> None:
    secrets, text = case
    clean = _read_back(Scrubber(secrets).text(text))  # as a reader that decodes escapes would show it
    # leaks() looks each fragment up once: the distinct ones are enough, and far fewer here.
    survivors = {fragment for secret in secrets for fragment in set(fragments(secret)) if fragment in clean}
    assert not survivors, "a fragment of a secret survived"
    assert "alice" not in clean and "user:" not in clean and "http://u:" not in clean
    # Searched at both ends only: the regex is what is quadratic on the 8 MiB in between.
    for end in (clean[:400], clean[-400:]):
        assert not _KEPT_USERINFO_RE.search(end), end


# -- end to end ----------------------------------------------------------------------------

AK, SK = "ECHOAKEXAMPLE0000001", "echo-secret-key-example-00000000000000001"
TOKEN = 'MIIT"echo&token<' + "t" * 40 + ">end"
_RECORD = {
    "backup_id": "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
    "period": None,
    "backup_name": "backup_20190510163116",
    "instance_id": "i1",
    "size": 880232,
    "backup_type": "manual",
    "created_at": "2019-05-10T08:31:16.166Z",
    "updated_at": "2019-05-10T08:32:30.546Z",
    "progress": "100.00",
    "error_code": None,
    "remark": "001",
    "status": "succeed",
    "is_support_restore": "TRUE",
    "execution_at": "2019-05-11T08:31:16.166Z",
    "backup_format": "aof",
}


def _sent_credential(request: Received) -> str:
    if "x-auth-token" in request.headers:
        return request.headers["x-auth-token"]
    authorization = request.headers.get("authorization", "")
    return authorization.partition("Access=")[2].partition(",")[0]


def echoing(conn: socket.socket, request: Received, stopped: Callable[[], bool]) -> None:
    """Echoes the credential it was sent, in an enum field, a key and a free field, at a moving offset.

    The offsets walk across the reports' cut points: 200 characters for ``actual``, 600 for
    the excerpt, and the whole-body position of each field.
    """
    secret = _sent_credential(request)
    if not secret:
        answer("401 Unauthorized", b'{"error_msg": "no credentials", "error_code": "APIGW.0301"}')(
            conn, request, stopped
        )
        return
    shift = sum(map(ord, request.target)) % 64
    # The whole Authorization header too, with its signature: in a record and in a header of the answer.
    signed = request.headers.get("authorization", secret)
    # And spelled as other writers may: every character a URL's %XX, or a JSON escape (key and value).
    marker = "\x00escaped\x00"
    record = {
        "remark": "r" * (540 + shift) + secret,
        **_RECORD,
        "backup_name": "n" * shift + signed,
        "status": "s" * (170 + shift) + secret,
        f"x{secret}": 1,
        "percent": "".join(f"%{ord(char):02X}" for char in secret),
        f"u{marker}": marker,
    }
    text = json.dumps({"total_num": 1, "backup_record_response": [record]})
    body = text.replace(json.dumps(marker)[1:-1], "".join(f"\\u{ord(char):04x}" for char in secret)).encode()
    answer("200 OK", body, X_Echo=signed)(conn, request, stopped)


@pytest.mark.parametrize("credential", ["aksk", "token"])
def test_a_target_that_echoes_the_credential_leaks_no_fragment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], credential: str
) -> None:
    env = {"DCS_PROJECT_ID": "p1", "DCS_INSTANCE_ID": "i1"}
    env |= {"CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK} if credential == "aksk" else {"DCS_AUTH_TOKEN": TOKEN}
    baseline = tmp_path / "baseline.json"
    reports = tmp_path / "reports"
    flags = ["--max-examples", "5", "--rate-limit", "200", "--record", "--report-dir", str(reports)]
    flags += ["--baseline", str(baseline), "--baseline-update"]
    with HostileServer(echoing) as server:
        code = main(["run", *flags], env={**env, "DCS_BASE_URL": server.base_url})
        received = server.requests()
    captured = capsys.readouterr()
    assert code == 0, captured.err  # every finding is accepted into the baseline it writes
    outputs = {"stdout": captured.out, "stderr": captured.err, "baseline.json": baseline.read_text()}
    outputs |= {path.name: path.read_text() for path in reports.iterdir()}
    assert set(outputs) >= {"report.json", "report.md", "junit.xml", "traffic.har"}
    secrets = [AK, SK] if credential == "aksk" else [TOKEN]
    signatures = [
        r.headers["authorization"].rpartition("Signature=")[2] for r in received if "authorization" in r.headers
    ]
    assert bool(signatures) == (credential == "aksk")  # every signed request's (not the anonymous probe's)
    for secret in secrets:
        for spelling in {secret, json.dumps(secret)[1:-1], html.escape(secret)}:
            for name, text in outputs.items():
                assert not leaks(_read_back(text), spelling), f"{name} holds a fragment of a secret"
    # A signature is hex, written one way: each run of hex digits in an output, against all of them at once.
    signed = {fragment for signature in signatures for fragment in fragments(signature)}
    for name, text in outputs.items():
        for run in re.findall(f"[0-9a-f]{{{MIN_FRAGMENT},}}", text):
            assert not signed & set(fragments(run)), f"{name} holds a fragment of a signature"
    report = json.loads(outputs["report.json"])
    assert report["findings"] == [] and report["baseline"]["accepted"], "the echo is drift, and was accepted"
    # Scrubbed as whole texts too, and still what they were: JSON and XML that parse.
    assert json.loads(outputs["traffic.har"])["log"]["entries"] and json.loads(outputs["baseline.json"])["accepted"]
    assert ElementTree.fromstring(outputs["junit.xml"]).tag == "testsuite"
    assert {r.method for r in received} == {"GET"}
    assert len(received) == report["requests"]["total"]


# -- JSON outputs stay JSON --------------------------------------------------------------------

# Secrets that meet JSON's own tokens: digits (a number's), short ones replaced wherever they
# stand (a literal's letters), and ones with JSON's punctuation in them.
_JSON_MEETING_SECRETS = (
    st.from_regex(r"[1-9][0-9]{7,11}", fullmatch=True)
    | st.text("0123456789truefalsn.-", min_size=1, max_size=7)
    | st.text('ab": ,{}[]1', min_size=1, max_size=10)
)


@st.composite
def _documents_with_the_secret(draw: st.DrawFn, secret: str) -> object:
    """JSON documents whose numbers, literals, strings and keys may hold the secret."""
    numbers = [float("0.0" + secret), float(secret[:3] + "." + secret[3:]), int(secret)] if secret.isdigit() else []
    scalars = st.sampled_from([*numbers, 1e-5, 0.30000000000000004]) | st.integers() | st.text(max_size=4)
    scalars |= st.floats(allow_nan=False, allow_infinity=False) | st.just("id-" + secret) | st.booleans() | st.none()
    return draw(
        st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner))
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), secret=_JSON_MEETING_SECRETS, indent=st.sampled_from([None, 1, 2]))
def test_json_outputs_parse_and_hold_no_fragment_or_are_refused_with_a_reason(
    data: st.DataObject, secret: str, indent: int | None
) -> None:
    """Once a run's report.json did not parse: its SK had eight zeros in a row, and so did a latency."""
    document = data.draw(_documents_with_the_secret(secret))
    text = json.dumps(document, indent=indent, ensure_ascii=False) + "\n"
    scrubber = Scrubber([secret])
    try:
        written = scrubber.json_text(text, indent=indent)
    except ValueError as refused:
        assert "meets JSON's own syntax" in str(refused)
        assert len(secret) < MIN_FRAGMENT or set(secret) & set('":,{}[]'), "a secret of 8 digits or more is no refusal"
        return
    json.loads(written)
    assert not leaks(written, secret)
    plain = scrubber.text(text)
    with contextlib.suppress(ValueError):
        json.loads(plain)
        assert written == plain, "where the whole-text pass leaves JSON, its layout is kept"


def test_report_json_stays_a_report_when_a_latency_holds_a_fragment_of_the_sk(tmp_path: Path) -> None:
    """The latency is rounded until its text is clean: still a number, as the report's schema wants."""
    tiers = {"p50": 0.0100000000123, "p95": 0.020000000001, "max": 0.03}
    report = _report(latency={"schema-positive": {"requests": 3, "headers": tiers, "total": tiers}})
    written = write_reports(report, tmp_path, scrubber=Scrubber([AK, SK]))
    text = (tmp_path / "report.json").read_text()
    assert "00000000" not in text and [path.name for path in written] == ["report.json", "report.md", "junit.xml"]
    latency = read_report(tmp_path / "report.json").latency["schema-positive"]
    assert latency["total"] == {"p50": 0.01, "p95": 0.02, "max": 0.03} and latency["requests"] == 3
