"""The one scrubber: every text that can reach an output goes through a :class:`Scrubber`.

Stdout, stderr, report.json, report.md, junit.xml, the HAR recording and the baseline file
are all written through it. It removes, wherever they appear:

- every secret (AK, SK, token) in each form an output can give it: as it is,
  JSON-escaped (with and without ``ensure_ascii``), HTML/XML-escaped and URL-escaped;
- any fragment of 8 or more characters of one of those forms, wherever it stands: what is
  left of a secret where a text was cut, by the harness or by anyone before it;
- the user-info of a URL (``http://user:password@host``).

Text is scrubbed *before* it is cut, never after: :meth:`Scrubber.cut` scrubs a window a
little longer than the limit, then cuts, so a secret that straddles the cut point is gone
whole instead of surviving as a fragment the whole-secret match can no longer see.

    scrubber = Scrubber(credentials.secrets())
    text = scrubber.cut(response.text, 600)
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from dcs_contract.formats import printable

__all__ = ["MIN_FRAGMENT", "PLACEHOLDER", "SENSITIVE_HEADERS", "Scrubber"]

PLACEHOLDER = "***"
# A fragment this long of a secret is treated as the secret: shorter ones carry too little.
MIN_FRAGMENT = 8
# Headers that carry a credential (the AK/SK signature names the AK; the others are tokens).
SENSITIVE_HEADERS = frozenset({"authorization", "x-auth-token", "x-security-token"})
# scheme://user:password@host: the user-info is dropped, whatever it holds. Up to the last @
# of the URL, since passwords are written with raw / ? # @ in them, whatever RFC 3986 says.
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s\"'<>]*@")
_ELLIPSIS = "…"
_STRIDE = 4


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
        # Every run of MIN_FRAGMENT or more characters of a form holds, at a position that is a
        # multiple of _STRIDE in the text, one of the form's _STRIDE-grams: sampling the text there
        # finds every fragment at a quarter of the look-ups, whatever the secrets' length.
        self._grams: dict[str, list[tuple[str, int]]] = {}
        for form in self._long:
            for offset in range(len(form) - _STRIDE + 1):
                self._grams.setdefault(form[offset : offset + _STRIDE], []).append((form, offset))

    def __repr__(self) -> str:  # never show what it hides
        return f"Scrubber({len(self._short) + len(self._long)} forms)"

    def text(self, text: str) -> str:
        """``text`` with every secret, every fragment of one, and URL user-info replaced.

        Also made writable as UTF-8: a lone surrogate (JSON's ``"\\ud800"``, a UTF-7 body)
        becomes an escape, so that no writer fails on what a target sent.
        """
        text = printable(text)
        if "@" in text:
            text = _USERINFO_RE.sub(lambda m: m["scheme"] + PLACEHOLDER + "@", text)
        if self._grams:
            text = self._without_fragments(text)
        for form in self._short:
            if form in text:
                text = text.replace(form, PLACEHOLDER)
        return text

    def _without_fragments(self, text: str) -> str:
        spans: list[tuple[int, int]] = []
        grams, size = self._grams, len(text)
        for at in range(0, size - _STRIDE + 1, _STRIDE):
            for form, offset in grams.get(text[at : at + _STRIDE], ()):
                begin, end = at, at + _STRIDE
                # Grow the match both ways while text and form agree.
                while begin > 0 and offset - (at - begin) > 0 and text[begin - 1] == form[offset - (at - begin) - 1]:
                    begin -= 1
                while end < size and offset + (end - at) < len(form) and text[end] == form[offset + (end - at)]:
                    end += 1
                if end - begin >= MIN_FRAGMENT:
                    spans.append((begin, end))
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for begin, end in sorted(spans):
            if begin < last:  # overlaps the span before: extend it
                pieces[-1] = PLACEHOLDER
                last = max(last, end)
                continue
            pieces += [text[last:begin], PLACEHOLDER]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def cut(self, text: str, limit: int) -> str:
        """At most ``limit`` characters of ``text`` (then "…"), scrubbed before the cut."""
        if len(text) <= limit:
            return self.text(text)
        # Every secret that reaches into the first `limit` characters lies whole in this window.
        window = text[: limit + self._longest]
        clean = self.text(window)
        if len(window) == len(text) and len(clean) <= limit:
            return clean  # scrubbing alone brought it within the limit: nothing was cut
        return clean[:limit] + _ELLIPSIS

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string in it, keys included, scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value
