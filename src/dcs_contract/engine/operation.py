"""The endpoint's one operation as schemathesis sees it: built once per spec, then shared by every run.

Building it parses the spec into a schemathesis schema and registers the spec's custom
``dcs-timestamp`` format with schemathesis's generators: work that does not change from
one run to the next, and a registration in schemathesis's global table that must not be
redone per run.

    operation = Operation.of(spec)
    strategy = operation.cases(GenerationMode.POSITIVE, path_parameters={...})
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation

from dcs_contract.contract.formats import FORMAT_NAME
from dcs_contract.contract.spec import OPERATION_PATH, Spec
from dcs_contract.engine.strategies import order_window, query_times

__all__ = ["Operation"]

# Schemathesis configuration, in one place: no security headers (auth is the client's),
# no unknown query parameters (the service ignores them, so they prove nothing), and no
# truncated output: a finding keeps its texts whole until the report's scrubber has seen them.
_SCHEMATHESIS_CONFIG = {
    "generation": {"allow-extra-parameters": False, "with-security-parameters": False},
    "output": {"truncation": {"enabled": False}},
}
# The operations built, most recent last: a process judges by one spec, or a few (a test's edited
# copies), so a handful are kept and the oldest dropped; keyed by identity, the spec kept alive
# beside its operation so that its id is not reused while it is here.
_BUILT: OrderedDict[int, tuple[Spec, Operation]] = OrderedDict()
_KEPT = 8
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Operation:
    """``GET /v2/{project_id}/instances/{instance_id}/backups`` of one spec, ready to generate and check cases."""

    spec: Spec
    api: APIOperation[Any, Any, Any, Any]

    @classmethod
    def of(cls, spec: Spec) -> Operation:
        """The operation of ``spec``, built on first use and kept: the same spec object, the same operation."""
        with _LOCK:
            built = _BUILT.get(id(spec))
            if built is not None and built[0] is spec:
                _BUILT.move_to_end(id(spec))
                return built[1]
            # Formats are schemathesis's process-wide table: the one entry this spec needs.
            schemathesis.openapi.format(FORMAT_NAME, query_times(spec))
            config = schemathesis.Config.from_dict(_SCHEMATHESIS_CONFIG)
            schema = schemathesis.openapi.from_dict(spec.for_generation(), config=config)
            operation = cls(spec, schema[OPERATION_PATH]["GET"])
            _BUILT[id(spec)] = (spec, operation)
            while len(_BUILT) > _KEPT:
                _BUILT.popitem(last=False)
            return operation

    def cases(self, mode: GenerationMode, *, path_parameters: dict[str, str]) -> SearchStrategy[Case[Any]]:
        """Schemathesis cases pinned to one project and instance; valid windows in positive mode."""
        strategy = self.api.as_strategy(generation_mode=mode, path_parameters=path_parameters)
        return strategy.map(order_window) if mode.is_positive else strategy

    def case(self, *, path_parameters: dict[str, str], query: dict[str, Any], meta: Any = None) -> Case[Any]:
        """A case of ``query``; ``meta``: schemathesis's record of how it was drawn, for one drawn elsewhere."""
        return self.api.Case(path_parameters=path_parameters, query=query, _meta=meta)
