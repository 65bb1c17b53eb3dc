"""The example CI jobs parse, and the command they run is one ``dcs-contract run`` accepts."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcs_contract.cli import build_parser

EXAMPLES = Path(__file__).parents[2] / "examples" / "ci"


def _commands(node: Any, command: str = "run") -> list[str]:
    if isinstance(node, dict):
        return [found for value in node.values() for found in _commands(value, command)]
    if isinstance(node, list):
        return [found for item in node for found in _commands(item, command)]
    return [node] if isinstance(node, str) and node.strip().startswith(f"dcs-contract {command}") else []


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_example_runs_against_staging_with_a_baseline_and_keeps_junit(name: str) -> None:
    document = yaml.safe_load((EXAMPLES / name).read_text())
    [command] = _commands(document)
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.baseline is not None and not args.baseline_update, "CI fails only on new drift"
    assert args.record is not None
    text = (EXAMPLES / name).read_text()
    assert "junit.xml" in text and "CLOUD_SDK_SK" in text
    # The history is kept between nights, and the diff against the previous night is shown.
    assert args.history is not None and str(args.history) in text.split("cache", 1)[1]
    [diff] = _commands(document, "diff")
    diff_args = build_parser().parse_args(shlex.split(diff.split("||")[0])[1:])
    assert (diff_args.old, diff_args.new, diff_args.history) == ("previous", "last", args.history)
