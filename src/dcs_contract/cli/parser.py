"""The dcs-contract command line: its commands and their flags (the settings' from cli/flags.py).

No flag may be abbreviated (``--max-r`` is no ``--max-requests``): a flag the command does not
take is refused, with the nearest ones it does take.
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dcs_contract.cli.basics import DOCS_OUT, EXIT_CONFIG, HAR_REPORT_DIR, SDK_REPORT_DIR, integer, one_line
from dcs_contract.cli.flags import add_flags
from dcs_contract.version import harness_version

# The mock command's flags before they took run's names: refused, with the one to use.
RENAMED = {
    "--records": "--mock-records",
    "--drift": "--mock-drift",
    "--faults": "--mock-faults",
    "--drift-every": "--mock-drift-every",
    "--data-seed": "--mock-data-seed",
}


def _drift_names() -> str:
    from dcs_contract.mock.drift import DRIFTS

    return f": {', '.join(sorted(DRIFTS))}"


def _fault_plan() -> str:
    from dcs_contract.mock import FaultPlan

    return f": {FaultPlan().describe()}"


def _record_count() -> str:
    from dcs_contract.mock import DEFAULT_RECORD_COUNT

    return f" (default {DEFAULT_RECORD_COUNT})"


# What the settings table cannot say of the embedded mock without importing it: imported when a
# command's --help is printed, not to parse (cli/flags.py).
MOCK_HELPS = {"mock_drift": _drift_names, "mock_faults": _fault_plan, "mock_records": _record_count}


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, without breaking a line at a hyphen: a drift switch's name stays whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """Usage errors on one line, control characters escaped: argv is echoed back in them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.commands: dict[str, Parser] = {}

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.commands:
            # The flag belongs to a command: suggest from that command's flags, not the top level's.
            command = self.commands.get(getattr(parsed, "command", None) or "", self)
            command.refuse(extras)
        return parsed, extras

    def refuse(self, extras: Sequence[str]) -> NoReturn:
        flag = next((extra.split("=", 1)[0] for extra in extras if extra.startswith("-")), None)
        if flag is None:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        if flag in RENAMED and RENAMED[flag] in self._option_string_actions:
            self.error(f"{flag} is now {RENAMED[flag]}, as run names it")
        known = [option for option in self._option_string_actions if option.startswith("--")]
        near = difflib.get_close_matches(flag, known, n=3, cutoff=0.6)
        # An abbreviation is refused too: the flags it would have begun suggest themselves.
        near += [option for option in known if option.startswith(flag) and option not in near][:3]
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        self.error(f"unrecognized argument: {flag}{hint}")


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
    parser = Parser(prog="dcs-contract", description="The contract suite of DCS's List Backup Records, and its tools.")
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
    docs.add_argument(
        "--out",
        type=Path,
        default=DOCS_OUT,
        metavar="DIR",
        help=f"the directory for index.html and index.md (default: {DOCS_OUT})",
    )
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
    _config_flags(docs)

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
    _config_flags(diff)

    history = commands.add_parser(
        "history", help="the runs of a run history, each finding's first and last run, each target's latency"
    )
    add_flags(history, "history", helps={"history": " (required)"})
    _config_flags(history)
    history.add_argument("--last", type=integer, metavar="N", help="only the last N runs (findings: over the last N)")
    history.add_argument(
        "--coverage",
        action="store_true",
        help="per target, what the spec documents that no run has observed (statuses, enum values, optional fields)",
    )

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
    _config_flags(har)
    _output_flags(har)

    config = commands.add_parser("config", help="the settings a run would use, and where each comes from (redacted)")
    config.add_argument("action", choices=("show",), help="show: print the resolved settings")
    _config_flags(config)

    sdk = commands.add_parser("sdk-check", help="compare the spec with the official SDK's models")
    add_flags(sdk, "sdk-check", defaults={"report_dir": str(SDK_REPORT_DIR)})
    _config_flags(sdk)

    annotate = commands.add_parser(
        "annotate",
        help="a report's findings as annotations on the spec's lines: GitHub workflow commands, GitLab Code Quality",
        epilog="exit codes: 0 no failing finding, 1 failing findings, 2 usage error",
    )
    annotate.add_argument("report", type=Path, metavar="REPORT", help="a report.json")
    annotate.add_argument(
        "--format",
        choices=("github", "gitlab"),
        default="github",
        help="github: ::error lines; gitlab: a Code Quality report (default: github)",
    )
    annotate.add_argument(
        "--spec-file",
        metavar="PATH",
        help="the spec's path as the repository names it (default: --spec relative to the working directory)",
    )
    annotate.add_argument("--out", type=Path, metavar="FILE", help="write to this file instead of stdout")
    add_flags(annotate, "annotate")
    _config_flags(annotate)

    mock = commands.add_parser("mock", help="serve the embedded mock for development")
    mock.add_argument("--port", type=integer, default=8080, help="port on 127.0.0.1 (default 8080, 0: any free)")
    # Its own dests: the ids it serves are not a run's target settings, which a profile would fill.
    mock.add_argument("--project-id", dest="serve_project_id", help="the project id to serve (default: generated)")
    mock.add_argument(
        "--instance-id", dest="serve_instance_id", help="the instance id with backups (default: generated)"
    )
    add_flags(mock, "mock", helps=MOCK_HELPS)
    _config_flags(mock)
    parser.commands = {name: command for name, command in commands.choices.items() if isinstance(command, Parser)}
    return parser
