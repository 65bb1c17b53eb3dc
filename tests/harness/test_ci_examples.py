"""The example CI jobs parse, and the command they run is one ``dcs-contract run`` accepts."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from dcs_contract.cli.app import build_parser
from dcs_contract.settings import config, config_schema

EXAMPLES = Path(__file__).parents[2] / "examples" / "ci"


def _commands(node: Any, command: str = "run") -> list[str]:
    if isinstance(node, dict):
        return [found for value in node.values() for found in _commands(value, command)]
    if isinstance(node, list):
        return [found for item in node for found in _commands(item, command)]
    return [node] if isinstance(node, str) and node.strip().startswith(f"dcs-contract {command}") else []


SAMPLE_ENV = {"SG_PROJECT_ID": "p", "SG_INSTANCE_ID": "i", "CLOUD_SDK_AK": "AKIDEXAMPLE00000", "CLOUD_SDK_SK": "s" * 20}


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_example_runs_against_staging_with_a_baseline_and_keeps_junit(name: str) -> None:
    """The job's command, resolved with the sample dcs-contract.toml next to the examples."""
    document = yaml.safe_load((EXAMPLES / name).read_text())
    [command] = _commands(document)
    args = build_parser().parse_args(shlex.split(command)[1:])
    flags = {"record": True if args.record is not None else None}
    resolved = config.resolve(flags, SAMPLE_ENV, cwd=EXAMPLES, config=None, profile=args.profile)
    assert resolved.profile == "staging-sg" and resolved.value("region") == "ap-southeast-3"
    baseline, history, reports = (resolved.value(key) for key in ("baseline", "history", "report_dir"))
    assert baseline is not None and not args.baseline_update, "CI fails only on new drift"
    assert resolved.value("record") is True
    text = (EXAMPLES / name).read_text()
    assert f"{reports.relative_to(EXAMPLES)}/junit.xml" in text and "CLOUD_SDK_SK" in text
    for variable in ("SG_PROJECT_ID", "SG_INSTANCE_ID"):
        assert variable in text, "the job sets what the profile reads"
    # The history is kept between nights, and the diff against the previous night is shown.
    kept = str(history.relative_to(EXAMPLES))
    assert kept in text.split("cache", 1)[1]
    [diff] = _commands(document, "diff")
    diff_args = build_parser().parse_args(shlex.split(diff.split("||")[0])[1:])
    assert (diff_args.old, diff_args.new, str(diff_args.history)) == ("previous", "last", kept)


def test_the_sample_configuration_is_the_configuration_guide_s_and_the_schema_accepts_it() -> None:
    sample = (EXAMPLES / "dcs-contract.toml").read_text()
    assert sample == config.EXAMPLE
    guide = (EXAMPLES.parents[1] / "docs" / "configuration.md").read_text()
    assert f"```toml\n{sample}```" in guide, "docs/configuration.md shows the sample as it is"
    errors = list(Draft202012Validator(config_schema.schema()).iter_errors(tomllib.loads(sample)))
    assert errors == []
