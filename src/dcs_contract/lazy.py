"""Packages whose public names are imported on first use (PEP 562).

A command pays for what it uses: ``dcs-contract --help``, ``config``, ``history``, ``diff``
and ``docs`` never load schemathesis, hypothesis or uvicorn, which only a run needs, even
though ``dcs_contract`` re-exports the run's entry points. A package's ``__init__`` says::

    __getattr__, __dir__ = exports(__name__, {"MockServer": "dcs_contract.mock.server", ...})

and lists the same imports under ``if TYPE_CHECKING:`` for the type checker.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose names live in the modules ``where`` maps them to."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Kept on the package: the next lookup is an ordinary attribute.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
