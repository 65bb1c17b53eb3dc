"""The command line: ``dcs-contract`` and its commands, and what they print."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcs_contract.lazy import exports

if TYPE_CHECKING:
    from dcs_contract.cli.app import build_parser, main

__all__ = ["build_parser", "main"]

# Imported on first use (dcs_contract.lazy): the console script imports cli.app itself.
__getattr__, __dir__ = exports(__name__, dict.fromkeys(__all__, "dcs_contract.cli.app"))
