"""Rendering the documentation: one self-contained HTML page and its Markdown twin, with Jinja2.

The HTML has its stylesheet inline and fetches nothing when viewed: no CDN, no font, no
script from elsewhere, so it reads the same offline, in a CI artifact or from a file.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from dcs_contract.contract.formats import printable
from dcs_contract.contract.spec import Spec
from dcs_contract.docs.model import DocsModel
from dcs_contract.docs.timeline import TIMELINE_RUNS, read_timeline
from dcs_contract.results.schema import read_report

__all__ = ["build_docs", "render_html", "render_markdown"]

_CODE_RE = re.compile(r"`([^`]+)`")
# What Markdown would read as markup in a text from a target: each is shown as itself, escaped.
_MARKDOWN_RE = re.compile(r"([\\`*_\[\]<>|~&])")
_BACKTICKS_RE = re.compile(r"`+")


def _inline(text: Any) -> Markup:
    """Escape, then show `code` spans as code: the spec's descriptions use backticks."""
    return Markup(_CODE_RE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(str(text)))))


def _value(value: Any) -> str:
    """A JSON value as it appears on the wire: "aof", 10, null."""
    return json.dumps(value, ensure_ascii=False)


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(value)).strip("-").lower() or "null"


def _markdown_text(text: Any) -> str:
    """A text from a target as Markdown shows it literally, on one line of a table: no link, tag or emphasis."""
    return _MARKDOWN_RE.sub(r"\\\1", " ".join(str(text).split()))


def _markdown_code(text: Any) -> str:
    """A text from a target as a code span in a table cell, whatever backticks or pipes it holds."""
    flat = " ".join(str(text).split()).replace("|", "\\|")
    if not flat:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS_RE.findall(flat)), default=0) + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") else flat
    return f"{fence}{padded}{fence}"


def _environment(*, html: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("dcs_contract.docs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=html) if html else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        inline=_inline if html else str, value=_value, slug=_slug, md=_markdown_text, mdcode=_markdown_code
    )
    return environment


def _stylesheet(name: str) -> str:
    return files("dcs_contract.docs").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def render_html(model: DocsModel) -> str:
    stylesheet = _stylesheet("style.css")
    if model.timeline is not None:
        # The timeline's rules only on a page that has one: a page without it is as it was.
        stylesheet += _stylesheet("timeline.css")
    return _environment(html=True).get_template("page.html.j2").render(m=model, stylesheet=Markup(stylesheet))


def render_markdown(model: DocsModel) -> str:
    return _environment(html=False).get_template("page.md.j2").render(m=model)


def build_docs(
    spec: Spec,
    out: Path,
    *,
    reports: list[Path] | None = None,
    history: Path | None = None,
    timeline_runs: int = TIMELINE_RUNS,
) -> list[Path]:
    """Write ``index.html`` and ``index.md`` into ``out``; returns their paths.

    With ``history`` (a run history file), the page has a Timeline: each target's last
    ``timeline_runs`` runs and its drift. Everything is read before anything is written: a
    report or a history that cannot be read (a ConfigError) leaves ``out`` as it was.
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
