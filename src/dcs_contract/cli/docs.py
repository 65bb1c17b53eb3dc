"""``dcs-contract docs``: the endpoint's documentation page, from the spec and the reports."""

from __future__ import annotations

import argparse
from typing import TextIO

from dcs_contract.cli.basics import EXIT_CONFORMS
from dcs_contract.contract.spec import load_spec
from dcs_contract.docs import build_docs
from dcs_contract.settings.target import check_output_dir, check_output_file

__all__ = ["docs_command"]


def docs_command(args: argparse.Namespace, out: TextIO) -> int:
    where = f"--out={str(args.out)!r}"
    check_output_dir(args.out, where)
    for name in ("index.html", "index.md"):
        check_output_file(args.out / name, where)
    paths = build_docs(load_spec(args.spec), args.out, reports=args.report, history=args.history)
    out.write("".join(f"dcs-contract: wrote {path}\n" for path in paths))
    return EXIT_CONFORMS
