"""The command line's flags of the settings table (settings/table.py), grouped as ``--help`` shows them.

add_flags(run_parser, "run")                     # every setting the run takes, each absent as None
add_flags(har_parser, "check-har", defaults={"report_dir": "dcs-contract-har-report"})
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from dcs_contract.settings.table import CONVERTERS, KIND_TEXT, OPTIONS, Group, Option

__all__ = ["add_flags", "converter"]


def converter(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """An argparse type that only converts; the range is checked with the other settings, naming the flag."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None

    return parse


def _keywords(option: Option, *, help_suffix: str = "", default: str | None = None) -> dict[str, Any]:
    """How argparse takes ``option``: absent, every flag gives None, so that the configuration file can fill it."""
    keywords: dict[str, Any] = {"dest": option.name, "default": None, "help": option.describe(default, help_suffix)}
    if option.kind == "boolean":
        keywords["action"] = argparse.BooleanOptionalAction if option.negatable else "store_true"
        return keywords
    if option.kind == "names":
        keywords["action"] = "append"
    elif option.kind == "switch":
        keywords |= {"nargs": "?", "const": True}
    convert = CONVERTERS[option.kind]
    if convert is not None:
        keywords["type"] = converter(convert, KIND_TEXT[option.kind])
    if option.metavar:
        keywords["metavar"] = option.metavar
    return keywords


def add_flags(
    parser: argparse.ArgumentParser,
    command: str,
    *,
    helps: Mapping[str, str | Callable[[], str]] | None = None,
    defaults: dict[str, str] | None = None,
) -> None:
    """The flags of ``command``'s settings, in their groups.

    ``helps`` adds to an option's help: a text, or a function that gives it when ``--help`` is
    printed (what only an import of the mock can say); ``defaults`` says another default than
    the run's, for a command that applies its own (check-har's report directory).
    """
    for group in Group:
        options = [option for option in OPTIONS.values() if command in option.commands and option.group is group]
        if not options:
            continue
        added = parser.add_argument_group(group.value)
        for option in options:
            suffix, default = (helps or {}).get(option.name, ""), (defaults or {}).get(option.name)
            if isinstance(suffix, str):
                added.add_argument(option.flag, **_keywords(option, help_suffix=suffix, default=default))
                continue
            # argparse %-formats a help with the action's attributes when it prints it: the
            # function is called then, and parsing never pays for the import behind it.
            action = added.add_argument(option.flag, **_keywords(option, help_suffix="%(later)s", default=default))
            vars(action)["later"] = _Later(suffix)


class _Later:
    """Text given by a function when it is first shown (``%s`` calls ``str``)."""

    def __init__(self, text: Callable[[], str]) -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text()
