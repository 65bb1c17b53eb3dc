"""The JSON Schema (draft 2020-12) of the configuration file, built from the settings table.

The package ships it as ``config.schema.json``, for editors that check TOML against one;
a test holds the shipped file to :func:`build_schema`. Regenerate it with::

    python -m dcs_contract.settings.config_schema > src/dcs_contract/settings/config.schema.json
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from typing import Any

from dcs_contract.settings.config import CONFIG_FILE, KEYS, PYPROJECT, TOOL_TABLE, Key

__all__ = ["build_schema", "schema"]

_SCHEMA_FILE = "config.schema.json"


def _property(key: Key) -> dict[str, Any]:
    words = [key.help, f"Flag {key.flag}."]
    if key.variable:
        words.append(f"Environment variable {key.variable} (wins over the file).")
    if key.kind in ("string", "path", "switch", "store"):
        words.append("May read the environment: ${NAME} or ${NAME:-default}.")
    if key.kind in ("path", "switch"):
        words.append("Relative to the file's directory.")
    if key.kind == "store":
        words.append("A path is relative to the file's directory.")
    bound = key.bound
    if bound is not None:
        words.append(f"Must be {bound.rule}.")
    words.append(f"Built-in: {key.built_in_text}.")
    schema: dict[str, Any] = {"description": " ".join(words)}
    if key.kind in ("string", "path", "store"):
        schema |= {"type": "string", "minLength": 1}
    elif key.kind == "switch":
        schema |= {"type": ["boolean", "string"], "minLength": 1}
    else:
        schema["type"] = key.kind
    if bound is not None:
        schema["exclusiveMinimum" if bound.low_open else "minimum"] = bound.low
        schema["maximum"] = bound.high
    return schema


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the file, from :data:`KEYS`: what ``config.schema.json`` holds."""
    settings = {name: _property(key) for name, key in KEYS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:dcs-contract:config",
        "title": "dcs-contract configuration",
        "description": (
            f"{CONFIG_FILE}, or the [{TOOL_TABLE}] table of {PYPROJECT}. Top-level keys are the defaults; "
            "[profiles.NAME] tables are one target each, chosen with --profile NAME or DCS_PROFILE. "
            "Each key is taken from the first of: flag, environment, profile, defaults, built-in. "
            "Credentials are never read from the file: set CLOUD_SDK_AK and CLOUD_SDK_SK, or DCS_AUTH_TOKEN."
        ),
        "type": "object",
        "properties": {
            **settings,
            "profiles": {
                "description": "Named profiles, one per target: [profiles.staging-sg], [profiles.staging-bj].",
                "type": "object",
                "propertyNames": {"minLength": 1},
                "additionalProperties": {"$ref": "#/$defs/profile"},
            },
        },
        "additionalProperties": False,
        "$defs": {
            "profile": {
                "description": "One target's settings; they win over the top-level defaults.",
                "type": "object",
                "properties": settings,
                "additionalProperties": False,
            }
        },
    }


def schema() -> dict[str, Any]:
    """The published JSON Schema of the file, as the package ships it."""
    text = files("dcs_contract.settings").joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # the command in the docstring above
    sys.stdout.write(_schema_text())
