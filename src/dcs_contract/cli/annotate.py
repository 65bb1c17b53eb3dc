"""``dcs-contract annotate``: a report's findings as annotations on the spec's lines (GitHub, GitLab)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

import yaml

from dcs_contract.cli.basics import EXIT_CONFORMS, EXIT_VIOLATIONS
from dcs_contract.contract.spec import default_spec_path
from dcs_contract.errors import ConfigError
from dcs_contract.results.annotations import SpecLines, code_quality, github_commands
from dcs_contract.results.schema import read_report
from dcs_contract.settings.target import check_output_file

__all__ = ["annotate_command"]


def shown_path(spec: Path) -> str:
    """The spec's path as a repository names it: relative to the working directory when inside it.

    GitHub and GitLab place an annotation by the path from the checkout's root, where CI runs.
    """
    absolute = Path(os.path.abspath(spec))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return spec.as_posix()


def annotate_command(args: argparse.Namespace, out: TextIO) -> int:
    report = read_report(args.report, where=f"REPORT {str(args.report)!r}")
    spec = Path(args.spec) if args.spec else default_spec_path()
    try:
        lines = SpecLines.read(spec)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"--spec={str(spec)!r} cannot be read as YAML: {exc}") from None
    spec_file = args.spec_file or shown_path(spec)
    write = github_commands if args.format == "github" else code_quality
    text = write(report.findings, lines, spec_file=spec_file)
    if args.out is None:
        out.write(text)
    else:
        check_output_file(args.out, f"--out={str(args.out)!r}")
        args.out.write_text(text, encoding="utf-8")
    return EXIT_VIOLATIONS if report.failing else EXIT_CONFORMS
