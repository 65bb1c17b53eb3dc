"""One table of settings (settings/table.py): the flags, the file's keys and schema, the bounds and
the pytest plugin's options all come from it, and agree."""

from __future__ import annotations

import argparse

import pytest

from dcs_contract.cli import build_parser
from dcs_contract.errors import ConfigError
from dcs_contract.settings.config import KEYS
from dcs_contract.settings.config_schema import build_schema
from dcs_contract.settings.table import BOUNDS, OPTIONS, Group, markdown_table
from dcs_contract.settings.target import RunSettings

COMMANDS = sorted({command for option in OPTIONS.values() for command in option.commands})


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    chosen: argparse.ArgumentParser = commands.choices[command]
    return chosen


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_takes_exactly_the_flags_the_table_gives_it(command: str) -> None:
    actions = {action.dest: action for action in _subparser(command)._actions}
    expected = {name for name, option in OPTIONS.items() if command in option.commands}
    assert expected <= set(actions), f"{command} lacks {sorted(expected - set(actions))}"
    # A setting of the table that another command takes is not a flag of this one.
    assert not {name for name in OPTIONS if name not in expected} & set(actions)
    for name in expected:
        option, action = OPTIONS[name], actions[name]
        assert action.option_strings[0] == option.flag and action.default is None, name
        if option.bound is not None:
            assert option.bound.rule in (action.help or ""), name


def test_the_files_keys_and_schema_are_the_tables_settings() -> None:
    assert list(KEYS) == [name for name, option in OPTIONS.items() if option.in_file]
    properties = build_schema()["properties"]
    assert set(properties) - {"profiles"} == set(KEYS)
    for name, option in KEYS.items():
        if option.bound is not None:
            low = "exclusiveMinimum" if option.bound.low_open else "minimum"
            assert (properties[name][low], properties[name]["maximum"]) == (option.bound.low, option.bound.high)
        assert option.help in properties[name]["description"]


def test_the_runs_defaults_and_bounds_are_the_tables() -> None:
    settings = RunSettings()
    for name in ("max_examples", "max_requests", "rate_limit", "timeout", "max_body", "shrink", "fail_fast", "confirm"):
        assert getattr(settings, name) == OPTIONS[name].default, name
    assert RunSettings.LIVE_DEFAULTS == {
        "max_requests": 600,
        "max_examples": 100,
        "rate_limit": 2.0,
        "timeout": 15.0,
        "shrink": False,
    }
    assert {name: bound for name, bound in BOUNDS.items() if name in OPTIONS} == {
        name: option.bound for name, option in OPTIONS.items() if option.bound is not None
    }


def test_the_plugins_options_are_the_tables(pytestconfig: pytest.Config) -> None:
    for name, option in OPTIONS.items():
        if option.plugin:
            pytestconfig.getoption(f"dcs_{name}")  # registered: no ValueError
        else:
            with pytest.raises(ValueError):
                pytestconfig.getoption(f"dcs_{name}")


def test_a_bound_broken_names_its_setting_as_a_field_not_only_in_the_text() -> None:
    with pytest.raises(ConfigError) as raised:
        RunSettings(max_requests=0).validate()
    assert raised.value.setting == "--max-requests"
    assert str(raised.value) == "--max-requests=0, but it must be 1..1000000 requests"


def test_the_markdown_table_has_a_row_per_setting_in_its_groups() -> None:
    table = markdown_table()
    rows = table.strip().splitlines()[2:]
    assert len(rows) == len(OPTIONS)
    for row, option in zip(rows, OPTIONS.values(), strict=True):
        assert f"`{option.flag}`" in row
    assert {option.group for option in OPTIONS.values()} == set(Group)
