"""The run history: one versioned store of every run, appended atomically, in SQLite or PostgreSQL.

``History`` (store.py) is the public surface; ``layout.py`` holds the layouts and their
upgrades, ``rows.py`` a report as rows, ``sqlite.py`` and ``postgres.py`` the two stores.
"""

from dcs_contract.results.history.database import APPLICATION
from dcs_contract.results.history.layout import SCHEMA_VERSION
from dcs_contract.results.history.model import (
    FingerprintHistory,
    HistoryError,
    LatencyPoint,
    NoPreviousRun,
    RunSummary,
    Target,
)
from dcs_contract.results.history.postgres import is_url, password_of, shown_url
from dcs_contract.results.history.store import History

__all__ = [
    "APPLICATION",
    "SCHEMA_VERSION",
    "FingerprintHistory",
    "History",
    "HistoryError",
    "LatencyPoint",
    "NoPreviousRun",
    "RunSummary",
    "Target",
    "is_url",
    "password_of",
    "shown_url",
]
