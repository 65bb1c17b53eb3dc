"""The ``dcs-contract`` command: ``run`` the contract suite, render the ``docs``, or serve the ``mock``.

Exit codes:

- 0: the target conforms;
- 1: contract violations (also when the run was cut short after finding some);
- 2: a usage or configuration error, found before anything is sent: one line on stderr
  names the variable or flag;
- 3: the target could not be tested (unreachable, credentials refused, retries used up, the
  budget spent before the probe plan was sent whole, or the run stopped by SIGTERM/SIGINT
  before it found anything). A run whose probe plan was sent exits on its verdict, even when
  retries ate into its exploration;
- 4: the harness failed, not the target: a bug, or an output it could not write after it
  sent requests (a full disk). The reports are still written, with verdict ``error`` and the
  traceback, which is also printed on stderr; when they cannot be written, stderr says so.

SIGTERM (a CI job timeout, ``docker stop``) stops a run as Ctrl-C does: nothing more is
sent, the reports of what was found so far are written, and the exit code is that verdict's.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping, Sequence

from dcs_contract.cli.basics import EXIT_CONFIG, EXIT_ERROR, EXIT_UNTESTABLE, indented_lines
from dcs_contract.cli.parser import build_parser
from dcs_contract.errors import ConfigError, RunStopped, SpecError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    # Each command's module is imported when it is chosen: --help, config, history, diff and
    # docs never load schemathesis, hypothesis or uvicorn, which only a run, a replay, check-har
    # and the mock need (test_startup.py holds this).
    args = build_parser().parse_args(argv)
    # Only a command loads the settings' machinery: --help and a usage error never pay for it.
    from dcs_contract.cli.common import CONFIGURED, configured, secrets_in
    from dcs_contract.redaction import Scrubber

    environment = os.environ if env is None else env
    if env is None and "hypothesis" not in sys.modules:
        # This process is the harness's own, and hypothesis is its engine, not a test framework
        # of the user's: the plugins other packages register for it (trio's loads pytest) are
        # not its business, and loading them doubled hypothesis's import. A value set stays.
        os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
    # Whatever reaches stderr from here may carry a configured credential (in a traceback, in a
    # value echoed back): it goes through the scrubber too.
    say = Scrubber(secrets_in(environment)).text
    try:
        if args.command in CONFIGURED:
            args = configured(args, environment)
        if args.command == "annotate":
            from dcs_contract.cli.annotate import annotate_command

            return annotate_command(args, sys.stdout)
        if args.command == "mock":
            from dcs_contract.cli.mock import mock_command

            mock_command(args, environment, sys.stdout)
        if args.command == "docs":
            from dcs_contract.cli.docs import docs_command

            return docs_command(args, sys.stdout)
        if args.command == "sdk-check":
            from dcs_contract.cli.sdk_check import sdk_check_command

            return sdk_check_command(args, sys.stdout)
        if args.command == "diff":
            from dcs_contract.cli.diff import diff_command

            return diff_command(args, sys.stdout)
        if args.command == "history":
            from dcs_contract.cli.history import history_command

            return history_command(args, sys.stdout)
        if args.command == "replay":
            from dcs_contract.cli.replay import replay_command

            return replay_command(args, environment, sys.stdout)
        if args.command == "check-har":
            from dcs_contract.cli.check_har import check_har_command

            return check_har_command(args, environment, sys.stdout)
        if args.command == "config":
            from dcs_contract.cli.config_show import config_command

            return config_command(args, environment, sys.stdout)
        from dcs_contract.cli.run import run_command

        return run_command(args, environment, sys.stdout, sys.stderr)
    except (ConfigError, SpecError) as exc:
        sys.stderr.write(say(f"dcs-contract: {indented_lines(str(exc))}") + "\n")
        return EXIT_CONFIG
    except OSError as exc:
        # docs and sdk-check send nothing: an output they cannot write is a usage error. A run
        # writes its own outputs, and one it cannot write after sending is exit 4 (finish).
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(say(f"dcs-contract: cannot write{where}: {exc.strerror or exc}") + "\n")
        return EXIT_CONFIG
    except RunStopped as exc:
        # Not expected: a signal raises only inside a request of a run, which reports it itself.
        sys.stderr.write(f"dcs-contract: {exc}, before the run started\n")
        return EXIT_UNTESTABLE
    except KeyboardInterrupt:
        sys.stderr.write("dcs-contract: interrupted\n")
        return 130
    except Exception:
        sys.stderr.write(say(f"dcs-contract: the harness failed (a bug in dcs-contract):\n{traceback.format_exc()}"))
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
