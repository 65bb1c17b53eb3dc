"""Markdown for report.md, the diff, the CI's job summary and the docs' index.md: one escaper, and the writers on it.

A text from a target (a finding's ``actual``, a title, a URL) is shown as itself: no link,
image, HTML tag, emphasis, heading, list or table cell comes of it, in CommonMark or in
GitHub's Markdown. Two functions make it so, and every writer calls them:

- :func:`escape` writes a text as inline Markdown, on one line.
- :func:`code` writes a value as a code span, fenced by more backticks than it holds.

:class:`Markdown` marks a str as Markdown already written, as markupsafe's ``Markup`` marks
HTML. The writers (:func:`heading`, :func:`bullet`, :func:`cell`, :func:`table`) take it as
it is and escape any other str, so that a text forgotten unescaped shows as text, not markup::

    lines = [heading(2, Markdown(f"{escape(finding.title)}: {code(finding.location)}"))]
    lines += [bullet(Markdown(f"actual: {escape(finding.actual)}")), bullet(consumer, depth=1)]
    lines += code_block(finding.message)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from dcs_contract.contract.formats import printable

__all__ = ["Markdown", "bullet", "cell", "code", "code_block", "escape", "heading", "table"]


class Markdown(str):
    """A str that is Markdown already, on one line: the writers take it as it is.

    :func:`escape` and :func:`code` give one; ``Markdown(f"...")`` marks a line written of their
    results and of the writer's own literals.
    """

    __slots__ = ()


# Characters that CommonMark or GitHub's Markdown acts on wherever they stand: the escape itself,
# code, emphasis and strikethrough, links, images and footnotes, HTML tags and autolinks (with
# "<" escaped, ">" starts nothing but a quote; escaped all the same, as "<" is), entities,
# headings (a trailing "#" closes one), table cells, and GitHub's maths. Each gets a backslash,
# which CommonMark reads back as the character itself.
_ANYWHERE = "\\`*_~[]<>&#|$"
_ESCAPED = str.maketrans({ch: "\\" + ch for ch in _ANYWHERE})
# Characters that act only in one place, escaped where a text could put them there: "-", "+"
# and "=" at the start of a line (a list item, a setext underline, a rule), "(" or ":" right
# after a "]" (a link's destination, a link definition), "!" right before a "[" (an image). In
# the middle of a text they are inert, since "[" and "]" are always escaped: "x-sdk", "+00:00"
# and "alert(1)" stay as written.
_FIRST = "-+=(:"
_LAST = "!"
# A line that starts with up to 9 digits and "." or ")", then a space, a tab or nothing, is an
# ordered list item; "0.048" (a latency) or "3)x" starts none, and stays as written.
_ORDERED_RE = re.compile(r"[0-9]{1,9}[.)](?=[ \t]|$)")
# What CommonMark, GitHub or a browser takes for a line break. A text is put on one line, and
# a code span too (CommonMark reads a span's line breaks as spaces).
_LINE_BREAK_RE = re.compile(r"\r\n|[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")
_BACKTICKS_RE = re.compile(r"`+")
_UNESCAPED_PIPE_RE = re.compile(r"(?<!\\)\|")


def _one_line(text: str) -> str:
    return _LINE_BREAK_RE.sub(" ", text)


def escape(text: object) -> Markdown:
    """``text`` as inline Markdown that renders as the text itself, on one line and within a table cell.

    Line breaks become spaces and the text is stripped, so that it starts no block (an indented
    code block, a hard line break); a lone surrogate becomes its escape (``\\ud800``), which
    UTF-8 can carry. Time linear in the text's length: a target's text meets no backtracking.
    """
    flat = _one_line(printable(str(text))).strip(" \t")
    escaped = flat.translate(_ESCAPED)
    if ordered := _ORDERED_RE.match(escaped):
        escaped = f"{escaped[: ordered.end() - 1]}\\{escaped[ordered.end() - 1 :]}"
    elif escaped and escaped[0] in _FIRST:
        escaped = "\\" + escaped
    if escaped and escaped[-1] in _LAST:
        escaped = escaped[:-1] + "\\" + escaped[-1]
    return Markdown(escaped)


def code(text: object, *, in_table: bool = False) -> Markdown:
    """``text`` as a code span: fenced by one backtick more than its longest run, on one line.

    ``in_table``: the span is in a table cell, where GitHub splits cells at a ``|`` even in a
    span unless it is escaped (and shows it without the backslash). An empty text gives "".
    """
    value = _one_line(printable(str(text)))
    if not value:
        return Markdown("")
    if in_table:
        value = value.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS_RE.findall(value)), default=0) + 1)
    # CommonMark strips one space from each end of a span that has one at both: a value that
    # starts or ends with a backtick, or has such spaces, gets one more on each side.
    edged = value[0] == "`" or value[-1] == "`" or (value[0] == value[-1] == " " and bool(value.strip(" ")))
    return Markdown(f"{fence} {value} {fence}" if edged else f"{fence}{value}{fence}")


def _inline(content: str) -> str:
    return _one_line(content) if isinstance(content, Markdown) else escape(content)


def heading(level: int, content: str) -> str:
    """An ATX heading line: ``heading(2, "Resolved")`` is ``## Resolved``."""
    if not 1 <= level <= 6:
        raise ValueError(f"level={level!r}, but a Markdown heading is of level 1..6")
    return f"{'#' * level} {_inline(content)}"


def bullet(content: str, *, depth: int = 0) -> str:
    """A list item line, nested ``depth`` levels under the item before it."""
    if depth < 0:
        raise ValueError(f"depth={depth!r}, but it must be 0 or more")
    return f"{'  ' * depth}- {_inline(content)}"


def cell(content: str) -> Markdown:
    """What a table cell holds, that stays in its cell: a text escaped, or Markdown with its ``|`` escaped.

    Markdown (the spec's own, with its `code` spans) keeps its markup: each line break becomes a
    space, and a ``|`` without a backslash gets one, which GitHub reads back as ``|``, in a code
    span too. A code span whose value may hold a backslash before a ``|`` wants ``code(value, in_table=True)``.
    """
    if not isinstance(content, Markdown):
        return escape(content)
    return Markdown(_UNESCAPED_PIPE_RE.sub(r"\\|", _one_line(content)))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a table; each cell goes through :func:`cell`, so a text is escaped and stays in its cell."""

    def line(cells: Sequence[str]) -> str:
        if len(cells) != len(header):
            raise ValueError(f"a row of {len(cells)} cells, but the table has {len(header)} columns: {cells!r}")
        # A space on each side: a text that ends with an escaped backslash cannot escape the "|".
        return "| " + " | ".join(cell(content) for content in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def code_block(text: str, *, info: str = "") -> list[str]:
    """The lines of a fenced code block holding ``text``: the fence is longer than any backtick run in it.

    Only a line of at least as many backticks closes the block, so no line of ``text`` can
    close it and write Markdown after it. ``info``: the language, such as "python".
    """
    if "`" in info or _one_line(info) != info:
        raise ValueError(f"info={info!r}, but a fence's info string holds no backtick and no line break")
    body = printable(text)
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS_RE.findall(body)), default=0) + 1)
    return [fence + info, *re.split(r"\r\n|\r|\n", body), fence]
