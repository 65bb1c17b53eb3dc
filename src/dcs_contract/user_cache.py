"""The harness's per-user cache directory, as pip's and ruff's: ``$XDG_CACHE_HOME/dcs-contract``.

What is kept there can always be rebuilt, and nothing of a target is ever kept: hypothesis's
Unicode tables (``hypothesis/``) and the marks of the spec texts found valid OpenAPI
(``valid-specs/``). ``XDG_CACHE_HOME`` counts only when absolute, as the XDG specification
says; else ``~/.cache``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["private_cache_dir", "user_cache_dir"]

_NAME = "dcs-contract"


def private_cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The user's own cache directory, or None where no home can be found; ``env`` is the process's by default."""
    base = (os.environ if env is None else env).get("XDG_CACHE_HOME", "")
    if os.path.isabs(base):
        return Path(base) / _NAME
    try:
        return Path.home() / ".cache" / _NAME
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return None


def user_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """:func:`private_cache_dir`, else a directory under the system's temporary one.

    The fallback may be shared with other users of the machine: only what is harmless to read
    from a stranger (hypothesis's tables) may be kept there, never a mark that is trusted.
    """
    return private_cache_dir(env) or Path(tempfile.gettempdir()) / _NAME
