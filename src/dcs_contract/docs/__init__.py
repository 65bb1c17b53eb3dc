"""The living documentation: the spec as one self-contained page, with what the targets last did.

    build_docs(load_spec(), Path("site"), reports=[Path("dcs-contract-report/report.json")])
    build_docs(load_spec(), Path("site"), history=Path("history.sqlite"))  # and a Timeline

Everything on the page is read from the spec, the reports and the history, so it cannot drift from them.
"""

from dcs_contract.docs.model import ConformancePanel, DocsModel
from dcs_contract.docs.render import build_docs
from dcs_contract.docs.timeline import TIMELINE_RUNS, Timeline, read_timeline
from dcs_contract.results.schema import load_report, read_report

__all__ = [
    "TIMELINE_RUNS",
    "ConformancePanel",
    "DocsModel",
    "Timeline",
    "build_docs",
    "load_report",
    "read_report",
    "read_timeline",
]
