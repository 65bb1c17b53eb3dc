"""The one scrubber: every text that can reach an output goes through a :class:`Scrubber`.

Stdout, stderr, report.json, report.md, junit.xml, the HAR recording and the baseline file
are all written through it. It removes, wherever they appear:

- every secret (AK, SK, token) in each form an output can give it: as it is,
  JSON-escaped (with and without ``ensure_ascii``), HTML/XML-escaped and URL-escaped;
- any fragment of 8 or more characters of one of those forms, wherever it stands: what is
  left of a secret where a text was cut, by the harness or by anyone before it;
- such a fragment spelled, in part or whole, with the escapes other writers use: JSON's
  ``\u0048``, a URL's ``%48``, HTML's ``&#72;`` and ``&#x48;`` (a target may echo a secret so,
  and a reader of the body as JSON, check-har say, would show it plain);
- the user-info of a URL (``http://user:password@host``), and a ``password=`` parameter of a
  URL's query or of a libpq connection string (``postgresql://db/h?password=...``);
- a request signature (``Signature=`` and 32 hex digits or more, raw or URL-escaped): a
  target that echoes the ``Authorization`` header it got echoes the AK, a secret, and the
  signature, which is not one but is a part of an auth header all the same.

Text is scrubbed *before* it is cut, never after: :meth:`Scrubber.cut` scrubs a window a
little longer than the limit, then cuts, so a secret that straddles the cut point is gone
whole instead of surviving as a fragment the whole-secret match can no longer see.

    scrubber = Scrubber(credentials.secrets())
    text = scrubber.cut(response.text, 600)
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import re
import string
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from dcs_contract.contract.formats import printable

__all__ = ["MIN_FRAGMENT", "PLACEHOLDER", "SENSITIVE_HEADERS", "Scrubber"]

PLACEHOLDER = "***"
# The most a character grows when scrubbed: a lone surrogate becomes a six-character escape.
_GROWTH = 6
# A fragment this long of a secret is treated as the secret: shorter ones carry too little.
MIN_FRAGMENT = 8
# Headers that carry a credential (the AK/SK signature names the AK; the others are tokens).
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "x-auth-token", "x-security-token"})
# scheme://user:password@host: the user-info is dropped, whatever it holds. Up to the last @
# of the URL, since passwords are written with raw / ? # @ in them, whatever RFC 3986 says.
# The scheme is [A-Za-z][A-Za-z0-9+.-]*, the URL runs up to whitespace or " ' < >. It is found
# by a scan, not by one regex: a regex backtracks quadratically on a long run of letters.
_SCHEME_CHARS = string.ascii_letters + string.digits + "+.-"
_SCHEME_TAIL_CHARS = string.digits + "+.-"  # scheme characters that cannot start one
# One character class, so it searches in linear time; \s is exactly str.isspace() on str.
_URL_END_RE = re.compile(r"[\s\"'<>]")
_ELLIPSIS = "…"
# A password given as a parameter: ?password=, &password= or libpq's "password=" after a space.
# One greedy class at the end, with nothing after it to backtrack for: linear time.
_PASSWORD_PARAMETER_RE = re.compile(r"(?i)((?:^|[?&;\s])password=)[^&;\s\"'<>]+")
# SDK-HMAC-SHA256's, as transport/signing.py writes it: hex, 64 digits. From 32 on, so that a
# text about the scheme ("Signature=hex", the spec's own) is left as it is. One class: linear.
_SIGNATURE_RE = re.compile(r"(?i)(signature(?:=|%3d))[0-9a-f]{32,}")
# The escapes of the third item above: each spells one character. A URL's %XX is one byte, so
# only those below 0x80 stand for a character of their own; a surrogate's escape is half of one.
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|%([0-9a-fA-F]{2})|&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));")
# A window holding an escaped character reaches this many characters to either side of it.
_REACH = MIN_FRAGMENT - 1
_STRIDE = 4
# Every window of MIN_FRAGMENT characters holds a whole _STRIDE-gram at a multiple of _STRIDE.
assert MIN_FRAGMENT >= 2 * _STRIDE - 1


def _forms(secret: str) -> set[str]:
    """The secret as each writer could spell it."""
    forms = {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }
    return {form for form in forms if form}


class Scrubber:
    """Removes secrets from text. With no secret it still removes URL user-info."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= _forms(secret)
        # Forms too short to have fragments are replaced whole; the others by their fragments.
        self._short = sorted((form for form in forms if len(form) < MIN_FRAGMENT), key=len, reverse=True)
        self._long = sorted(form for form in forms if len(form) >= MIN_FRAGMENT)
        self._longest = max((len(form) for form in forms), default=0)
        # The characters fragments are made of: an escape of any other spells none.
        self._alphabet = frozenset("".join(self._long))
        # A text holds a fragment of a form exactly where one of its MIN_FRAGMENT-character windows
        # is a window of the form. Windows are only looked up around a multiple of _STRIDE whose
        # _STRIDE-gram is one of a form's: that skips most of an ordinary text at a quarter of
        # the look-ups, and costs a bounded number of look-ups a character on any text, whatever
        # the secrets' length or how often they repeat themselves.
        self._grams: frozenset[str] = frozenset(
            form[offset : offset + _STRIDE] for form in self._long for offset in range(len(form) - _STRIDE + 1)
        )
        self._windows: frozenset[str] = frozenset(
            form[offset : offset + MIN_FRAGMENT]
            for form in self._long
            for offset in range(len(form) - MIN_FRAGMENT + 1)
        )

    def __repr__(self) -> str:  # never show what it hides
        return f"Scrubber({len(self._short) + len(self._long)} forms)"

    def text(self, text: str) -> str:
        """``text`` with every secret, every fragment of one, and URL user-info replaced.

        Also made writable as UTF-8: a lone surrogate (JSON's ``"\\ud800"``, a UTF-7 body)
        becomes an escape, so that no writer fails on what a target sent.
        """
        text = printable(text)
        if "@" in text:
            text = _without_userinfo(text)
        lowered = text.lower()
        if "password=" in lowered:
            text = _PASSWORD_PARAMETER_RE.sub(lambda match: match[1] + PLACEHOLDER, text)
        if "signature" in lowered:
            text = _SIGNATURE_RE.sub(lambda match: match[1] + PLACEHOLDER, text)
        if self._grams:
            text = _replaced(text, self._fragment_spans(text))
        for form in self._short:
            if form in text:
                text = text.replace(form, PLACEHOLDER)
        # Last: what the passes above left, read through other writers' escapes. A form's own
        # escapes (quote's %3A) are windows of the form, gone whole already.
        return self._without_escaped_fragments(text) if self._grams else text

    def _without_escaped_fragments(self, text: str) -> str:
        """Each fragment that other writers' escapes (see _ESCAPE_RE) spell, in part or whole, replaced whole.

        The text is decoded once; only the windows holding an escaped character are searched
        (the plain pass searched the others), and each fragment found is put back where its
        escapes stand in ``text``. Two integers are kept per escape of a form's character.
        """
        at = array("q")  # where each escaped character stands in the decoded text
        shifts = array("q")  # how much longer than their characters the escapes so far are
        pieces: list[str] = []
        shift = last = 0
        for match in _ESCAPE_RE.finditer(text):
            char = _char_of(match[0])
            # A character of no form cannot be in a fragment: a body's %20s and CJK \u escapes
            # are left as they are, and cost nothing kept.
            if char is None or char not in self._alphabet:
                continue
            escape_start, escape_end = match.span()
            pieces += (text[last:escape_start], char)
            at.append(escape_start - shift)
            shift += escape_end - escape_start - 1
            shifts.append(shift)
            last = escape_end
        if not at:
            return text
        pieces.append(text[last:])
        decoded = "".join(pieces)
        found: list[tuple[int, int]] = []
        start = end = 0  # the region being gathered: decoded[start:end], none while end == 0
        for position in itertools.chain(at, (None,)):
            if position is not None and end and position - _REACH <= end:
                end = position + _REACH + 1  # this escape's windows overlap the region's
                continue
            if end:
                found += [(start + b, start + e) for b, e in self._fragment_spans(decoded[start:end])]
            if position is not None:
                start, end = max(position - _REACH, 0), position + _REACH + 1
        if not found:
            return text

        def where(boundary: int) -> int:
            escapes_before = bisect_left(at, boundary)
            return boundary + (shifts[escapes_before - 1] if escapes_before else 0)

        # In order and apart within a region, and regions apart: in order and apart in `text` too.
        return _replaced(text, [(where(begin), where(end)) for begin, end in found])

    def _fragment_spans(self, text: str) -> list[tuple[int, int]]:
        """Each run of overlapping (not merely touching) fragment windows: one placeholder each.

        That is what growing a maximal match of each form from each sampled gram and merging the
        overlapping ones gives, since a maximal match is the union of its overlapping windows, but
        it never walks over a secret once per time a target echoed it.
        """
        grams, windows, size = self._grams, self._windows, len(text)
        last_window = size - MIN_FRAGMENT
        spans: list[tuple[int, int]] = []
        begin = end = 0  # the run of windows being built: text[begin:end], none while end == 0
        for at in range(0, size - _STRIDE + 1, _STRIDE):
            if text[at : at + _STRIDE] not in grams:
                continue  # no window holding this gram is a form's, so none starting in (at - _STRIDE, at]
            if end > at and at <= last_window and text[at : at + MIN_FRAGMENT] in windows:
                # Inside an echoed secret: the run reaches past `at` and now takes in this window,
                # so the windows between them add nothing; one look-up for _STRIDE characters.
                end = at + MIN_FRAGMENT
                continue
            # Windows ending at or before `end` add nothing to the run, whether they are a form's or not.
            for window in range(max(at - _STRIDE + 1, end - MIN_FRAGMENT + 1, 0), min(at, last_window) + 1):
                if text[window : window + MIN_FRAGMENT] in windows:
                    if window >= end:  # touching the run is not overlapping it: a new placeholder
                        if end:
                            spans.append((begin, end))
                        begin = window
                    end = window + MIN_FRAGMENT
        if end:
            spans.append((begin, end))
        return spans

    def cut(self, text: str, limit: int) -> str:
        """At most ``limit`` characters of ``text`` (then "…"), scrubbed before the cut."""
        if len(text) <= limit:
            return self.text(text)
        # A window's scrubbing is exact but near its end, where a secret cut in two leaves a
        # piece that may be too short to recognise. What that end becomes is at most `margin`
        # characters (an escape is six times the character it stands for), so the window
        # grows until that much past the limit survives the scrubbing: secrets replaced by
        # *** shrink the text, and would otherwise pull the window's end into view.
        # A fragment spelled with other writers' escapes is at most ten characters a character,
        # 80 in all: within the margin, which is 96 at least wherever a form has fragments.
        margin = _GROWTH * (self._longest + MIN_FRAGMENT)
        size = limit + margin
        while True:
            window = text[:size]
            clean = self.text(window)
            if len(window) == len(text):
                return clean if len(clean) <= limit else clean[:limit] + _ELLIPSIS
            if len(clean) >= limit + margin:
                return clean[:limit] + _ELLIPSIS
            size *= 2

    def data(self, value: Any, *, literals: bool = False) -> Any:
        """A JSON-like value with every string in it, keys included, scrubbed.

        ``literals``: numbers, ``true``, ``false`` and ``null`` too, where their JSON text holds a
        secret or a fragment of one (see :meth:`_literal`).
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item, literals=literals) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item, literals=literals) for item in value]
        return self._literal(value) if literals else value

    def _literal(self, value: Any) -> Any:
        """A number, boolean or null whose JSON text holds no secret: a float rounded until its text
        holds none (a latency stays a number that a report's schema accepts), else the text scrubbed."""
        written = json.dumps(value)
        if self.text(written) == written:
            return value
        if isinstance(value, float):
            for digits in range(15, 0, -1):
                rounded = float(f"{value:.{digits}g}")
                if self.text(json.dumps(rounded)) == json.dumps(rounded):
                    return rounded
        return self.text(written)

    def json_text(self, text: str, *, indent: int | None) -> str:
        """JSON ``text`` with every secret and fragment replaced, and still JSON.

        The whole text is scrubbed, as any output is. A secret can stand in a number, though
        (a latency of 0.0100000000123 and an SK with eight zeros in a row) or in a literal (a
        secret shorter than a fragment, replaced wherever it appears), and the placeholder would
        cut the token: then the document is scrubbed value by value (:meth:`_literal`) and laid
        out again with ``indent``. A secret that meets JSON's own syntax, its punctuation
        (``ab": 1,``) or a short one inside an escape (``0`` in ``\\u001f``), can leave no JSON
        either way: that is a ValueError, which the writers report, never a file that does not parse.
        """
        scrubbed = self.text(text)
        if scrubbed == text or _is_json(scrubbed):
            return scrubbed
        data = self.data(json.loads(text), literals=True)
        ending = "\n" if text.endswith("\n") else ""
        scrubbed = self.text(json.dumps(data, indent=indent, ensure_ascii=False) + ending)
        if not _is_json(scrubbed):
            raise ValueError(
                "a secret meets JSON's own syntax (its punctuation, an escape): scrubbed, it would not parse"
            )
        return scrubbed


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _char_of(escape: str) -> str | None:
    """The character an escape of _ESCAPE_RE spells, or None where it spells none of its own.

    Remembered: a body of escapes holds few distinct ones, many times over.
    """
    if escape[0] == "\\" or escape[0] == "%":
        code = int(escape[2:] if escape[0] == "\\" else escape[1:], 16)
    else:
        code = int(escape[3:-1], 16) if escape[2] in "xX" else int(escape[2:-1])
    if (escape[0] == "%" and code >= 0x80) or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return None
    return chr(code)


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each of ``spans`` (in order, none overlapping) one placeholder."""
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for begin, end in spans:
        pieces += [text[last:begin], PLACEHOLDER]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _without_userinfo(text: str) -> str:
    """``text`` with the user-info of every URL in it replaced, in time linear in its length.

    Gives what ``re.sub`` of ``[A-Za-z][A-Za-z0-9+.-]*://[^\\s"'<>]*@`` by ``scheme://***@``
    gives, without its backtracking: each "://" settles the whole run of URL characters around
    it, since any later "://" in that run ends where it ends, so no region is scanned twice.
    """
    pieces: list[str] = []
    kept = 0  # text[:kept] is in pieces
    scanned = 0  # no URL starts before this: the end of the last match or of a run settled
    last_at = text.rfind("@")
    while True:
        colon = text.find("://", scanned)
        if colon < 0 or colon + 3 > last_at:
            break  # no "://" with an @ after it
        before = text[scanned:colon]
        scheme_begin = colon - (len(before) - len(before.rstrip(_SCHEME_CHARS)))
        # A match would start at the first letter of the scheme characters before "://"; with no
        # letter there, no URL ends at this "://", but a later one in the same run still may.
        if not text[scheme_begin:colon].lstrip(_SCHEME_TAIL_CHARS):
            scanned = colon + 3
            continue
        url_end = _URL_END_RE.search(text, colon + 3)
        run_end = len(text) if url_end is None else url_end.start()
        at = text.rfind("@", colon + 3, run_end)
        if at >= 0:
            pieces += [text[kept : colon + 3], PLACEHOLDER, "@"]
            kept = at + 1
        scanned = run_end
    if not pieces:
        return text
    pieces.append(text[kept:])
    return "".join(pieces)
