"""The ``dcs-contract`` command line: its commands and their flags (the settings' from cli/flags.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from dcs_contract.cli.common import (
    DRIFT_HELP,
    EXIT_CONFIG,
    FAULTS_HELP,
    HAR_REPORT_DIR,
    MOCK_HELPS,
    RECORDS_HELP,
    SDK_REPORT_DIR,
    integer,
    one_line,
)
from dcs_contract.cli.flags import add_flags
from dcs_contract.mock import DEFAULT_RECORD_COUNT
from dcs_contract.results.report import (
    harness_version,
)


class Parser(argparse.ArgumentParser):
    """Usage errors on one line, control characters escaped: argv is echoed back in them."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def _config_flags(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("configuration file (flag > env > profile > file defaults > built-in)")
    group.add_argument(
        "--config", type=Path, metavar="FILE", help="a dcs-contract.toml, or a pyproject.toml with [tool.dcs-contract]"
    )
    group.add_argument("--profile", metavar="NAME", help="a [profiles.NAME] table of the file [DCS_PROFILE]")


def _output_flags(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("output")
    amount = group.add_mutually_exclusive_group()
    amount.add_argument(
        "-v", "--verbose", action="store_true", help="also list what each check and invariant judged, and why not"
    )
    amount.add_argument("-q", "--quiet", action="store_true", help="print the verdict line only")
    group.add_argument("--no-color", action="store_true", help="no colour on a terminal [NO_COLOR]")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dcs-contract", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {harness_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="run the contract suite (default target: the embedded mock)",
        epilog="exit codes: 0 conforms, 1 contract violations, 2 usage or configuration error, "
        "3 the target could not be tested, 4 a bug in the harness (reports written, verdict error)",
    )
    add_flags(run, "run", helps=MOCK_HELPS)
    _config_flags(run)
    _output_flags(run)

    docs = commands.add_parser("docs", help="render the spec, and what targets last did, as a page")
    docs.add_argument("--out", type=Path, required=True, help="the directory for index.html and index.md")
    docs.add_argument(
        "--report",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="report.json of a run, for the conformance panel (several: one panel each)",
    )
    add_flags(docs, "docs", helps={"history": "; the page gets a timeline of each target's runs"})

    diff = commands.add_parser(
        "diff",
        help="what changed between two runs: findings, observed values, the spec",
        epilog="exit codes: 0 nothing new, 1 something new appeared, 2 usage error",
    )
    diff.add_argument("old", metavar="OLD", help="a report.json, or with --history a run id, last or previous")
    diff.add_argument("new", metavar="NEW", help="a report.json, or with --history a run id, last or previous")
    add_flags(diff, "diff", helps={"history": "; OLD and NEW are runs of it"})
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="default: text")
    diff.add_argument("--out", type=Path, help="write the diff to this file instead of stdout")

    history = commands.add_parser("history", help="the runs of a run history, and each finding's first and last run")
    add_flags(history, "history", helps={"history": " (required)"})
    history.add_argument("--last", type=integer, metavar="N", help="only the last N runs (findings: over the last N)")

    replay = commands.add_parser(
        "replay",
        help="send a report's findings again to the report's target (or the one configured), and say which are fixed",
        epilog="exit codes: 0 every finding fixed, 1 one still fails, 2 usage error, 3 the target could not be tested",
    )
    replay.add_argument("report", type=Path, metavar="REPORT", help="a report.json")
    replay.add_argument("--finding", metavar="FINGERPRINT", help="only this finding (a prefix is enough)")
    _config_flags(replay)
    replay.add_argument(
        "--mock",
        action="store_true",
        help="replay against the embedded mock, whatever the report's target (a live report is never replayed "
        "against the mock otherwise)",
    )
    add_flags(replay, "replay", helps=MOCK_HELPS)

    har = commands.add_parser(
        "check-har",
        help="check recorded traffic (HAR files) against the spec, sending nothing",
        epilog="exit codes: 0 conforms, 1 contract violations, 2 a broken HAR or usage error, "
        "3 no exchange of the endpoint in the recordings",
    )
    har.add_argument(
        "files", type=Path, nargs="+", metavar="FILE", help="HAR files: --record's, a browser's, a gateway's"
    )
    add_flags(har, "check-har", defaults={"report_dir": str(HAR_REPORT_DIR)})
    _output_flags(har)

    config = commands.add_parser("config", help="the settings a run would use, and where each comes from (redacted)")
    config.add_argument("action", choices=("show",), help="show: print the resolved settings")
    _config_flags(config)

    sdk = commands.add_parser("sdk-check", help="compare the spec with the official SDK's models")
    add_flags(sdk, "sdk-check", defaults={"report_dir": str(SDK_REPORT_DIR)})

    mock = commands.add_parser("mock", help="serve the embedded mock for development")
    mock.add_argument("--port", type=integer, default=8080, help="port on 127.0.0.1 (default 8080, 0: any free)")
    mock.add_argument("--project-id", help="the project id to serve (default: generated)")
    mock.add_argument("--instance-id", help="the instance id with backups (default: generated)")
    mock.add_argument("--records", type=integer, default=DEFAULT_RECORD_COUNT, help=RECORDS_HELP)
    mock.add_argument("--drift", action="append", default=[], metavar="NAME", help=DRIFT_HELP)
    mock.add_argument("--faults", action="store_true", help=FAULTS_HELP)
    return parser
