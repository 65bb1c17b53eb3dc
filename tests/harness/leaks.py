"""What the self-tests call a leak: any run of MIN_FRAGMENT characters of a secret, in any output."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from dcs_contract.redaction import MIN_FRAGMENT


def fragments(secret: str) -> Iterator[str]:
    """Every run of MIN_FRAGMENT characters of ``secret`` (the secret itself when shorter)."""
    if len(secret) < MIN_FRAGMENT:
        yield secret
        return
    for start in range(len(secret) - MIN_FRAGMENT + 1):
        yield secret[start : start + MIN_FRAGMENT]


def leaks(text: str, secret: str) -> list[str]:
    """The fragments of ``secret`` that ``text`` holds."""
    return [fragment for fragment in fragments(secret) if fragment in text]


def assert_no_leak(outputs: Mapping[str, str], secrets: Iterable[str]) -> None:
    """No output (by name) holds a fragment of any secret."""
    for secret in secrets:
        for name, text in outputs.items():
            assert not leaks(text, secret), f"{name} holds a fragment of a secret"
