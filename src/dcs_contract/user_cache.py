"""The harness's per-user cache directory, as pip's and ruff's: ``$XDG_CACHE_HOME/dcs-contract``.

What is kept there can always be rebuilt, and nothing of a target is ever kept: hypothesis's
Unicode tables (``hypothesis/``) and the hashes of the specs that were found valid OpenAPI
(``valid-specs/``). Where no home can be found, under the system's temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/dcs-contract``, else ``~/.cache/dcs-contract``; ``env`` is the process's by default."""
    base = (os.environ if env is None else env).get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no HOME and no password entry
            base = tempfile.gettempdir()
    return Path(base) / "dcs-contract"
