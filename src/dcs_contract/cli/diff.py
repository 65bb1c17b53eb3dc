"""``dcs-contract diff OLD NEW``: what changed between two runs.

OLD and NEW are report.json files, run ids of ``--history``, or ``last`` and ``previous``.
Exit 1 when something new appeared (a finding, an observed value, a breaking change of the
spec), else 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from dcs_contract.errors import ConfigError
from dcs_contract.results.diff import ReportDiff, as_dict, render_markdown, render_text
from dcs_contract.results.history import History, NoPreviousRun
from dcs_contract.results.report import RunReport
from dcs_contract.results.schema import read_report

__all__ = ["diff_command", "report_of"]


def report_of(ref: str, history: History | None, flag: str) -> RunReport:
    """A report.json path, or (with a history) a run id, ``last`` or ``previous``."""
    path = Path(ref)
    if history is not None and (ref.strip().lower() in ("last", "previous") or ref.strip().isdigit()):
        return history.report(history.resolve(ref))
    if ref in ("last", "previous"):
        raise ConfigError(f"{flag}={ref!r} names a run of a history: give --history FILE")
    if not path.exists():
        hint = " (a run id needs --history FILE)" if ref.isdigit() else ""
        raise ConfigError(f"{flag}={ref!r}: no such report.json{hint}")
    return read_report(path, where=f"{flag}={ref!r}")


def diff_command(args: argparse.Namespace, out: TextIO) -> int:
    history = History.open(args.history, create=False) if args.history else None
    try:
        old = report_of(args.old, history, "OLD")
        new = report_of(args.new, history, "NEW")
    except NoPreviousRun as exc:
        if history is None or "previous" not in (args.old.strip().lower(), args.new.strip().lower()):
            raise
        # The first night, or a history the CI's cache lost: nothing to compare with is no error.
        # Any other HistoryError (a damaged run, say) is one, with either ref: a green night on a
        # damaged history would hide it.
        out.write(f"dcs-contract diff: nothing to compare with yet: {exc}\n")
        return 0
    finally:
        if history is not None:
            history.close()
    diff = ReportDiff.between(old, new)
    if args.format == "json":
        text = json.dumps(as_dict(diff), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_markdown(diff) if args.format == "markdown" else render_text(diff)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        out.write(f"dcs-contract: wrote {args.out}\n")
    else:
        out.write(text if text.endswith("\n") else text + "\n")
    return 1 if diff.something_new else 0
