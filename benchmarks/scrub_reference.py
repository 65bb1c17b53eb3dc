"""``Scrubber.text`` as it was up to issue 19, kept as written then: the oracle the linear scrubber is
tested against (tests/harness/test_scrubbing.py) and timed beside (benchmarks/scrub.py).
It lives here, with the benchmark, so that it is one copy: the tests import it from here.

Right on every input, but quadratic on long runs of letters (the user-info regex) and on
echoed secrets (a match grown from every sampled gram).
"""

from __future__ import annotations

import re

from dcs_contract.contract.formats import printable
from dcs_contract.redaction import MIN_FRAGMENT, PLACEHOLDER, _forms

__all__ = ["ReferenceScrubber", "reference_scrub"]


REFERENCE_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s\"'<>]*@")


def reference_without_fragments(text: str, long_forms: list[str]) -> str:
    grams: dict[str, list[tuple[str, int]]] = {}
    for form in long_forms:
        for offset in range(len(form) - 4 + 1):
            grams.setdefault(form[offset : offset + 4], []).append((form, offset))
    spans: list[tuple[int, int]] = []
    size = len(text)
    for at in range(0, size - 4 + 1, 4):
        for form, offset in grams.get(text[at : at + 4], ()):
            begin, end = at, at + 4
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
        if begin < last:
            pieces[-1] = PLACEHOLDER
            last = max(last, end)
            continue
        pieces += [text[last:begin], PLACEHOLDER]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


class ReferenceScrubber:
    """The old ``Scrubber``: its forms and grams made once, as the old one made them."""

    def __init__(self, secrets: list[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= _forms(secret)
        self.short = sorted((form for form in forms if len(form) < MIN_FRAGMENT), key=len, reverse=True)
        self.long_forms = sorted(form for form in forms if len(form) >= MIN_FRAGMENT)

    def text(self, text: str) -> str:
        text = printable(text)
        if "@" in text:
            text = REFERENCE_USERINFO_RE.sub(lambda m: m["scheme"] + PLACEHOLDER + "@", text)
        if self.long_forms:
            text = reference_without_fragments(text, self.long_forms)
        for form in self.short:
            if form in text:
                text = text.replace(form, PLACEHOLDER)
        return text


def reference_scrub(secrets: list[str], text: str) -> str:
    return ReferenceScrubber(secrets).text(text)
