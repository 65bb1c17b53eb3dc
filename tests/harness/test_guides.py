"""The README and the guides under docs/ show commands that work, and tables that are current.

Every fenced block of README.md and docs/*.md is read (docs/sample/ is generated, and tested
elsewhere):

- ``sh``: line by line (a trailing ``\\`` continues a line; ``&&``, ``||``, ``;`` and ``|``
  separate commands; ``NAME=value`` before a command is its environment; shell variables
  become placeholders). ``dcs-contract ...`` is parsed by the real parser, and run when it
  can run offline: ``--help``; and, in a block that exports no live settings, each command
  with no placeholder and no live target, in the block's order, in one temporary directory,
  against the embedded mock (``run`` with ``--max-examples 1`` unless it gives one), where it
  must exit as the guide says. ``pytest ...`` is parsed by pytest's parser with the
  plugin's, pytest-xdist's and this repository's options; ``python benchmarks/NAME.py`` by
  the script's own parser; ``python -m dcs_contract...`` is run; ``tox -e NAME`` must name an
  environment of tox.ini. Set-up commands (venv, pip, ruff, mypy, apt-get, export) are left
  alone; any other program fails, until this file is taught about it.
- ``toml``: validated against the configuration's JSON Schema and resolved by the config
  loader, for its defaults and each of its profiles.
- ``yaml``: parsed; its ``dcs-contract`` commands parsed by the real parser.
- ``python``: compiled; the pytest plugin's tests run the team's rule.

And the tables: the settings of docs/configuration.md are ``markdown_table()``'s, the drift
switches of docs/mock.md the registry's, the layout of docs/contributing.md names every
module, the README's dependencies every package of pyproject.toml, and every relative link
resolves.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import importlib.util
import json
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from _pytest.config import get_config
from jsonschema import Draft202012Validator

from dcs_contract.cli import build_parser, main
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.settings import config, config_schema
from dcs_contract.settings.table import markdown_table
from tests.harness.clocks import FakeClock

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GUIDES = [README, *sorted(DOCS.glob("*.md"))]

RUN_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install . && dcs-contract run"
TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest -n auto"

LANGUAGES = {"sh", "toml", "yaml", "python", "text"}
SEPARATORS = {"&&", "||", ";", "|"}
# Programs a guide may show that this file does not check: setting up, and the linters.
SET_UP = {"pip", "pipx", ".", "source", "export", "ruff", "mypy", "apt-get", "sudo"}
# A live target: a block that exports settings, or a command that names one.
LIVE_VARIABLES = {"DCS_BASE_URL", "DCS_REGION", "DCS_PROFILE"}
VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::-[^}]*)?\}|\$([A-Za-z_]\w*)")


def placeholder(name: str) -> str:
    """A value for a shell or ``${...}`` variable: a valid id, and plainly not a real one."""
    return f"{name.lower().replace('_', '-')}-placeholder"


# -- reading the guides ------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if opened is None and line.startswith("```"):
            opened, body = (number, line[3:].strip()), []
        elif opened is not None and line.strip() == "```":
            blocks.append(Block(path, opened[0], opened[1], "".join(f"{text}\n" for text in body)))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{path.relative_to(ROOT)}:{opened[0]}: a fence is not closed"
    return blocks


BLOCKS = [block for path in GUIDES for block in _blocks(path)]


def _of(language: str) -> list[Block]:
    return [block for block in BLOCKS if block.language == language]


@dataclass(frozen=True)
class Command:
    block: Block
    text: str
    argv: list[str]
    env: dict[str, str]
    placeholders: bool  # a shell variable was replaced by a placeholder

    @property
    def where(self) -> str:
        return f"{self.block.where}: {self.text}"


def _expand(text: str) -> tuple[str, bool]:
    expanded = VARIABLE.sub(lambda match: placeholder(match.group(1) or match.group(2)), text)
    return expanded, expanded != text


def _commands(block: Block) -> list[Command]:
    lines = block.text.replace("\\\n", " ").splitlines()
    commands: list[Command] = []
    for line in lines:
        expanded, replaced = _expand(line)
        lexer = shlex.shlex(expanded, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        segment: list[str] = []
        for token in [*tokens, ";"]:
            if token not in SEPARATORS:
                segment.append(token)
                continue
            env: dict[str, str] = {}
            while segment and re.fullmatch(r"[A-Za-z_]\w*=.*", segment[0]):
                name, _, value = segment.pop(0).partition("=")
                env[name] = value
            if segment:
                commands.append(Command(block, line.split("#")[0].strip(), segment, env, replaced))
            segment = []
    return commands


# -- what is done with each dcs-contract command -----------------------------------------------


def _parse(command: Command, capsys: pytest.CaptureFixture[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(command.argv[1:])
    except SystemExit as exc:
        pytest.fail(f"{command.where}: the parser refuses it ({exc.code}): {capsys.readouterr().err}")


def _not_run_because(command: Command, args: argparse.Namespace, live_block: bool) -> str | None:
    """Why this command is only parsed; None: it is run."""
    if live_block:
        return "its block exports a live target's settings"
    if command.placeholders:
        return "it reads a shell variable"
    if args.command == "mock":
        return "it serves until stopped"
    named = {"base_url", "region", "profile"} & {key for key, value in vars(args).items() if value}
    if args.command != "config" and (named or LIVE_VARIABLES & command.env.keys()):
        return "it names a live target"
    return None


def _expected_exit(args: argparse.Namespace) -> set[int]:
    """What the guides say each command exits with, against the embedded mock."""
    if args.command in ("run", "replay"):
        return {1} if getattr(args, "mock_drift", None) else {0}
    if args.command in ("diff", "annotate"):
        return {0, 1}
    return {0}


def _live_block(commands: list[Command]) -> bool:
    return any(command.argv[0] == "export" for command in commands)


def _sample_env() -> dict[str, str]:
    """The variables the configuration sample reads, as placeholders."""
    return {match.group(1): placeholder(match.group(1)) for match in VARIABLE.finditer(config.EXAMPLE)}


def _run_dcs_contract(
    command: Command, args: argparse.Namespace, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = command.argv[1:]
    if args.command == "run" and "--max-examples" not in argv:
        argv = [*argv, "--max-examples", "1"]
    env = {**(_sample_env() if args.command == "config" else {}), **command.env}
    capsys.readouterr()
    code = main(argv, env=env)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- other programs ---------------------------------------------------------------------------


def _pytest_parser() -> Any:
    """pytest's own parser, with the options of the plugin, of pytest-xdist and of this repository's conftest."""
    pytest_config = get_config([])
    for name in ("dcs_contract.pytest_plugin", "xdist.plugin"):
        pytest_config.pluginmanager.register(importlib.import_module(name), f"guides-{name}")
    spec = importlib.util.spec_from_file_location("guides_root_conftest", ROOT / "conftest.py")
    assert spec is not None and spec.loader is not None
    conftest: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    pytest_config.pluginmanager.register(conftest, "guides-root-conftest")
    return pytest_config._parser


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


def _check_benchmark(command: Command, monkeypatch: pytest.MonkeyPatch) -> None:
    script = ROOT / command.argv[1]
    assert script.is_file() and script.parent.name == "benchmarks", f"{command.where}: no such benchmark"
    parse = argparse.ArgumentParser.parse_args

    def parse_only(parser: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        raise _Parsed(parse(parser, command.argv[2:]))

    namespace = runpy.run_path(str(script), run_name="guides")
    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_only)
        try:
            namespace["main"]()
        except _Parsed:
            return
        except SystemExit as exc:
            pytest.fail(f"{command.where}: the script's parser refuses it ({exc.code})")
    pytest.fail(f"{command.where}: the script's main() did not parse its arguments")


def _run_module(module: str) -> str:
    """What ``python -m module`` prints; it must exit 0."""
    done = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"python -m {module}: exit {done.returncode}\n{done.stderr}"
    return done.stdout


def _tox_environments() -> set[str]:
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    return {section.removeprefix("testenv:") for section in tox.sections() if section.startswith("testenv:")}


# -- the sh blocks ----------------------------------------------------------------------------

SH_BLOCKS = _of("sh")


@pytest.mark.parametrize("block", SH_BLOCKS, ids=[block.where for block in SH_BLOCKS])
def test_every_command_of_a_sh_block_parses_and_the_offline_ones_run(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_clock: FakeClock,
    prompt_faults: None,
) -> None:
    # fake_clock: a run's waits (a --mock-faults run's Retry-After and backoff) are not waited
    # out; prompt_faults: nor are its late answers, the mock's own.
    commands = _commands(block)
    live = _live_block(commands)
    # The block's working directory: the sample report (docs regenerates the sample from it),
    # and, for config show, the configuration sample.
    shutil.copytree(DOCS / "sample", tmp_path / "docs" / "sample")
    if any(command.argv[:2] == ["dcs-contract", "config"] for command in commands):
        (tmp_path / "dcs-contract.toml").write_text(config.EXAMPLE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for command in commands:
        program = command.argv[0]
        if program == "dcs-contract":
            if "--help" in command.argv or "-h" in command.argv:
                with pytest.raises(SystemExit) as exit_info:
                    build_parser().parse_args(command.argv[1:])
                assert exit_info.value.code == 0, command.where
                assert capsys.readouterr().out.startswith("usage: dcs-contract"), command.where
                continue
            args = _parse(command, capsys)
            if _not_run_because(command, args, live) is None:
                code, output = _run_dcs_contract(command, args, capsys)
                assert code in _expected_exit(args), f"{command.where}: exit {code}\n{output}"
        elif program == "pytest":
            parser = _pytest_parser()
            try:
                _, unknown = parser.parse_known_and_unknown_args(command.argv[1:])
            except pytest.UsageError as exc:
                pytest.fail(f"{command.where}: pytest refuses it: {exc}")
            assert unknown == [], f"{command.where}: pytest does not know {unknown}"
        elif program in ("python", "python3") and command.argv[1:3] == ["-m", "venv"]:
            continue
        elif program in ("python", "python3") and command.argv[1] == "-m":
            module = command.argv[2]
            assert module.startswith("dcs_contract."), f"{command.where}: teach test_guides.py about {module}"
            assert _run_module(module), f"{command.where}: printed nothing"
        elif program in ("python", "python3"):
            _check_benchmark(command, monkeypatch)
        elif program == "tox":
            wanted = command.argv[command.argv.index("-e") + 1].split(",")
            assert set(wanted) <= _tox_environments(), f"{command.where}: no such tox environment"
        else:
            assert program in SET_UP, f"{command.where}: teach test_guides.py how to check {program!r}"


def test_the_printed_schema_is_the_shipped_one() -> None:
    """docs/configuration.md prints the JSON Schema with ``python -m dcs_contract.settings.config_schema``."""
    assert json.loads(_run_module("dcs_contract.settings.config_schema")) == config_schema.schema()


def _every_dcs_contract_command() -> Iterator[tuple[Command, argparse.Namespace | None, str | None]]:
    """Each dcs-contract command of the guides, its arguments (None: --help) and why it is not run."""
    for block in SH_BLOCKS:
        commands = _commands(block)
        live = _live_block(commands)
        for command in commands:
            if command.argv[0] != "dcs-contract":
                continue
            if "--help" in command.argv:
                yield command, None, None
                continue
            args = build_parser().parse_args(command.argv[1:])
            yield command, args, _not_run_because(command, args, live)


def test_every_command_of_the_cli_is_shown_and_run_somewhere() -> None:
    """Not a vacuous pass: each of the commands is run by the test above from some guide."""
    parser = build_parser()
    [subparsers] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    run: set[str] = set()
    shown: set[str] = set()
    for command, args, reason in _every_dcs_contract_command():
        name = command.argv[1]
        shown.add(name)
        if args is None:
            run.add(f"{name} --help")
        elif reason is None:
            run.add(name)
    assert shown == set(subparsers.choices), "a command that no guide shows, or a guide's command that is gone"
    assert {"mock --help"} | set(subparsers.choices) - {"mock"} <= run


# -- the README --------------------------------------------------------------------------------


def test_the_readme_is_short_and_opens_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 180, f"README.md has {len(lines)} lines: move the detail to a guide under docs/"
    first_screen = lines[:30]
    assert RUN_COMMAND in first_screen, "the README's first screen runs the contract suite"
    assert TEST_COMMAND in first_screen, "the README's first screen runs the tests (.ci/run runs this line)"
    text = "\n".join(lines)
    for exit_code in ("**0**", "**1**", "**2**", "**3**", "**4**"):
        assert exit_code in text, f"the README states exit {exit_code}"


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_the_readme_says_what_each_dependency_is_for() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    packages = _requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        packages |= _requirement_names(extra)
    table = README.read_text(encoding="utf-8").split("## Dependencies and what each is for", 1)[1]
    named = {
        name.strip().removesuffix("(test)").removesuffix("(lint)").strip().lower()
        for row in table.splitlines()
        if row.startswith("| ") and not row.startswith("| package")
        for name in row.split("|")[1].split(",")
    }
    assert packages - named == set(), "a package of pyproject.toml without its row in the README's table"


# -- the tables that are generated ---------------------------------------------------------------


def _between(text: str, start: str, end: str) -> str:
    assert start in text and end in text, f"the markers {start!r} and {end!r}"
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def test_the_settings_table_is_the_settings_table_s() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    start = "<!-- settings table: generated by dcs_contract.settings.table.markdown_table() -->"
    shown = _between(text, start, "<!-- end of the settings table -->")
    assert shown == markdown_table(), (
        "regenerate the table in docs/configuration.md with: "
        "python -c \"from dcs_contract.settings.table import markdown_table; print(markdown_table(), end='')\""
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def drift_table() -> str:
    """docs/mock.md's table of the drift switches, from the registry."""
    rows = [f"| `{drift.name}` | {drift.category} | {_cell(drift.description)} |" for drift in DRIFTS.values()]
    return "\n".join(["| switch | category | what it breaks |", "|---|---|---|", *rows]) + "\n"


def test_the_drift_switches_are_the_registry_s_and_mock_help_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    text = (DOCS / "mock.md").read_text(encoding="utf-8")
    start = "<!-- drift switches: generated from dcs_contract.mock.drift.DRIFTS -->"
    shown = _between(text, start, "<!-- end of the drift switches -->")
    assert shown == drift_table(), (
        "regenerate the table in docs/mock.md with: "
        "python -c \"from tests.harness.test_guides import drift_table; print(drift_table(), end='')\""
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mock", "--help"])
    listed = re.sub(r"-\n\s+", "-", capsys.readouterr().out)
    assert [name for name in DRIFTS if name not in listed] == []


def test_the_benchmarks_name_only_switches_that_exist() -> None:
    text = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    section = text.split("## How soon drift is caught", 1)[1]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    measured = [name for row in rows for name in re.findall(r"`([a-z0-9-]+)`", row)]
    assert measured and set(measured) <= set(DRIFTS), "a measured switch that the mock no longer has"
    [count] = re.findall(r"over the (\d+) switches the mock had that day", text)
    assert len(measured) == len(set(measured)) == int(count)


# -- the layout and the invariant example of docs/contributing.md -----------------------------------


def test_the_layout_names_every_module_and_only_modules_that_exist() -> None:
    text = (DOCS / "contributing.md").read_text(encoding="utf-8")
    package = ROOT / "src" / "dcs_contract"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    named = set(re.findall(r"`([\w/]+\.py)`", text))
    assert modules - named == set(), "a module the layout of docs/contributing.md does not name"
    for guide in GUIDES:
        for name in re.findall(r"`((?:src/dcs_contract/)?[a-z_]+/[\w/]+\.py)`", guide.read_text(encoding="utf-8")):
            path = name.removeprefix("src/dcs_contract/")
            assert (package / path).is_file() or (ROOT / name).is_file(), f"{guide.name} names {name}, which is gone"


def test_the_invariant_example_is_the_spec_s_and_the_code_s() -> None:
    spec = yaml.safe_load((ROOT / "spec" / "dcs-backups.yaml").read_text(encoding="utf-8"))
    operation = spec["paths"]["/v2/{project_id}/instances/{instance_id}/backups"]["get"]
    rules = {rule["id"]: rule for rule in operation["x-invariants"]}
    examples = [block for block in BLOCKS if block.path.name == "contributing.md"]
    [shown] = [block for block in examples if block.language == "yaml"]
    for rule in yaml.safe_load(shown.text)["x-invariants"]:
        assert rule == rules[rule["id"]], f"{shown.where}: the spec's {rule['id']} as it stands"
    [code] = [block for block in examples if block.language == "python"]
    source = (ROOT / code.text.split()[1]).read_text(encoding="utf-8")
    for line in code.text.splitlines():
        if line.startswith(("@", "def ")):
            assert line in source, f"{code.where}: {line}"


# -- toml, yaml and python blocks ---------------------------------------------------------------

TOML_BLOCKS = _of("toml")


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[block.where for block in TOML_BLOCKS])
def test_a_toml_example_is_a_configuration_the_loader_takes(block: Block, tmp_path: Path) -> None:
    document = tomllib.loads(block.text)
    pyproject = "tool" in document
    table = document["tool"]["dcs-contract"] if pyproject else document
    assert list(Draft202012Validator(config_schema.schema()).iter_errors(table)) == [], block.where
    (tmp_path / ("pyproject.toml" if pyproject else "dcs-contract.toml")).write_text(block.text, encoding="utf-8")
    env = {match.group(1): placeholder(match.group(1)) for match in VARIABLE.finditer(block.text)}
    for profile in [None, *table.get("profiles", {})]:
        resolved = config.resolve({}, env, cwd=tmp_path, config=None, profile=profile)
        assert resolved.profile == profile, block.where


def test_the_configuration_guide_shows_the_sample_configuration() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert f"```toml\n{config.EXAMPLE}```" in text


YAML_BLOCKS = _of("yaml")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[block.where for block in YAML_BLOCKS])
def test_a_yaml_example_parses_and_its_commands_too(block: Block, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load(block.text)
    for text in _strings(document):
        if text.startswith("dcs-contract "):
            argv = shlex.split(re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: placeholder(m.group(1)), text))
            _parse(Command(block, text, argv, {}, True), capsys)


@pytest.mark.parametrize("block", _of("python"), ids=[block.where for block in _of("python")])
def test_a_python_example_compiles(block: Block) -> None:
    compile(block.text, block.where, "exec")


def test_every_block_is_of_a_language_this_file_checks() -> None:
    assert [block.where for block in BLOCKS if block.language not in LANGUAGES] == []


# -- links ------------------------------------------------------------------------------------------


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    anchors: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def test_every_relative_link_resolves() -> None:
    broken: list[str] = []
    for guide in GUIDES:
        text = re.sub(r"```.*?```", "", guide.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            name, _, anchor = target.partition("#")
            path = (guide.parent / name).resolve() if name else guide
            if not path.exists():
                broken.append(f"{guide.relative_to(ROOT)}: {target}")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{guide.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
