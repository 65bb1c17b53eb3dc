"""``dcs-contract mock``: the embedded mock served on its own, for a staging-like local run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import NoReturn, TextIO

from dcs_contract.cli.common import check_drifts
from dcs_contract.contract.spec import load_spec
from dcs_contract.errors import ConfigError
from dcs_contract.mock import FaultPlan, MockServer, MockState, create_app
from dcs_contract.settings.table import BOUNDS
from dcs_contract.settings.target import check_id
from dcs_contract.transport.signing import AK_VARIABLE, SK_VARIABLE, TOKEN_VARIABLE, Credentials

__all__ = ["mock_command"]


def mock_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> NoReturn:
    """Serve until interrupted: Ctrl-C (KeyboardInterrupt) is the only way out."""
    spec = load_spec()
    given = Credentials.from_env(env)
    check_drifts("--drift", args.drift)
    BOUNDS["port"].check("--port", args.port)
    BOUNDS["records"].check("--records", args.records)
    for flag, value in (("--project-id", args.project_id), ("--instance-id", args.instance_id)):
        if value is not None:
            check_id(value, flag)
    state = MockState.default(
        spec,
        project_id=args.project_id,
        instance_id=args.instance_id,
        credentials=given,
        records=args.records,
        drifts=tuple(args.drift),
        faults=FaultPlan() if args.faults else None,
    )
    try:
        server = MockServer(create_app(state), port=args.port).start()
    except RuntimeError as exc:
        raise ConfigError(f"--port={args.port!r}: {exc}") from None
    out.write(f"dcs-contract mock on {server.base_url}   (Ctrl-C stops it)\n")
    if args.drift or args.faults:
        out.write(f"  drift: {', '.join(args.drift) or 'none'}; faults: {'on' if args.faults else 'off'}\n")
    out.write(f"  DCS_BASE_URL={server.base_url}\n  DCS_PROJECT_ID={state.project_id}\n")
    out.write(f"  DCS_INSTANCE_ID={state.instance_id}   ({args.records} backups)\n")
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
