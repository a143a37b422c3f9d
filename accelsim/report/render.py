"""Render a ``Report`` to Markdown or HTML with the jinja2 templates beside this module, and
write it (atomically) as ``.md``, ``.html`` or ``.pdf`` (PDF through WeasyPrint, an optional
extra: ``pip install accelsim[pdf]``).

HTML is one self-contained file: inline CSS, charts as inline ``<svg>``, no script and no
network reference. Markdown carries the same tables without the charts (every chart's numbers
are in a table of its section), so it needs no file beside it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from accelsim.errors import AccelsimError
from accelsim.files import atomic_write, check_output_file
from accelsim.report.model import Report

__all__ = ["FORMATS", "render_html", "render_markdown", "write_report"]

FORMATS = (".html", ".md", ".pdf")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> Markup:
    """HTML of report text: escaped, with ``**bold**`` and ```code``` spans."""
    html = str(escape(text))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"`(.+?)`", r"<code>\1</code>", html)
    return Markup(html)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("accelsim.report", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md_cell"] = _md_cell
    env.filters["inline"] = _inline
    return env


def render_markdown(report: Report) -> str:
    """The Markdown twin (tables only)."""
    text = _env().get_template("report.md.j2").render(report=report)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def render_html(report: Report) -> str:
    """The self-contained HTML report."""
    return _env().get_template("report.html.j2").render(report=report, Markup=Markup)


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError:
        raise AccelsimError(
            "PDF output needs WeasyPrint: pip install accelsim[pdf] (or write .html / .md)"
        ) from None
    except OSError as exc:  # WeasyPrint is installed but its system libraries (Pango) are not
        raise AccelsimError(f"PDF output: WeasyPrint cannot load its libraries ({exc})") from None
    return weasyprint


def check_output(path: str | Path) -> Path:
    """``path`` as a report destination, or one clear ``AccelsimError``: a known format
    (``FORMATS``), a place accelsim can write (``accelsim.files.check_output_file``), and
    WeasyPrint importable for ``.pdf`` — checked before any simulation runs."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise AccelsimError(
            f"report {out}: unknown format {suffix or '(none)'!r} (use {', '.join(FORMATS)})"
        )
    if suffix == ".pdf":
        _weasyprint()
    check_output_file(out, "report")
    return out


def write_report(report: Report, path: str | Path) -> Path:
    """Write ``report`` to ``path`` (format from the suffix) through a temporary file in the
    same folder (``accelsim.files.atomic_write``): a failed write never leaves a partial file
    under ``path``."""
    out = check_output(path)
    if out.suffix.lower() == ".pdf":
        data = _weasyprint().HTML(string=render_html(report)).write_pdf()
    else:
        text = render_markdown(report) if out.suffix.lower() == ".md" else render_html(report)
        data = text.encode("utf-8")
    atomic_write(out, data)
    return out
