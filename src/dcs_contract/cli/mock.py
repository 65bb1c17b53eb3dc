"""``dcs-contract mock``: the embedded mock served on its own, for a staging-like local run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import NoReturn, TextIO

from dcs_contract.cli.common import mock_options_of
from dcs_contract.cli.summary import plural
from dcs_contract.contract.spec import load_spec
from dcs_contract.errors import ConfigError
from dcs_contract.mock import DEFAULT_RECORD_COUNT, MockServer, MockState, create_app
from dcs_contract.settings.table import BOUNDS
from dcs_contract.settings.target import check_id
from dcs_contract.transport.signing import AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE, Credentials

__all__ = ["mock_command"]


def mock_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> NoReturn:
    """Serve until interrupted: Ctrl-C (KeyboardInterrupt) is the only way out."""
    spec = load_spec()
    given = Credentials.from_env(env)
    # The --mock-* flags, checked and read as run reads them.
    options = mock_options_of(args)
    options.setdefault("records", DEFAULT_RECORD_COUNT)
    BOUNDS["port"].check("--port", args.port)
    for flag, value in (("--project-id", args.serve_project_id), ("--instance-id", args.serve_instance_id)):
        if value is not None:
            check_id(value, flag)
    state = MockState.default(
        spec,
        project_id=args.serve_project_id,
        instance_id=args.serve_instance_id,
        credentials=given,
        **options,
    )
    try:
        server = MockServer(create_app(state), port=args.port).start()
    except RuntimeError as exc:
        raise ConfigError(f"--port={args.port!r}: {exc}") from None
    out.write(f"dcs-contract mock on {server.base_url}   (Ctrl-C stops it)\n")
    if options["drifts"] or "faults" in options:
        drifts = ", ".join(options["drifts"]) or "none"
        out.write(f"  drift: {drifts}; faults: {'on' if 'faults' in options else 'off'}\n")
    out.write(f"  DCS_BASE_URL={server.base_url}\n  DCS_PROJECT_ID={state.project_id}\n")
    out.write(f"  DCS_INSTANCE_ID={state.instance_id}   ({plural(options['records'], 'backup')})\n")
    out.write(f"  DCS_EMPTY_INSTANCE_ID={state.empty_instance_id}   (no backups)\n")
    # Credentials the user set are theirs and are not echoed; generated ones are printed to be used.
    served = state.credentials
    if given.access_key:
        out.write(f"  AK/SK: from {given.origin}\n")
    else:
        out.write(f"  {AK_VARIABLE}={served.access_key}\n  {SK_VARIABLE}={served.secret_key}\n")
    out.write(f"  token: from {TOKEN_VARIABLE}\n" if given.token else f"  {TOKEN_VARIABLE}={served.token}\n")
    out.flush()
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()
