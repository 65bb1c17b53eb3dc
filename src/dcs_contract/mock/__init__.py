"""The embedded mock of the backups endpoint: the default target, and a development server."""

from dcs_contract.mock.app import LoggedRequest, MockCredentials, MockState, create_app
from dcs_contract.mock.data import generate_records
from dcs_contract.mock.faults import FaultPlan
from dcs_contract.mock.server import MockServer
from dcs_contract.mock.service import BackupService, ServiceAnswer

__all__ = [
    "BackupService",
    "FaultPlan",
    "LoggedRequest",
    "MockCredentials",
    "MockServer",
    "MockState",
    "ServiceAnswer",
    "create_app",
    "generate_records",
]
