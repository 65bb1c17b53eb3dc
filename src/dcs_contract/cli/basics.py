"""What the parser and every command share, importing nothing but the standard library and the
settings table: exit codes, default output paths, and messages on one line.

Apart from cli/common.py so that ``dcs-contract --help`` builds its parser without loading the
settings' resolution, the transport or the mock (test_startup.py holds this).
"""

from __future__ import annotations

from pathlib import Path

from dcs_contract.cli.flags import converter

EXIT_CONFORMS, EXIT_VIOLATIONS, EXIT_CONFIG, EXIT_UNTESTABLE, EXIT_ERROR = 0, 1, 2, 3, 4


EXIT_BY_VERDICT = {
    "conforms": EXIT_CONFORMS,
    "violations": EXIT_VIOLATIONS,
    "untestable": EXIT_UNTESTABLE,
    "error": EXIT_ERROR,
}


# check-har and sdk-check write their reports apart from a run's, by default.
HAR_REPORT_DIR, SDK_REPORT_DIR = Path("dcs-contract-har-report"), Path("dcs-contract-sdk-report")
# Where docs writes its page when --out is not given.
DOCS_OUT = Path("dcs-contract-docs")


REPORT_FILES = ("report.json", "report.md", "junit.xml")


def one_line(text: str) -> str:
    """A message as one line: a value echoed in it cannot add lines or control characters."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def indented_lines(text: str) -> str:
    """A message of several lines (a YAML error's mark and caret) with real newlines, each line escaped
    as :func:`one_line` escapes it; lines after the first indented, so none passes for a message of its own."""
    return "\n  ".join(one_line(line) for line in text.splitlines() or [""])


integer = converter(int, "an integer")
