"""The configuration file: profiles, precedence, ${VAR}, the refusals, ``config show`` and the JSON Schema.

Every test writes its file into a fresh directory it makes the current one, as a user's
checkout would have it, and reads it through :func:`resolve` as the command line does.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dcs_contract.errors import ConfigError
from dcs_contract.redaction import Scrubber
from dcs_contract.settings.config import EXAMPLE, KEYS, Resolved, Setting, render, resolve
from dcs_contract.settings.config_schema import build_schema, schema
from dcs_contract.settings.target import RunSettings
from dcs_contract.transport.signing import Credentials
from tests.harness.leaks import leaks

AK = "AKIDCONFIGFILE0000042"
SK = "sk-of-the-config-file-tests-Zq9"
TOKEN = "MIITtoken-of-the-config-file-tests-0123456789"
CREDENTIALS = {"CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK, "DCS_AUTH_TOKEN": TOKEN}
# The example's variables, for a run of each of its profiles.
EXAMPLE_ENV = {
    "SG_PROJECT_ID": "sg-project",
    "SG_INSTANCE_ID": "sg-instance",
    "BJ_PROJECT_ID": "bj-project",
    "BJ_EMPTY_INSTANCE_ID": "bj-empty",
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory: where the file is looked for."""
    monkeypatch.chdir(tmp_path)
    return Path.cwd()


def _write(directory: Path, text: str, name: str = "dcs-contract.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _resolve(
    here: Path,
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    *,
    config: Path | None = None,
    profile: str | None = None,
) -> Resolved:
    return resolve(flags or {}, env or {}, cwd=here, config=config, profile=profile)


def _refused(here: Path, *args: Any, **kwargs: Any) -> str:
    """The message of the ConfigError (exit 2) the file gets: one line."""
    with pytest.raises(ConfigError) as caught:
        _resolve(here, *args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# -- precedence ---------------------------------------------------------------------------------

LAYERED = """\
instance_id = "from-defaults"
max_requests = 300
timeout = 12

[profiles.staging-sg]
instance_id = "from-profile"
max_requests = 250
"""


def test_every_level_wins_over_the_ones_below_it(here: Path) -> None:
    # built-in
    resolved = _resolve(here)
    assert resolved["instance_id"].value is None and resolved["instance_id"].source == "built-in"
    assert resolved["report_dir"].value == Path("dcs-contract-report")
    assert resolved.file is None and resolved.profile is None

    # file defaults > built-in
    _write(here, LAYERED)
    resolved = _resolve(here)
    assert resolved["instance_id"] == Setting("from-defaults", "defaults in ./dcs-contract.toml")
    assert resolved["max_requests"].value == 300
    assert resolved["max_examples"].value is None and resolved["max_examples"].source == "built-in"

    # profile > file defaults; a key the profile does not give still comes from the defaults
    resolved = _resolve(here, profile="staging-sg")
    assert resolved["instance_id"].value == "from-profile"
    assert resolved["instance_id"].source == "profile staging-sg in ./dcs-contract.toml"
    assert (resolved["max_requests"].value, resolved["timeout"].value) == (250, 12.0)
    assert resolved["timeout"].source == "defaults in ./dcs-contract.toml"

    # env > profile
    env = {"DCS_INSTANCE_ID": "from-env"}
    resolved = _resolve(here, env=env, profile="staging-sg")
    assert (resolved["instance_id"].value, resolved["instance_id"].source) == ("from-env", "env DCS_INSTANCE_ID")

    # flag > env; a flag not given (None) is no level at all
    flags = {"instance_id": "from-flag", "max_requests": 99, "timeout": None}
    resolved = _resolve(here, flags, env, profile="staging-sg")
    assert (resolved["instance_id"].value, resolved["instance_id"].source) == ("from-flag", "flag --instance-id")
    assert (resolved["max_requests"].value, resolved["max_requests"].source) == (99, "flag --max-requests")
    assert resolved["timeout"].source == "defaults in ./dcs-contract.toml"


def test_only_the_target_keys_have_environment_variables(here: Path) -> None:
    _write(here, "max_requests = 300\n")
    env = {"DCS_MAX_REQUESTS": "7", "MAX_REQUESTS": "7", "DCS_EMPTY_INSTANCE_ID": "empty-1", "DCS_PROJECT_ID": ""}
    resolved = _resolve(here, env=env)
    assert resolved["max_requests"].value == 300
    assert resolved["empty_instance_id"].source == "env DCS_EMPTY_INSTANCE_ID"
    # An empty variable is not set, as everywhere in the harness.
    assert resolved["project_id"].source == "built-in"
    assert {key.variable for key in KEYS.values() if key.variable} == {
        "DCS_BASE_URL",
        "DCS_REGION",
        "DCS_PROJECT_ID",
        "DCS_INSTANCE_ID",
        "DCS_EMPTY_INSTANCE_ID",
    }


def test_base_url_and_region_are_taken_together_from_one_level(here: Path) -> None:
    _write(here, 'base_url = "https://dcs.example.com"\n[profiles.bj]\nregion = "cn-north-4"\n')
    # Per key, the defaults' base_url would survive and beat the profile's region in Target.
    env = {"DCS_AUTH_TOKEN": TOKEN, "DCS_PROJECT_ID": "p", "DCS_INSTANCE_ID": "i"}
    resolved = _resolve(here, env=env, profile="bj")
    assert resolved["region"].value == "cn-north-4"
    assert resolved["base_url"].value is None
    assert resolved["base_url"].source == "left out: region comes from profile bj in ./dcs-contract.toml"
    target = resolved.target(env)
    assert target.base_url == "https://dcs.cn-north-4.myhuaweicloud.com"

    # DCS_REGION replaces the file's endpoint, and --base-url replaces DCS_REGION.
    resolved = _resolve(here, env={"DCS_REGION": "ap-southeast-3"}, profile="bj")
    assert (resolved["region"].value, resolved["base_url"].value) == ("ap-southeast-3", None)
    resolved = _resolve(here, {"base_url": "http://127.0.0.1:9"}, {"DCS_REGION": "ap-southeast-3"}, profile="bj")
    assert (resolved["base_url"].value, resolved["region"].value) == ("http://127.0.0.1:9", None)


def test_the_target_is_built_from_the_resolved_values_and_not_from_the_environment_again(here: Path) -> None:
    _write(here, '[profiles.sg]\nregion = "ap-southeast-3"\nproject_id = "p-file"\ninstance_id = "i-file"\n')
    env = {**CREDENTIALS, "DCS_BASE_URL": "https://dcs.other.example.com", "DCS_PROJECT_ID": "p-env"}
    resolved = _resolve(here, {"region": "ap-southeast-3"}, env, profile="sg")
    target = resolved.target(env)
    assert target.base_url == "https://dcs.ap-southeast-3.myhuaweicloud.com"
    assert (target.project_id, target.instance_id) == ("p-env", "i-file")
    assert target.credentials.secrets() == [AK, SK, TOKEN]


def test_run_settings_take_the_resolved_values_and_check_their_bounds(here: Path) -> None:
    _write(here, "max_requests = 700\nrate_limit = 3\nshrink = true\nfail_fast = true\nmax_examples = 0\n")
    resolved = _resolve(here, {"seed": 5})
    overrides = resolved.run_overrides()
    assert overrides["rate_limit"] == 3.0 and isinstance(overrides["rate_limit"], float)
    target = resolved.target({"DCS_AUTH_TOKEN": TOKEN})
    # Bounds are RunSettings' to check, as they are for flags.
    with pytest.raises(ConfigError, match=r"--max-examples=0, but it must be 1\.\.100000"):
        RunSettings.for_target(target, **overrides)
    settings = RunSettings.for_target(target, **{**overrides, "max_examples": 3})
    assert (settings.max_requests, settings.rate_limit, settings.shrink, settings.fail_fast, settings.seed) == (
        700,
        3.0,
        True,
        True,
        5,
    )


# -- the file: where it is, which form -------------------------------------------------------------


def test_the_pyproject_table_is_read_and_named_as_such(here: Path) -> None:
    _write(
        here,
        '[project]\nname = "x"\n\n[tool.dcs-contract]\nmax_requests = 321\n\n'
        '[tool.dcs-contract.profiles.sg]\ninstance_id = "from-pyproject"\n',
        "pyproject.toml",
    )
    resolved = _resolve(here, profile="sg")
    assert resolved["max_requests"] == Setting(321, "defaults in ./pyproject.toml [tool.dcs-contract]")
    assert resolved["instance_id"].source == "profile sg in ./pyproject.toml [tool.dcs-contract]"
    assert resolved.file == here / "pyproject.toml"


def test_a_pyproject_without_the_table_is_no_configuration(here: Path) -> None:
    _write(here, '[project]\nname = "x"\n', "pyproject.toml")
    resolved = _resolve(here)
    assert resolved.file is None and resolved["max_requests"].source == "built-in"
    message = _refused(here, config=Path("pyproject.toml"))
    assert message == "--config='pyproject.toml': ./pyproject.toml has no [tool.dcs-contract] table"


def test_both_files_are_refused_as_ambiguous_unless_config_picks_one(here: Path) -> None:
    _write(here, "[tool.dcs-contract]\nmax_requests = 111\n", "pyproject.toml")
    _write(here, "max_requests = 222\n")
    message = _refused(here)
    assert "./dcs-contract.toml" in message and "[tool.dcs-contract] in ./pyproject.toml" in message
    assert "--config" in message
    assert _resolve(here, config=Path("pyproject.toml"))["max_requests"].value == 111
    assert _resolve(here, config=Path("dcs-contract.toml"))["max_requests"].value == 222


def test_config_names_a_file_anywhere_and_its_paths_are_relative_to_it(here: Path) -> None:
    _write(
        here,
        'report_dir = "out"\nbaseline = "/abs/baseline.json"\nspec = "${SPEC_NAME}.yaml"\n'
        'history = "h.sqlite"\nrecord = "t.har"\n',
        "ci/targets.toml",
    )
    resolved = _resolve(here, env={"SPEC_NAME": "dcs"}, config=Path("ci/targets.toml"))
    assert resolved.file_shown == "./ci/targets.toml"
    assert resolved["report_dir"].value == here / "ci" / "out"
    assert resolved["baseline"].value == Path("/abs/baseline.json")
    assert resolved["spec"].value == here / "ci" / "dcs.yaml"
    assert resolved["history"].value == here / "ci" / "h.sqlite"
    assert resolved["record"].value == here / "ci" / "t.har"
    assert resolved["report_dir"].source == "defaults in ./ci/targets.toml"
    # A flag's path stays as given: relative to the current directory.
    assert _resolve(here, {"report_dir": Path("mine")}, {"SPEC_NAME": "dcs"}, config=Path("ci/targets.toml"))[
        "report_dir"
    ].value == Path("mine")


def test_record_is_a_switch_or_a_path(here: Path) -> None:
    _write(here, 'record = true\n[profiles.quiet]\nrecord = false\n[profiles.named]\nrecord = "x.har"\n')
    assert _resolve(here)["record"].value is True
    assert _resolve(here, profile="quiet")["record"].value is False
    assert _resolve(here, profile="named")["record"].value == here / "x.har"


def test_a_missing_config_file_is_refused(here: Path) -> None:
    assert _refused(here, config=Path("nope.toml")) == "--config='nope.toml': ./nope.toml does not exist"
    (here / "adir").mkdir()
    assert "is a directory" in _refused(here, config=Path("adir"))


# -- profiles -----------------------------------------------------------------------------------

PROFILES = """\
max_requests = 400
[profiles.staging-sg]
instance_id = "sg-1"
[profiles.staging-bj]
instance_id = "bj-1"
"""


def test_a_profile_is_chosen_by_flag_or_by_dcs_profile_and_the_flag_wins(here: Path) -> None:
    _write(here, PROFILES)
    by_flag = _resolve(here, profile="staging-sg")
    assert (by_flag.profile, by_flag.profile_source, by_flag["instance_id"].value) == (
        "staging-sg",
        "flag --profile",
        "sg-1",
    )
    by_env = _resolve(here, env={"DCS_PROFILE": "staging-bj"})
    assert (by_env.profile, by_env.profile_source, by_env["instance_id"].value) == (
        "staging-bj",
        "env DCS_PROFILE",
        "bj-1",
    )
    both = _resolve(here, env={"DCS_PROFILE": "staging-bj"}, profile="staging-sg")
    assert (both.profile, both["instance_id"].value) == ("staging-sg", "sg-1")
    # An empty DCS_PROFILE is not set: the defaults only.
    none = _resolve(here, env={"DCS_PROFILE": ""})
    assert none.profile is None and none["instance_id"].value is None


def test_an_unknown_profile_is_refused_with_the_known_ones(here: Path) -> None:
    _write(here, PROFILES)
    assert (
        _refused(here, profile="staging-de")
        == "--profile='staging-de' is not a profile of ./dcs-contract.toml; known: staging-bj, staging-sg"
    )
    message = _refused(here, env={"DCS_PROFILE": "prod"})
    assert message.startswith("DCS_PROFILE='prod' is not a profile of ./dcs-contract.toml")
    assert "--profile='' is empty" in _refused(here, profile="")


def test_a_profile_without_a_file_is_refused(here: Path) -> None:
    message = _refused(here, profile="staging-sg")
    assert message.startswith("--profile='staging-sg', but there is no configuration to read it from")


# -- ${VAR} ------------------------------------------------------------------------------------


def test_strings_read_the_environment(here: Path) -> None:
    _write(
        here,
        'project_id = "${PROJECT}"\ninstance_id = "pre-${INSTANCE}-post"\n'
        'empty_instance_id = "${EMPTY:-fallback-id}"\nbase_url = "http://127.0.0.1:8080/$$x"\n',
    )
    env = {"PROJECT": "p-123", "INSTANCE": "abc", "EMPTY": ""}
    resolved = _resolve(here, env=env)
    assert resolved["project_id"].value == "p-123"
    assert resolved["project_id"].source == "defaults in ./dcs-contract.toml via ${PROJECT}"
    assert resolved["instance_id"].value == "pre-abc-post"
    # An empty variable is unset: the default is used.
    assert resolved["empty_instance_id"].value == "fallback-id"
    assert resolved["base_url"].value == "http://127.0.0.1:8080/$x"
    # The value read is not read again: no ${...} inside a variable is expanded.
    assert _resolve(here, env={**env, "PROJECT": "${INSTANCE}"})["project_id"].value == "${INSTANCE}"


def test_an_unset_variable_is_refused_naming_the_key_the_file_and_the_variable(here: Path) -> None:
    _write(here, '[profiles.sg]\ninstance_id = "${SG_INSTANCE_ID}"\n')
    message = _refused(here, env={"SG_INSTANCE_ID": ""}, profile="sg")
    assert message == (
        "./dcs-contract.toml: [profiles.sg] instance_id reads ${SG_INSTANCE_ID}, "
        "but SG_INSTANCE_ID is not set in the environment (or is empty)"
    )


def test_a_variable_is_read_only_when_its_value_is_used(here: Path) -> None:
    _write(here, 'instance_id = "${UNSET_HERE}"\n[profiles.bj]\nproject_id = "${BJ_ONLY}"\n')
    # Another profile's variables, and a key a flag or the environment replaces, need not be set.
    resolved = _resolve(here, {"instance_id": "from-flag"})
    assert resolved["instance_id"].value == "from-flag"
    assert _resolve(here, env={"DCS_INSTANCE_ID": "from-env"})["instance_id"].value == "from-env"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('spec = "a${b"', "spec='a${b': '${' starts neither ${NAME} nor ${NAME:-default}"),
        ('spec = "${1X}"', "spec='${1X}': '${' starts neither"),
        ('instance_id = ""', "instance_id is empty: give a value, or leave the key out"),
        ('instance_id = "${X:-}"', "instance_id is empty once ${X} is read"),
    ],
)
def test_a_bad_reference_or_an_empty_value_is_refused(here: Path, text: str, message: str) -> None:
    _write(here, text + "\n")
    refused = _refused(here)
    assert refused.startswith("./dcs-contract.toml: ") and message in refused, refused


# -- unknown keys and wrong types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_request = 3", "./dcs-contract.toml: unknown key 'max_request': did you mean 'max_requests'?"),
        ("max-requests = 3", "./dcs-contract.toml: unknown key 'max-requests': did you mean 'max_requests'?"),
        ("[profile.sg]\nseed = 1", "./dcs-contract.toml: unknown key 'profile': did you mean 'profiles'?"),
        (
            "[profiles.staging-sg]\ninstanceid = 'x'",
            "./dcs-contract.toml: [profiles.staging-sg] unknown key 'instanceid': did you mean 'instance_id'?",
        ),
        (
            "[profiles.sg.profiles.inner]\nseed = 1",
            "./dcs-contract.toml: [profiles.sg] unknown key 'profiles'",
        ),
        (
            "[tool.dcs-contract]\nseed = 1",
            "./dcs-contract.toml: unknown key 'tool': [tool.dcs-contract] belongs in pyproject.toml",
        ),
        ("zzz = 1", "./dcs-contract.toml: unknown key 'zzz': known keys: base_url, region,"),
    ],
)
def test_an_unknown_key_is_refused_with_the_closest_known_one(here: Path, text: str, message: str) -> None:
    _write(here, text + "\n")
    assert _refused(here).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'max_requests = "600"',
            "max_requests='600' is a string, but it must be an integer (without quotes: max_requests = 600)",
        ),
        ("max_examples = 1.5", "max_examples=1.5 is a number, but it must be an integer"),
        ("seed = true", "seed=true is a boolean, but it must be an integer"),
        ("timeout = true", "timeout=true is a boolean, but it must be a number"),
        ('shrink = "yes"', "shrink='yes' is a string, but it must be true or false"),
        ('shrink = "true"', "shrink='true' is a string, but it must be true or false (without quotes: shrink = true)"),
        (
            'rate_limit = "1.5"',
            "rate_limit='1.5' is a string, but it must be a number (without quotes: rate_limit = 1.5)",
        ),
        ('max_body = "1 MiB"', "max_body='1 MiB' is a string, but it must be an integer"),
        ('max_body = "1\\nseed = 2"', "max_body='1\\nseed = 2' is a string, but it must be an integer"),
        ("fail_fast = 1", "fail_fast=1 is an integer, but it must be true or false"),
        ("instance_id = 5", "instance_id=5 is an integer, but it must be a string"),
        ("report_dir = ['a']", 'report_dir=["a"] is an array, but it must be a path (a string)'),
        ("record = 1", "record=1 is an integer, but it must be true, false or a path"),
        ("base_url = 1979-05-27", 'base_url="1979-05-27" is a date or time, but it must be a string'),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(here: Path, text: str, message: str) -> None:
    _write(here, text + "\n")
    assert _refused(here) == f"./dcs-contract.toml: {message}"
    _write(here, "[profiles.sg]\n" + text + "\n")
    assert _refused(here) == f"./dcs-contract.toml: [profiles.sg] {message}"


def test_profiles_must_be_tables(here: Path) -> None:
    _write(here, "profiles = 3\n")
    assert "profiles is an integer, but it must be a table of [profiles.NAME] tables" in _refused(here)
    _write(here, "[profiles]\nsg = 3\n")
    assert "profiles.sg is an integer, not a table [profiles.sg]" in _refused(here)
    _write(here, "[tool.dcs-contract.profiles]\nsg = 3\n", "pyproject.toml")
    assert "tool.dcs-contract.profiles.sg is an integer" in _refused(here, config=Path("pyproject.toml"))


def test_every_profile_is_checked_even_the_ones_not_chosen(here: Path) -> None:
    _write(here, '[profiles.sg]\nseed = 1\n[profiles.bj]\nseed = "2"\n')
    assert _refused(here, profile="sg").startswith("./dcs-contract.toml: [profiles.bj] seed='2'")


def test_integers_are_numbers_where_a_number_is_wanted(here: Path) -> None:
    _write(here, "timeout = 20\nrate_limit = 1\n")
    resolved = _resolve(here)
    assert resolved["timeout"].value == 20.0 and isinstance(resolved["timeout"].value, float)
    assert resolved["rate_limit"].value == 1.0


# -- broken files -----------------------------------------------------------------------------------


def test_broken_toml_is_refused_with_its_line_and_column(here: Path) -> None:
    _write(here, 'max_requests = 300\nseed = \n[profiles.x]\nregion = "a"\n')
    message = _refused(here)
    assert message.startswith("./dcs-contract.toml is not valid TOML: ")
    assert "(at line 2, column 8)" in message


def test_a_broken_pyproject_is_refused_too(here: Path) -> None:
    _write(here, "[tool.dcs-contract\n", "pyproject.toml")
    assert _refused(here).startswith("./pyproject.toml is not valid TOML: ")


def test_a_file_that_is_not_utf8_is_refused(here: Path) -> None:
    (here / "dcs-contract.toml").write_bytes(b'region = "\xff"\n')
    assert _refused(here).startswith("./dcs-contract.toml is not valid TOML: it is not UTF-8")


@pytest.mark.parametrize("nested", ["[" * 5000 + "]" * 5000, "{a = " * 5000 + "1" + "}" * 5000])
def test_a_file_nested_too_deep_to_read_is_refused(here: Path, nested: str) -> None:
    _write(here, f"report_dir = {nested}\n")
    assert _refused(here) == "./dcs-contract.toml is not a configuration: it nests arrays or tables too deep to read"


@pytest.mark.parametrize("key", ["report_dir", "spec", "baseline", "history", "record", "metrics_file"])
def test_a_path_with_a_nul_character_is_refused_before_anything_is_sent(here: Path, key: str) -> None:
    """Path.exists() says False for one: found late, a run would have sent its requests and lost its reports."""
    _write(here, f'{key} = "a\\u0000b"\n')
    assert (
        _refused(here) == f"{key} from defaults in ./dcs-contract.toml holds a NUL character, which no path or URL can"
    )
    with pytest.raises(ConfigError) as refused:
        _resolve(here, {key: Path("x\x00y")})
    assert refused.value.setting == KEYS[key].flag and "from flag" in str(refused.value)


# -- secrets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        ("ak", "CLOUD_SDK_AK"),
        ("AK", "CLOUD_SDK_AK"),
        ("access_key", "CLOUD_SDK_AK"),
        ("Access-Key", "CLOUD_SDK_AK"),
        ("sk", "CLOUD_SDK_SK"),
        ("SECRET_KEY", "CLOUD_SDK_SK"),
        ("token", "DCS_AUTH_TOKEN"),
        ("auth_token", "DCS_AUTH_TOKEN"),
        ("Auth-Token", "DCS_AUTH_TOKEN"),
    ],
)
@pytest.mark.parametrize("table", ["", "[profiles.sg]\n"])
def test_a_literal_credential_is_refused_and_not_repeated(here: Path, key: str, variable: str, table: str) -> None:
    literal = "LITERAL-Secret-0f9e8d7c6b5a"
    _write(here, f'{table}"{key}" = "{literal}"\n')
    message = _refused(here, profile="sg" if table else None)
    assert f"{key}: a credential in the file would be committed; set {variable} in the environment" in message
    assert not leaks(message, literal)


def test_a_credential_key_is_refused_even_as_a_reference(here: Path) -> None:
    _write(here, '[profiles.sg]\nsk = "${SG_SK}"\n')
    message = _refused(here, {}, {"SG_SK": SK}, profile="sg")
    assert message == (
        "./dcs-contract.toml: [profiles.sg] sk: credentials are read from the environment only, "
        "never through the file: set CLOUD_SDK_SK and leave sk out"
    )


def test_a_credential_variable_is_read_by_no_other_key(here: Path) -> None:
    _write(here, 'instance_id = "${CLOUD_SDK_SK}"\n')
    message = _refused(here, env=CREDENTIALS)
    assert message.startswith("./dcs-contract.toml: instance_id reads ${CLOUD_SDK_SK}: a credential goes in no setting")
    assert not leaks(message, SK)


def test_a_credential_of_the_environment_pasted_into_another_key_is_refused(here: Path) -> None:
    _write(here, f'[profiles.sg]\nbase_url = "https://x:{SK}@dcs.example.com"\n')
    message = _refused(here, env=CREDENTIALS)
    assert message == (
        "./dcs-contract.toml: [profiles.sg] base_url holds the value of CLOUD_SDK_SK: it would be committed; "
        "leave credentials in the environment"
    )


# -- config show ----------------------------------------------------------------------------------------


def test_render_shows_every_setting_with_its_source(here: Path) -> None:
    _write(here, EXAMPLE)
    resolved = _resolve(here, {"seed": 7}, {**EXAMPLE_ENV, "DCS_PROFILE": "staging-sg"})
    lines = render(resolved, Scrubber()).splitlines()
    assert lines[:3] == [
        "config                  ./dcs-contract.toml",
        "profile                 staging-sg  (env DCS_PROFILE)",
        "credentials             no credentials  (environment only)",
    ]
    assert len(lines) == 3 + len(KEYS)
    by_key = {line.split()[0]: line for line in lines[3:]}
    assert list(by_key) == list(KEYS)
    assert by_key["region"] == 'region                  "ap-southeast-3"  (profile staging-sg in ./dcs-contract.toml)'
    assert by_key["instance_id"].endswith("(profile staging-sg in ./dcs-contract.toml via ${SG_INSTANCE_ID})")
    assert by_key["seed"] == "seed                    7  (flag --seed)"
    assert by_key["max_requests"] == "max_requests            400  (defaults in ./dcs-contract.toml)"
    assert by_key["max_examples"] == "max_examples            (mock 200, live 100)  (built-in)"
    assert by_key["shrink"] == "shrink                  false  (defaults in ./dcs-contract.toml)"
    assert by_key["report_dir"] == f'report_dir              "{here / "reports"}"  (defaults in ./dcs-contract.toml)'


def test_render_shows_no_secret(here: Path) -> None:
    _write(here, '[profiles.sg]\nregion = "ap-southeast-3"\nproject_id = "${PID}"\n')
    env = {**CREDENTIALS, "PID": "project-1", "DCS_INSTANCE_ID": f"i-{TOKEN}"}
    # The secrets reach values only through flags and variables the user set: the scrubber hides them.
    resolved = _resolve(here, {"base_url": f"https://u:{SK}@dcs.example.com", "project_id": AK}, env, profile="sg")
    shown = render(resolved, Scrubber(Credentials.secrets_in(env)))
    for secret in (AK, SK, TOKEN):
        assert not leaks(shown, secret), shown
    assert "credentials             AK/SK from CLOUD_SDK_AK/CLOUD_SDK_SK (AK AKID…)  (environment only)" in shown
    assert 'project_id              "***"  (flag --project-id)' in shown
    assert "(env DCS_INSTANCE_ID)" in shown and "(flag --base-url)" in shown


def test_render_says_when_there_is_no_file_and_a_token(here: Path) -> None:
    shown = render(_resolve(here, env={"DCS_AUTH_TOKEN": TOKEN}), Scrubber([TOKEN]))
    assert shown.startswith(
        "config                  none (no ./dcs-contract.toml, no [tool.dcs-contract] in ./pyproject.toml)\n"
        "profile                 none\n"
        "credentials             an IAM token from DCS_AUTH_TOKEN  (environment only)\n"
    )
    assert "base_url                (not set: the embedded mock, unless region is set)  (built-in)" in shown
    assert not leaks(shown, TOKEN)


# -- the JSON Schema ---------------------------------------------------------------------------------


def test_the_shipped_schema_is_the_one_the_key_table_gives() -> None:
    published = schema()
    assert published == build_schema(), (
        "regenerate: python -m dcs_contract.settings.config_schema > src/dcs_contract/settings/config.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(published)
    assert published["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert published["additionalProperties"] is False
    assert set(published["properties"]) == {*KEYS, "profiles"}
    profile = published["$defs"]["profile"]
    assert profile["additionalProperties"] is False and set(profile["properties"]) == set(KEYS)
    types = {
        "string": "string",
        "path": "string",
        "store": "string",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
    }
    for name, key in KEYS.items():
        expected = types.get(key.kind, ["boolean", "string"])
        assert published["properties"][name]["type"] == expected, name
        assert published["properties"][name]["description"], name
    assert published["properties"]["max_requests"]["maximum"] == 1_000_000
    assert published["properties"]["timeout"]["exclusiveMinimum"] == 0


def test_the_example_validates_and_resolves_for_each_of_its_profiles(here: Path) -> None:
    document = tomllib.loads(EXAMPLE)
    assert set(document["profiles"]) == {"staging-sg", "staging-bj"}
    jsonschema.Draft202012Validator(schema()).validate(document)

    _write(here, EXAMPLE)
    sg = _resolve(here, env=EXAMPLE_ENV, profile="staging-sg")
    assert (sg["region"].value, sg["project_id"].value, sg["instance_id"].value) == (
        "ap-southeast-3",
        "sg-project",
        "sg-instance",
    )
    bj = _resolve(here, env=EXAMPLE_ENV, profile="staging-bj")
    assert bj["base_url"].value == "https://dcs.cn-north-4.myhuaweicloud.com"
    assert bj["instance_id"].value == "6e3b1c52-4f0a-4d55-9d3e-1c6e4b3a2f10"  # its ${...:-default}
    assert (bj["max_requests"].value, sg["max_requests"].value, bj["record"].value) == (200, 400, True)


@pytest.mark.parametrize(
    "text",
    [
        "max_request = 3",
        'max_requests = "600"',
        "[profiles.sg]\nshrink = 1",
        '[profiles.sg]\nak = "AKIDXXXXXXXXXXXX"',
        'token = "x"',
        "profiles = 3",
        'instance_id = ""',
    ],
)
def test_the_schema_refuses_what_the_module_refuses(here: Path, text: str) -> None:
    _write(here, text + "\n")
    _refused(here)
    assert not jsonschema.Draft202012Validator(schema()).is_valid(tomllib.loads(text))
