"""The GitHub Action (action.yml) and its example workflow: inputs, secrets, and the script it runs.

The script runs as the action's step runs it, in a fake GitHub environment
(GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_WORKSPACE): the suite runs, the summary is
written, each finding is annotated on its spec line, and the report directory the upload
step takes holds the reports.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcs_contract.cli.action import EXTRA_ARGS, INPUTS, action_argv
from dcs_contract.cli.app import build_parser
from dcs_contract.contract.spec import default_spec_path

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXAMPLE = yaml.safe_load((ROOT / "examples" / "action" / "dcs-contract.yml").read_text())
STEPS = {step.get("id"): step for step in ACTION["runs"]["steps"]}
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
SECRET_WORDS = ("ak", "sk", "secret", "token", "password", "key")


def _action_step(workflow: dict[str, Any]) -> dict[str, Any]:
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    [step] = [step for step in steps if str(step.get("uses", "")).split("@")[0].endswith("/dcs-contract")]
    return step


def _step_env(inputs: dict[str, str]) -> dict[str, str]:
    """The run step's environment as the runner builds it from the action's inputs and their defaults."""
    given = {name: str(inputs.get(name, spec.get("default", ""))) for name, spec in ACTION["inputs"].items()}
    return {name: EXPRESSION.sub(lambda m: given[m.group(1)], value) for name, value in STEPS["run"]["env"].items()}


def test_the_action_takes_the_inputs_of_the_issue_and_no_secret() -> None:
    assert {"profile", "settings", "history", "fail-on", "baseline"} <= set(ACTION["inputs"])
    for name in ACTION["inputs"]:
        assert not any(word in name.split("-") for word in SECRET_WORDS), f"{name}: secrets go in env only"
    assert ACTION["runs"]["using"] == "composite"


def test_inputs_reach_the_script_as_variables_never_as_shell_words() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "inputs." not in str(step.get("run", "")), "an input in a run line is read by the shell"
    assert STEPS["run"]["run"].strip() == "python -m dcs_contract.cli.action"
    assert set(STEPS["run"]["env"]) == {*INPUTS, EXTRA_ARGS}
    # The harness is installed from the action's own checkout: the tag the workflow pins.
    assert "$GITHUB_ACTION_PATH" in STEPS["install"]["run"]


def test_the_reports_are_uploaded_whatever_the_verdict() -> None:
    upload = STEPS["upload"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"].startswith("always()")
    assert "steps.run.outputs.report-dir" in upload["with"]["path"]


def test_each_input_becomes_its_flag_of_run_and_an_empty_one_none() -> None:
    env = _step_env({"profile": "staging-sg", "fail-on": "breaking", "args": "--max-requests 200 --record"})
    argv = action_argv(env)
    assert argv == ["run", "--profile", "staging-sg", "--fail-on", "breaking", "--max-requests", "200", "--record"]
    args = build_parser().parse_args(argv)
    assert (args.profile, str(args.fail_on), args.max_requests) == ("staging-sg", "breaking", 200)
    assert action_argv(_step_env({})) == ["run"]


def test_the_example_workflow_uses_the_action_with_secrets_in_env_only() -> None:
    step = _action_step(EXAMPLE)
    assert set(step["with"]) <= set(ACTION["inputs"])
    assert "secrets." not in str(step["with"]), "an input is echoed in the log"
    assert {"CLOUD_SDK_AK", "CLOUD_SDK_SK"} <= set(step["env"])
    assert re.fullmatch(r"[\w-]+/dcs-contract@v\d+\.\d+\.\d+", step["uses"]), "a tag, not a fork or a branch"
    # What the example gives is a run the real parser accepts.
    build_parser().parse_args(action_argv(_step_env(step["with"])))
    assert not any("pip install ." in str(s.get("run", "")) for s in _all_steps(EXAMPLE)), "no fork to install"


def _all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.slow
def test_the_example_s_action_runs_the_suite_writes_the_summary_annotates_and_leaves_the_reports(
    tmp_path: Path,
) -> None:
    # The example's inputs, against the embedded mock with one drift instead of staging.
    workspace = ROOT
    reports = tmp_path / "reports"
    inputs = {
        **{k: v for k, v in _action_step(EXAMPLE)["with"].items() if k == "fail-on"},
        "args": f"--mock-drift size-as-string --max-examples 3 --report-dir {reports}",
    }
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(workspace),
        **_step_env(inputs),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dcs_contract.cli.action"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    # The step's outputs: what the upload step takes, the verdict and the exit code.
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs == {"report-dir": str(reports), "verdict": "violations", "exit-code": "1"}
    assert {"report.json", "report.md", "junit.xml"} <= {path.name for path in reports.iterdir()}
    assert "# dcs-contract: violations" in summary.read_text()
    # The drifted field's annotation is on the line of the spec that defines the field.
    spec = default_spec_path()
    line = next(
        number
        for number, text in enumerate(spec.read_text().splitlines(), 1)
        if text.strip() == "size:" and number > spec.read_text().splitlines().index("    BackupRecordResponse:")
    )
    relative = spec.relative_to(workspace).as_posix()
    assert f"::error file={relative},line={line},title=response_schema_conformance" in done.stdout
    # hypothesis writes nothing in the working directory, nor among the reports.
    assert not (tmp_path / ".hypothesis").exists() and not (reports / ".hypothesis").exists()


def test_the_install_routes_need_no_fork() -> None:
    guide = (ROOT / "docs" / "ci.md").read_text()
    tag = r"git\+https://github\.com/[\w-]+/dcs-contract@v\d+\.\d+\.\d+"
    assert re.search(rf'pipx install "{tag}"', guide)
    assert re.search(rf'pip install "dcs-contract @ {tag}"', guide)
    for example in (ROOT / "examples").rglob("*.yml"):
        assert not re.search(r"pip install \.(\s|$)", example.read_text()), f"{example.name} installs a checkout"


def test_what_the_action_prints_shows_no_password_and_help_is_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's log and the pull request's annotations keep what the action prints: it is scrubbed."""
    from io import StringIO

    from dcs_contract.cli.action import main as action

    monkeypatch.chdir(tmp_path)
    output = tmp_path / "github-output"
    env = {
        "DCS_ACTION_HISTORY": "postgresql://ci:s3cretpw@127.0.0.1:1/h",
        EXTRA_ARGS: "--proxy http://u:proxypw@127.0.0.1:3 --report-dir reports",
        "GITHUB_OUTPUT": str(output),
    }
    printed = StringIO()
    code = action(env, printed)
    everything = printed.getvalue() + "".join(capsys.readouterr())
    assert code == 2 and "dcs-contract run" in printed.getvalue()
    assert "s3cretpw" not in everything and "proxypw" not in everything, everything
    # A settings file the run refuses: its value, password and all, is echoed in the ::error line.
    (tmp_path / "team.toml").write_text('history = ["postgresql://u:s3cretpw@db/h"]\n', encoding="utf-8")
    printed = StringIO()
    assert action({"DCS_ACTION_SETTINGS": "team.toml", "GITHUB_OUTPUT": str(output)}, printed) == 2
    error = printed.getvalue()
    assert error.startswith("::error title=dcs-contract::") and "s3cretpw" not in error, error
    assert error.count("\n") == 1, "a workflow command is one line"
    # --help prints the help and runs nothing: the step fails rather than passing with no run.
    assert action({EXTRA_ARGS: "--help", "GITHUB_OUTPUT": str(output)}, StringIO()) == 2
    assert output.read_text().splitlines()[-2:] == ["exit-code=2", "verdict=usage-error"]
