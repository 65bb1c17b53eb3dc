"""The command line: ``dcs-contract`` and its commands, and what they print."""

from dcs_contract.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
