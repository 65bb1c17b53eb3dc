"""Rendering the documentation: one self-contained HTML page and its Markdown twin, with Jinja2.

The HTML has its stylesheet inline and fetches nothing when viewed: no CDN, no font, no
script from elsewhere, so it reads the same offline, in a CI artifact or from a file.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from dcs_contract.contract.formats import printable
from dcs_contract.contract.spec import Spec
from dcs_contract.docs.model import DocsModel
from dcs_contract.docs.timeline import TIMELINE_RUNS, read_timeline
from dcs_contract.results import markdown
from dcs_contract.results.schema import read_report

__all__ = ["build_docs", "render_html", "render_markdown"]

_CODE_RE = re.compile(r"`([^`]+)`")


def _inline(text: Any) -> Markup:
    """Escape, then show `code` spans as code: the spec's descriptions use backticks."""
    return Markup(_CODE_RE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(str(text)))))


def _value(value: Any) -> str:
    """A JSON value as it appears on the wire: "aof", 10, null."""
    return json.dumps(value, ensure_ascii=False)


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(value)).strip("-").lower() or "null"


def _spec_cell(text: Any) -> str:
    """The spec's own Markdown (its `code` spans) in one table cell; never a text from a report or a history."""
    return markdown.cell(markdown.Markdown(str(text)))


@cache
def _environment(*, html: bool) -> Environment:
    """One per process for each kind of page: an environment keeps the templates it has compiled.

    Compiling them was most of a build: a page of the spec alone took 120 ms with new
    environments and 21 ms with these (medians of 9, 2026-12-07).
    """
    environment = Environment(
        loader=PackageLoader("dcs_contract.docs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=html) if html else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The .md templates write every text through these: md and mdcode (mdcode(in_table=True) in a
    # table cell) for what a report, a history or the spec holds as a value, mdcell for the spec's prose.
    environment.filters.update(
        inline=_inline if html else str,
        value=_value,
        slug=_slug,
        md=markdown.escape,
        mdcode=markdown.code,
        mdcell=_spec_cell,
    )
    return environment


def _stylesheet(name: str) -> str:
    return files("dcs_contract.docs").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def render_html(model: DocsModel) -> str:
    stylesheet = _stylesheet("style.css")
    if model.timeline is not None:
        # The timeline's rules only on a page that has one: a page without it is as it was.
        stylesheet += _stylesheet("timeline.css")
    # The search box's script, inline as the stylesheet is: it works offline, from a file:// page.
    script = Markup(_stylesheet("search.js"))
    return (
        _environment(html=True)
        .get_template("page.html.j2")
        .render(m=model, stylesheet=Markup(stylesheet), search_script=script)
    )


def render_markdown(model: DocsModel) -> str:
    return _environment(html=False).get_template("page.md.j2").render(m=model)


def build_docs(
    spec: Spec,
    out: Path,
    *,
    reports: list[Path] | None = None,
    history: Path | str | None = None,
    timeline_runs: int = TIMELINE_RUNS,
) -> list[Path]:
    """Write ``index.html`` and ``index.md`` into ``out``; returns their paths.

    With ``history`` (a run history file, or a ``postgresql://`` URL), the page has a Timeline:
    each target's last ``timeline_runs`` runs, its drift, its latency and what it never showed.
    Everything is read before anything is written: a report or a history that cannot be read
    (a ConfigError) leaves ``out`` as it was.
    """
    timeline = read_timeline(history, last=timeline_runs) if history is not None else None
    model = DocsModel(spec, [(str(path), read_report(path)) for path in reports or []], timeline)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("index.html", render_html(model)), ("index.md", render_markdown(model))):
        path = out / name
        # A report may hold what a target sent, lone surrogates included: written as escapes.
        path.write_text(printable(text), encoding="utf-8")
        written.append(path)
    return written
