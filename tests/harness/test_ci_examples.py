"""The example CI jobs parse, and the command they run is one ``dcs-contract run`` accepts."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcs_contract.cli import build_parser

EXAMPLES = Path(__file__).parents[2] / "examples" / "ci"


def _commands(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [command for value in node.values() for command in _commands(value)]
    if isinstance(node, list):
        return [command for item in node for command in _commands(item)]
    return [node] if isinstance(node, str) and node.strip().startswith("dcs-contract run") else []


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_example_runs_against_staging_with_a_baseline_and_keeps_junit(name: str) -> None:
    document = yaml.safe_load((EXAMPLES / name).read_text())
    [command] = _commands(document)
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.baseline is not None and not args.baseline_update, "CI fails only on new drift"
    assert args.record is not None
    text = (EXAMPLES / name).read_text()
    assert "junit.xml" in text and "CLOUD_SDK_SK" in text
