"""The operation is built once per spec, and the cache of built operations stays bounded."""

from __future__ import annotations

from dcs_contract.contract.spec import Spec, load_spec
from dcs_contract.engine import operation as operation_module
from dcs_contract.engine.operation import Operation


def test_the_same_spec_gives_the_same_operation_and_only_a_few_are_kept(spec: Spec) -> None:
    assert Operation.of(spec) is Operation.of(spec)
    others = [load_spec() for _ in range(operation_module._KEPT + 2)]
    built = [Operation.of(other) for other in others]
    assert len(operation_module._BUILT) <= operation_module._KEPT
    # The most recent are kept, and each is its own spec's.
    assert Operation.of(others[-1]) is built[-1] and built[-1].spec is others[-1]
    assert Operation.of(others[0]) is not built[0], "the oldest was dropped, and is built again"
