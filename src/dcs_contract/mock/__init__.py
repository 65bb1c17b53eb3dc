"""The embedded mock of the backups endpoint: the default target, and a development server."""

from dcs_contract.mock.app import LoggedRequest, MockState, create_app
from dcs_contract.mock.data import DEFAULT_RECORD_COUNT, generate_records
from dcs_contract.mock.faults import FaultPlan
from dcs_contract.mock.server import MockServer
from dcs_contract.mock.service import BackupService, ServiceAnswer

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
