"""The installed harness's version: what ``--version``, a report and a history's header name.

Its own module, importing only the standard library, so that ``dcs-contract --version`` and
``--help`` answer without loading the report's machinery (test_startup.py holds this).
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

__all__ = ["harness_version"]


@cache  # read from the installed metadata's files; every report of a process asks
def harness_version() -> str:
    """The installed dcs-contract's version, for a report to say which harness judged the target."""
    try:
        return metadata.version("dcs-contract")
    except metadata.PackageNotFoundError:
        return "unknown"
