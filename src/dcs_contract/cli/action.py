"""What the GitHub Action (action.yml) runs: ``dcs-contract run`` from the action's inputs, then annotations.

The inputs come as environment variables (``DCS_ACTION_PROFILE`` ...), never on a command line
that the log echoes, and the credentials only as the run reads them, from the step's
environment (``CLOUD_SDK_AK``, ``CLOUD_SDK_SK``, ``DCS_AUTH_TOKEN``). The run itself writes
the job summary (``GITHUB_STEP_SUMMARY``); this adds each finding as an annotation on the
spec's line (``::error file=...,line=N::``) and the step's outputs (``GITHUB_OUTPUT``): the
report directory, which the action uploads, the verdict and the exit code.

    python -m dcs_contract.cli.action      # exits as dcs-contract run exits
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import yaml

from dcs_contract.cli.basics import EXIT_CONFIG
from dcs_contract.cli.common import history_secrets, resolved_args, secrets_in
from dcs_contract.errors import ConfigError
from dcs_contract.redaction import Scrubber
from dcs_contract.results.annotations import escape_data

__all__ = ["INPUTS", "action_argv", "main"]

# The action's inputs, by the environment variable action.yml sets each in, and the run's flag.
INPUTS = {
    "DCS_ACTION_PROFILE": "--profile",
    "DCS_ACTION_SETTINGS": "--config",
    "DCS_ACTION_HISTORY": "--history",
    "DCS_ACTION_FAIL_ON": "--fail-on",
    "DCS_ACTION_BASELINE": "--baseline",
}
# Further flags of dcs-contract run, as one shell-quoted line (the input ``args``).
EXTRA_ARGS = "DCS_ACTION_ARGS"


def action_argv(env: Mapping[str, str]) -> list[str]:
    """``dcs-contract run``'s arguments from the action's inputs: an empty input is left out."""
    argv = ["run"]
    for variable, flag in INPUTS.items():
        value = env.get(variable, "").strip()
        if value:
            argv += [flag, value]
    try:
        argv += shlex.split(env.get(EXTRA_ARGS, ""))
    except ValueError as exc:
        raise ConfigError(f"the input args cannot be read as shell words: {exc}") from None
    return argv


def _report_dir(argv: list[str], env: Mapping[str, str]) -> Path:
    """Where the run writes its reports, resolved as the run resolves it (flag > env > profile > file)."""
    from dcs_contract.cli.parser import build_parser

    args, _ = resolved_args(build_parser().parse_args(argv), env)
    return Path(args.report_dir)


def _spec_file(argv: list[str], env: Mapping[str, str]) -> tuple[Path, str]:
    """The spec the run judged by, and its path from the checkout's root (GitHub places annotations by it)."""
    from dcs_contract.cli.annotate import shown_path
    from dcs_contract.cli.parser import build_parser
    from dcs_contract.contract.spec import default_spec_path

    args, _ = resolved_args(build_parser().parse_args(argv), env)
    spec = Path(args.spec) if args.spec else default_spec_path()
    workspace = env.get("GITHUB_WORKSPACE")
    if workspace:
        try:
            return spec, Path(os.path.abspath(spec)).relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass
    return spec, shown_path(spec)


def _annotate(report: Path, spec: Path, spec_file: str, out: TextIO) -> None:
    from dcs_contract.results.annotations import SpecLines, github_commands
    from dcs_contract.results.schema import read_report

    findings = read_report(report).findings
    out.write(github_commands(findings, SpecLines.read(spec), spec_file=spec_file))


def _outputs(path: str | None, values: Mapping[str, str]) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as output:
        output.write("".join(f"{name}={value}\n" for name, value in values.items()))


def main(env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    from dcs_contract.cli.app import main as dcs_contract

    environment = os.environ if env is None else env
    stream = sys.stdout if out is None else out
    # What this prints is kept in the job's log and the pull request's checks: a password in
    # the history's URL, a proxy's or the credentials are scrubbed, as the run's outputs are.
    scrubber = Scrubber([*secrets_in(environment), *history_secrets(environment.get("DCS_ACTION_HISTORY", ""))])
    try:
        argv = action_argv(environment)
        report_dir = _report_dir(argv, environment)
        spec, spec_file = _spec_file(argv, environment)
    except ConfigError as exc:
        stream.write(f"::error title=dcs-contract::{escape_data(scrubber.text(str(exc)))}\n")
        _outputs(environment.get("GITHUB_OUTPUT"), {"exit-code": str(EXIT_CONFIG), "verdict": "usage-error"})
        return EXIT_CONFIG
    except SystemExit:  # the parser refused an input (said why on stderr), or --help: no run either way
        _outputs(environment.get("GITHUB_OUTPUT"), {"exit-code": str(EXIT_CONFIG), "verdict": "usage-error"})
        return EXIT_CONFIG
    stream.write(scrubber.text(f"dcs-contract {shlex.join(argv)}") + "\n")
    stream.flush()
    report = report_dir / "report.json"
    # A report left by an earlier run in the same directory is not this run's: it is not annotated.
    before = report.stat().st_mtime_ns if report.is_file() else None
    code = dcs_contract(argv, env=environment)
    verdict = "none"
    if report.is_file() and report.stat().st_mtime_ns != before:
        try:
            _annotate(report, spec, spec_file, stream)
            from dcs_contract.results.schema import load_report

            verdict = str(load_report(report).get("verdict", "none"))
        except (ConfigError, OSError, ValueError, yaml.YAMLError) as exc:
            # The run's exit code stands: annotations are a view of its report, not its verdict.
            stream.write(f"::warning title=dcs-contract::{escape_data(scrubber.text(f'no annotations: {exc}'))}\n")
    _outputs(
        environment.get("GITHUB_OUTPUT"),
        {"report-dir": str(report_dir), "verdict": verdict, "exit-code": str(code)},
    )
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
