"""Comparison reports: one self-contained HTML file (inline SVG charts), a Markdown twin, and
PDF through WeasyPrint when installed.

``build_report`` computes the content once as data (``Report``); ``render_html`` /
``render_markdown`` render it with the jinja2 templates in ``templates/``; ``write_report``
writes it atomically in the format its suffix names. Reports are deterministic: the same
scenario, catalog and seed give byte-identical files (no clock; the facts name the accelsim
version and the price book's date).
"""

from __future__ import annotations

from accelsim.report.build import build_report
from accelsim.report.model import Chart, Report, Section, Table
from accelsim.report.render import (
    FORMATS,
    check_output,
    render_html,
    render_markdown,
    write_report,
)

__all__ = [
    "FORMATS",
    "Chart",
    "Report",
    "Section",
    "Table",
    "build_report",
    "check_output",
    "render_html",
    "render_markdown",
    "write_report",
]
