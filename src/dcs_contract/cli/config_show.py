"""``dcs-contract config show``: the settings a run would use, where each comes from, redacted.

It refuses what ``run`` would refuse before sending (the target and every bound), so that a
configuration checked here is one a run accepts.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from dcs_contract.cli.basics import EXIT_CONFORMS
from dcs_contract.cli.common import check_pushgateway, network_for, resolved_args, secrets_in, with_source
from dcs_contract.errors import ConfigError
from dcs_contract.redaction import Scrubber
from dcs_contract.settings import config
from dcs_contract.settings.target import RunSettings
from dcs_contract.transport.signing import TOKEN_VARIABLE, Credentials

__all__ = ["config_command"]


def config_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    _, resolved = resolved_args(args, env)
    _checked_as_run_checks(resolved, env)
    out.write(config.render(resolved, Scrubber(secrets_in(env))))
    return EXIT_CONFORMS


def _checked_as_run_checks(resolved: config.Resolved, env: Mapping[str, str]) -> None:
    """Refuses what ``run`` would refuse before sending: the target and every bound."""
    # Credentials are shown on their own line ("none"): their absence is no reason to refuse
    # the rest, which is checked as run checks it, with a stand-in that is never shown.
    if not Credentials.from_env(env).present:
        env = {**env, TOKEN_VARIABLE: "config-show-stand-in"}
    try:
        target = resolved.target(env)
        network = network_for(resolved, env, embedded=target.is_mock)
        record = resolved.value("record")
        RunSettings.for_target(target, **resolved.run_overrides(), record_traffic=bool(record), network=network)
        pushgateway = resolved.value("pushgateway")
        if pushgateway is not None:
            check_pushgateway(str(pushgateway))
    except ConfigError as exc:
        raise with_source(exc, resolved) from None
