"""The embedded mock of the backups endpoint: the default target, and a development server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcs_contract.lazy import exports

# Imported on first use (dcs_contract.lazy): the command line reads the mock's defaults and
# drift names without loading uvicorn and starlette.
_PUBLIC = {
    "BackupService": "dcs_contract.mock.service",
    "DEFAULT_RECORD_COUNT": "dcs_contract.mock.data",
    "FaultPlan": "dcs_contract.mock.faults",
    "LoggedRequest": "dcs_contract.mock.app",
    "MockServer": "dcs_contract.mock.server",
    "MockState": "dcs_contract.mock.app",
    "ServiceAnswer": "dcs_contract.mock.service",
    "create_app": "dcs_contract.mock.app",
    "generate_records": "dcs_contract.mock.data",
}

if TYPE_CHECKING:
    from dcs_contract.mock.app import LoggedRequest, MockState, create_app
    from dcs_contract.mock.data import DEFAULT_RECORD_COUNT, generate_records
    from dcs_contract.mock.faults import FaultPlan
    from dcs_contract.mock.server import MockServer
    from dcs_contract.mock.service import BackupService, ServiceAnswer

__getattr__, __dir__ = exports(__name__, _PUBLIC)

__all__ = [
    "DEFAULT_RECORD_COUNT",
    "BackupService",
    "FaultPlan",
    "LoggedRequest",
    "MockServer",
    "MockState",
    "ServiceAnswer",
    "create_app",
    "generate_records",
]
