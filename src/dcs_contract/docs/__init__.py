"""The living documentation: the spec as one self-contained page, with what the targets last did.

    build_docs(load_spec(), Path("site"), reports=[Path("dcs-contract-report/report.json")])

Everything on the page is read from the spec and the reports, so it cannot drift from them.
"""

from dcs_contract.docs.model import ConformancePanel, DocsModel, load_report, read_report
from dcs_contract.docs.render import build_docs

__all__ = ["ConformancePanel", "DocsModel", "build_docs", "load_report", "read_report"]
