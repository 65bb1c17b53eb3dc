"""Markdown from what a target sends: one escaper, and every document that writes Markdown uses it.

Each document (report.md, the diff, the CI's job summary, the docs' index.md) is rendered
twice, once with a hostile text in every field a target or a report controls and once with a
plain one, and both are parsed by a real CommonMark parser (markdown-it-py, with GitHub's tables
and strikethrough). The hostile one must have the same structure (blocks, table cells, links,
images, HTML, emphasis, code), and the hostile text must read as itself.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from dcs_contract.cli.history import step_summary
from dcs_contract.contract.findings import ConsumerImpact, Finding, RequestInfo
from dcs_contract.contract.formats import printable
from dcs_contract.contract.spec import Spec
from dcs_contract.docs.render import build_docs
from dcs_contract.docs.timeline import clip
from dcs_contract.redaction import Scrubber
from dcs_contract.results.diff import ReportDiff, render_markdown
from dcs_contract.results.history import History
from dcs_contract.results.markdown import Markdown, bullet, cell, code, code_block, escape, heading, table
from dcs_contract.results.observed import Observations
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo, markdown_of, write_reports
from dcs_contract.results.schema import read_report
from dcs_contract.transport.guard import DEFAULT_MAX_BODY

# CommonMark, with GitHub's tables and strikethrough. GitHub also links bare URLs (linkify):
# a URL a text holds is shown as itself, and may be linked there as any URL in a text is.
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Nodes a text from a target must never make: they link, load or run something.
ACTIVE = frozenset({"link_open", "image", "html_inline", "html_block"})
# Leaves that carry the text itself; every other node is structure.
TEXT = frozenset({"text", "text_special", "softbreak"})

PLAIN = "plain words"
HOSTILE = {
    "link": "[click](https://evil.example/x) [ref][evil] <https://evil.example/auto> [evil]: https://evil.example/d",
    "image": "![evil](https://evil.example/pixel.png) ![evil][1] [![evil](x)](y)",
    "html": "<img src=x onerror=alert('evil')> <script>evil()</script> <a href='https://evil.example'>x</a> <!-- e -->",
    "table": "evil | cell || \\| | ` | ` | end",
    "backticks": "`evil` ``ev`il`` ```evil``` ```` `",
    "heading": "# evil #",
    "blocks": "evil\n\n# heading\n\n- item\n> quote\r\n```\nfence\n    indented\n<div>evil</div>\n[evil]: /x\n===\n---",
    "list": "- evil",
    "ordered": "1) evil",
    "setext": "===",
    "emphasis": "*evil* _evil_ **evil** __evil__ ~~evil~~ ~evil~ $evil$ ***",
    "entities": "&lt;b&gt;evil&lt;/b&gt; &amp; &#x3C;script&#62; &copy;",
    "backslashes": "evil\\ \\[x\\](y) \\* \\",
    "edges": "(https://evil.example) evil!",
    "surrogates": "evil \ud800 \udfff end",
    "long": "[evil](https://evil.example) <b>x</b> `` | # \n" * 1000,
}
HOSTILE_IDS = list(HOSTILE)


@lru_cache(maxsize=8)
def _parsed(markdown: str) -> tuple[Token, ...]:
    """The document's blocks, parsed once: each check below reads a document again, and a docs
    page is the spec's whole reference (parsing it six times was half of test_the_docs_page's
    time under cProfile)."""
    return tuple(PARSER.parse(markdown))


def _tokens(markdown: str) -> list[Token]:
    """Every node of the parsed document, blocks and the inline nodes in them."""
    nodes: list[Token] = []
    for token in _parsed(markdown):
        nodes.append(token)
        nodes.extend(token.children or ())
    return nodes


def _active(markdown: str) -> list[str]:
    """The links, images and HTML of a document: what they point at or hold."""
    shown = []
    for token in _tokens(markdown):
        if token.type in ACTIVE:
            shown.append(f"{token.type} {token.attrGet('href') or token.attrGet('src') or token.content}")
    return sorted(shown)


def _structure(markdown: str) -> list[str]:
    """The document without its words: blocks, table cells, emphasis, code spans, links, tags."""
    return [f"{token.type}:{token.tag}" for token in _tokens(markdown) if token.type not in TEXT]


def _texts(markdown: str) -> list[str]:
    """What each line of inline text reads as, code spans included."""
    texts = []
    for token in _parsed(markdown):
        if token.type == "inline":
            kept = (
                c.content if c.type in ("text", "text_special", "code_inline") else " " for c in token.children or ()
            )
            texts.append("".join(kept))
    return texts


def _blocks(markdown: str) -> list[str]:
    """What each code block holds."""
    return [token.content for token in _parsed(markdown) if token.type in ("fence", "code_block")]


# What the writers take for a line break and put on one line, as results.markdown documents it.
LINE_BREAKS = ("\r\n", "\n", "\v", "\f", "\r", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _folded(text: str) -> str:
    """``text`` as UTF-8 can carry it (a lone surrogate as its escape), each line break a space."""
    text = printable(text)
    for line_break in LINE_BREAKS:
        text = text.replace(line_break, " ")
    return text


def _reads(text: str) -> str:
    """How a text reads once written: on one line, without the spaces around it."""
    return _folded(text).strip(" \t")


def _one_line(markdown: str) -> bool:
    return not any(line_break in markdown for line_break in LINE_BREAKS)


def _assert_safe(hostile: str, plain: str, shown: list[str], blocks: tuple[str, ...] = ()) -> None:
    """``hostile`` is ``plain`` with texts from a target: the same structure, and each text reads as itself.

    ``shown``: texts on a line of inline text; ``blocks``: texts in a code block, line for line.
    """
    assert not [node for node in _active(hostile) if "evil" in node], "a link, image or tag from the text"
    assert _active(hostile) == _active(plain), "the text added or removed a link, image or tag"
    assert _structure(hostile) == _structure(plain), "the text changed the document's structure"
    texts = _texts(hostile)
    for text in shown:
        assert any(_reads(text) in read for read in texts), f"{_reads(text)[:200]!r} does not read as itself"
    for text in blocks:
        lines = printable(text).replace("\r\n", "\n").replace("\r", "\n")
        assert lines + "\n" in _blocks(hostile), f"{lines[:200]!r} is not a code block of its own"


# -- the checks themselves -------------------------------------------------------------------


def test_the_checks_see_a_link_an_image_a_tag_and_a_block() -> None:
    """A hostile text written unescaped fails them, and escaped passes: the tests below can fail."""
    places = {
        "link": "- actual: {}\n",
        "image": "- actual: {}\n",
        "html": "- actual: {}\n",
        "emphasis": "- actual: {}\n",
        "backticks": "- actual: {}\n",
        "list": "{}\n",
        "heading": "{}\n",
        "setext": "before\n{}\n",
        "table": "| a |\n|---|\n| {} |\n",
        "blocks": "{}\n",
    }
    for name, place in places.items():
        with pytest.raises(AssertionError):
            _assert_safe(place.format(HOSTILE[name]), place.format(PLAIN), [HOSTILE[name]])
        _assert_safe(place.format(escape(HOSTILE[name])), place.format(PLAIN), [HOSTILE[name]])


# -- the escaper and the writers, on any text --------------------------------------------------

# Text rich in what Markdown acts on, with line breaks, digits at the start and a lone surrogate.
# Not starting or ending with a space of another kind (NBSP...): a parser strips those from a line.
_MARKUP = st.text(
    alphabet=st.sampled_from(list("\\`*_~[]()!<>&#|$-+=.:/@ aZ09\t\n\r\u2028é\ud800")) | st.characters(codec="utf-8"),
    max_size=40,
).filter(lambda text: "\x00" not in text and _reads(text)[:1].strip() and _reads(text)[-1:].strip())
# Each place a writer puts a text: alone on a line, continuing a paragraph (a setext underline, an
# interrupting block), a list item, a heading, a table cell, after a "]" and before a "[".
_CONTEXTS = [
    "{}\n",
    "before\n{}\n",
    "{}\nafter\n",
    "- {}\n",
    "## {}\n",
    "| h |\n|---|\n| {} |\n",
    "[a]{}\n",
    "{}[a](https://trusted.example)\n",
]


@settings(max_examples=300, deadline=None)
@given(text=_MARKUP, context=st.sampled_from(_CONTEXTS))
def test_an_escaped_text_reads_as_itself_wherever_it_is_put(text: str, context: str) -> None:
    assert _one_line(escape(text))
    _assert_safe(context.format(escape(text)), context.format("plain"), [text])


@settings(max_examples=300, deadline=None)
@given(text=_MARKUP, context=st.sampled_from(["x {} y\n", "{}\n", "- {}\n", "## {}\n", "| h |\n|---|\n| {} |\n"]))
def test_a_code_span_holds_its_value_whatever_backticks_or_pipes_it_has(text: str, context: str) -> None:
    span = code(text, in_table=context.startswith("|"))
    assert _one_line(span)
    (value,) = [token.content for token in _tokens(context.format(span)) if token.type == "code_inline"]
    assert value == _folded(text)
    assert _structure(context.format(span)) == _structure(context.format("`x`"))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("`~ \n\rab<>[]()|")) | st.characters(codec="utf-8"), max_size=80))
def test_a_code_block_cannot_be_closed_from_inside(text: str) -> None:
    text = text.replace("\x00", "")
    markdown = "\n".join([*code_block(text, info="text"), "after *this*"]) + "\n"
    blocks = [token for token in PARSER.parse(markdown) if token.type == "fence"]
    assert len(blocks) == 1 and blocks[0].info == "text"
    lines = printable(text).replace("\r\n", "\n").replace("\r", "\n")
    assert blocks[0].content == lines + "\n"
    assert [token.type for token in _tokens(markdown) if token.type == "em_open"] == ["em_open"], "Markdown after it"


def test_the_writers_escape_a_text_and_keep_markdown() -> None:
    assert heading(2, "a *b*") == "## a \\*b\\*"
    assert heading(3, Markdown(f"{escape('t')}: {code('/x')}")) == "### t: `/x`"
    assert bullet("- x", depth=1) == "  - \\- x"
    assert cell("a|b") == "a\\|b" and cell(Markdown("`a|b` c\\|d\ne")) == "`a\\|b` c\\|d e"
    assert table(["a", Markdown("`b`")], [["x|y", code("p|q", in_table=True)]]) == [
        "| a | `b` |",
        "|---|---|",
        "| x\\|y | `p\\|q` |",
    ]
    assert code("") == "" and code("a`b") == "``a`b``" and code("`") == "`` ` ``" and code(" a ") == "`  a  `"
    assert code_block("x\n````\ny") == ["`````", "x", "````", "y", "`````"]
    # GitHub's maths, which the parser here does not read: "$" is escaped all the same.
    assert escape("$x$ and $$y$$") == "\\$x\\$ and \\$\\$y\\$\\$"
    # Only where a character acts is it escaped: the middle of "x-sdk" or "alert(1)" is inert.
    assert escape("x-sdk +00:00 alert(1) a!b") == "x-sdk +00:00 alert(1) a!b"
    assert [escape(t) for t in ("- a", "+ a", "=", "(a", ":a", "a!", "12. a", "3) a")] == [
        "\\- a",
        "\\+ a",
        "\\=",
        "\\(a",
        "\\:a",
        "a\\!",
        "12\\. a",
        "3\\) a",
    ]
    # Digits and "." or ")" start a list only before a space, a tab or the end: a latency does not.
    assert [escape(t) for t in ("0.048 / 0.050", "3)x", "1.", "7)\tx")] == ["0.048 / 0.050", "3)x", "1\\.", "7\\)\tx"]
    with pytest.raises(ValueError, match="level=7"):
        heading(7, "x")
    with pytest.raises(ValueError, match="2 columns"):
        table(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="info="):
        code_block("x", info="a`b")


def test_the_escaper_is_linear_on_the_body_cap_of_hostile_text() -> None:
    """The largest body a run reads, all of it what Markdown acts on: seconds, not a backtracking scan's minutes."""
    for unit in ("[<`|\\", "`" * 1000 + "a", "123456789(", "-" * 64 + "\n"):
        text = (unit * (DEFAULT_MAX_BODY // len(unit) + 1))[:DEFAULT_MAX_BODY]
        begin = time.perf_counter()
        escape(text), code(text, in_table=True), code_block(text), cell(Markdown(text))
        assert time.perf_counter() - begin < 10, unit[:12]


# -- each document -------------------------------------------------------------------------------


# What a run's finding says it breaks: the spec's x-consumers, its own Markdown, which report.md keeps.
SPEC_CONSUMER = ConsumerImpact("Terraform data source huaweicloud_dcs_backups", "loops forever on `offset`")


def _report(
    text: str, *, base_url: str = "https://dcs.example.com", consumers: ConsumerImpact | None = None
) -> RunReport:
    """A run's report with ``text`` in every field a target (or a hand-made report) controls.

    ``consumers``: what the finding breaks; by default ``text`` too, as a hand-made report.json may say.
    """
    finding = Finding(
        check="response_schema_conformance",
        category="enum",
        title=text,
        message=text,
        # A location or detail with a lone surrogate has no fingerprint: no run writes one.
        location=printable(text),
        expected=text,
        actual=text,
        detail=printable(text),
        requests=(RequestInfo(method="GET", url=f"https://dcs.example.com/v2/p/instances/i/backups?q={text}"),),
        consumers=(consumers or ConsumerImpact(text, text),),
        first_seen=3,
        confirmation=text,
    )
    return RunReport(
        target=TargetInfo(base_url=base_url, project_id="p", instance_id=text),
        started="2026-11-26T00:00:00+00:00",
        finished="2026-11-26T00:00:01+00:00",
        seed=1,
        cases={"schema-positive": 3},
        requests=RequestCounts(total=3, by_status={"200": 3}),
        findings=[finding],
        error=text,
        crash=text,
        observed=Observations(enum_values={"status": {text: 1}}),
    )


def _kinds(name: str) -> tuple[tuple[str, str], ...]:
    """The hostile text called ``name``, and the plain one its document is compared with."""
    return (("hostile", HOSTILE[name]), ("plain", PLAIN))


def _before() -> RunReport:
    """The run before: nothing found, so that the diff lists the finding as new."""
    return replace(
        _report(PLAIN), findings=[], error=None, crash=None, observed=Observations(enum_values={"status": {"plain": 1}})
    )


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_report_md(name: str, tmp_path: Path) -> None:
    hostile = HOSTILE[name]
    documents = {}
    for kind, text in _kinds(name):
        write_reports(_report(text, consumers=SPEC_CONSUMER), tmp_path / kind, scrubber=Scrubber())
        documents[kind] = (tmp_path / kind / "report.md").read_text(encoding="utf-8")
    assert f"\n  - {SPEC_CONSUMER}\n" in documents["hostile"], "the spec's text as it is written"
    shown = _report(hostile).scrubbed(Scrubber())
    (finding,) = shown.findings
    assert shown.error is not None and shown.crash is not None
    # The title and the location (a code span) in a heading, the values in list items, the
    # message and the traceback in code blocks, the reason the run was cut short in a paragraph.
    texts = [finding.title, finding.location, finding.actual, finding.expected, shown.error]
    blocks = (finding.message.strip(), shown.crash.strip())
    _assert_safe(documents["hostile"], documents["plain"], texts, blocks)


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_the_diff(name: str) -> None:
    markdown = {kind: render_markdown(ReportDiff.between(_before(), _report(text))) for kind, text in _kinds(name)}
    diff = ReportDiff.between(_before(), _report(HOSTILE[name]))
    (ref,) = diff.new
    values = [value.value for value in diff.appeared]
    _assert_safe(markdown["hostile"], markdown["plain"], [ref.title, ref.location, ref.detail, *values])


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_the_ci_job_summary(name: str, tmp_path: Path) -> None:
    documents = {}
    for kind, text in _kinds(name):
        path = tmp_path / f"{kind}.md"
        report = _report(text, consumers=SPEC_CONSUMER)
        step_summary(path, markdown_of(report, scrubber=Scrubber()), ReportDiff.between(_before(), _report(text)))
        documents[kind] = path.read_text(encoding="utf-8")
    (finding,) = _report(HOSTILE[name]).scrubbed(Scrubber()).findings
    (ref,) = ReportDiff.between(_before(), _report(HOSTILE[name])).new
    _assert_safe(documents["hostile"], documents["plain"], [finding.title, finding.actual, ref.title])
    assert documents["hostile"].count("\n## Since the previous run\n") == 1


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_the_docs_page(name: str, spec: Spec, tmp_path: Path) -> None:
    """index.md with a run report's conformance panel and a history's timeline, both hostile."""
    documents = {}
    for kind, text in _kinds(name):
        report = _report(text, base_url=f"https://dcs.example.com/{text}")
        write_reports(report, tmp_path / kind, scrubber=Scrubber())
        with History.open(tmp_path / f"{kind}.sqlite") as history:
            history.append(report.scrubbed(Scrubber()))
        build_docs(
            spec,
            tmp_path / kind / "site",
            reports=[tmp_path / kind / "report.json"],
            history=tmp_path / f"{kind}.sqlite",
        )
        documents[kind] = (tmp_path / kind / "site" / "index.md").read_text(encoding="utf-8")
    written = read_report(tmp_path / "hostile" / "report.json")
    (finding,) = written.findings
    assert written.target.base_url is not None and written.error is not None
    panel = [written.target.base_url, finding.title, finding.location, finding.actual, written.error]
    timeline = [
        clip(written.target.base_url, "base_url"),
        clip(finding.title, "title"),
        clip(finding.location, "location"),
    ]
    _assert_safe(documents["hostile"], documents["plain"], [*panel, *timeline])
