"""The one scrubber: every text that can reach an output goes through a :class:`Scrubber`.

Stdout, stderr, report.json, report.md, junit.xml, the HAR recording and the baseline file
are all written through it. It removes, wherever they appear:

- every secret (AK, SK, token), whole, in each form an output can give it: as it is,
  JSON-escaped (with and without ``ensure_ascii``), HTML/XML-escaped and URL-escaped;
- any prefix of 8 or more characters of one of those forms at the end of a text, and any
  suffix of 8 or more at its start: what is left of a secret where a text was cut;
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

__all__ = ["MIN_FRAGMENT", "PLACEHOLDER", "SENSITIVE_HEADERS", "Scrubber"]

PLACEHOLDER = "***"
# A fragment this long of a secret is treated as the secret: shorter ones carry too little.
MIN_FRAGMENT = 8
# Headers that carry a credential (the AK/SK signature names the AK; the others are tokens).
SENSITIVE_HEADERS = frozenset({"authorization", "x-auth-token", "x-security-token"})
# scheme://user:password@host: the user-info is dropped, whatever it holds.
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s@\"'<>]*@")
_ELLIPSIS = "…"


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
        # Longest first: a form that contains another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)
        self._longest = max((len(form) for form in self._forms), default=0)

    def __repr__(self) -> str:  # never show what it hides
        return f"Scrubber({len(self._forms)} forms)"

    def text(self, text: str) -> str:
        """``text`` with every secret, fragment at its ends, and URL user-info replaced."""
        if "@" in text:
            text = _USERINFO_RE.sub(lambda m: m["scheme"] + PLACEHOLDER + "@", text)
        for form in self._forms:
            if form in text:
                text = text.replace(form, PLACEHOLDER)
        return self._ends(text)

    def _ends(self, text: str) -> str:
        """Drop what a cut left of a secret: a prefix at the end, a suffix at the start."""
        if len(text) < MIN_FRAGMENT:
            return text
        for form in self._forms:
            # A prefix of `form` at the end of `text` ends with text's last MIN_FRAGMENT characters.
            tail, start = text[-MIN_FRAGMENT:], 0
            while (found := form.find(tail, start)) != -1:
                size = found + MIN_FRAGMENT
                if size < len(form) and text.endswith(form[:size]):
                    text = text[:-size] + PLACEHOLDER
                    break
                start = found + 1
            head, start = text[:MIN_FRAGMENT], 1
            while (found := form.find(head, start)) != -1:
                if text.startswith(form[found:]):
                    text = PLACEHOLDER + text[len(form) - found :]
                    break
                start = found + 1
        return text

    def cut(self, text: str, limit: int) -> str:
        """At most ``limit`` characters of ``text`` (then "…"), scrubbed before the cut."""
        if len(text) <= limit:
            return self.text(text)
        # Every secret that reaches into the first `limit` characters lies whole in this window.
        window = self.text(text[: limit + self._longest])
        if len(window) <= limit:
            return window + _ELLIPSIS
        return self._ends(window[:limit]) + _ELLIPSIS

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string in it, keys included, scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Headers with every credential-bearing value replaced, and the rest scrubbed."""
        return tuple(
            (name, "[REDACTED]" if name.lower() in SENSITIVE_HEADERS else self.text(value)) for name, value in headers
        )
