"""A command loads what it uses: the reading commands never import the run's machinery.

``--help``, ``config show``, ``diff``, ``docs`` and ``history`` read files and print: they
must start at once, so they must not import schemathesis, hypothesis, uvicorn or starlette
(half a second before anything happens). Each runs in a fresh interpreter, to the end with
exit 0, so that a command that failed early cannot pass by not getting far enough.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "sample" / "report.json"
HEAVY = ("schemathesis", "hypothesis", "uvicorn", "starlette")

_PROBE = """
import contextlib, io, json, sys
from pathlib import Path
from dcs_contract.cli.app import main
from dcs_contract.results.history import History

argv = json.loads(sys.argv[1])
if argv[0] == "history":
    with History.open(Path(argv[2])):
        pass
printed = io.StringIO()
try:
    with contextlib.redirect_stdout(printed):
        code = main(argv, env={})
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": sorted(name for name in HEAVY if name in sys.modules)}))
""".replace("HEAVY", repr(HEAVY))


def _loaded_by(argv: list[str], cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True, cwd=cwd, timeout=60
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 0, (argv, done.stderr)
    return list(outcome["loaded"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", "--help"],
        ["config", "show"],
        ["diff", str(SAMPLE), str(SAMPLE)],
        ["docs", "--out", "site", "--report", str(SAMPLE)],
        ["history", "--history", "history.sqlite"],
    ],
    ids=lambda argv: " ".join(argv[:2]) if argv[0] != "--help" else "--help",
)
def test_a_reading_command_imports_none_of_the_run_s_machinery(argv: list[str], tmp_path: Path) -> None:
    assert _loaded_by(argv, tmp_path) == []


# What the parser alone must not load: --help and --version answer before any of it is needed.
PARSER_NEVER_LOADS = (
    *HEAVY,
    "httpx",
    "yaml",
    "jsonschema",
    "referencing",
    "rich",
    "dcs_contract.contract.spec",
    "dcs_contract.mock",
    "dcs_contract.settings.config",
)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_the_parser_and_nothing_behind_it(flag: str, tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "from dcs_contract.cli import main\n"
        "try:\n"
        f"    main([{flag!r}], env={{}})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"print(json.dumps([code, sorted(n for n in {PARSER_NEVER_LOADS!r} if n in sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, []]
    # What --help lists, and --version's number, are still there.
    assert ("run the contract suite" in done.stdout) if flag == "--help" else done.stdout.startswith("dcs-contract ")


def test_the_package_still_gives_the_run_s_entry_points_on_first_use(tmp_path: Path) -> None:
    """``dcs_contract.run_contract`` imports the engine when it is first touched, and not before."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dcs_contract; before = 'hypothesis' in sys.modules; dcs_contract.run_contract; "
            "print(before, sorted(sys.modules))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    before, loaded = done.stdout.split(" ", 1)
    assert before == "False"
    assert all(f"'{name}'" in loaded for name in ("schemathesis", "hypothesis")), loaded[-500:]


_PLUGINS_PROBE = """
import json, os, sys
from dcs_contract.cli.app import main
code = main(["run", "--seed", "1", "--max-examples", "1", "--report-dir", sys.argv[1], "--quiet"])
print(json.dumps({"code": code, "set": os.environ.get("HYPOTHESIS_NO_PLUGINS"), "pytest": "pytest" in sys.modules}))
"""


@pytest.mark.parametrize(("given", "kept"), [(None, "1"), ("", "")])
def test_the_command_line_loads_no_hypothesis_plugin_unless_told_to(
    given: str | None, kept: str, tmp_path: Path
) -> None:
    """The harness's own process: other packages' hypothesis plugins (trio's imports pytest) are not loaded."""
    env = {name: value for name, value in os.environ.items() if name != "HYPOTHESIS_NO_PLUGINS"}
    if given is not None:
        env["HYPOTHESIS_NO_PLUGINS"] = given
    done = subprocess.run(
        [sys.executable, "-c", _PLUGINS_PROBE, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert (outcome["code"], outcome["set"]) == (0, kept), done.stderr
    if given is None:
        assert not outcome["pytest"], "a hypothesis plugin was loaded"
